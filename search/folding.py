"""Accent and case folding of query text, the same as dbt's ``fold_search_text`` macro.

The index is built on core PostgreSQL, without the ``unaccent`` extension, so the
dbt macro folds with ``translate()`` over a fixed mapping of the Latin letters
U+00C0 to U+024F and ``lower()``. This module folds query text the same way:
NFC, then the letters of that block to their base letters (``unicodedata``'s
decomposition without its combining marks, or ``LIGATURES`` for the letters that do
not decompose), then lower case. Letters of other scripts are only lower-cased, on
both sides. ``tests/search/test_folding.py`` checks that both fold every letter of
the block alike, on the built index.

Words are the runs of letters and digits (``[[:alnum:]]+`` in the macro), so any
other character, tsquery operators and quotes included, only separates words.
"""

from __future__ import annotations

import re
import unicodedata

FOLDED_BLOCK = range(0x00C0, 0x0250)  # Latin-1 Supplement letters to Latin Extended-B

# Letters of the block with no canonical decomposition to a base letter, folded as
# the usual transliteration (the same pairs are in the dbt macro).
LIGATURES = {
    "ß": "ss",
    "Æ": "ae",
    "æ": "ae",
    "Œ": "oe",
    "œ": "oe",
    "Þ": "th",
    "þ": "th",
    "Ð": "d",
    "ð": "d",
    "Đ": "d",
    "đ": "d",
    "Ø": "o",
    "ø": "o",
    "Ł": "l",
    "ł": "l",
    "Ħ": "h",
    "ħ": "h",
    "\u0131": "i",  # dotless i
    "Ŧ": "t",
    "ŧ": "t",
}

WORD = re.compile(r"[^\W_]+")


def _base_letter(char: str) -> str | None:
    """The ASCII letter ``char`` decomposes to, without its marks, if it is one."""
    base = "".join(
        part for part in unicodedata.normalize("NFD", char) if not unicodedata.combining(part)
    )
    return base if len(base) == 1 and base.isascii() and base.isalpha() else None


def _folding_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in FOLDED_BLOCK:
        char = chr(code)
        folded = LIGATURES.get(char) or _base_letter(char)
        if folded is not None and folded != char:
            table[code] = folded.lower()
    return table


FOLDING = _folding_table()


def fold(text: str) -> str:
    """``text`` without accents on Latin letters, in lower case."""
    return unicodedata.normalize("NFC", text).translate(FOLDING).lower()


def words(text: str) -> list[str]:
    """The folded words of ``text``: runs of letters and digits, in order."""
    return WORD.findall(fold(text))
