"""A second opinion on what a question is about: letter n-grams, learnt at start-up from the
FAQ's own phrasings.

Words decide the lexical index (bot/qa/index.py); here pieces of 2 to 4 letters do, so a typo
("chuyen khoang"), a shortened word ("dki") or teencode still shares most of its pieces with
the phrasing it means. Each phrasing becomes a TF-IDF vector of its pieces (each word padded
with spaces, as scikit-learn's "char_wb" analyzer does, with sublinear TF and smoothed IDF);
a target is the normalized sum of its phrasings' vectors (a nearest-centroid classifier); a
question scores the cosine with every target.

numpy only: scikit-learn would do the same in a few lines, but importing it took a process
from 25 MB to 118 MB (a one-off check, see README), in every serving process, and the whole
process must stay under 200 MB.
"""
from __future__ import annotations

import numpy as np

SIZES = (2, 3, 4)
WORD_CACHE_SIZE = 50_000


def pieces(word: str) -> list[str]:
    """'mat' → ' m', 'ma', 'at', 't ', ' ma', 'mat', 'at ', ' mat', 'mat ' (within the word)."""
    padded = f" {word} "
    return [padded[i:i + n] for n in SIZES for i in range(len(padded) - n + 1)]


class NgramCentroids:
    def __init__(self, texts: list[list[str]]):
        """`texts`: per target, its normalized phrasings (words joined by spaces)."""
        self.size = len(texts)
        self.vocabulary: dict[str, int] = {}
        word_ids: dict[str, np.ndarray] = {}
        vocabulary = self.vocabulary

        def ids_of(word: str) -> np.ndarray:
            ids = word_ids.get(word)
            if ids is None:
                ids = word_ids[word] = np.array(
                    [vocabulary.setdefault(p, len(vocabulary)) for p in pieces(word)], dtype=np.int32)
            return ids

        # Each phrasing: its distinct pieces and how often each occurs. Kept small and built
        # one phrasing at a time: the index is built in every serving process, whose peak
        # memory counts, not only what it keeps.
        per_target: list[list[tuple[np.ndarray, np.ndarray]]] = []
        for group in texts:
            phrasings = []
            for text in group:
                words = text.split()
                if words:
                    ids, counts = np.unique(np.concatenate([ids_of(w) for w in words]), return_counts=True)
                    phrasings.append((ids.astype(np.int32), counts.astype(np.float32)))
            per_target.append(phrasings)
        width = len(vocabulary) or 1
        documents = sum(len(p) for p in per_target)
        every = [ids for phrasings in per_target for ids, _ in phrasings]
        frequency = np.bincount(np.concatenate(every), minlength=width) if every else np.zeros(width)
        self.idf = (np.log((1 + documents) / (1 + frequency)) + 1).astype(np.float32)
        # A target's centroid: the sum of its phrasings' unit vectors, then made a unit vector.
        rows_piece, rows_target, rows_weight = [], [], []
        for target, phrasings in enumerate(per_target):
            if not phrasings:
                continue
            summed = np.zeros(width, dtype=np.float32)
            for ids, counts in phrasings:
                weight = (1 + np.log(counts)) * self.idf[ids]
                summed[ids] += weight / np.sqrt(weight @ weight)
            ids = np.flatnonzero(summed).astype(np.int32)
            values = summed[ids]
            rows_piece.append(ids)
            rows_target.append(np.full(len(ids), target, dtype=np.int32))
            rows_weight.append(values / np.sqrt(values @ values))
        piece = np.concatenate(rows_piece) if rows_piece else np.zeros(0, dtype=np.int32)
        order = np.argsort(piece, kind="stable")
        # Postings by piece: piece id → slice of targets and weights.
        self.targets = np.concatenate(rows_target)[order] if rows_target else np.zeros(0, dtype=np.int32)
        self.weights = np.concatenate(rows_weight)[order] if rows_weight else np.zeros(0, dtype=np.float32)
        self.starts = np.searchsorted(piece[order], np.arange(width + 1))
        self._word_pieces: dict[str, list[int]] = {}

    def _ids(self, word: str) -> list[int]:
        ids = self._word_pieces.get(word)
        if ids is None:
            if len(self._word_pieces) > WORD_CACHE_SIZE:
                self._word_pieces.clear()   # residents' typos are endless; keep memory bounded
            known = self.vocabulary
            ids = self._word_pieces[word] = [known[p] for p in pieces(word) if p in known]
        return ids

    def scores(self, text: str) -> np.ndarray:
        """Cosine of the question with every target (0 where nothing is shared)."""
        found = [i for word in text.split() for i in self._ids(word)]
        if not found:
            return np.zeros(self.size, dtype=np.float32)
        ids, counts = np.unique(np.asarray(found, dtype=np.int64), return_counts=True)
        vector = (1 + np.log(counts)) * self.idf[ids]
        vector /= np.sqrt(vector @ vector)
        starts, ends = self.starts[ids], self.starts[ids + 1]
        spans = [slice(s, e) for s, e in zip(starts.tolist(), ends.tolist())]
        targets = np.concatenate([self.targets[s] for s in spans])
        weights = np.concatenate([self.weights[s] * v for s, v in zip(spans, vector.tolist())])
        return np.bincount(targets, weights=weights, minlength=self.size)
