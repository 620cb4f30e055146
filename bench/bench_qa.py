"""Free-text answering speed: index build time and per-question latency, on the real FAQ and
on the FAQ grown synthetically to 5,000 entries, pinned to one core.

Baseline, measured in the same run: a plain rapidfuzz scan (process.extractOne with
token_set_ratio over every normalized question and phrasing), the obvious way to do it
without an index. Prints p50/p99 and the ratio to the baseline.

    .venv/bin/python bench/bench_qa.py
"""
from __future__ import annotations

import dataclasses
import os
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.content import load_knowledge  # noqa: E402
from bot.content.schema import FaqEntry  # noqa: E402
from bot.qa import QaIndex  # noqa: E402
from bot.qa.evaluate import load_devset  # noqa: E402

SYNTHETIC_SIZE = 5000
ROUNDS = 3


def grow(pack, size: int, seed: int = 11):
    """FAQ entries made from real ones: same links, words from other entries mixed in."""
    rng = random.Random(seed)
    real = pack.faq
    words = sorted({w for e in real for w in f"{e.question} {' '.join(e.phrasings)}".split()})
    entries = list(real)
    while len(entries) < size:
        base = rng.choice(real)
        extra = lambda: " ".join(rng.sample(words, 3))  # noqa: E731
        entries.append(FaqEntry.model_construct(id=f"syn-{len(entries)}", question=f"{base.question} {extra()}",
                                phrasings=[f"{p} {extra()}" for p in base.phrasings],
                                answer=base.answer, see=base.see, sources=base.sources))
    return dataclasses.replace(pack, faq=entries)


def latencies(fn, questions: list[str]) -> list[float]:
    out = []
    for _ in range(ROUNDS):
        for q in questions:
            start = time.perf_counter()
            fn(q)
            out.append((time.perf_counter() - start) * 1000)
    return sorted(out)


def p(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def measure(name: str, pack, questions: list[str]) -> None:
    start = time.perf_counter()
    index = QaIndex(pack)
    build = time.perf_counter() - start
    ours = latencies(index.answer, questions)
    texts = [" ".join(index.normalizer.tokens(t)) for e in pack.faq for t in (e.question, *e.phrasings)]
    baseline = latencies(lambda q: process.extractOne(" ".join(index.normalizer.tokens(q)), texts,
                                                      scorer=fuzz.token_set_ratio), questions)
    print(f"\n{name}: {len(pack.faq)} FAQ entries, {len(texts)} questions and phrasings")
    print(f"  index build: {build * 1000:.0f} ms")
    print(f"  hocvuso index   p50 {statistics.median(ours):6.2f} ms   p99 {p(ours, 0.99):6.2f} ms")
    print(f"  rapidfuzz scan  p50 {statistics.median(baseline):6.2f} ms   p99 {p(baseline, 0.99):6.2f} ms")
    print(f"  p99 ratio (index / scan): {p(ours, 0.99) / p(baseline, 0.99):.3f}")
    return build, p(ours, 0.99)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    pack = load_knowledge(ROOT / "knowledge").pack("vi")
    devset = load_devset()
    residents = load_devset(ROOT / "tests" / "qa" / "residents-dev.yaml")
    questions = [q["text"] for q in devset["questions"]] + devset["out_of_scope"]
    questions += [q["text"] for q in residents["questions"]] + [q["text"] for q in residents["out_of_scope"]]
    print(f"{len(questions)} development-set questions x {ROUNDS} rounds, one core")
    real_build, real_p99 = measure("real FAQ", pack, questions)
    tracemalloc.start()
    QaIndex(pack)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  index memory (Python allocations at peak while building): {peak / 2**20:.1f} MB")
    build, big_p99 = measure("synthetic FAQ", grow(pack, SYNTHETIC_SIZE), questions)
    print(f"\ngoals: real p99 <= 5 ms: {'OK' if real_p99 <= 5 else 'MISSED'}; "
          f"real build <= 1 s: {'OK' if real_build <= 1 else 'MISSED'}; "
          f"5,000-entry p99 <= 20 ms: {'OK' if big_p99 <= 20 else 'MISSED'} "
          f"(peak RSS of `hocvuso serve`: bench/bench_pipeline.py)")


if __name__ == "__main__":
    main()
