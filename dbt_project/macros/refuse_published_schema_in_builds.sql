{#-
    on-run-start hook: in the `prod` target with the var `artifacts_schema` at its
    default, the artifacts resolve to the published schema `artifacts`, which only a
    publish may write (generate_schema_name.sql). Reading commands (`test`,
    `docs generate`, `source freshness`) run; commands that write refuse.
-#}
{% macro refuse_published_schema_in_builds() -%}
    {%- if target.name == 'prod'
        and var('artifacts_schema', 'artifacts') == 'artifacts'
        and flags.WHICH in ['build', 'run', 'seed', 'snapshot', 'run-operation', 'clone'] -%}
        {{ exceptions.raise_compiler_error(
            "dbt " ~ flags.WHICH ~ " --target prod would write the published schema `artifacts`, "
            ~ "which only `moviemetric transform` publishes after every test passed; "
            ~ "build in your own schemas with the default target (dev), "
            ~ "or read prod with `dbt test --target prod`"
        ) }}
    {%- endif -%}
{%- endmacro %}
