"""How sure the index is of its best answer: a logistic model over what the ranking measured.

One threshold on one score fits short questions or long stories, not both: a long story
matches less of its words and still names its question clearly. The model weighs each
measure by how well it told right from wrong answers on the development sets.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from bot.qa.index import Candidate

FEATURES = ("score", "coverage", "closeness", "letters", "lead", "letters_lead", "length", "evidence")


def features(best: Candidate, rival: Candidate | None) -> list[float]:
    """The measures of FEATURES, in order. `lead`: how far ahead of the nearest answer that
    gives other help the best one is."""
    return [best.score, best.coverage, best.closeness, best.letters,
            best.score - (rival.score if rival else 0.0),
            best.letters - (rival.letters if rival else 0.0),
            math.log1p(best.words), min(best.evidence, 40.0) / 10]


def confidence(values: Sequence[float], weights: Sequence[float]) -> float:
    """Logistic: weights[0] is the bias, then one weight per value."""
    z = weights[0] + sum(w * v for w, v in zip(weights[1:], values))
    return 1 / (1 + math.exp(-max(-60.0, min(60.0, z))))
