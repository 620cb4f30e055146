"""Free-text answering speed and memory: index build time, per-question latency and the memory
the index keeps, on the real FAQ and on the FAQ grown synthetically to 5,000 entries, pinned to
one core.

Speed baseline, measured in the same run: a plain rapidfuzz scan (process.extractOne with
token_set_ratio over every normalized question and phrasing), the obvious way to do it
without an index. Prints p50/p99 and the ratio to the baseline.

Memory, two ways, next to the goal (at most 60 MB at 5,000 entries):
- tracemalloc: what Python and numpy allocations the built index still holds after a
  collection (its peak while building too), in this process;
- RSS: VmRSS (and VmHWM) of a fresh process after building the index, minus the same process
  before building it (knowledge loaded, FAQ grown): what the operating system sees, with the
  allocator's fragmentation and the memory it did not give back.
Baseline for the ratio, measured in the same run: the FAQ entries themselves (each distinct
object they reach, sys.getsizeof summed; the synthetic entries share their base's answer).

    .venv/bin/python bench/bench_qa.py
"""
from __future__ import annotations

import dataclasses
import gc
import json
import os
import random
import statistics
import subprocess
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
MEMORY_GOAL_MB = 60


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


def deep_size(root) -> int:
    """sys.getsizeof over every distinct object `root` reaches (containers, __dict__s)."""
    seen, stack, total = set(), [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack += obj
        if hasattr(obj, "__dict__"):
            stack.append(vars(obj))
    return total


def traced(pack) -> tuple[int, int]:
    """What the built index holds in Python and numpy allocations, and the peak while building."""
    gc.collect()
    tracemalloc.start()
    index = QaIndex(pack)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del index
    return current, peak


def status(*fields: str) -> dict[str, int]:
    """Fields of /proc/self/status, in bytes."""
    lines = Path("/proc/self/status").read_text().splitlines()
    return {f: int(line.split()[1]) * 1024 for line in lines for f in fields if line.startswith(f + ":")}


def rss_child(size: int) -> None:
    """In a fresh process: the RSS the index adds, printed as JSON."""
    pack = load_knowledge(ROOT / "knowledge").pack("vi")
    if size:
        pack = grow(pack, size)
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")   # VmHWM starts again from VmRSS now
    except OSError:
        pass   # then the high-water mark may include loading the knowledge: an upper bound
    before = status("VmRSS", "VmHWM")
    index = QaIndex(pack)
    gc.collect()
    after = status("VmRSS", "VmHWM")
    print(json.dumps({"rss": after["VmRSS"] - before["VmRSS"], "hwm": after["VmHWM"] - before["VmRSS"],
                      "targets": len(index.targets)}))


def rss(size: int) -> dict[str, int]:
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(size)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def memory(name: str, pack, size: int) -> float:
    """Prints the index's memory both ways; returns the larger retained figure, in MB."""
    mb = 2 ** 20
    entries = deep_size(pack.faq)
    current, peak = traced(pack)
    seen = rss(size)
    print(f"\n{name} memory ({len(pack.faq)} FAQ entries; the entries themselves: {entries / mb:.1f} MB)")
    print(f"  tracemalloc: kept {current / mb:6.1f} MB (goal <= {MEMORY_GOAL_MB} MB at 5,000 entries), "
          f"{current / len(pack.faq) / 1024:.1f} KB per entry, {current / entries:.2f}x the entries; "
          f"peak while building {peak / mb:.1f} MB")
    print(f"  RSS, fresh process: +{seen['rss'] / mb:6.1f} MB after the build "
          f"(goal <= {MEMORY_GOAL_MB} MB at 5,000 entries), {seen['rss'] / entries:.2f}x the entries; "
          f"high-water mark +{seen['hwm'] / mb:.1f} MB")
    return max(current, seen["rss"]) / mb


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--rss-child":
        rss_child(int(sys.argv[2]))
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    pack = load_knowledge(ROOT / "knowledge").pack("vi")
    devset = load_devset()
    residents = load_devset(ROOT / "tests" / "qa" / "residents-dev.yaml")
    questions = [q["text"] for q in devset["questions"]] + devset["out_of_scope"]
    questions += [q["text"] for q in residents["questions"]] + [q["text"] for q in residents["out_of_scope"]]
    print(f"{len(questions)} development-set questions x {ROUNDS} rounds, one core")
    real_build, real_p99 = measure("real FAQ", pack, questions)
    memory("real FAQ", pack, 0)
    big = grow(pack, SYNTHETIC_SIZE)
    build, big_p99 = measure("synthetic FAQ", big, questions)
    big_memory = memory("synthetic FAQ", big, SYNTHETIC_SIZE)
    print(f"\ngoals: real p99 <= 5 ms: {'OK' if real_p99 <= 5 else 'MISSED'}; "
          f"real build <= 1 s: {'OK' if real_build <= 1 else 'MISSED'}; "
          f"5,000-entry p99 <= 20 ms: {'OK' if big_p99 <= 20 else 'MISSED'}; "
          f"5,000-entry index <= {MEMORY_GOAL_MB} MB: {'OK' if big_memory <= MEMORY_GOAL_MB else 'MISSED'} "
          f"(peak RSS of `hocvuso serve`: bench/bench_memory.py, bench/bench_pipeline.py)")


if __name__ == "__main__":
    main()
