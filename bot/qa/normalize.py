"""Turn what residents type into comparable tokens.

'Cho e hỏi đk VNeID ntn vậyyy???' → ['cho', 'em', 'hoi', 'dang', 'ky', 'vneid', 'nhu', 'the', 'nao', 'vay']

Steps: NFC, lowercase, drop diacritics (đ→d), drop punctuation and emoji, shorten
stretched letters, then expand shorthand from knowledge/<lang>/shorthand.yaml.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from rapidfuzz.distance import Levenshtein

from bot.text import fold

_WORDS = re.compile(r"\w+", re.UNICODE)

_STRETCHED = re.compile(r"([a-z])\1{2,}")       # "vayyyy" → "vay"
_DOUBLED_END = re.compile(r"([a-z])\1\b")        # "vayy" → "vay": no folded Vietnamese word ends so
_DIGITS = re.compile(r"\d+")
WORD_CACHE_SIZE = 50_000


class Normalizer:
    def __init__(self, shorthand: dict[str, str], stopwords: frozenset[str],
                 particles: frozenset[str] = frozenset(), closings: frozenset[str] = frozenset()):
        self.shorthand = {key: value.split() for key, value in shorthand.items()}
        self.stopwords = stopwords | particles
        self.particles = particles
        self.closings = closings | particles
        # raw word → its (folded, as typed) pairs
        self._words: dict[str, tuple[tuple[str, str | None], ...]] = {}

    def tokens(self, text: str) -> list[str]:
        return [folded for folded, _typed in self.pairs(text)]

    def pairs(self, text: str) -> list[tuple[str, str | None]]:
        """(folded, as typed) per word; as typed is None for expanded shorthand.
        'mất' and 'mật' both fold to 'mat': what was typed tells them apart. Runs for every
        phrasing at start-up, so kept lean."""
        out: list[tuple[str, str | None]] = []
        cache = self._words
        for raw in _WORDS.findall(unicodedata.normalize("NFC", text).lower()):
            word = cache.get(raw)
            if word is None:
                if len(cache) > WORD_CACHE_SIZE:
                    cache.clear()  # residents' typos are endless; keep memory bounded
                word = cache[raw] = self._word(raw)
            out += word
        return out

    def question(self, text: str) -> list[tuple[str, str | None]]:
        """pairs(text) as a question to match: "... vneid với ạ": closings at the end go, and
        particles everywhere (they would form word pairs, "vneid a", that no phrasing of the
        right entry has)."""
        out = self.pairs(text)
        while out and out[-1][0] in self.closings:
            out.pop()
        particles = self.particles
        return [pair for pair in out if pair[0] not in particles] if particles else out

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
        return tuple(out)

    def content(self, tokens: list[str]) -> list[str]:
        """The tokens that can decide what a question is about."""
        return [t for t in tokens if t not in self.stopwords]

    def log_rules(self, name_cues: Iterable[str] = (), secret_cues: Iterable[str] = (),
                  value_words: Iterable[str] = (), name_ends: Iterable[str] = (),
                  known: Iterable[str] = ()) -> LogRules:
        """The cues of knowledge/<lang>/privacy.yaml, normalized the way questions are, so that
        'sđt', 'sdt' and 'số điện thoại' are one cue. `known`: the words the FAQ uses."""
        return LogRules(name_cues=self._phrases(name_cues), secret_cues=self._phrases(secret_cues),
                        value_words=self._words_of(value_words), name_ends=self._words_of(name_ends),
                        known=frozenset(known) | self.stopwords, common=self.stopwords)

    def _phrases(self, texts: Iterable[str]) -> tuple[tuple[str, ...], ...]:
        phrases = (tuple(self.tokens(text)) for text in texts)
        return tuple(dict.fromkeys(p for p in phrases if p))

    def _words_of(self, texts: Iterable[str]) -> frozenset[str]:
        return frozenset(word for text in texts for word in self.tokens(text))

    def for_log(self, text: str, rules: LogRules | None = None, names: Iterable[str] = ()) -> str:
        """The question as it may be kept with no link to who asked, or "" if no word is left.

        Emails, links, handles and every word with a digit go; so do `names` (the villages, the
        resident's own name) and what follows the cues in `rules`. Each stretch removed reads
        as one LOG_MARK, so editors see that something was there."""
        rules = rules or LogRules()
        pieces = self._pieces(text)
        _cut_after_name_cues(pieces, rules)
        _cut_after_secret_cues(pieces, rules)
        _cut_phrases(pieces, self._phrases(names), self.stopwords)   # after the cues: see _starts_cut
        return _render(pieces, self.stopwords)[:LOG_MAX_CHARS]

    def _pieces(self, text: str) -> list[str]:
        """Normalized words, with GAP for what is cut already, and END / VALUE for the
        punctuation that closes a clause or introduces a value ("mk: ...")."""
        pieces: list[str] = []
        for match in _PIECES.finditer(unicodedata.normalize("NFC", text)):
            kind = match.lastgroup
            if kind == "word":
                pieces += [GAP if _DIGITS.search(t) else t for t in self.tokens(match.group())]
            else:
                pieces.append(_MARKER_OF[kind])
        return pieces


# ---- the unanswered-question log: cutting what identifies a person ----------------------------

LOG_MAX_CHARS = 200         # the column's width
LOG_MARK = "#"              # how a removed stretch reads (numbers were always masked with it)
NAME_WORDS = 4              # a name or a place: "Lò Văn Minh", "Nguyễn Thị Thu Hà", "Cò Pàng"
VALUE_WORDS = 4             # a password or an address after "là" or ":"
LOOKAHEAD = 4               # words between a secret cue and its "là": "mk vneid cua toi la ..."
FUZZY_MIN_LETTERS = 5       # cue words this long still match with one typo ("thoaii", "emal");
                            # shorter ones would catch other words ("khau" and "khac")

# Markers among the words: \w never matches a control character, so no typed word is one.
GAP, END, VALUE = "\x00", "\x01", "\x02"
_MARKER_OF = {"contact": GAP, "end": END, "value": VALUE}

_PIECES = re.compile(r"""
    (?P<contact> [\w.+-]+@[\w-]+(?:\.[\w-]+)+      # an email
               | (?:https?://|www\.)\S+           # a link
               | \w[\w-]*(?:\.[\w-]+)+/\S*         # a link without http://: facebook.com/someone
               | @\w+ )                            # a handle
  | (?P<end>   [,.;!?\n]+ )
  | (?P<value> [:=] )
  | (?P<word>  \w+ )
""", re.VERBOSE)


@dataclass(frozen=True)
class LogRules:
    """Normalized cues; knowledge/vi/privacy.yaml says what each kind is for."""

    name_cues: tuple[tuple[str, ...], ...] = ()
    secret_cues: tuple[tuple[str, ...], ...] = ()
    value_words: frozenset[str] = frozenset()
    name_ends: frozenset[str] = frozenset()
    known: frozenset[str] = frozenset()     # after a secret cue these are a topic ("vneid"), not a secret
    common: frozenset[str] = frozenset()    # a value made only of these is a question: "mk la gi"


def _is_word(piece: str) -> bool:
    return piece not in (GAP, END, VALUE)


def _same_word(typed: str, cue: str) -> bool:
    if typed == cue:
        return True
    return len(cue) >= FUZZY_MIN_LETTERS and Levenshtein.distance(typed, cue, score_cutoff=1) <= 1


def _phrase_at(pieces: list[str], start: int, phrase: tuple[str, ...], fuzzy: bool) -> bool:
    words = pieces[start:start + len(phrase)]
    if len(words) < len(phrase) or not all(_is_word(w) for w in words):
        return False
    return all(_same_word(w, p) if fuzzy else w == p for w, p in zip(words, phrase))


def _cue_ends(pieces: list[str], cues: tuple[tuple[str, ...], ...]) -> Iterator[int]:
    """Where each cue ends, left to right, the longest cue at each place. Lazy on purpose: a
    cue word already cut as part of a name no longer counts."""
    for start in range(len(pieces)):
        found = [len(cue) for cue in cues if _phrase_at(pieces, start, cue, fuzzy=True)]
        if found:
            yield start + max(found)


def _cut_words(pieces: list[str], start: int, limit: int, stop: Callable[[str], bool]) -> None:
    """Cut up to `limit` words from `start`, to the clause's end or a word `stop` accepts. A
    stretch cut already counts too, so two overlapping cues do not reach further."""
    taken = 0
    for at in range(start, len(pieces)):
        piece = pieces[at]
        if piece == END or taken == limit or (_is_word(piece) and stop(piece)):
            return
        if piece != VALUE:
            pieces[at] = GAP
            taken += 1


def _cut_phrases(pieces: list[str], phrases: tuple[tuple[str, ...], ...], common: frozenset[str]) -> None:
    """Cut every occurrence. A one-word phrase that is a common word ("Minh" is also "mình")
    stays: it tells no one apart, and cutting it everywhere would garble the question."""
    for phrase in phrases:
        if len(phrase) == 1 and phrase[0] in common:
            continue
        for start in range(len(pieces)):
            if _phrase_at(pieces, start, phrase, fuzzy=False):
                pieces[start:start + len(phrase)] = [GAP] * len(phrase)


def _cut_after_name_cues(pieces: list[str], rules: LogRules) -> None:
    """'ten toi la Lo Van Minh': the words after go whatever they are (names are made of
    ordinary syllables), up to the clause's end or a word that is never part of a name."""
    for at in _cue_ends(pieces, rules.name_cues):
        at = _skip_connectors(pieces, at, rules)    # "toi ten la ...", "ho ten: ..."
        if not _starts_cut(pieces, at):
            _cut_words(pieces, at, NAME_WORDS, stop=rules.name_ends.__contains__)


def _cut_after_secret_cues(pieces: list[str], rules: LogRules) -> None:
    """'mk hoaban bi khoa': unknown words right after the cue go, known ones are the topic
    ('quen mat khau vneid'). 'mat khau cua toi la hoa ban': the value after "là" or ":" goes
    whatever it is, unless it is only common words ('mat khau la gi') or was a number, cut
    already ('otp la 123456 co dua cho ai' keeps the rest of the question)."""
    for at in _cue_ends(pieces, rules.secret_cues):
        _cut_words(pieces, at, LOOKAHEAD, stop=lambda word: word in rules.known or word in rules.value_words)
        value = _value_start(pieces, at, rules)
        if value is not None and _is_a_value(pieces, value, rules.common):
            _cut_words(pieces, value, VALUE_WORDS, stop=lambda word: False)


def _starts_cut(pieces: list[str], at: int) -> bool:
    """What follows the cue is cut already: a number or an email was the value, and the words
    after it are the question again ('em la 0912 345 678 bi khoa sim'); or an overlapping cue
    ('ten toi la' and 'toi la') took the name. Villages and the resident's own name are cut
    after the cues, so they never stand in for a name that follows."""
    return at < len(pieces) and pieces[at] == GAP


def _skip_connectors(pieces: list[str], at: int, rules: LogRules) -> int:
    while at < len(pieces) and (pieces[at] == VALUE or pieces[at] in rules.value_words):
        at += 1
    return at


def _value_start(pieces: list[str], at: int, rules: LogRules) -> int | None:
    """Where the value begins if "là" or ":" comes within LOOKAHEAD words of the cue."""
    for seen, piece in enumerate(pieces[at:at + LOOKAHEAD + 1]):
        if piece == END:
            return None
        if piece == VALUE or piece in rules.value_words:
            return _skip_connectors(pieces, at + seen, rules)
    return None


def _is_a_value(pieces: list[str], start: int, common: frozenset[str]) -> bool:
    """Whether what follows "là" still holds a value to cut."""
    if start >= len(pieces) or _starts_cut(pieces, start):
        return False
    words = []
    for piece in pieces[start:]:
        if piece == END or len(words) == VALUE_WORDS:
            break
        if _is_word(piece):
            words.append(piece)
    return not all(word in common for word in words)


def _render(pieces: list[str], common: frozenset[str]) -> str:
    """Words joined by spaces, each removed stretch one LOG_MARK; "" if only common words are
    left ("0912 345 678 ạ"): nothing an editor could act on."""
    out: list[str] = []
    for piece in pieces:
        if piece == GAP and (not out or out[-1] != LOG_MARK):
            out.append(LOG_MARK)
        elif _is_word(piece):
            out.append(piece)
    return " ".join(out) if any(word != LOG_MARK and word not in common for word in out) else ""
