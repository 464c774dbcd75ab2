{#-
    The per-movie incremental models (int_movie_features,
    int_movie_recommendation_content, int_recommendation_pool_partners) write a day's
    changes in two steps, so a day costs the movies that changed:
      1. their pre_hook, delete_rows_of_changed_movies, deletes the rows of every movie
         whose details were loaded again since its rows were written (`loaded_at`
         moved) or that is no longer in `movies`;
      2. the build writes the movies that have no rows (movie_rows_missing).
    What stays is what a full refresh would write. `movie_key` names the movie in
    `relation`; `movies` has movie_id and loaded_at (and is_in_catalog when
    `catalog_only`). Nothing to delete on a full refresh.
-#}
{% macro delete_rows_of_changed_movies(relation, movies, movie_key='movie_id', catalog_only=true) -%}
    {%- if is_incremental() -%}
        {%- set stored_columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {%- if 'loaded_at' not in stored_columns -%}
            {{ exceptions.raise_compiler_error(
                relation ~ " was built by an earlier release (no loaded_at column): run "
                ~ "`moviemetric transform --full-refresh` once (docs/deploy.md, Upgrading)"
            ) }}
        {%- endif %}
        delete from {{ relation }} as stored
        where not exists (
            select 1 from {{ movies }} as movies
            where
                movies.movie_id = stored.{{ movie_key }}
                and movies.loaded_at = stored.loaded_at
                {% if catalog_only %}and movies.is_in_catalog{% endif %}
        )
    {%- endif -%}
{%- endmacro %}


{#-
    In a per-movie incremental model's filter: the movie (`movie_id`, an expression)
    has no rows in the model yet (`movie_key` names the movie there); every movie on a
    full refresh.
-#}
{% macro movie_rows_missing(movie_id, movie_key='movie_id') -%}
    {%- if is_incremental() -%}
        not exists (
            select 1 from {{ this }} as stored
            where stored.{{ movie_key }} = {{ movie_id }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
