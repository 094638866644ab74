"""The token stream the search index stores and queries are cut into.

Chinese is segmented by the classifier's jieba tokenizer (domain dictionary, loaded once,
lazily: :func:`models.segment.tokenizer`), in accurate mode without HMM so that a term cuts the
same way in a query as in a document. Dictionary sub-words of long words (硅钢 in 取向硅钢) are
appended after the word sequence: a query for 硅钢 finds them while phrases of whole words keep
their positions. Latin text becomes lower-case words. Every token is a run of letters and
digits only, so SQLite's unicode61 tokenizer and PostgreSQL's parser see exactly these tokens.
"""

from __future__ import annotations

import re

from rules.query import fold_text

#: bumped whenever the tokens change: the index stage then re-indexes every document
TOKENIZER_VERSION = "jieba-accurate-sub1"
#: tsvector positions stop at 16383; both backends index at most this many tokens
MAX_TOKENS = 16_000
#: longer runs (sequences, garbled text) are not indexed
MAX_TOKEN_CHARS = 100

_WORD = re.compile(r"[^\W_]+")
_CJK = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]+$")


def _jieba() -> object:
    from models.segment import tokenizer

    return tokenizer()


def words(text: str) -> list[str]:
    """Accurate-mode words of folded ``text`` (no sub-words): how query terms are cut."""
    tok = _jieba()
    out: list[str] = []
    for piece in tok.cut(fold_text(text), HMM=False):  # type: ignore[attr-defined]
        out.extend(w for w in _WORD.findall(piece) if len(w) <= MAX_TOKEN_CHARS)
    return out


def index_tokens(text: str) -> list[str]:
    """The words of ``text``, then the dictionary sub-words of its long Chinese words."""
    tok = _jieba()
    freq = tok.FREQ  # type: ignore[attr-defined]
    main = words(text)
    extra: list[str] = []
    for word in main:
        if len(word) > 2 and _CJK.match(word):
            for n in (2, 3):
                if n >= len(word):
                    break
                extra.extend(
                    gram
                    for gram in (word[i : i + n] for i in range(len(word) - n + 1))
                    if freq.get(gram)
                )
    return (main + extra)[:MAX_TOKENS]


def document_text(title: str, abstract: str, claims: str, applicants: list[str]) -> str:
    """What is indexed: title, abstract, claims and applicant names."""
    return "\n".join(filter(None, (title, abstract, claims, " ".join(applicants))))
