{#-
    The bitmaps of search_bitmaps, from a relation of (key columns, popularity_rank)
    rows: bit r of a key's bitmap is set when a row has popularity_rank r. Each key's
    ranks are or-ed into 64-bit chunks, the chunks written as 16 hex digits in order
    (the missing ones as zeros) and read as one `bit varying` of `bitmap_bits` bits (a
    multiple of 64), so every bitmap of a build has the same length and `&`, `|` and
    bit_count apply to any two. search/postgres.py builds the bitmaps of rare typo
    corrections and title beginnings at query time with the same steps.

    `flags` are (name, condition) pairs: one bitmap per pair, of the rows where the
    condition holds, as column `<name>_bits`.

    Two steps: `rank_chunks` makes the chunks (columns `chunk` and `<name>_chunk`),
    `chunk_bitmaps` joins them into bitmaps. Chunks of several relations can be or-ed
    together between the two (search_bitmaps makes a prefix's chunks from its words'
    chunks); keys are best numbers, as sorting millions of chunks by text keys is slow.
-#}
{% macro rank_chunks(relation, keys, flags) -%}
    (
        select
            {{ keys | join(', ') }},
            popularity_rank / 64 as chunk,
            {%- for name, condition in flags %}
            coalesce(
                bit_or(1::bigint << (63 - popularity_rank % 64)) filter (where {{ condition }}),
                0
            ) as {{ name }}_chunk{{ ',' if not loop.last }}
            {%- endfor %}

        from {{ relation }}
        group by {{ keys | join(', ') }}, popularity_rank / 64
    )
{%- endmacro %}


{% macro chunk_bitmaps(relation, keys, names, bitmap_bits) -%}
    (
        with

        gaps as (

            select
                *,
                chunk - coalesce(
                    lag(chunk) over (partition by {{ keys | join(', ') }} order by chunk), -1
                ) - 1 as zero_chunks

            from {{ relation }}

        )

        select
            {{ keys | join(', ') }},
            {%- for name in names %}
            (
                'x' || rpad(
                    string_agg(
                        repeat('0', 16 * zero_chunks::integer)
                        || lpad(to_hex({{ name }}_chunk), 16, '0'),
                        '' order by chunk
                    ),
                    ({{ bitmap_bits }} / 4)::integer,
                    '0'
                )
            )::bit varying as {{ name }}_bits{{ ',' if not loop.last }}
            {%- endfor %}

        from gaps
        group by {{ keys | join(', ') }}
    )
{%- endmacro %}
