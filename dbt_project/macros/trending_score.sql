{#-
    The trending formula (docs/design.md section 5), the one place it is written.

    momentum = popularity / avg_popularity_7d - 1
        avg_popularity_7d is the mean popularity of the movie's snapshots in the 7
        days before the trend date (the day itself excluded). No history (null
        average) or a zero average gives momentum 0: a new movie ranks on its level.

    score = ln(1 + popularity) * (1 + clamp(momentum, -1, var('trending_momentum_cap')))
        ln(1 + popularity) is the level: heavy-tailed popularity is compressed so a
        small movie with a real surge can pass a big steady one, but only within
        the cap (default 2: at most three times its level score). A movie falling
        to half its average keeps half its level score.
-#}
{% macro trending_momentum(popularity, avg_popularity_7d) -%}
    coalesce({{ popularity }} / nullif({{ avg_popularity_7d }}, 0) - 1, 0)
{%- endmacro %}


{% macro trending_score(popularity, avg_popularity_7d) -%}
    ln(1 + {{ popularity }}) * (
        1 + least(
            greatest({{ trending_momentum(popularity, avg_popularity_7d) }}, -1),
            {{ var('trending_momentum_cap') }}
        )
    )
{%- endmacro %}
