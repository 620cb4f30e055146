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
process must stay under 150 MB (issue 18; bench/bench_memory.py).
"""
from __future__ import annotations

from array import array

import numpy as np

SIZES = (2, 3, 4)
WORD_CACHE_SIZE = 50_000


def target_ids(count: int) -> type[np.integer]:
    """The narrowest type that numbers `count` targets: the index keeps millions of target
    numbers (2.8 million letter weights alone at 5,000 entries), and 2 bytes each do up to
    65,536 targets."""
    return np.uint16 if count <= 1 << 16 else np.int32


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

        def phrasings_of(group: list[str]) -> tuple[np.ndarray, np.ndarray, list[int]]:
            """The phrasings of one target: their distinct pieces (each phrasing's ascending)
            and how often each occurs in its phrasing, flat, with where each phrasing's begin
            and end. One np.unique for all of them: each piece is tagged with its phrasing."""
            found, lengths = [], []
            for text in group:
                words = [ids_of(w) for w in text.split()]
                if words:
                    found += words
                    lengths.append(sum(map(len, words)))
            if not found:
                return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32), [0]
            tagged = np.concatenate(found).astype(np.int64)
            tagged |= np.repeat(np.arange(len(lengths), dtype=np.int64), lengths) << 32
            keys, counts = np.unique(tagged, return_counts=True)
            bounds = np.searchsorted(keys >> 32, np.arange(len(lengths) + 1)).tolist()
            return (keys & 0xFFFFFFFF).astype(np.int32), counts.astype(np.float32), bounds

        # Two passes over the phrasings, each target's pieces counted again in the second:
        # keeping every phrasing's vector until the IDF was known peaked at 200 MB more at 5,000
        # entries. The index is built in every serving process, whose peak memory counts too.
        frequency = np.zeros(0, dtype=np.int64)   # in how many phrasings each piece occurs
        documents = 0
        for group in texts:
            ids, _, bounds = phrasings_of(group)
            counted = np.bincount(ids, minlength=len(vocabulary))   # a piece once per phrasing
            if len(frequency) < len(counted):
                frequency = np.concatenate([frequency, np.zeros(len(counted) - len(frequency), np.int64)])
            frequency[:len(counted)] += counted
            documents += len(bounds) - 1
        width = len(vocabulary) or 1
        frequency = np.concatenate([frequency, np.zeros(width - len(frequency), np.int64)])
        self.idf = (np.log((1 + documents) / (1 + frequency)) + 1).astype(np.float32)
        # A target's centroid: the sum of its phrasings' unit vectors, then made a unit vector.
        # The centroids' pieces and weights go into two flat buffers, target after target: one
        # small array per target left holes in the heap that the process kept after the build.
        row_ids, row_values, row_lengths = array("i"), array("f"), array("q")
        per_piece = np.zeros(width, dtype=np.int64)
        for group in texts:
            every_ids, every_counts, bounds = phrasings_of(group)
            if len(bounds) == 1:
                row_lengths.append(0)
                continue
            summed = np.zeros(width, dtype=np.float32)
            for start, end in zip(bounds, bounds[1:]):
                ids, counts = every_ids[start:end], every_counts[start:end]
                weight = (1 + np.log(counts)) * self.idf[ids]
                summed[ids] += weight / np.sqrt(weight @ weight)
            ids = np.flatnonzero(summed).astype(np.int32)
            values = summed[ids]
            row_ids.frombytes(ids.tobytes())
            row_values.frombytes((values / np.sqrt(values @ values)).tobytes())
            row_lengths.append(len(ids))
            per_piece[ids] += 1
        # Postings by piece: piece id → slice of targets and weights, targets ascending. Filled
        # target by target (a counting sort) rather than by sorting everything at once, which
        # held four more arrays of every weight's size.
        self.starts = np.zeros(width + 1, dtype=np.int64)
        np.cumsum(per_piece, out=self.starts[1:])
        self.targets = np.empty(int(self.starts[-1]), dtype=target_ids(self.size))
        self.weights = np.empty(int(self.starts[-1]), dtype=np.float32)
        filled = self.starts[:-1].copy()
        all_ids, all_values = np.frombuffer(row_ids, dtype=np.int32), np.frombuffer(row_values, dtype=np.float32)
        start = 0
        for target, length in enumerate(row_lengths):
            if not length:
                continue
            ids, values = all_ids[start:start + length], all_values[start:start + length]
            start += length
            at = filled[ids]
            self.targets[at] = target
            self.weights[at] = values
            filled[ids] += 1
        del all_ids, all_values, row_ids, row_values
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
