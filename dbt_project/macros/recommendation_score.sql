{#-
    Score of recommending movie B to readers of movie A (movie_recommendations).
    Every input is in [0, 1]; the weights are dbt vars that sum to 1 by default:

    content_similarity  idf-weighted overlap of genres and keywords, normalised
                        (Ochiai): shared_idf / sqrt(idf_a * idf_b)
    same_decade         1 when both have a release date in the same decade
    rating_proximity    1 - |rating_a - rating_b| / 10 when both are rated, else 0
    popularity_prior    ln(1 + popularity_b) / ln(1 + max catalog popularity)
-#}
{% macro recommendation_score(content_similarity, same_decade, rating_proximity, popularity_prior) -%}
    (
        {{ var('recommendation_weight_content') }} * {{ content_similarity }}
        + {{ var('recommendation_weight_same_decade') }} * {{ same_decade }}
        + {{ var('recommendation_weight_rating') }} * {{ rating_proximity }}
        + {{ var('recommendation_weight_popularity') }} * {{ popularity_prior }}
    )
{%- endmacro %}
