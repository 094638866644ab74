"""Classifier throughput vs bare jieba segmentation of the same texts, and model start-up time.

Run: ``.venv/bin/python -m benchmarks.bench_classify [N]`` (N documents, default 20000, drawn from
the held-out gazette titles, repeated if needed). Ratios are classify time / jieba time measured
in the same run on the same texts: <= 1.0 means classifying costs no more than segmenting.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from models.classifier import load_classifier
from models.data import TEST_BUCKETS, iter_split, read_gazette
from models.text import document_text

_TEXTS: list[str] = []


def _jieba_chunk(bounds: tuple[int, int]) -> int:
    import jieba

    return sum(len(jieba.lcut(t)) for t in _TEXTS[bounds[0] : bounds[1]])


def _jieba(texts: list[str], workers: int) -> None:
    global _TEXTS
    _TEXTS = texts
    if workers == 1:
        _jieba_chunk((0, len(texts)))
        return
    size = len(texts) // (workers * 4) + 1
    chunks = [(i, i + size) for i in range(0, len(texts), size)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_jieba_chunk, chunks)


#: interleaved measuring rounds; the best round of each variant counts
ROUNDS = 3


def cold_load_seconds() -> float:
    """Model load in a fresh interpreter: imports plus artifact, as `ipwarn classify` pays it."""
    code = (
        "import time; t=time.perf_counter(); from models.classifier import load_classifier; "
        "load_classifier(); print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(n: int = 20_000) -> None:
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    examples = list(iter_split(read_gazette(), TEST_BUCKETS))
    examples = (examples * (n // len(examples) + 1))[:n]
    records = [{"number": e.number, "title": e.text, "ipc": list(e.ipc)} for e in examples]
    texts = [document_text(e.text) for e in examples]
    chars = sum(map(len, texts))
    print(f"documents: {n} gazette titles ({chars / n:.1f} characters on average)")
    loads = [cold_load_seconds() for _ in range(3)]
    print(
        f"model start-up (fresh interpreter, imports + artifact): best {min(loads):.2f} s, "
        f"worst {max(loads):.2f} s  (goal < 2 s)"
    )
    model = load_classifier()
    model.classify(records[:100])
    jobs: dict[tuple[str, int], Callable[[], Any]] = {}
    variants = (
        ("bare jieba lcut (accurate, HMM)", None),
        ("classify, with IPC", (False, True)),
        ("classify, text only", (True, True)),
        ("stage path (with IPC, no explain)", (False, False)),
    )
    for label, options in variants:
        for workers in (1, 2):
            if options is None:
                jobs[label, workers] = partial(_jieba, texts, workers)
            else:
                text_only, explain = options
                jobs[label, workers] = partial(
                    model.classify, records, text_only=text_only, workers=workers, explain=explain
                )
    # rounds interleave every variant, so load from other processes hits them alike
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(ROUNDS):
        for key, job in jobs.items():
            started = time.perf_counter()
            job()
            best[key] = min(best[key], time.perf_counter() - started)
    base = variants[0][0]
    print(f"{'':<34}{'1 core docs/s':>14}{'2 cores docs/s':>16}{'ratio 1c':>10}{'ratio 2c':>10}")
    for label, _ in variants:
        one, two = best[label, 1], best[label, 2]
        print(
            f"{label:<34}{n / one:>14,.0f}{n / two:>16,.0f}"
            f"{one / best[base, 1]:>10.2f}{two / best[base, 2]:>10.2f}"
        )
    print("ratio = classify seconds / bare-jieba seconds on the same texts and cores (goal <= 1.0)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
