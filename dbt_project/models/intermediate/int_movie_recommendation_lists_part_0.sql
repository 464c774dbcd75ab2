-- the lists of the movies with an even id; the model's config is in the macro
{{ recommendation_lists(part=0, parts=2) }}
