"""Retrieval over the FAQ and the course steps.

Each FAQ entry (and each course step) is one target with three fields: its questions
(the canonical one and the residents' phrasings), its answer text, and the title of the
step it links to. Two readers score every target:

- words: a question is split into terms: content words (common words such as "làm sao",
  "cho tôi hỏi" never count on their own) and pairs of neighbouring words ("mat khau",
  "muc 2"). Each term weighs its IDF over targets, so "dang ky" weighs little and "passcode"
  much, and counts fully in the questions field, less in the answer. Coverage is the matched
  weight over the question's own weight (unknown words count against it, so an off-topic
  message does not match on one shared word). A misspelt word ("passcod", "chuyen khoang")
  is mapped to the nearest known word first. In a long message, the story's words count
  less than the question's at the end.
- letters: the cosine with the target's letter n-grams (bot/qa/ngrams.py), which still
  sees "dki" in "dang ky" and a typo inside a word.

The best few are reranked by how alike the wording is to the nearest known question. A small
logistic model (bot/qa/confidence.py) then says how sure the best one is: above a threshold
the bot answers; when another answer scores nearly as well it asks which one was meant;
otherwise it says it did not understand, which is better than a wrong answer.
"""
from __future__ import annotations

import gc
import math
import re
from array import array
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from rapidfuzz import fuzz, process

from bot.content.schema import FaqEntry, LanguagePack
from bot.qa.confidence import confidence, features
from bot.qa.ngrams import NgramCentroids, target_ids
from bot.qa.normalize import Normalizer


# Fitted by `python -m bot.qa.calibrate` on the FAQ's phrasings asked of indexes built without
# them, and the development sets' out-of-scope messages: the bias, then one weight per feature
# of bot.qa.confidence.features.
CONFIDENCE = (-6.943, 1.538, 0.694, -0.276, 5.588, 2.121, 0.228, 0.284, 0.461)


@dataclass(frozen=True)
class Settings:
    """Weights and thresholds, chosen on the development sets (tests/qa/devset.yaml and
    residents-dev.yaml) with `python -m bot.qa.calibrate` and `hocvuso eval-qa`."""

    answer_weight: float = 0.35     # a term found only in the answer text counts this much
    step_weight: float = 0.3        # ... only in the linked step's title
    unknown_weight: float = 1.0     # how much an unknown word of the question counts against
    closeness_weight: float = 0.15  # ranking: how much wording closeness to a known question adds
    # Answer at once when the question is (nearly) one we know: most of its weight matched,
    # worded alike.
    exact_coverage: float = 0.8
    exact_closeness: float = 0.7
    typo_cutoff: float = 84         # rapidfuzz ratio to map an unknown word to a known one
    typo_min_length: int = 4
    related_min: float = 0.3        # related questions offered as buttons score at least this
    ngram_weight: float = 1.5       # ranking: how much letter n-gram closeness adds
    # Otherwise answer when the confidence model is at least this sure. When another answer
    # scores within `margin` and both are at least `ask_at` sure (or exact), ask which one was
    # meant. Below `ask_at`, decline.
    answer_at: float = 0.75
    ask_at: float = 0.4
    margin: float = 0.05
    confidence: tuple[float, ...] = CONFIDENCE
    accent_mismatch: float = 0.5    # a word typed with other dấu than the target's ("tủ", "tử")
    long_words: int = 12            # a message with more content words than this tells a story
    question_words: int = 4         # ... and its last clauses, with at least this many, ask
    story_weight: float = 0.5       # how much the story's words count


_CLAUSES = re.compile(r"[.?!;,\n…]+")
RERANK = 12        # how many lexical candidates get the (slower) wording comparison
TYPO_CACHE_SIZE = 50_000
# A term is a key of 64 bits: its first word's id in the high half, and in the low half 0 for a
# single word or 1 + the second word's id for a pair. The index keeps a sorted array of keys
# instead of a dict of strings: at 5,000 entries it has 130,000 terms, mostly pairs, and dicts of
# their strings, two small arrays and an IDF each took 68 MB; the arrays (_build) take 9 MB.
_PAIR_SHIFT = 32


@dataclass(frozen=True)
class Target:
    """What the index can answer with: an FAQ entry, or a course step."""

    kind: str             # "faq" or "step"
    key: str              # FAQ id, or "course/step-id"


@dataclass(frozen=True)
class Candidate:
    target: Target
    score: float          # what ranks: coverage + closeness and letter n-grams, weighted
    evidence: float       # matched weight (sum of IDF)
    coverage: float       # matched weight / the question's weight
    closeness: float      # wording closeness to the nearest known question, 0..1
    letters: float        # cosine with the target's letter n-grams, 0..1
    words: int            # content words of the question proper (all candidates share them)


@dataclass
class Answer:
    target: Target
    score: float
    related: list[Target] = field(default_factory=list)
    # Two targets too close to tell apart: the bot asks which one was meant instead of answering
    # (`target` is then the first of them).
    choices: list[Target] = field(default_factory=list)


def terms_of(content: list[str], tokens: list[str]) -> set[str]:
    """Content words plus neighbouring pairs (a pair may include a common word: 'muc 2')."""
    terms = set(content)
    terms |= {f"{a} {b}" for a, b in zip(tokens, tokens[1:]) if a in terms or b in terms}
    return terms


ANSWER, ASK = "answer", "ask"


def decide(cfg: Settings, sure: float, exact: bool, lead: float) -> str | None:
    """ANSWER, ASK which of two was meant, or None (decline), from how sure the confidence model
    is, whether the question is (nearly) a known one, and how far ahead of the nearest answer
    that gives other help the best one is (math.inf when there is none)."""
    if not (exact or sure >= cfg.ask_at):
        return None
    if lead < cfg.margin:
        return ASK
    return ANSWER if exact or sure >= cfg.answer_at else None


class QaIndex:
    def __init__(self, pack: LanguagePack, settings: Settings = Settings()):
        self.settings = settings
        self.normalizer = Normalizer(pack.shorthand, pack.stopwords, pack.particles, pack.closings)
        self.faq: dict[str, FaqEntry] = {e.id: e for e in pack.faq}
        self.targets: list[Target] = []
        # Per target: the question texts' content words, compared word by word when reranking,
        # joined by newlines (None if it has none): one string per target rather than one per
        # phrasing (72,000 at 5,000 entries); only the shortlist's are split again.
        self.question_texts: list[str | None] = []
        # Every word of the targets' texts (common words too: they make pairs) → its id.
        self.word_ids: dict[str, int] = {}
        # While building: per target, its questions normalized, for the letter n-gram model;
        # its terms' keys and field weights, flat (compact C arrays, not a dict per target),
        # with how many each target has; and the accents, inverted (see _build).
        self._phrasings: list[list[str]] = []
        self._keys, self._weights, self._counts = array("q"), array("f"), array("q")
        self._spelled_by: dict[str, array] = defaultdict(lambda: array("i"))
        self._written_as: dict[str, array] = defaultdict(lambda: array("i"))
        # The build makes many small objects that live as long as the index: the cyclic
        # garbage collector would scan them again and again for nothing.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._build(pack)
        finally:
            if collecting:
                gc.enable()

    def _build(self, pack: LanguagePack) -> None:
        step_titles = {f"{c.id}/{s.id}": s.title for c in pack.courses.values() for s in c.steps}
        for entry in pack.faq:
            self.targets.append(Target("faq", entry.id))
            self._fields([entry.question, *entry.phrasings], [entry.answer], [step_titles.get(entry.see, "")])
        for course in pack.ordered_courses:
            for step in course.steps:
                self.targets.append(Target("step", f"{course.id}/{step.id}"))
                self._fields([step.title], [step.text], [])
        # Postings, CSR-like: the sorted term keys; for term row r, its targets and their field
        # weights (1 for its questions, less for answer and step title) are
        # posting_targets[starts[r]:starts[r + 1]] and posting_weights[...], targets ascending;
        # the length is the term's document frequency, from which its IDF is computed. A
        # question adds up its terms' postings in one go.
        numbering = target_ids(len(self.targets))
        # Stable: each term's targets stay ascending, as they were added.
        order = np.argsort(np.frombuffer(self._keys, dtype=np.int64), kind="stable")
        keys = np.frombuffer(self._keys, dtype=np.int64)[order]
        first = np.empty(len(keys), dtype=bool)   # where each term's postings begin
        first[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        self.term_keys = keys[first]
        self.starts = np.append(np.flatnonzero(first), len(keys)).astype(np.int64)
        owners = np.repeat(np.arange(len(self.targets), dtype=numbering), np.frombuffer(self._counts, dtype=np.int64))
        self.posting_targets = owners[order]
        self.posting_weights = np.frombuffer(self._weights, dtype=np.float32)[order]
        del keys, first, owners, order, self._keys, self._weights, self._counts
        self.documents = len(self.targets) or 1
        self.unknown_idf = math.log(1 + self.documents)
        # The words that are terms on their own: a word of the question is known if it is one,
        # and a misspelt one is mapped to the nearest of them.
        words = list(self.word_ids)
        singles = self.term_keys[(self.term_keys & ((1 << _PAIR_SHIFT) - 1)) == 0] >> _PAIR_SHIFT
        self.vocabulary = sorted(words[i] for i in singles.tolist())
        self._known_words = frozenset(self.vocabulary)
        self._typo_cache: dict[str, str | None] = {}
        self.ngrams = NgramCentroids(self._phrasings)
        del self._phrasings
        # Accents, inverted: a folded word → the targets that write it with dấu; a written form
        # → the targets that write it so. A word typed with dấu mismatches the first but not
        # the second.
        self.spelled_by = {w: np.array(t, dtype=numbering) for w, t in self._spelled_by.items()}
        self.written_as = {f: np.array(t, dtype=numbering) for f, t in self._written_as.items()}
        del self._spelled_by, self._written_as

    def _fields(self, questions: list[str], answers: list[str], steps: list[str]) -> None:
        """Records one target (the last of self.targets): its terms' keys with their field
        weights, its question texts for reranking and the letter n-grams, and its words written
        with dấu. Runs for every phrasing at start-up: set operations where they can replace a
        Python loop."""
        target = len(self.targets) - 1
        weights: dict[int, float] = {}   # term key → field weight
        words: set[str] = set()   # folded words of its texts written with dấu
        forms: set[str] = set()   # ... and how they were written
        stopwords = self.normalizer.stopwords
        ids = self.word_ids

        def record(pairs: list[tuple[str, str | None]]) -> tuple[str, ...]:
            """The folded words; records how they were written where they carry dấu."""
            if not pairs:
                return ()
            folded, typed = zip(*pairs)
            if any(t is not None and t != f for f, t in pairs):
                words.update(folded)
                forms.update(typed)
            return folded

        # Answers and step titles add single words only: their word pairs are mostly noise.
        for texts, weight in ((steps, self.settings.step_weight), (answers, self.settings.answer_weight)):
            for text in texts:
                for word in set(record(self.normalizer.pairs(text))).difference(stopwords):
                    key = ids.setdefault(word, len(ids)) << _PAIR_SHIFT
                    if weights.get(key, 0.0) < weight:
                        weights[key] = weight
        contents = []
        spoken = []
        for text in questions:
            folded = record(self.normalizer.question(text))
            if not folded:
                continue
            spoken.append(" ".join(folded))
            content = []
            previous, previous_counts = -1, False
            for word in folded:
                counts = word not in stopwords
                current = ids.setdefault(word, len(ids))
                if counts:
                    content.append(word)
                    weights[current << _PAIR_SHIFT] = 1.0
                if previous_counts or (counts and previous >= 0):
                    weights[(previous << _PAIR_SHIFT) | (current + 1)] = 1.0
                previous, previous_counts = current, counts
            contents.append(" ".join(content))
        forms.discard(None)
        self._phrasings.append(spoken)
        self.question_texts.append("\n".join(contents) if contents else None)
        self._keys.extend(weights)
        self._weights.extend(weights.values())
        self._counts.append(len(weights))
        for word in words:
            self._spelled_by[word].append(target)
        for form in forms:
            self._written_as[form].append(target)

    def spans(self, terms) -> dict[str, tuple[int, int]]:
        """Each of `terms` that a target has → where its postings start and end (one lookup in
        the sorted keys for all of them)."""
        ids = self.word_ids
        named, keys = [], []
        for term in terms:
            first, _, second = term.partition(" ")
            key = ids.get(first)
            if key is None:
                continue
            key <<= _PAIR_SHIFT
            if second:
                other = ids.get(second)
                if other is None:
                    continue
                key |= other + 1
            named.append(term)
            keys.append(key)
        if not keys or not len(self.term_keys):
            return {}
        wanted = np.array(keys, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self.term_keys, wanted), len(self.term_keys) - 1)
        found = (self.term_keys[rows] == wanted).tolist()
        starts, ends = self.starts[rows].tolist(), self.starts[rows + 1].tolist()
        return {t: (s, e) for t, s, e, ok in zip(named, starts, ends, found) if ok}

    def _known(self, word: str) -> str | None:
        if word in self._known_words:
            return word
        if len(word) < self.settings.typo_min_length:
            return None
        if word not in self._typo_cache:
            if len(self._typo_cache) > TYPO_CACHE_SIZE:
                self._typo_cache.clear()   # residents' typos are endless; keep memory bounded
            match = process.extractOne(word, self.vocabulary, scorer=fuzz.ratio,
                                       score_cutoff=self.settings.typo_cutoff)
            self._typo_cache[word] = match[0] if match else None
        return self._typo_cache[word]

    def read(self, text: str) -> tuple[dict[str, float], dict[str, str], list[str], str]:
        """The question's terms, each with how much it counts; the words typed with dấu (folded →
        as typed); the content words the wording comparison uses; and the whole message as typed
        (normalized, no typo fixed), for the letter n-grams: its pieces still match a typo.

        In a long message the story comes first and the question last ("hôm qua có người gọi
        xưng công an ..., giờ tôi phải làm sao"): the words of the last clauses count fully,
        the story's less."""
        cfg = self.settings
        stop = self.normalizer.stopwords
        clauses = [c for c in (self.normalizer.question(part) for part in _CLAUSES.split(text)) if c]
        fixed = [[(t if t in stop else (self._known(t) or t), typed) for t, typed in c] for c in clauses]
        story = len(fixed)
        if sum(1 for c in fixed for t, _ in c if t not in stop) > cfg.long_words:
            counted = 0
            while story > 0 and counted < cfg.question_words:
                story -= 1
                counted += sum(1 for t, _ in fixed[story] if t not in stop)
        else:
            story = 0
        terms: dict[str, float] = {}
        typed: dict[str, str] = {}
        query: list[str] = []
        message: list[str] = []
        for n, clause in enumerate(fixed):
            weight = cfg.story_weight if n < story else 1.0
            tokens = [t for t, _ in clause]
            content = self.normalizer.content(tokens)
            if n >= story:
                query += content
            message += [word for word, _ in clauses[n]]
            for term in terms_of(content, tokens):
                if terms.get(term, 0.0) < weight:
                    terms[term] = weight
            for (fixed_word, form), (word, _) in zip(clause, clauses[n]):
                if form is not None and form != fixed_word and fixed_word == word:
                    typed[word] = form
        return terms, typed, query, " ".join(message)

    def search(self, text: str, limit: int = 8) -> list[Candidate]:
        """The targets that could answer, best first."""
        terms, typed, content, message = self.read(text)
        cfg = self.settings
        spans = self.spans(terms)
        # IDF over targets: the length of the term's postings is its document frequency.
        idf = {t: math.log(1 + self.documents / (end - start)) for t, (start, end) in spans.items()}
        known = sum(idf[t] * w for t, w in terms.items() if t in idf)
        unknown = sum(self.unknown_idf * w for t, w in terms.items() if t not in idf and " " not in t)
        weight = known + cfg.unknown_weight * unknown
        if weight <= 0:
            return []
        # Every target sharing a term scores on all the question's terms at once.
        mismatch = cfg.accent_mismatch
        found_targets, found_weights = [], []
        for term, counted in terms.items():
            span = spans.get(term)
            if span is None:
                continue
            start, end = span
            targets = self.posting_targets[start:end]
            weights = self.posting_weights[start:end] * (counted * idf[term])   # a copy: the index is not touched
            # Typed with dấu, a word should match how the target spells it ("mưa" is not
            # "mua"); a word typed plain matches any spelling. A mismatch may be a typo
            # ("tủ" for "tử"), so it counts less rather than nothing.
            form = typed.get(term)
            if form is not None and term in self.spelled_by:
                other = np.isin(targets, self.spelled_by[term])
                if form in self.written_as:
                    other &= ~np.isin(targets, self.written_as[form])
                weights[other] *= mismatch
            found_targets.append(targets)
            found_weights.append(weights)
        letters = self.ngrams.scores(message)
        lexical = (np.bincount(np.concatenate(found_targets), np.concatenate(found_weights), len(self.targets))
                   if found_targets else np.zeros(len(self.targets)))
        combined = lexical / weight + cfg.ngram_weight * letters
        top = np.argpartition(-combined, RERANK)[:RERANK] if len(combined) > RERANK else np.arange(len(combined))
        scores = {int(i): float(combined[i]) for i in top if combined[i] > 0}
        shortlist = sorted(scores, key=scores.__getitem__, reverse=True)[:RERANK]
        # Rerank the shortlist by how closely the wording matches one of the target's questions.
        query = " ".join(content)
        ranked = []
        for i in shortlist:
            questions = self.question_texts[i]
            known = questions.split("\n") if questions is not None else ()
            closeness = max((fuzz.token_sort_ratio(query, q) for q in known), default=0) / 100
            coverage = scores[i] - cfg.ngram_weight * float(letters[i])
            ranked.append(Candidate(self.targets[i], scores[i] + cfg.closeness_weight * closeness,
                                    coverage * weight, coverage, closeness, float(letters[i]), len(content)))
        ranked.sort(key=lambda c: c.score, reverse=True)
        return ranked[:limit]

    def answer(self, text: str) -> Answer | None:
        """The best target if we are confident enough, with up to 3 related FAQ entries; two
        targets as `choices` when neither is sure and they are too close to tell apart; None
        when unsure: a wrong answer is worse than "I did not understand"."""
        ranked = self.search(text)
        if not ranked:
            return None
        best, cfg = ranked[0], self.settings
        rival = self.rival(ranked)
        lead = best.score - rival.score if rival is not None else math.inf
        verdict = decide(cfg, self.confidence(best, rival), self.exact(best), lead)
        if verdict == ASK:
            return Answer(best.target, best.score, [], [best.target, rival.target])
        if verdict != ANSWER:
            return None
        related = [r.target for r in ranked[1:] if r.target.kind == "faq" and r.score >= cfg.related_min
                   and not self._same_answer(best.target, r.target)][:3]
        return Answer(best.target, best.score, related)

    def rival(self, ranked: list[Candidate]) -> Candidate | None:
        """The best candidate after the first that gives other help."""
        return next((c for c in ranked[1:] if not self._same_answer(ranked[0].target, c.target)), None)

    def exact(self, c: Candidate) -> bool:
        return c.coverage >= self.settings.exact_coverage and c.closeness >= self.settings.exact_closeness

    def confidence(self, best: Candidate, rival: Candidate | None) -> float:
        """How likely `best` is the right answer, 0..1: a logistic model of the scores, fitted
        on the development sets by `python -m bot.qa.calibrate`."""
        return float(confidence(features(best, rival), self.settings.confidence))

    def _same_answer(self, a: Target, b: Target) -> bool:
        """An entry and the course step it links to give the same help."""
        def link(t: Target) -> str:
            return self.faq[t.key].see if t.kind == "faq" else t.key
        return a == b or link(a) == link(b)
