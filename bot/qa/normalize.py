"""Turn what residents type into comparable tokens.

'Cho e hỏi đk VNeID ntn vậyyy???' → ['cho', 'em', 'hoi', 'dang', 'ky', 'vneid', 'nhu', 'the', 'nao', 'vay']

Steps: NFC, lowercase, drop diacritics (đ→d), drop punctuation and emoji, shorten
stretched letters, then expand shorthand from knowledge/<lang>/shorthand.yaml.
"""
from __future__ import annotations

import re
import unicodedata

from bot.text import fold

_WORDS = re.compile(r"\w+", re.UNICODE)

_STRETCHED = re.compile(r"([a-z])\1{2,}")       # "vayyyy" → "vay"
_DOUBLED_END = re.compile(r"([a-z])\1\b")        # "vayy" → "vay": no folded Vietnamese word ends so
_DIGITS = re.compile(r"\d+")
WORD_CACHE_SIZE = 50_000


class Normalizer:
    def __init__(self, shorthand: dict[str, str], stopwords: frozenset[str]):
        self.shorthand = {key: value.split() for key, value in shorthand.items()}
        self.stopwords = stopwords
        # raw word → its (folded, as typed) pairs, and whether it carries dấu
        self._words: dict[str, tuple[tuple[tuple[str, str | None], ...], bool]] = {}

    def tokens(self, text: str) -> list[str]:
        return [folded for folded, _accented in self.pairs(text)]

    def pairs(self, text: str) -> list[tuple[str, str | None]]:
        """(folded, as typed) per word; as typed is None for expanded shorthand.
        'mất' and 'mật' both fold to 'mat': what was typed tells them apart."""
        return self.read(text)[0]

    def read(self, text: str) -> tuple[list[tuple[str, str | None]], bool]:
        """pairs(text), and whether any word was typed with dấu (then a plain word is meant
        plain: 'mua' is not 'mưa'). Runs for every phrasing at start-up, so kept lean."""
        out: list[tuple[str, str | None]] = []
        accented = False
        cache = self._words
        for raw in _WORDS.findall(unicodedata.normalize("NFC", text).lower()):
            word = cache.get(raw)
            if word is None:
                if len(cache) > WORD_CACHE_SIZE:
                    cache.clear()  # residents' typos are endless; keep memory bounded
                word = cache[raw] = self._word(raw)
            out += word[0]
            accented = accented or word[1]
        return out, accented

    def _word(self, raw: str) -> tuple[tuple[str, str | None], ...]:
        out: list[tuple[str, str | None]] = []
        for word in fold(raw).split():
            # Shorthand first ("cccd" has three c's on purpose), then shorten stretched letters.
            if word not in self.shorthand:
                word = _DOUBLED_END.sub(r"\1", _STRETCHED.sub(r"\1", word))
            expansion = self.shorthand.get(word)
            if expansion:
                out.extend((w, None) for w in expansion)
            else:
                out.append((word, raw if fold(raw) == word else None))
        return tuple(out), any(typed is not None and typed != folded for folded, typed in out)

    def content(self, tokens: list[str]) -> list[str]:
        """The tokens that can decide what a question is about."""
        return [t for t in tokens if t not in self.stopwords]

    def for_log(self, text: str) -> str:
        """Normalized text safe to keep without knowing who sent it: numbers (phone, ID) masked."""
        return _DIGITS.sub("#", " ".join(self.tokens(text)))[:200]
