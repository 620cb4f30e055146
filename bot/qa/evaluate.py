"""`hocvuso eval-qa`: top-1 accuracy and out-of-scope rejection on a labelled dev set."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.qa.index import QaIndex

DEFAULT_DEVSET = Path(__file__).resolve().parents[2] / "tests" / "qa" / "devset.yaml"


@dataclass
class EvalResult:
    total: int
    correct: int
    out_of_scope: int
    rejected: int
    misses: list[tuple[str, str, str | None]] = field(default_factory=list)  # text, expected, got
    accepted_out_of_scope: list[tuple[str, str]] = field(default_factory=list)
    wrong: int = 0  # in-scope questions answered with the wrong entry (the rest of the misses: "not understood")

    @property
    def top1(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def rejection(self) -> float:
        return self.rejected / self.out_of_scope if self.out_of_scope else 0.0


def load_devset(path: Path = DEFAULT_DEVSET) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def evaluate(index: QaIndex, devset: dict) -> EvalResult:
    """A question counts as right when the answer is its FAQ entry, or the course step that
    entry links to (the bot then opens that step)."""
    result = EvalResult(len(devset["questions"]), 0, len(devset["out_of_scope"]), 0)
    for item in devset["questions"]:
        expected = index.faq[item["expect"]]
        answer = index.answer(item["text"])
        got = answer.target.key if answer else None
        if got in (expected.id, expected.see):
            result.correct += 1
        else:
            result.misses.append((item["text"], expected.id, got))
            result.wrong += got is not None
    for text in devset["out_of_scope"]:
        answer = index.answer(text)
        if answer is None:
            result.rejected += 1
        else:
            result.accepted_out_of_scope.append((text, answer.target.key))
    return result


def report(result: EvalResult, show: int = 20) -> str:
    lines = [f"top-1 accuracy: {result.top1:.1%} ({result.correct}/{result.total})   target >= 90%",
             f"out-of-scope rejection: {result.rejection:.1%} ({result.rejected}/{result.out_of_scope})"
             "   target >= 85%",
             f"in-scope questions answered with a wrong entry: {result.wrong}/{result.total}; "
             f"the other {len(result.misses) - result.wrong} misses got the honest \"not understood\""]
    if result.misses and show:
        lines.append("\nmisses (text → expected, got):")
        lines += [f"  {t!r} → {e}, {g}" for t, e, g in result.misses[:show]]
    if result.accepted_out_of_scope and show:
        lines.append("\nout-of-scope questions that got an answer:")
        lines += [f"  {t!r} → {g}" for t, g in result.accepted_out_of_scope[:show]]
    return "\n".join(lines)
