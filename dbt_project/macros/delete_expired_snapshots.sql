{#-
    The retention of the popularity history: after a build, delete the snapshots more
    than var('snapshot_retention_days') days older than the newest one. The daily
    artifacts read the last var('history_days') days (and the last snapshot before
    them), so the retention must be longer; the snapshot_date index finds the expired
    rows. It also checks var('raw_snapshot_retention_days'), the days raw keeps once
    the history holds them (transform/history.py prunes raw after each publish).
-#}
{% macro delete_expired_snapshots(relation) -%}
    {%- if var('snapshot_retention_days') | int <= var('history_days') | int + 7 -%}
        {{ exceptions.raise_compiler_error(
            "var snapshot_retention_days (" ~ var('snapshot_retention_days')
            ~ ") must be longer than history_days + 7 (" ~ (var('history_days') | int + 7)
            ~ "): the daily artifacts read that many days"
        ) }}
    {%- endif -%}
    {%- set raw_days = var('raw_snapshot_retention_days') | int -%}
    {%- if raw_days < var('history_days') | int + 7 -%}
        {{ exceptions.raise_compiler_error(
            "var raw_snapshot_retention_days (" ~ raw_days ~ ") must be at least history_days"
            ~ " + 7 (" ~ (var('history_days') | int + 7) ~ "): a dev build reads the daily"
            ~ " artifacts' window from raw"
        ) }}
    {%- endif %}
    {#- the newest day as a literal: against `< (select max(...))` the planner cannot
        tell how many days go, and scanned the whole history to delete none -#}
    {%- set newest = none -%}
    {%- if execute -%}
        {%- set newest = run_query(
            'select max(snapshot_date)::text from ' ~ relation
        ).rows[0][0] -%}
    {%- endif %}
    delete from {{ relation }}
    where snapshot_date < {% if newest is not none -%}
        '{{ newest }}'::date
    {%- else -%}
        (select max(snapshot_date) from {{ relation }})
    {%- endif %} - {{ var('snapshot_retention_days') | int }}
{%- endmacro %}
