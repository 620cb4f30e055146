"""Retrieval over the FAQ and the course steps.

Each FAQ entry (and each course step) is one target with three fields: its questions
(the canonical one and the residents' phrasings), its answer text, and the title of the
step it links to. A question is split into terms: content words (common words such as
"làm sao", "cho tôi hỏi" never count on their own) and pairs of neighbouring words
("mat khau", "muc 2"). Each term weighs its IDF over targets, so "dang ky" weighs little
and "passcode" much, and counts fully in the questions field, less in the answer.

Coverage is the matched weight over the question's own weight (unknown words count
against it, so an off-topic message does not match on one shared word); closeness is how
alike the wording is to the nearest known question. Candidates are ranked on both, and an
answer is given only when they clear the thresholds in Settings; otherwise the bot says
it did not understand. Typed with dấu, a word only matches the same spelling ("mưa" is
not "mua"). A misspelt word ("passcod", "chuyen khoang") is mapped to the nearest known
word first.
An inverted index keeps each question to the targets that share a term with it.
"""
from __future__ import annotations

import gc
import math
from collections import defaultdict
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.content.schema import FaqEntry, LanguagePack
from bot.qa.normalize import Normalizer


@dataclass(frozen=True)
class Settings:
    """Weights and thresholds, tuned on tests/qa/devset.yaml with `hocvuso eval-qa`."""

    answer_weight: float = 0.35     # a term found only in the answer text counts this much
    step_weight: float = 0.3        # ... only in the linked step's title
    unknown_weight: float = 1.0     # how much an unknown word of the question counts against
    closeness_weight: float = 0.6   # ranking: how much wording closeness to a known question adds
    # Answer when the question is (nearly) one we know: most of its weight matched, worded alike...
    exact_coverage: float = 0.8
    exact_closeness: float = 0.7
    # ... or when it is longer and still matches enough, clearly enough.
    coverage: float = 0.2           # matched weight / the question's weight
    closeness: float = 0.4          # rapidfuzz token_sort_ratio / 100 with the closest known wording
    min_evidence: float = 20.0      # matched weight (sum of IDF)
    typo_cutoff: float = 84         # rapidfuzz ratio to map an unknown word to a known one
    typo_min_length: int = 4
    related_min: float = 0.3        # related questions offered as buttons score at least this


RERANK = 12        # how many lexical candidates get the (slower) wording comparison
CANDIDATES = 400   # stop gathering candidates from more common terms beyond this many


@dataclass(frozen=True)
class Target:
    """What the index can answer with: an FAQ entry, or a course step."""

    kind: str             # "faq" or "step"
    key: str              # FAQ id, or "course/step-id"


@dataclass
class Answer:
    target: Target
    score: float
    related: list[Target] = field(default_factory=list)


def terms_of(content: list[str], tokens: list[str]) -> set[str]:
    """Content words plus neighbouring pairs (a pair may include a common word: 'muc 2')."""
    terms = set(content)
    terms |= {f"{a} {b}" for a, b in zip(tokens, tokens[1:]) if a in terms or b in terms}
    return terms


class QaIndex:
    def __init__(self, pack: LanguagePack, settings: Settings = Settings()):
        self.settings = settings
        self.normalizer = Normalizer(pack.shorthand, pack.stopwords)
        self.faq: dict[str, FaqEntry] = {e.id: e for e in pack.faq}
        self.targets: list[Target] = []
        # Per target: the question texts' content words, compared word by word when reranking.
        self.question_texts: list[list[str]] = []
        # Per target: the words of its texts written with dấu, folded and as written.
        self.spelled_words: list[set[str]] = []
        self.spellings: list[set[str]] = []
        # The build makes a million small objects that live as long as the index: the cyclic
        # garbage collector would scan them again and again for nothing (a quarter of the time).
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._build(pack)
        finally:
            if collecting:
                gc.enable()

    def _build(self, pack: LanguagePack) -> None:
        fields: list[dict[str, float]] = []
        step_titles = {f"{c.id}/{s.id}": s.title for c in pack.courses.values() for s in c.steps}
        for entry in pack.faq:
            self.targets.append(Target("faq", entry.id))
            fields.append(self._fields([entry.question, *entry.phrasings], [entry.answer],
                                       [step_titles.get(entry.see, "")]))
        for course in pack.ordered_courses:
            for step in course.steps:
                self.targets.append(Target("step", f"{course.id}/{step.id}"))
                fields.append(self._fields([step.title], [step.text], []))
        # Per target: term → field weight (1 for its questions, less for answer and step title).
        # Postings: term → targets that have it; its length is the term's document frequency.
        self.fields = fields
        self.postings: dict[str, list[int]] = defaultdict(list)
        for i, weights in enumerate(fields):
            for term in weights:
                self.postings[term].append(i)
        n = len(self.targets) or 1
        self.idf = {term: math.log(1 + n / len(targets)) for term, targets in self.postings.items()}
        self.unknown_idf = math.log(1 + n)
        self.vocabulary = sorted(t for t in self.idf if " " not in t)
        self._typo_cache: dict[str, str | None] = {}

    def _fields(self, questions: list[str], answers: list[str], steps: list[str]) -> dict[str, float]:
        """Term → field weight for one target; also records its question texts for reranking,
        and its words written with dấu. Runs for every phrasing at start-up: set operations
        where they can replace a Python loop."""
        weights: dict[str, float] = {}
        words: set[str] = set()   # folded words of its texts written with dấu
        forms: set[str] = set()   # ... and how they were written
        stopwords = self.normalizer.stopwords
        read = self.normalizer.read

        def words_of(text: str) -> tuple[str, ...]:
            """The text's folded words; records how they were written if it has dấu."""
            pairs, accented = read(text)
            if not pairs:
                return ()
            folded, typed = zip(*pairs)
            if accented:
                words.update(folded)
                forms.update(typed)
            return folded

        # Answers and step titles add single words only: their word pairs are mostly noise.
        for texts, weight in ((steps, self.settings.step_weight), (answers, self.settings.answer_weight)):
            for text in texts:
                for word in set(words_of(text)).difference(stopwords):
                    if weights.get(word, 0.0) < weight:
                        weights[word] = weight
        contents = []
        for text in questions:
            folded = words_of(text)
            if not folded:
                continue
            content = []
            previous, previous_counts = "", False
            for word in folded:
                counts = word not in stopwords
                if counts:
                    content.append(word)
                    weights[word] = 1.0
                if previous_counts or (counts and previous):
                    weights[f"{previous} {word}"] = 1.0
                previous, previous_counts = word, counts
            contents.append(" ".join(content))
        forms.discard(None)
        self.question_texts.append(contents)
        self.spelled_words.append(words)
        self.spellings.append(forms)
        return weights

    def _known(self, word: str) -> str | None:
        if word in self.idf:
            return word
        if len(word) < self.settings.typo_min_length:
            return None
        if word not in self._typo_cache:
            match = process.extractOne(word, self.vocabulary, scorer=fuzz.ratio,
                                       score_cutoff=self.settings.typo_cutoff)
            self._typo_cache[word] = match[0] if match else None
        return self._typo_cache[word]

    def search(self, text: str, limit: int = 8) -> list[tuple[Target, float, float, float, float]]:
        """(target, ranking score, matched weight, coverage, closeness), best first."""
        pairs, accented = self.normalizer.read(text)
        stop = self.normalizer.stopwords
        fixed = [t if t in stop else (self._known(t) or t) for t, _ in pairs]
        content = self.normalizer.content(fixed)
        terms = terms_of(content, fixed)
        # Typed with dấu: a word must match how the target spells it ("mưa" is not "mua").
        typed = ({f: t for (f, t), k in zip(pairs, fixed) if f == k and t is not None}
                 if accented else {})
        known = sum(self.idf[t] for t in terms if t in self.idf)
        unknown = sum(self.unknown_idf for t in terms if t not in self.idf and " " not in t)
        weight = known + self.settings.unknown_weight * unknown
        if weight <= 0:
            return []
        # Candidates come from the rarest terms first: common ones would touch most targets
        # and rarely decide. Each candidate is then scored on all the question's terms.
        candidates: set[int] = set()
        for term in sorted((t for t in terms if t in self.postings), key=lambda t: len(self.postings[t])):
            if len(candidates) >= CANDIDATES:
                break
            candidates.update(self.postings[term])
        scores: dict[int, float] = {}
        idf = self.idf
        for i in candidates:
            weights, spelled, forms, total = self.fields[i], self.spelled_words[i], self.spellings[i], 0.0
            for term in terms:
                w = weights.get(term)
                if w is None:
                    continue
                form = typed.get(term)
                if form is not None and term in spelled and form not in forms:
                    continue
                total += w * idf[term]
            scores[i] = total
        shortlist = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:RERANK]
        # Rerank the shortlist by how closely the wording matches one of the target's questions.
        query = " ".join(content)
        ranked = []
        for i, s in shortlist:
            closeness = max((fuzz.token_sort_ratio(query, q) for q in self.question_texts[i]), default=0) / 100
            ranked.append((self.targets[i], s / weight + self.settings.closeness_weight * closeness, s,
                           s / weight, closeness))
        ranked.sort(key=lambda item: item[1], reverse=True)
        return ranked[:limit]

    def answer(self, text: str) -> Answer | None:
        """The best target if we are confident enough, with up to 3 related FAQ entries."""
        ranked = self.search(text)
        if not ranked:
            return None
        best, score, evidence, coverage, closeness = ranked[0]
        cfg = self.settings
        exact = coverage >= cfg.exact_coverage and closeness >= cfg.exact_closeness
        enough = coverage >= cfg.coverage and closeness >= cfg.closeness and evidence >= cfg.min_evidence
        if not (exact or enough):
            return None
        related = [r[0] for r in ranked[1:] if r[0].kind == "faq" and r[1] >= self.settings.related_min][:3]
        return Answer(best, score, related)
