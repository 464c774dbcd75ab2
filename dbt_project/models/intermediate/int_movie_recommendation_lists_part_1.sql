-- the lists of the movies with an odd id; the model's config is in the macro
{{ recommendation_lists(part=1, parts=2) }}
