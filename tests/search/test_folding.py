"""The query side folds text exactly as the dbt macro folded the index."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from search.folding import fold, words
from search.postgres import TYPO_MIN_WORD_LENGTH
from tests.search.catalog import FOLDING_TITLE

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_python_and_the_dbt_macro_fold_every_title_alike(search_warehouse):
    """Every letter of the folded block (one title holds them all), the fixture's
    Cyrillic, CJK and German titles and the known titles."""
    rows = search_warehouse.query(
        "select documents.title, search_index.title_words "
        "from artifacts.search_index as search_index "
        "join artifacts.search_documents as documents using (movie_id)"
    )
    titles = {title for title, _ in rows}
    assert FOLDING_TITLE in titles and {"Amélie", "Город Straße 56"} & titles
    for title, title_words in rows:
        assert " ".join(words(title)) == title_words, title


def test_the_folded_block_becomes_ascii():
    folded = fold("ÀÉÎÕÜ Straße Æsir Œuvre Łódź İstanbul")
    assert folded == "aeiou strasse aesir oeuvre lodz istanbul"
    assert all(re.fullmatch(r"[a-z]+", word) for word in words(FOLDING_TITLE) if word.isascii())
    assert words("L'été d'Amélie: Город, 夢!") == ["l", "ete", "d", "amelie", "город", "夢"]


def test_query_operators_are_not_words():
    assert words("a&b|!c:* 'x' \"y\" (z) <-> _u_") == ["a", "b", "c", "x", "y", "z", "u"]


def test_the_typo_rule_is_the_dbt_var():
    project = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"]["search_typo_min_word_length"] == TYPO_MIN_WORD_LENGTH
