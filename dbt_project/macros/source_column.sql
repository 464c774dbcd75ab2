{#-
    dlt creates a column only once some row has a value for it, so a raw table
    may lack an optional TMDB field (e.g. every loaded `backdrop_path` was null).
    `source_column_names` lists the raw table's columns once per model;
    `source_column` reads the column when it exists and a typed null otherwise,
    so staging keeps one shape whatever the loads so far contained.
-#}
{% macro source_column_names(relation) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {{ return(adapter.get_columns_in_relation(relation) | map(attribute='name') | list) }}
{%- endmacro %}


{% macro source_column(column_names, column_name, data_type) -%}
    {%- if column_name in column_names -%}
        {{ adapter.quote(column_name) }}::{{ data_type }}
    {%- else -%}
        null::{{ data_type }}
    {%- endif -%}
{%- endmacro %}

