{#-
    One part of int_movie_recommendation_lists: the lists of the movies whose id is
    `part` modulo `parts`. The parts are separate incremental models, so dbt builds them
    at the same time on as many cores; each reads every movie as a candidate.
-#}
{% macro recommendation_lists(part, parts) -%}
{#- jit off: JIT compiles for about a second per query, most of a daily build at 10k,
    and buys nothing for lookups one movie at a time -#}
{{
    config(
        materialized='incremental',
        schema='intermediate',
        unique_key='movie_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        tags=['recommendation_lists'],
        indexes=[
            {'columns': ['movie_id', 'list_rank'], 'unique': True},
            {'columns': ['movie_id', 'recommended_movie_id'], 'unique': True},
        ],
        pre_hook='set local jit = off',
        post_hook=[
            "{{ delete_stale_recommendation_lists(this, ref('int_movie_recommendation_content')) }}",
            "{{ record_scored_content(this, ref('int_movie_recommendation_content')) }}",
            'analyze {{ this }}',
        ],
    )
}}
-- Each movie's recommendation_list_size best candidates by their frozen terms, scored
-- one movie at a time (a lateral join over the movie's features and their pools), so
-- the work is movies x features x pool size, never movies squared. A full refresh
-- scores every movie; an incremental build only the movies whose list can change:
--   1. changed: the movie's content hash moved, or it is new;
--   2. the movies whose list names a changed movie (of either part) or a movie gone
--      from the catalog;
--   3. the movies for which a changed movie (of either part) in a pool would now
--      enter the list.
-- movie_recommendations ranks these with the day's votes and ratings.
-- CTEs read more than once are "not materialized": a materialised CTE has no index,
-- and the lateral join below looks each movie's features and pools up by index.
with

content as not materialized (

    select * from {{ ref('int_movie_recommendation_content') }}

),

movie_features as not materialized (

    select * from {{ ref('int_movie_features') }}

),

terms as not materialized (

    select * from {{ ref('int_recommendation_terms') }}

),

pool_partners as not materialized (

    select * from {{ ref('int_recommendation_pool_partners') }}

),

own_features as not materialized (

    select
        movie_features.movie_id,
        movie_features.feature_type,
        movie_features.feature_id,
        terms.idf

    from movie_features
    inner join terms
        on
            movie_features.feature_type = terms.feature_type
            and movie_features.feature_id = terms.feature_id

),

{% if is_incremental() %}

    stored_lists as not materialized (

        select * from {{ this }}

    ),

    -- every movie, of either part, whose content moved, that entered or that left the
    -- catalog since this part last scored its lists: the part's own record
    -- (record_scored_content, written in the same transaction as its lists); every
    -- movie when there is none yet
    {% set scored_content = adapter.get_relation(
        database=this.database, schema=this.schema, identifier=scored_content_identifier(this)
    ) %}
    changed_candidates as (

        {% if scored_content is not none %}
            select changed.movie_id
            from {{ changed_since_record(ref('int_movie_recommendation_content'), scored_content) }}
        {% else %}
            select movie_id from content
            union
            select recommended_movie_id from stored_lists
        {% endif %}

    ),

    -- this part's movies whose own list must be rescored: those among the changed
    -- that are in the catalog (their content moved, or they are new to the part)
    changed_movies as (

        select changed_candidates.movie_id
        from changed_candidates
        inner join content
            on changed_candidates.movie_id = content.movie_id
        where {{ recommendation_list_part_filter('changed_candidates.movie_id', part, parts) }}

    ),

    listing_changed as (

        select stored_lists.movie_id
        from stored_lists
        where stored_lists.recommended_movie_id in (select movie_id from changed_candidates)

    ),

    -- a changed movie scored against every movie that has it as a candidate, one
    -- changed movie at a time (a lateral join): its pools, by index, to the movies that
    -- share them; a plain join lets the planner build every movie's pairs first
    changed_as_candidate as (

        select pairs.*
        from changed_candidates
        cross join lateral (  -- noqa: ST05
            select
                own_features.movie_id,
                pool_partners.recommended_movie_id,
                bool_or(pool_partners.has_evidence) as has_evidence,
                {{ recommendation_similarity(
                    recommendation_genre_similarity(
                        'min(content.genre_mask)', 'min(content.genre_count)',
                        'min(pool_partners.genre_mask)', 'min(pool_partners.genre_count)'
                    ),
                    recommendation_keyword_similarity(
                        "sum(own_features.idf * own_features.idf) filter (where own_features.feature_type = 'keyword')",
                        'min(content.keyword_norm)', 'min(pool_partners.keyword_norm)'
                    ),
                    recommendation_people_similarity(
                        "sum(own_features.idf * own_features.idf) filter (where own_features.feature_type = 'person')",
                        'min(content.people_norm)', 'min(pool_partners.people_norm)'
                    ),
                    "(bool_or(own_features.feature_type = 'collection'))::integer",
                    recommendation_year_proximity('min(content.release_year)', 'min(pool_partners.release_year)')
                ) }} * min(pool_partners.frozen_prior) as selection_score

            from pool_partners
            inner join own_features
                on
                    pool_partners.feature_type = own_features.feature_type
                    and pool_partners.feature_id = own_features.feature_id
                    and pool_partners.recommended_movie_id != own_features.movie_id
            inner join content
                on own_features.movie_id = content.movie_id
            where pool_partners.recommended_movie_id = changed_candidates.movie_id
            group by own_features.movie_id, pool_partners.recommended_movie_id
        ) as pairs

    ),

    -- the last row of each full list: a candidate must reach it to enter
    list_floors as (

        select
            movie_id,
            has_evidence,
            selection_score

        from stored_lists
        where list_rank = {{ var('recommendation_list_size') }}

    ),

    entering as (

        select changed_as_candidate.movie_id
        from changed_as_candidate
        left join list_floors
            on changed_as_candidate.movie_id = list_floors.movie_id
        -- this part's movies: a changed movie's pairs above cover both parts
        where
            {{ recommendation_list_part_filter('changed_as_candidate.movie_id', part, parts) }}
            and (
                list_floors.movie_id is null
                -- a margin for float sums added in another order: one rescore too many is harmless
                or (changed_as_candidate.has_evidence, changed_as_candidate.selection_score)
                >= (list_floors.has_evidence, list_floors.selection_score - 1e-9)
            )

    ),

    movies_to_score as (

        select movie_id from changed_movies
        union
        select movie_id from listing_changed
        union
        select movie_id from entering

    ),

{% else %}

    movies_to_score as (

        select movie_id from content
        where {{ recommendation_list_part_filter('movie_id', part, parts) }}

    ),

{% endif %}

-- materialised: the lateral join below then runs for these movies only
scoring_movies as materialized (

    select content.*
    from content
    inner join movies_to_score
        on content.movie_id = movies_to_score.movie_id

),

{# the partner's terms are computed once per pair in the lateral join; this combines them #}
{% set selection_score = recommendation_score(
    recommendation_similarity(
        'genre_similarity', 'keyword_similarity', 'people_similarity', 'same_collection', 'year_proximity'
    ),
    'frozen_prior',
    '1.0'
) %}
-- one movie at a time: its features meet their pools, shared features are summed per
-- partner (genres exactly, from the bitmasks; keywords where the partner is in the
-- keyword's pool), and the best recommendation_list_size partners are kept
kept as (

    select
        scoring_movies.movie_id,
        scoring_movies.content_hash,
        scoring_movies.genre_mask,
        scoring_movies.feature_keys,
        scoring_movies.feature_names,
        best.recommended_movie_id,
        best.partner_genre_mask,
        best.genre_similarity,
        best.keyword_similarity,
        best.people_similarity,
        best.same_collection,
        best.year_proximity,
        best.selection_score,
        best.has_genres,
        best.has_evidence

    from scoring_movies
    -- a lateral join runs once per movie: a CTE cannot take the movie as a parameter
    cross join lateral (  -- noqa: ST05
        select
            *,
            {{ selection_score }} as selection_score

        from (
            select
                pool_partners.recommended_movie_id,
                min(pool_partners.genre_mask) as partner_genre_mask,
                bool_or(pool_partners.has_genres) as has_genres,
                bool_or(pool_partners.has_evidence) as has_evidence,
                {{ recommendation_genre_similarity(
                    'scoring_movies.genre_mask', 'scoring_movies.genre_count',
                    'min(pool_partners.genre_mask)', 'min(pool_partners.genre_count)'
                ) }} as genre_similarity,
                {{ recommendation_keyword_similarity(
                    'sum(own.idf * own.idf) filter (where ' ~ recommendation_feature_kind('own.feature_key') ~ ' = 2)',
                    'scoring_movies.keyword_norm', 'min(pool_partners.keyword_norm)'
                ) }} as keyword_similarity,
                {{ recommendation_people_similarity(
                    'sum(own.idf * own.idf) filter (where ' ~ recommendation_feature_kind('own.feature_key') ~ ' = 3)',
                    'scoring_movies.people_norm', 'min(pool_partners.people_norm)'
                ) }} as people_similarity,
                (bool_or({{ recommendation_feature_kind('own.feature_key') }} = 4))::integer as same_collection,
                {{ recommendation_year_proximity(
                    'scoring_movies.release_year', 'min(pool_partners.release_year)'
                ) }} as year_proximity,
                min(pool_partners.frozen_prior) as frozen_prior

            -- the movie's features and their frozen idf, from its content row
            from unnest(scoring_movies.feature_keys, scoring_movies.feature_idfs) as own (feature_key, idf)
            inner join pool_partners
                on own.feature_key = pool_partners.feature_key
            where pool_partners.recommended_movie_id != scoring_movies.movie_id
            group by pool_partners.recommended_movie_id
        ) as partners
        -- a top-N sort; the rank is numbered once for all movies below
        order by has_evidence desc, selection_score desc, recommended_movie_id asc
        limit {{ var('recommendation_list_size') }}
    ) as best

),

-- the reason: every feature the two share, by name, the rarest first: the movie's
-- features (rarest first) that are among the partner's, from the two movies' feature
-- arrays (int_movie_recommendation_content), so it costs the kept pairs, never
-- features x features
reasons as (

    select
        kept.*,
        row_number() over (
            partition by kept.movie_id
            order by kept.has_evidence desc, kept.selection_score desc, kept.recommended_movie_id asc
        ) as list_rank,
        bit_count((kept.genre_mask & kept.partner_genre_mask)::bit(64)) as shared_genre_count,
        shared.shared_keyword_count,
        shared.shared_person_count,
        shared.reason,
        partner_content.content_hash as recommended_content_hash

    from kept
    inner join content as partner_content
        on kept.recommended_movie_id = partner_content.movie_id
    cross join lateral (
        select
            count(*) filter (where {{ recommendation_feature_kind('own.feature_key') }} = 2) as shared_keyword_count,
            count(*) filter (where {{ recommendation_feature_kind('own.feature_key') }} = 3) as shared_person_count,
            concat_ws(
                '; ',
                'same collection: '
                || min(own.feature_name) filter (where {{ recommendation_feature_kind('own.feature_key') }} = 4),
                'shared genres: ' || string_agg(own.feature_name, ', ' order by own.position) filter (
                    where {{ recommendation_feature_kind('own.feature_key') }} = 1
                ),
                'shared keywords: ' || array_to_string(
                    (
                        array_agg(own.feature_name order by own.position)
                        filter (where {{ recommendation_feature_kind('own.feature_key') }} = 2)
                    )[1:5],
                    ', '
                ),
                'shared people: ' || array_to_string(
                    (
                        array_agg(own.feature_name order by own.position)
                        filter (where {{ recommendation_feature_kind('own.feature_key') }} = 3)
                    )[1:3],
                    ', '
                )
            ) as reason

        from unnest(kept.feature_keys, kept.feature_names) with ordinality as own (feature_key, feature_name, position)
        where own.feature_key = any(partner_content.feature_keys)
    ) as shared

),

final as (

    select
        movie_id::bigint as movie_id,
        recommended_movie_id::bigint as recommended_movie_id,
        list_rank::integer as list_rank,
        genre_similarity::double precision as genre_similarity,
        keyword_similarity::double precision as keyword_similarity,
        people_similarity::double precision as people_similarity,
        same_collection::integer as same_collection,
        year_proximity::double precision as year_proximity,
        selection_score::double precision as selection_score,
        has_genres,
        has_evidence,
        shared_genre_count::integer as shared_genre_count,
        shared_keyword_count::integer as shared_keyword_count,
        shared_person_count::integer as shared_person_count,
        reason::text as reason,
        content_hash,
        recommended_content_hash

    from reasons

)

select * from final
{%- endmacro %}


{#- the movies of one part of the recommendation lists: movie_id modulo parts -#}
{% macro recommendation_list_part_filter(movie_id, part, parts) -%}
    mod({{ movie_id }}, {{ parts }}) = {{ part }}
{%- endmacro %}


{#-
    A part's record of the content its lists were scored against: every catalog movie's
    content hash, rewritten by the part's post_hook in the transaction that writes its
    lists, so it can never run ahead of or behind them. The next incremental build of
    the part finds there the movies that changed since, whichever part lists them.
-#}
{% macro scored_content_identifier(lists) -%}
    {{ lists.identifier }}_scored_content
{%- endmacro %}


{% macro record_scored_content(lists, content) -%}
    {%- set record = api.Relation.create(
        database=lists.database, schema=lists.schema, identifier=scored_content_identifier(lists)
    ) -%}
    create table if not exists {{ record }} (
        movie_id bigint primary key,
        content_hash text not null
    );
    truncate {{ record }};
    insert into {{ record }} (movie_id, content_hash)
    select movie_id, content_hash from {{ content }};
    analyze {{ record }}
{%- endmacro %}
