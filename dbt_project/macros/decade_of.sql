{#-
    The decade of a date, as docs/design.md section 5 defines it: floor(year / 10) * 10,
    so 1999-12-31 -> 1990 and 2000-01-01 -> 2000; null for a null date.
-#}
{% macro decade_of(date_expression) -%}
    (floor(extract(year from {{ date_expression }}) / 10) * 10)::integer
{%- endmacro %}
