{#-
    The terms of a recommendation of movie B to readers of movie A
    (movie_recommendations). Every term lies in [0, 1], and so does the score.

    genre_similarity    the genres as sets: shared / sqrt(genres_a * genres_b), so
                        a movie's genres count as a whole, not one by one; computed
                        on genre bitmasks (int_movie_recommendation_content)
    keyword_similarity  cosine of the keyword vectors weighted by idf: rare shared
                        keywords say more, and many keywords do not outvote few
    people_similarity   the same cosine over the people a movie is known by
                        (directors, writers, first billed actors): a shared director
                        or lead says more than a shared prolific supporting actor
    same_collection     1 when both belong to one TMDB collection (a saga), else 0
                        (like keywords and people, counted where the partner is in
                        the collection's candidate pool)
    year_proximity      exp(-|year_a - year_b| / recommendation_year_scale): movies
                        of the same years are watched together; a missing year
                        counts as recommendation_missing_year_gap years apart
    vote_prior          ln(1 + votes_b) / ln(1 + most votes in the catalog), at
                        most 1 (the maximum is frozen between full refreshes): a
                        movie people have watched; it multiplies the similarity, so
                        it ranks among similar movies and never lifts a dissimilar one
    rating              B's TMDB mean rating / 10 (0.5 when B is not rated yet)

    similarity = ((w_genres * genre_similarity + w_keywords * keyword_similarity
                   + w_people * people_similarity) * year_proximity
                  + w_collection * same_collection)
                 / (w_genres + w_keywords + w_people + w_collection)
    score = similarity * vote_prior * rating

    A saga is not discounted by the years between its movies. Where a catalog has no
    credits or collections (the terms are 0 for every pair), the order of candidates
    is the one genres, keywords and years give.
-#}
{% macro recommendation_genre_similarity(mask_a, count_a, mask_b, count_b) -%}
    coalesce(
        bit_count(({{ mask_a }} & {{ mask_b }})::bit(64))
        / nullif(sqrt(({{ count_a }} * {{ count_b }})::double precision), 0),
        0
    )
{%- endmacro %}

{% macro recommendation_keyword_similarity(keyword_dot, norm_a, norm_b) -%}
    {{ recommendation_idf_cosine(keyword_dot, norm_a, norm_b) }}
{%- endmacro %}

{% macro recommendation_people_similarity(people_dot, norm_a, norm_b) -%}
    {{ recommendation_idf_cosine(people_dot, norm_a, norm_b) }}
{%- endmacro %}

{#- dot: the sum of idf^2 over the shared features; norms: each vector's length -#}
{% macro recommendation_idf_cosine(dot, norm_a, norm_b) -%}
    coalesce({{ dot }} / nullif({{ norm_a }} * {{ norm_b }}, 0), 0)
{%- endmacro %}

{% macro recommendation_year_proximity(year_a, year_b) -%}
    exp(
        -coalesce(abs({{ year_a }} - {{ year_b }}), {{ var('recommendation_missing_year_gap') }})::double precision
        / {{ var('recommendation_year_scale') }}
    )
{%- endmacro %}

{% macro recommendation_vote_prior(vote_count, log_max_votes) -%}
    {#- the scale is frozen between full refreshes: a movie that passes the frozen
        maximum since counts as the maximum #}
    least(coalesce(ln(1 + {{ vote_count }}) / nullif({{ log_max_votes }}, 0), 0), 1.0)
{%- endmacro %}

{% macro recommendation_rating(is_rated, vote_average) -%}
    case when {{ is_rated }} then {{ vote_average }} / 10 else 0.5 end
{%- endmacro %}

{% macro recommendation_similarity(
    genre_similarity, keyword_similarity, people_similarity, same_collection, year_proximity
) -%}
    (
        (
            (
                {{ var('recommendation_weight_genres') }} * {{ genre_similarity }}
                + {{ var('recommendation_weight_keywords') }} * {{ keyword_similarity }}
                + {{ var('recommendation_weight_people') }} * {{ people_similarity }}
            )
            * {{ year_proximity }}
            + {{ var('recommendation_weight_collection') }} * {{ same_collection }}
        )
        / (
            {{ var('recommendation_weight_genres') }} + {{ var('recommendation_weight_keywords') }}
            + {{ var('recommendation_weight_people') }} + {{ var('recommendation_weight_collection') }}
        )
    )
{%- endmacro %}

{% macro recommendation_score(similarity, vote_prior, rating) -%}
    ({{ similarity }} * {{ vote_prior }} * {{ rating }})
{%- endmacro %}

{#- one bigint per feature, unique across kinds: genre, keyword, person, collection -#}
{% macro recommendation_feature_key(feature_type, feature_id) -%}
    (
        case {{ feature_type }}
            when 'genre' then 1
            when 'keyword' then 2
            when 'person' then 3
            else 4
        end * 1000000000000::bigint + {{ feature_id }}
    )
{%- endmacro %}

{#- the kind of a feature key, as recommendation_feature_key numbers it -#}
{% macro recommendation_feature_kind(feature_key) -%}
    ({{ feature_key }} / 1000000000000::bigint)
{%- endmacro %}
