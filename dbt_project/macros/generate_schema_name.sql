{#-
    Schemas are used as named, never prefixed with the target schema: staging,
    marts, and the artifacts, which always go to the build schema
    `artifacts__build` (moviemetric.warehouse.BUILD_SCHEMA). Only
    `moviemetric transform` publishes a passing build as `artifacts`, so a plain
    analyst `dbt build` never touches what the API reads.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'artifacts' -%}
        artifacts__build
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
