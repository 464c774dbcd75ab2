{#-
    The days the daily artifacts cover, the one place the window is computed: the
    last var('history_days') (default 30) days up to the latest popularity snapshot
    date, that day included. One row with
        latest_snapshot_date: the newest snapshot_date of `daily_popularity`;
        first_history_date: the first day of the window.
    `daily_popularity` names a relation (a CTE) with a snapshot_date column.
-#}
{% macro history_window(daily_popularity) -%}
    select
        max(snapshot_date) as latest_snapshot_date,
        max(snapshot_date) - {{ var('history_days') }} + 1 as first_history_date

    from {{ daily_popularity }}
{%- endmacro %}
