{#-
    The terms of a recommendation of movie B to readers of movie A
    (movie_recommendations). Every term lies in [0, 1], and so does the score.

    genre_similarity    the genres as sets: shared / sqrt(genres_a * genres_b), so
                        a movie's genres count as a whole, not one by one; computed
                        on genre bitmasks (int_movie_recommendation_content)
    keyword_similarity  cosine of the keyword vectors weighted by idf: rare shared
                        keywords say more, and many keywords do not outvote few
    year_proximity      exp(-|year_a - year_b| / recommendation_year_scale): movies
                        of the same years are watched together; a missing year
                        counts as recommendation_missing_year_gap years apart
    vote_prior          ln(1 + votes_b) / ln(1 + most votes in the catalog), at
                        most 1 (the maximum is frozen between full refreshes): a
                        movie people have watched; it multiplies the similarity, so
                        it ranks among similar movies and never lifts a dissimilar one
    rating              B's TMDB mean rating / 10 (0.5 when B is not rated yet)

    score = (recommendation_weight_genres * genre_similarity
             + recommendation_weight_keywords * keyword_similarity)
            * year_proximity * vote_prior * rating
-#}
{% macro recommendation_genre_similarity(mask_a, count_a, mask_b, count_b) -%}
    coalesce(
        bit_count(({{ mask_a }} & {{ mask_b }})::bit(64))
        / nullif(sqrt(({{ count_a }} * {{ count_b }})::double precision), 0),
        0
    )
{%- endmacro %}

{% macro recommendation_keyword_similarity(keyword_dot, norm_a, norm_b) -%}
    coalesce({{ keyword_dot }} / nullif({{ norm_a }} * {{ norm_b }}, 0), 0)
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

{% macro recommendation_similarity(genre_similarity, keyword_similarity, year_proximity) -%}
    (
        (
            {{ var('recommendation_weight_genres') }} * {{ genre_similarity }}
            + {{ var('recommendation_weight_keywords') }} * {{ keyword_similarity }}
        )
        * {{ year_proximity }}
    )
{%- endmacro %}

{% macro recommendation_score(similarity, vote_prior, rating) -%}
    ({{ similarity }} * {{ vote_prior }} * {{ rating }})
{%- endmacro %}
