{#-
    Schemas are used as named, never prefixed with the target schema: staging,
    marts, and the artifacts, which always go to the build schema
    `artifacts__build` (moviemetric.warehouse.BUILD_SCHEMA). Only
    `moviemetric transform` publishes a passing build as `artifacts`, so a plain
    analyst `dbt build` never touches what the API reads.

    `moviemetric docs` sets the var `describe_published_artifacts` so that
    `dbt docs generate` describes the artifacts where the API reads them
    (`artifacts`); the hook `refuse_published_schema_in_builds` stops any command
    that writes from running with it.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'artifacts' -%}
        {%- if var('describe_published_artifacts', false) -%}
            artifacts
        {%- else -%}
            artifacts__build
        {%- endif -%}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
