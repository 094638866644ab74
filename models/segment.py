"""jieba word segmentation with the domain user dictionary, loaded once and only when needed.

The dictionary joins the taxonomy's keywords with the short Chinese IPC titles (<= 8 characters,
no punctuation: "轧机", "球磨机", "取向硅钢"), which are exactly the technical terms jieba's general
dictionary splits apart. Word features are optional in training (``TrainConfig.word_features``):
on gazette titles they did not beat character n-grams (docs/classifier.md), and they would make
classification slower than segmentation itself. The benchmark uses :func:`segment` as its
baseline.
"""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Iterable
from typing import Any

from models.data import DATA_DIR
from warning.taxonomy import load_taxonomy

_TERM = re.compile(r"^[\u4e00-\u9fff]{2,8}$")
_lock = threading.Lock()
_tokenizer: Any = None


def domain_terms() -> list[str]:
    """The user-dictionary entries, sorted and unique."""
    terms = {k for sf in load_taxonomy().subfields for k in sf.keywords if _TERM.match(k)}
    terms |= {s.name_zh for s in load_taxonomy().sectors if _TERM.match(s.name_zh)}
    path = DATA_DIR / "ipc_titles_zh.tsv.gz"
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                title = line.rstrip("\n").partition("\t")[2]
                if _TERM.match(title):
                    terms.add(title)
    return sorted(terms)


def build_tokenizer(extra_terms: Iterable[str] = ()) -> Any:
    """A new jieba tokenizer with the domain dictionary (and ``extra_terms``) loaded."""
    import jieba

    jieba.setLogLevel(60)
    tok = jieba.Tokenizer()
    tok.initialize()
    for term in [*domain_terms(), *extra_terms]:
        tok.add_word(term, freq=tok.suggest_freq(term, tune=False) or 20)
    return tok


def tokenizer() -> Any:
    """The process-wide jieba tokenizer with the domain dictionary (built on first use)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                _tokenizer = build_tokenizer()
    return _tokenizer


def segment(text: str) -> list[str]:
    """jieba accurate mode (HMM on) with the domain dictionary."""
    return list(tokenizer().cut(text, HMM=True))
