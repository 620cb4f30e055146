"""Fit the confidence model (bot/qa/confidence.py) on wording the index has not seen, and show
what each pair of thresholds would do:

    .venv/bin/python -m bot.qa.calibrate

Wording the index has not seen comes from the FAQ itself, by cross-validation: the phrasings
are split into FOLDS; for each fold an index is built without it, and its phrasings are asked
as questions (right when the best answer is their own entry). Out-of-scope messages come from
the development sets' out_of_scope lists. The development sets' questions are not used: their
misses were read while writing phrasings, so the index knows them too well to show how sure
it may be. The held-out sets (heldout.yaml, blind*.yaml) are never read here.

Paste the printed CONFIDENCE into bot/qa/index.py.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.content.schema import LanguagePack
from bot.qa.confidence import FEATURES, confidence, features
from bot.qa.evaluate import QA_SETS, evaluate, expected_keys, load_devset
from bot.qa.index import ANSWER, ASK, QaIndex, decide

DEVELOPMENT = ("devset.yaml", "residents-dev.yaml")
FOLDS = 5
L2 = 0.01
STEPS = 4000
OUT_OF_SCOPE_SHARE = 0.25   # out-of-scope messages weigh this share of the fit, as residents send them


@dataclass(frozen=True)
class Seen:
    """What the index made of one question: the confidence features of its best answer,
    whether that answer is right, and what else the decision reads."""

    values: list[float]
    right: int
    exact: bool
    lead: float


def observe(index: QaIndex, text: str, right: set[str]) -> Seen | None:
    ranked = index.search(text)
    if not ranked:
        return None
    best, rival = ranked[0], index.rival(ranked)
    return Seen(features(best, rival), int(best.target.key in right), index.exact(best),
                best.score - rival.score if rival is not None else math.inf)


def unseen_phrasings(pack: LanguagePack) -> list[Seen]:
    """Each phrasing asked of an index built without its fold."""
    rows = []
    for fold in range(FOLDS):
        kept, asked = [], []
        for entry in pack.faq:
            held = [p for n, p in enumerate(entry.phrasings) if n % FOLDS == fold]
            kept.append(entry.model_copy(update={"phrasings": [p for p in entry.phrasings if p not in held]}))
            asked += [(p, entry.id) for p in held]
        index = QaIndex(dataclasses.replace(pack, faq=kept))
        for text, entry_id in asked:
            seen = observe(index, text, expected_keys(index, entry_id))
            if seen is not None:
                rows.append(seen)
    return rows


def out_of_scope(index: QaIndex, sets: list[dict]) -> list[Seen]:
    rows = []
    for devset in sets:
        for item in devset["out_of_scope"]:
            seen = observe(index, item if isinstance(item, str) else item["text"], set())
            if seen is not None:
                rows.append(seen)
    return rows


def fit(rows: list[list[float]], right: list[int], weight: list[float]) -> tuple[float, ...]:
    """Weighted logistic regression by gradient descent on standardized features (numpy)."""
    x, y, w_row = np.asarray(rows), np.asarray(right, dtype=float), np.asarray(weight)
    w_row = w_row / w_row.sum()
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / scale
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(STEPS):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= 0.5 * (z.T @ ((p - y) * w_row) + L2 * w)
        b -= 0.5 * float(((p - y) * w_row).sum())
    weights = w / scale
    return (round(b - float(mean @ weights), 3), *(round(float(v), 3) for v in weights))


def main() -> None:
    from bot.config import Settings as AppSettings
    from bot.content import load_knowledge

    pack = load_knowledge(AppSettings().knowledge_dir).pack("vi")
    index = QaIndex(pack)
    sets = [load_devset(Path(QA_SETS / name)) for name in DEVELOPMENT]
    inside, outside = unseen_phrasings(pack), out_of_scope(index, sets)
    rows = [seen.values for seen in inside + outside]
    right = [seen.right for seen in inside + outside]
    share = OUT_OF_SCOPE_SHARE / (1 - OUT_OF_SCOPE_SHARE) * len(inside) / max(1, len(outside))
    weights = fit(rows, right, [1.0] * len(inside) + [share] * len(outside))
    print(f"{len(inside)} phrasings asked of an index without them ({sum(s.right for s in inside)} ranked right), "
          f"{len(outside)} out-of-scope messages")
    print("features:", ", ".join(FEATURES))
    print(f"CONFIDENCE = {weights}\n")
    print("answer_at ask_at margin | unseen phrasings: right  wrong  asked | development sets: right  wrong"
          "  asked  out-of-scope declined")
    for answer_at, ask_at, margin in itertools.product((0.5, 0.6, 0.7, 0.75, 0.8), (0.4, 0.5), (0.0, 0.05, 0.1)):
        if ask_at >= answer_at:
            continue
        cfg = dataclasses.replace(index.settings, confidence=weights, answer_at=answer_at, ask_at=ask_at,
                                  margin=margin)
        index.settings = cfg
        results = [evaluate(index, devset) for devset in sets]
        total = sum(r.total for r in results)
        oos = sum(r.out_of_scope_total for r in results)
        unseen = _decide(inside, weights, cfg)
        print(f"{answer_at:9.2f} {ask_at:6.1f} {margin:6.2f} |   {unseen['right']:20.1%} {unseen['wrong']:6.1%} "
              f"{unseen['asked']:6.1%} | {sum(r.correct for r in results) / total:22.1%} "
              f"{sum(r.wrong for r in results) / total:6.1%} {sum(r.count('asked') for r in results) / total:6.1%}"
              f"  {sum(r.rejected for r in results) / oos:6.1%}")


def _decide(rows: list[Seen], weights, cfg) -> dict[str, float]:
    """Right, wrong and asked shares among the unseen phrasings at these thresholds, decided as
    QaIndex.answer decides."""
    counts = {"right": 0, "wrong": 0, "asked": 0}
    for seen in rows:
        verdict = decide(cfg, confidence(seen.values, weights), seen.exact, seen.lead)
        if verdict == ASK:
            counts["asked"] += 1
        elif verdict == ANSWER:
            counts["right" if seen.right else "wrong"] += 1
    return {k: v / len(rows) for k, v in counts.items()}


if __name__ == "__main__":
    main()
