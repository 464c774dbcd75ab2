-- A movie is never recommended to itself.
with

recommendations as (

    select * from {{ ref('movie_recommendations') }}

)

select
    movie_id,
    recommended_movie_id,
    rank
from recommendations
where movie_id = recommended_movie_id
