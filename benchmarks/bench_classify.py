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


def _best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


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
    print(f"{'':<34}{'1 core docs/s':>14}{'2 cores docs/s':>16}{'ratio 1c':>10}{'ratio 2c':>10}")
    base = {w: _best_of(partial(_jieba, texts, w)) for w in (1, 2)}
    print(
        f"{'bare jieba lcut (accurate, HMM)':<34}{n / base[1]:>14,.0f}{n / base[2]:>16,.0f}"
        f"{1.0:>10.2f}{1.0:>10.2f}"
    )
    variants = (
        ("classify, with IPC", False, True),
        ("classify, text only", True, True),
        ("stage path (with IPC, no explain)", False, False),
    )
    for label, text_only, explain in variants:
        times = {
            w: _best_of(
                partial(model.classify, records, text_only=text_only, workers=w, explain=explain)
            )
            for w in (1, 2)
        }
        print(
            f"{label:<34}{n / times[1]:>14,.0f}{n / times[2]:>16,.0f}"
            f"{times[1] / base[1]:>10.2f}{times[2] / base[2]:>10.2f}"
        )
    print("ratio = classify seconds / bare-jieba seconds on the same texts and cores (goal <= 1.0)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
