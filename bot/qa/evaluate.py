"""`hocvuso eval-qa`: how free-text answers fare on labelled question sets, by typing style.

Each in-scope question ends one of four ways:
  right     the answer is its entry (or the course step that entry links to);
  asked     the bot asked "which did you mean?" and the right entry was one of the buttons;
  wrong     the bot answered with another entry, or asked with no right one among the buttons;
  declined  the honest "I did not understand".
An out-of-scope message is either declined (right) or answered (wrong).
A question about digital skills that no entry answers (`expect: none`: the facts run out) is
right when declined, since the not-understood reply sends the resident to a person, and wrong
when answered; such questions are counted in the style "no entry" as well.

The sets live in tests/qa/. Two of them are for development (devset.yaml, residents-dev.yaml);
the others are held out and never tuned on (heldout.yaml, blind*.yaml): they say how the
assistant does on wording nobody tuned for. blind-2.yaml and blind-3.yaml were written after
blind.yaml had measured the first version of this method, to measure the second (see README).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.qa.index import Answer, QaIndex

QA_SETS = Path(__file__).resolve().parents[2] / "tests" / "qa"
DEFAULT_DEVSET = QA_SETS / "devset.yaml"
# name → file, in the order eval-qa prints them; the first two were tuned on.
SETS = {"dev": "devset.yaml", "residents-dev": "residents-dev.yaml",
        "heldout": "heldout.yaml", "blind": "blind.yaml", "blind-2": "blind-2.yaml",
        "blind-3": "blind-3.yaml"}
OUTCOMES = ("right", "asked", "wrong", "declined")
UNLABELLED = "-"
NO_ENTRY = "none"


@dataclass
class EvalResult:
    name: str = ""
    # style → outcome → count, for in-scope questions and for out-of-scope messages
    in_scope: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    out_of_scope: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    misses: list[tuple[str, str, str]] = field(default_factory=list)   # text, expected, what it got
    accepted_out_of_scope: list[tuple[str, str]] = field(default_factory=list)
    no_entry: Counter = field(default_factory=Counter)   # right (declined) / wrong (answered)

    def count(self, outcome: str, style: str | None = None) -> int:
        return sum(c[outcome] for s, c in self.in_scope.items() if style in (None, s))

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.in_scope.values())

    @property
    def correct(self) -> int:
        return self.count("right")

    @property
    def wrong(self) -> int:
        return self.count("wrong")

    @property
    def top1(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def wrong_rate(self) -> float:
        return self.wrong / self.total if self.total else 0.0

    @property
    def out_of_scope_total(self) -> int:
        return sum(sum(c.values()) for c in self.out_of_scope.values())

    @property
    def rejected(self) -> int:
        return sum(c["declined"] for c in self.out_of_scope.values())

    @property
    def rejection(self) -> float:
        return self.rejected / self.out_of_scope_total if self.out_of_scope_total else 0.0


def load_devset(path: Path = DEFAULT_DEVSET) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def expected_keys(index: QaIndex, expect: str | list[str]) -> set[str]:
    """The entries that answer a question, and the course steps they link to."""
    keys: set[str] = set()
    if expect == NO_ENTRY:
        return keys
    for entry_id in [expect] if isinstance(expect, str) else expect:
        keys.add(entry_id)
        entry = index.faq.get(entry_id)
        if entry is not None and entry.see:
            keys.add(entry.see)
    return keys


def outcome(answer: Answer | None, right: set[str]) -> str:
    if answer is None:
        return "declined"
    if answer.choices:
        return "asked" if any(c.key in right for c in answer.choices) else "wrong"
    return "right" if answer.target.key in right else "wrong"


def evaluate(index: QaIndex, devset: dict, name: str = "") -> EvalResult:
    result = EvalResult(name)
    for item in devset["questions"]:
        style = item.get("style", UNLABELLED)
        answer = index.answer(item["text"])
        got = outcome(answer, expected_keys(index, item["expect"]))
        if item["expect"] == NO_ENTRY:
            got = "right" if got == "declined" else "wrong"
            result.no_entry[got] += 1
        result.in_scope[style][got] += 1
        if got != "right":
            shown = ("?" + "|".join(c.key for c in answer.choices) if answer and answer.choices
                     else answer.target.key if answer else "-")
            result.misses.append((item["text"], str(item["expect"]), shown))
    for item in devset["out_of_scope"]:
        text, style = (item, UNLABELLED) if isinstance(item, str) else (item["text"], item.get("style", UNLABELLED))
        answer = index.answer(text)
        result.out_of_scope[style]["declined" if answer is None else "answered"] += 1
        if answer is not None:
            result.accepted_out_of_scope.append((text, answer.target.key))
    return result


def _row(label: str, counts: Counter, oos: Counter) -> str:
    total = sum(counts.values())
    cells = [f"{counts[o] / total:6.1%}" if total else "     -" for o in OUTCOMES]
    oos_total = sum(oos.values())
    declined = f"{oos['declined'] / oos_total:6.1%} of {oos_total:3d}" if oos_total else "     -       "
    return f"  {label:14s} {total:5d} " + " ".join(f"{c:>8s}" for c in cells) + f"   {declined}"


def report(result: EvalResult, show: int = 20) -> str:
    header = f"  {'style':14s} {'n':>5s} " + " ".join(f"{o:>8s}" for o in OUTCOMES) + "   out of scope declined"
    lines = [f"{result.name or 'set'}: right {result.top1:.1%} ({result.correct}/{result.total}), "
             f"wrong {result.wrong_rate:.1%}, asked {result.count('asked')}, declined {result.count('declined')}; "
             f"out of scope declined {result.rejection:.1%} ({result.rejected}/{result.out_of_scope_total})",
             header]
    styles = sorted(set(result.in_scope) | set(result.out_of_scope))
    if styles != [UNLABELLED]:
        lines += [_row(s, result.in_scope.get(s, Counter()), result.out_of_scope.get(s, Counter())) for s in styles]
    every = sum(result.in_scope.values(), Counter())
    lines.append(_row("all", every, sum(result.out_of_scope.values(), Counter())))
    if result.no_entry:
        lines.append(_row("(no entry)", result.no_entry, Counter()) + "   declining is right: no entry answers")
    if result.misses and show:
        lines.append("  misses (text → expected, got):")
        lines += [f"    {t!r} → {e}, {g}" for t, e, g in result.misses[:show]]
    if result.accepted_out_of_scope and show:
        lines.append("  out-of-scope messages that got an answer:")
        lines += [f"    {t!r} → {g}" for t, g in result.accepted_out_of_scope[:show]]
    return "\n".join(lines)


def labelled(devset: dict) -> bool:
    """A set written by intent gets its `expect` labels afterwards; until then it cannot score."""
    return all("expect" in item for item in devset["questions"])
