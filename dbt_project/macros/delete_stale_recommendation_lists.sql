{#-
    After an incremental build of int_movie_recommendation_lists: deleting the rows
    that delete+insert cannot reach because the rescored movie produced no rows (it
    left the catalog, it changed and has no candidate left, or its only candidates
    left the catalog). What stays is what a full refresh would build.
-#}
{% macro delete_stale_recommendation_lists(lists, content) -%}
    delete from {{ lists }} as lists
    where
        not exists (
            select 1 from {{ content }} as content
            where
                content.movie_id = lists.movie_id
                and content.content_hash = lists.content_hash
        )
        or not exists (
            select 1 from {{ content }} as partner_content
            where partner_content.movie_id = lists.recommended_movie_id
        )
{%- endmacro %}
