{#-
    dbt's convention of targets, so nothing an analyst runs changes what the API reads:

    - `dev` (the default target in profiles.yml) and any other target build into
      schemas of their own, named after the target: `dev_staging`, `dev_marts`,
      `dev_intermediate`, `dev_artifacts`.
    - `prod` is the pipeline's: `staging`, `intermediate`, `marts`, and the artifacts
      in the var `artifacts_schema`. `moviemetric transform` sets it to the build
      schema `artifacts__build` and publishes a passing build as `artifacts`; left
      at its default, `artifacts`, it points reads (`dbt test --target prod`,
      `dbt docs generate --target prod`) at what the API serves, and the hook
      `refuse_published_schema_in_builds` stops any command that would write there.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif target.name != 'prod' -%}
        {{ target.name }}_{{ custom_schema_name | trim }}
    {%- elif custom_schema_name | trim == 'artifacts' -%}
        {{ var('artifacts_schema', 'artifacts') }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
