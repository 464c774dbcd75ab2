{#-
    on-run-start hook: with `describe_published_artifacts` set, generate_schema_name
    resolves the artifacts to the published schema, which only a publish may write.
    The var is for `dbt docs generate`; any command that writes refuses it.
-#}
{% macro refuse_published_schema_in_builds() -%}
    {%- if var('describe_published_artifacts', false) and flags.WHICH in ['build', 'run', 'seed', 'snapshot', 'test', 'run-operation'] -%}
        {{ exceptions.raise_compiler_error(
            "the var describe_published_artifacts is for `dbt docs generate` only: with it, "
            ~ flags.WHICH ~ " would write into the published schema `artifacts`; run without it"
        ) }}
    {%- endif -%}
{%- endmacro %}
