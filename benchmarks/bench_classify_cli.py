"""`ipwarn classify` as a whole process against bare jieba segmentation in one process.

Run: ``.venv/bin/python -m benchmarks.bench_classify_cli [FILE.jsonl]``. Both read the same JSON
lines (default: the 64,466 shipped gazette titles with IPC, ``models/data/gazette_2019.jsonl.gz``;
the 78,514 rows of the two gazette days, designs included, are what docs/classifier.md quotes)
in a fresh interpreter each:

* **baseline**: ``import jieba``, load its dictionary, ``json.loads`` each line and
  ``jieba.lcut`` its title -- the cheapest thing that reads Chinese titles at all;
* **classify**: ``python -m warning classify FILE > /dev/null`` in an empty directory (no
  config, no database: the packaged default model), explanations and JSON output included.

Also each with a one-line input: the start-up alone. Interleaved rounds, best of 3 counts, wall
time and CPU time (user + sys of the child). Ratio = classify / baseline (goal <= 1.0).
"""

from __future__ import annotations

import gzip
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from models.data import DATA_DIR, GAZETTE

ROUNDS = 3

BARE_JIEBA = """
import json, sys
import jieba
jieba.setLogLevel(60)
jieba.initialize()
words = 0
with open(sys.argv[1], encoding="utf-8") as handle:
    for line in handle:
        if line.strip():
            words += len(jieba.lcut(json.loads(line).get("title") or ""))
print(words)
"""


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process, its output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(path: str | None = None) -> None:
    work = Path(tempfile.mkdtemp(prefix="ipwarn-bench-cli-"))
    try:
        if path:
            source = Path(path).resolve()
        else:
            source = work / "gazette.jsonl"
            with gzip.open(DATA_DIR / GAZETTE, "rb") as packed, source.open("wb") as out:
                shutil.copyfileobj(packed, out)
        with source.open(encoding="utf-8") as handle:
            first = next(line for line in handle if line.strip())
            lines = 1 + sum(1 for line in handle if line.strip())
        one = work / "one.jsonl"
        one.write_text(first, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("IPWARN_")}
        jobs = {
            ("baseline", "all"): [sys.executable, "-c", BARE_JIEBA, str(source)],
            ("classify", "all"): [sys.executable, "-m", "warning", "classify", str(source)],
            ("baseline", "start"): [sys.executable, "-c", BARE_JIEBA, str(one)],
            ("classify", "start"): [sys.executable, "-m", "warning", "classify", str(one)],
        }
        _run(jobs["baseline", "start"], work, env)  # jieba builds its dictionary cache once
        best = {key: (float("inf"), float("inf")) for key in jobs}
        for _ in range(ROUNDS):
            for key, argv in jobs.items():
                wall, cpu = _run(argv, work, env)
                best[key] = (min(best[key][0], wall), min(best[key][1], cpu))
        print(f"input: {source.name}, {lines:,} JSON lines; best of {ROUNDS} interleaved rounds")
        print(f"{'':<34}{'wall s':>8}{'CPU s':>8}{'docs/s (wall)':>15}")
        for what in ("all", "start"):
            for who in ("baseline", "classify"):
                wall, cpu = best[who, what]
                label = f"{'bare jieba' if who == 'baseline' else 'ipwarn classify'}, " + (
                    "whole input" if what == "all" else "start-up (1 line)"
                )
                rate = f"{lines / wall:>15,.0f}" if what == "all" else ""
                print(f"{label:<34}{wall:>8.2f}{cpu:>8.2f}{rate}")
        for what, label in (("all", "whole process"), ("start", "start-up")):
            (bw, bc), (cw, cc) = best["baseline", what], best["classify", what]
            print(f"ratio classify / bare jieba, {label}: wall {cw / bw:.2f}, CPU {cc / bc:.2f}")
        print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
