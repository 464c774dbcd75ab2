{#-
    A custom incremental strategy, `delete_insert_by_day`: dbt's delete+insert by the
    model's unique_key, with the delete bounded to the days the new rows cover (the
    model's config `day_column`), as literal dates. dbt's own delete+insert gives the
    planner only `(key) in (select ... from the new rows)`; against a history of a year
    it chose to scan all of it to find the day's rows. The literal bounds let it read
    the target's day index instead, so a day's build costs the day.
-#}
{% macro get_incremental_delete_insert_by_day_sql(arg_dict) -%}
    {%- set day_column = config.require('day_column') -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set predicates = (arg_dict['incremental_predicates'] or []) | list -%}
    {%- if execute -%}
        {%- set bounds = run_query(
            'select min(' ~ adapter.quote(day_column) ~ ')::text, max('
            ~ adapter.quote(day_column) ~ ')::text from ' ~ source
        ).rows[0] -%}
        {%- if bounds[0] is not none -%}
            {%- do predicates.append(
                'DBT_INTERNAL_DEST.' ~ adapter.quote(day_column) ~ " between '"
                ~ bounds[0] ~ "' and '" ~ bounds[1] ~ "'"
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {{ get_delete_insert_merge_sql(
        arg_dict['target_relation'], source, arg_dict['unique_key'],
        arg_dict['dest_columns'], predicates
    ) }}
{%- endmacro %}
