"""Text normalisation and the feature analyzer shared by training and classification.

Chinese runs become character 1-3-grams (measured: on patent titles they beat jieba words,
see docs/classifier.md); Latin runs become lower-case word tokens, so English documents use the
same model through the English IPC titles it was trained on. Pure Python, no segmentation
dictionary: this is what keeps classification faster than segmenting the same text with jieba.
"""

from __future__ import annotations

import re
from typing import Any

#: abstracts and claims are cut to this many characters: the model is trained on titles, and a
#: long text would drown the title's few, strong n-grams after L2 normalisation
MAX_EXTRA_CHARS = 300

_FULLWIDTH = str.maketrans(
    {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
)
_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z][a-z0-9]*")
_LATIN = re.compile(r"[a-z][a-z0-9]*")
_CJK_ONLY = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]+$")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "other",
        "than",
        "that",
        "the",
        "their",
        "these",
        "this",
        "to",
        "with",
        "without",
        "e",
        "g",
        "eg",
        "i",
        "ie",
        "using",
        "used",
        "use",
        "thereof",
        "therefor",
        "same",
        "such",
    ]
)


def normalize_text(text: str) -> str:
    """Full-width to half-width and lower case (titles mix both widths)."""
    return text.translate(_FULLWIDTH).lower()


def _stem(word: str) -> str:
    """A deliberately tiny English stemmer: plural forms only (IPC titles are noun phrases)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _ngram_slices(length: int) -> tuple[slice, ...]:
    """Slices of every 2- and 3-gram of a run of ``length`` characters (cached: C-level map)."""
    if length < len(_SLICES):
        return _SLICES[length]
    return tuple(slice(i, i + 2) for i in range(length - 1)) + tuple(
        slice(i, i + 3) for i in range(length - 2)
    )


_SLICES: list[tuple[slice, ...]] = []
_SLICES.extend(_ngram_slices(n) for n in range(128))


def latin_tokens(normalized: str) -> list[str]:
    """The English word stems of an already normalised text (the Latin half of :func:`analyze`)."""
    return [_stem(run) for run in _LATIN.findall(normalized) if len(run) > 1 and run not in _STOP]


def has_latin(normalized: str) -> bool:
    return _LATIN.search(normalized) is not None


def analyze(text: str) -> list[str]:
    """Feature tokens of one text: CJK char 1-3-grams within runs, English word stems."""
    features: list[str] = []
    append = features.append
    extend = features.extend
    for run in _RUNS.findall(normalize_text(text)):
        if run[0] >= "\u3400":
            extend(run)
            extend(map(run.__getitem__, _ngram_slices(len(run))))
        elif len(run) > 1 and run not in _STOP:
            append(_stem(run))
    return features


def cjk_matcher(vocabulary: dict[str, int]) -> Any:
    """An Aho-Corasick automaton of the vocabulary's Chinese n-grams -> feature index.

    Scanning a normalised text with it yields exactly the Chinese features :func:`analyze`
    would produce and the vocabulary knows (an n-gram of CJK characters can only occur inside a
    CJK run), in one pass of C code instead of a Python list of every 1-3-gram and a dict
    look-up for each. Artifacts store it; classification now uses the equivalent, batch-wise
    :class:`models.ngrams.NgramTable` (a test checks both find the same features).
    """
    import ahocorasick

    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for term, index in vocabulary.items():
        if _CJK_ONLY.match(term):
            automaton.add_word(term, index)
    automaton.make_automaton()
    return automaton


def document_text(title: str, abstract: str = "", claims: str = "") -> str:
    """The text the model reads: the title, plus the start of the abstract (or of the claims)."""
    extra = abstract or claims
    return f"{title} {extra[:MAX_EXTRA_CHARS]}" if extra else title


def analyze_with_words(text: str) -> list[str]:
    """:func:`analyze` plus jieba words (2+ characters, prefixed ``w:``) of the Chinese text."""
    from models.segment import segment

    words = [f"w:{w}" for w in segment(normalize_text(text)) if len(w) > 1 and w >= "\u3400"]
    return analyze(text) + words
