"""Text folding shared by content checks and matching: lowercase, no diacritics, đ→d."""
from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def fold(text: str) -> str:
    """Lowercase, no diacritics, punctuation to single spaces: how residents often type."""
    text = strip_diacritics(unicodedata.normalize("NFC", text).lower())
    return " ".join(_NON_WORD.sub(" ", text).split())
