{#-
    Score of recommending movie B to readers of movie A (movie_recommendations): how
    alike the two are, times how likely B is to be a movie people watch and like.
    Every factor is in [0, 1], so the score is too.

    genre_similarity    the genres as sets: shared / sqrt(genres_a * genres_b), so
                        a movie's genres count as a whole, not one by one
    keyword_similarity  cosine of the keyword vectors weighted by idf: rare shared
                        keywords say more, and many keywords do not outvote few
    year_proximity      exp(-|year_a - year_b| / recommendation_year_scale): movies
                        of the same years are watched together; a missing year
                        counts as recommendation_missing_year_gap years apart
    vote_prior          ln(1 + votes_b) / ln(1 + most votes in the catalog): a
                        movie people have watched; it multiplies the similarity, so
                        it ranks among similar movies and never lifts a dissimilar one
    rating              B's TMDB mean rating / 10 (0.5 when B is not rated yet)

    Similarity is recommendation_weight_genres * genre_similarity +
    recommendation_weight_keywords * keyword_similarity (weights summing to 1).
-#}
{% macro recommendation_score(genre_similarity, keyword_similarity, year_proximity, vote_prior, rating) -%}
    (
        (
            {{ var('recommendation_weight_genres') }} * {{ genre_similarity }}
            + {{ var('recommendation_weight_keywords') }} * {{ keyword_similarity }}
        )
        * {{ year_proximity }} * {{ vote_prior }} * {{ rating }}
    )
{%- endmacro %}
