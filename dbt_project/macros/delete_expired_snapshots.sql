{#-
    The retention of the popularity history: after a build, delete the snapshots more
    than var('snapshot_retention_days') days older than the newest one. The daily
    artifacts read the last var('history_days') days (and the last snapshot before
    them), so the retention must be longer; the snapshot_date index finds the expired
    rows.
-#}
{% macro delete_expired_snapshots(relation) -%}
    {%- if var('snapshot_retention_days') | int <= var('history_days') | int + 7 -%}
        {{ exceptions.raise_compiler_error(
            "var snapshot_retention_days (" ~ var('snapshot_retention_days')
            ~ ") must be longer than history_days + 7 (" ~ (var('history_days') | int + 7)
            ~ "): the daily artifacts read that many days"
        ) }}
    {%- endif %}
    delete from {{ relation }}
    where snapshot_date < (
        select max(snapshot_date) - {{ var('snapshot_retention_days') | int }}
        from {{ relation }}
    )
{%- endmacro %}
