"""Lessons read aloud: how long a resident waits for a step's first audio, and for a cached one,
and the disk that the audio of every step takes.

Goals (issue 17): the first audio of a step in at most 2 s; a cached one in at most 50 ms.

For every step of every course (and then every quiz question and FAQ answer, for the disk), on a
fresh cache folder and a migrated SQLite database (MediaLibrary looks for an official's
recording there first, as in the app):
- first: MediaLibrary.voice for the step in one format: eSpeak NG synthesis plus PyAV encoding
  (OGG/Opus for Telegram, then AAC for Zalo and the web chat, each timed on its own);
- cached: the same call again, 5 times, a cache hit;
- baseline, in the same run: reading the cached file's bytes straight from disk (what any cache
  must do at least), and the audio's own length (a first audio faster than real time means a
  resident waits less than the step lasts).

Prints medians, maxima and ratios, and exits non-zero if a goal is missed. With --all-parts it
also makes every quiz question's and FAQ answer's audio, for the disk they take (minutes).

    .venv/bin/python bench/bench_audio.py [--all-parts]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.content import load_knowledge  # noqa: E402
from bot.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from bot.media.audio import AAC, OPUS, probe  # noqa: E402
from bot.media.keys import all_parts, step_speech  # noqa: E402
from bot.media.library import MediaLibrary  # noqa: E402

FIRST_GOAL, CACHED_GOAL = 2.0, 0.050
HITS = 5


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def main() -> int:
    knowledge = load_knowledge(ROOT / "knowledge")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        migrate(url)
        media = MediaLibrary(knowledge, make_sessionmaker(make_engine(url)), Path(folder) / "media")
        pack = knowledge.pack("vi")
        steps = [step_speech("vi", c, i) for c in pack.ordered_courses for i in range(len(c.steps))]
        media.voice(steps[0], OPUS)            # load eSpeak NG and PyAV once, as the server does at its first
        first = {OPUS.name: [], AAC.name: []}
        cached, disk_reads, seconds = [], [], []
        for speech in steps:
            for fmt in (OPUS, AAC):
                took, voice = timed(media.voice, speech, fmt)
                first[fmt.name].append(took)
            data = voice.path.read_bytes()
            seconds.append(probe(data).seconds)
            for _ in range(HITS):
                cached.append(timed(media.voice, speech, AAC)[0])
                disk_reads.append(timed(voice.path.read_bytes)[0])
        step_bytes = sum(p.stat().st_size for p in (Path(folder) / "media").iterdir())
        others = [s for s in all_parts(pack) if s.key not in {x.key for x in steps}] if "--all-parts" in sys.argv else []
        for speech in others:
            for fmt in (OPUS, AAC):
                media.voice(speech, fmt)
        all_bytes = sum(p.stat().st_size for p in (Path(folder) / "media").iterdir())

    both = [a + b for a, b in zip(first[OPUS.name], first[AAC.name])]
    print(f"{len(steps)} steps of {len(pack.courses)} courses; audio {statistics.median(seconds):.1f} s median, "
          f"{max(seconds):.1f} s longest, {sum(seconds) / 60:.1f} min in all")
    for name, values in first.items():
        print(f"first audio, {name}: median {statistics.median(values):.3f} s, max {max(values):.3f} s")
    print(f"first audio, both formats (the web chat): median {statistics.median(both):.3f} s, max {max(both):.3f} s")
    factor = [t / s for t, s in zip(both, seconds)]
    print(f"  ratio to the audio's own length: median {statistics.median(factor):.3f}, max {max(factor):.3f} "
          f"(x{1 / statistics.median(factor):.0f} faster than real time)")
    print(f"cached audio: median {statistics.median(cached) * 1000:.2f} ms, max {max(cached) * 1000:.2f} ms")
    print(f"  ratio to reading the file from disk: median "
          f"{statistics.median(cached) / statistics.median(disk_reads):.1f}x "
          f"({statistics.median(disk_reads) * 1000:.3f} ms a read)")
    print(f"disk: {step_bytes / 1e6:.1f} MB for every step in both formats "
          f"({step_bytes / len(steps) / 1024:.0f} KB a step)")
    if others:
        print(f"  {all_bytes / 1e6:.1f} MB with the {len(others)} quiz questions and FAQ answers too")
    worst_first, worst_cached = max(both), max(cached)
    ok = worst_first <= FIRST_GOAL and worst_cached <= CACHED_GOAL
    print(f"goals: first audio <= {FIRST_GOAL} s: {'met' if worst_first <= FIRST_GOAL else 'MISSED'}; "
          f"cached <= {CACHED_GOAL * 1000:.0f} ms: {'met' if worst_cached <= CACHED_GOAL else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
