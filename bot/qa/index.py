"""Retrieval over the FAQ (questions and phrasings) and the course step titles.

Scoring a question against one indexed text:
- terms are content words and pairs of neighbouring words ("mat khau", "muc 2");
  common words (stopwords) never count on their own, and each term is weighted by how
  rare it is across FAQ entries (IDF), so "dang ky" weighs little and "passcode" much;
- a misspelt word ("passcod", "chuyen khoang") is mapped to the nearest known word;
- lexical score = how much of the question's weight the text covers, blended with how
  much of the text the question covers; rapidfuzz's token_sort_ratio adds robustness to
  word order and small differences.
An inverted index keeps this to the few texts that share a term with the question.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.content.schema import FaqEntry, LanguagePack
from bot.qa.normalize import Normalizer

TYPO_CUTOFF = 84          # rapidfuzz ratio for mapping an unknown word to a known one
TYPO_MIN_LENGTH = 4
RELATED_MIN = 0.35        # related questions offered as buttons score at least this


@dataclass(frozen=True)
class Target:
    """What an indexed text leads to: an FAQ entry, or a course step."""

    kind: str             # "faq" or "step"
    key: str              # FAQ id, or "course/step-id"


@dataclass
class _Doc:
    target: Target
    terms: frozenset[str]
    weight: float
    content: str


@dataclass
class Answer:
    target: Target
    score: float
    related: list[Target] = field(default_factory=list)


def _terms(content: list[str], tokens: list[str]) -> set[str]:
    """Content words plus neighbouring pairs (pairs may include a common word: 'muc 2')."""
    terms = set(content)
    terms |= {f"{a} {b}" for a, b in zip(tokens, tokens[1:]) if a in content or b in content}
    return terms


class QaIndex:
    def __init__(self, pack: LanguagePack, threshold: float = 0.5):
        self.pack = pack
        self.threshold = threshold
        self.normalizer = Normalizer(pack.shorthand, pack.stopwords)
        self.faq: dict[str, FaqEntry] = {e.id: e for e in pack.faq}
        texts: list[tuple[Target, str]] = []
        for entry in pack.faq:
            target = Target("faq", entry.id)
            texts += [(target, entry.question)] + [(target, p) for p in entry.phrasings]
        for course in pack.ordered_courses:
            for step in course.steps:
                texts.append((Target("step", f"{course.id}/{step.id}"), step.title))
        analysed = []
        for target, text in texts:
            tokens = self.normalizer.tokens(text)
            content = self.normalizer.content(tokens)
            analysed.append((target, tokens, content, _terms(content, tokens)))
        # IDF over targets: a term shared by many entries tells little about which one is meant.
        df: dict[str, set[Target]] = defaultdict(set)
        for target, _tokens, _content, terms in analysed:
            for term in terms:
                df[term].add(target)
        n = len({a[0] for a in analysed}) or 1
        self.idf = {term: math.log(1 + n / len(targets)) for term, targets in df.items()}
        self.unknown_idf = math.log(1 + n)
        self.vocabulary = sorted({t for _, _, content, _ in analysed for t in content})
        self.postings: dict[str, list[int]] = defaultdict(list)
        self.docs: list[_Doc] = []
        for target, _tokens, content, terms in analysed:
            doc = _Doc(target, frozenset(terms), sum(self.idf[t] for t in terms) or 1.0, " ".join(content))
            for term in terms:
                self.postings[term].append(len(self.docs))
            self.docs.append(doc)
        self._typo_cache: dict[str, str | None] = {}

    def _known(self, word: str) -> str | None:
        if word in self.idf or len(word) < TYPO_MIN_LENGTH:
            return word if word in self.idf else None
        if word not in self._typo_cache:
            match = process.extractOne(word, self.vocabulary, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
            self._typo_cache[word] = match[0] if match else None
        return self._typo_cache[word]

    def _query(self, text: str) -> tuple[set[str], float, str]:
        tokens = self.normalizer.tokens(text)
        fixed = [self._known(t) or t if t not in self.normalizer.stopwords else t for t in tokens]
        content = self.normalizer.content(fixed)
        terms = _terms(content, fixed)
        weight = sum(self.idf.get(t, self.unknown_idf if " " not in t else 0.0) for t in terms)
        return terms, weight, " ".join(content)

    def search(self, text: str, limit: int = 4) -> list[tuple[Target, float]]:
        terms, weight, content = self._query(text)
        if not terms or weight <= 0:
            return []
        candidates: set[int] = set()
        for term in terms:
            candidates.update(self.postings.get(term, ()))
        best: dict[Target, float] = {}
        for i in candidates:
            doc = self.docs[i]
            shared = sum(self.idf[t] for t in terms & doc.terms)
            lexical = 0.7 * shared / weight + 0.3 * shared / doc.weight
            score = 0.75 * lexical + 0.25 * fuzz.token_sort_ratio(content, doc.content) / 100
            if score > best.get(doc.target, 0.0):
                best[doc.target] = score
        ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
        return ranked[:limit]

    def answer(self, text: str) -> Answer | None:
        """The best target if we are confident enough, with up to 3 related FAQ entries."""
        ranked = self.search(text, limit=8)
        if not ranked or ranked[0][1] < self.threshold:
            return None
        best, score = ranked[0]
        related = [t for t, s in ranked[1:] if t.kind == "faq" and s >= RELATED_MIN][:3]
        return Answer(best, score, related)
