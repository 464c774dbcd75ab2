{#-
    Accent and case folding for search, on core PostgreSQL (no `unaccent`: it is a
    contrib extension). The text is normalised to NFC, the Latin letters U+00C0 to
    U+024F are replaced by their base letters (a letter's canonical decomposition
    without its marks; the ligatures and letters that do not decompose by their usual
    transliteration: ß ss, æ ae, œ oe, þ th, ð d, đ d, ø o, ł l, ħ h, ı i, ŧ t), then
    lower() lower-cases every script (the database's ctype must be a UTF-8 one).
    Text that is all ASCII (as many bytes as characters in UTF-8) is only lower-cased:
    normalize, translate and replace leave it as it is, and translate scans its whole
    list of letters for every character (most of search_index's build time before).

    The API folds query text the same way (search/folding.py, which generated the two
    strings below); tests/search/test_folding.py checks both agree on every letter.
-#}
{% macro fold_search_text(text_expression) -%}
    case
        when octet_length({{ text_expression }}) = char_length({{ text_expression }})
            then lower({{ text_expression }})
        else lower(
        replace(replace(replace(replace(replace(replace(replace(translate(
            normalize(coalesce({{ text_expression }}, ''), nfc),
        'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝàáâãäåçèéêëìíîïðñòóôõöøùúûüýÿĀāĂ' ||
        'ăĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįİıĴĵĶķĹĺĻļĽľŁłŃ' ||
        'ńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎ' ||
        'ǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚ' ||
        'țȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ',
        'aaaaaaceeeeiiiidnoooooouuuuyaaaaaaceeeeiiiidnoooooouuuuyyaaa' ||
        'aaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiijjkklllllllln' ||
        'nnnnnoooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzoouuaa' ||
        'iioouuuuuuuuuuaaaaggkkoooojggnnaaaaaaeeeeiiiioooorrrruuuusst' ||
        'thhaaeeooooooooyy'
        ), 'Æ', 'ae'), 'Þ', 'th'), 'ß', 'ss'), 'æ', 'ae'), 'þ', 'th'), 'Œ', 'oe'), 'œ', 'oe')
        )
    end
{%- endmacro %}


{#-
    The folded words of a text, separated by single spaces: runs of letters and
    digits ([[:alnum:]]), so punctuation, quotes and symbols only separate words.
    search/folding.py `words()` splits query text the same way.
-#}
{% macro search_words(text_expression) -%}
    trim(regexp_replace({{ fold_search_text(text_expression) }}, '[^[:alnum:]]+', ' ', 'g'))
{%- endmacro %}
