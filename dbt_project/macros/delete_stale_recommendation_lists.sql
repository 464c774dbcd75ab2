{#-
    After an incremental build of a part of int_movie_recommendation_lists: deleting
    the rows that delete+insert cannot reach because the rescored movie produced no
    rows (it left the catalog, it changed and has no candidate left, or the candidates
    it had changed or left the catalog and none is left). Every row stores the two
    movies' content hashes as they were scored; a row that disagrees with today's
    content was not rewritten by this build, so what stays is what a full refresh would
    build. Such a row names a movie that changed since the part's last build, so only
    those rows are checked when the part has its record of that build
    (record_scored_content, which runs after this); every row when it has none. A full
    refresh writes every row anew: nothing to do.
-#}
{% macro delete_stale_recommendation_lists(lists, content) -%}
    {%- if is_incremental() -%}
        {%- set record = adapter.get_relation(
            database=lists.database, schema=lists.schema, identifier=scored_content_identifier(lists)
        ) -%}
        {% if record is not none %}
            with changed_movies as (
                select changed.movie_id from {{ changed_since_record(content, record) }}
            )
        {% endif %}
        delete from {{ lists }} as lists
        where
            {% if record is not none %}
                (
                    lists.movie_id in (select movie_id from changed_movies)
                    or lists.recommended_movie_id in (select movie_id from changed_movies)
                )
                and
            {% endif %}
            (
                not exists (
                    select 1 from {{ content }} as content
                    where
                        content.movie_id = lists.movie_id
                        and content.content_hash = lists.content_hash
                )
                or not exists (
                    select 1 from {{ content }} as partner_content
                    where
                        partner_content.movie_id = lists.recommended_movie_id
                        and partner_content.content_hash = lists.recommended_content_hash
                )
            )
    {%- endif -%}
{%- endmacro %}


{#-
    The movies whose content moved, that entered or that left the catalog since a
    part's record was written: a subquery aliased `changed`, one column, movie_id.
-#}
{% macro changed_since_record(content, record) -%}
    (
        select coalesce(content.movie_id, record.movie_id) as movie_id
        from {{ content }} as content
        full outer join {{ record }} as record
            on content.movie_id = record.movie_id
        where
            content.movie_id is null
            or record.movie_id is null
            or record.content_hash != content.content_hash
    ) as changed
{%- endmacro %}
