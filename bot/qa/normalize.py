"""Turn what residents type into comparable tokens.

'Cho e hỏi đk VNeID ntn vậyyy???' → ['cho', 'em', 'hoi', 'dang', 'ky', 'vneid', 'nhu', 'the', 'nao', 'vay']

Steps: NFC, lowercase, drop diacritics (đ→d), drop punctuation and emoji, shorten
stretched letters, then expand shorthand from knowledge/<lang>/shorthand.yaml.
"""
from __future__ import annotations

import re

from bot.text import fold

_STRETCHED = re.compile(r"([a-z])\1{2,}")       # "vayyyy" → "vay"
_DOUBLED_END = re.compile(r"([a-z])\1\b")        # "vayy" → "vay": no folded Vietnamese word ends so
_DIGITS = re.compile(r"\d+")


class Normalizer:
    def __init__(self, shorthand: dict[str, str], stopwords: frozenset[str]):
        self.shorthand = {key: value.split() for key, value in shorthand.items()}
        self.stopwords = stopwords

    def tokens(self, text: str) -> list[str]:
        folded = fold(text)
        folded = _DOUBLED_END.sub(r"\1", _STRETCHED.sub(r"\1", folded))
        out: list[str] = []
        for word in folded.split():
            out.extend(self.shorthand.get(word, (word,)))
        return out

    def content(self, tokens: list[str]) -> list[str]:
        """The tokens that can decide what a question is about."""
        return [t for t in tokens if t not in self.stopwords]

    def for_log(self, text: str) -> str:
        """Normalized text safe to keep without knowing who sent it: numbers (phone, ID) masked."""
        return _DIGITS.sub("#", " ".join(self.tokens(text)))[:200]
