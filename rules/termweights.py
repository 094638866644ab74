"""Term weights of infringement-risk screening, from real document frequencies.

A shared word is evidence only if it is rare in patent text: 装置, 方法, 控制 or 驱动 occur in
every week's gazette and say nothing; 取向硅钢 or 布料溜槽 name a technology. Weights are
inverse document frequencies over a real background (the packaged 2019 gazette titles and the
Chinese IPC titles, ``rules/data/background_df.tsv.gz``, plus the stored corpus), damped to zero
for common words and for the listed generic words (``rules/data/screening_generic.txt``).
Segmentation uses the classifier's domain dictionary plus ``rules/data/screening_terms.txt``, so
technical compounds stay whole; search mode also yields their known parts (无取向硅钢 -> 硅钢).

Rebuild the packaged frequencies after changing the dictionary::

    python -m rules.termweights
"""

from __future__ import annotations

import gzip
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from rules.query import fold_text

DATA = Path(__file__).resolve().parent / "data"
DF_FILE = DATA / "background_df.tsv.gz"
#: a word in more than this share of documents weighs nothing
GENERIC_SHARE = 0.004
#: a word in at most this share of documents has its full weight ("distinctive")
DISTINCTIVE_SHARE = 0.0005

_lock = threading.Lock()
_tokenizer: Any = None
#: a word: two or more letters, digits or Chinese characters, not only digits (led芯片 too)
_WORD = re.compile(r"(?=.*[a-z\u4e00-\u9fff])[a-z0-9\u4e00-\u9fff]{2,}")


def _lines(name: str) -> list[str]:
    text = resources.files("rules").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


@cache
def domain_dictionary() -> tuple[tuple[str, ...], dict[str, str]]:
    """(compounds kept whole, synonym -> canonical word)."""
    words: list[str] = []
    synonyms: dict[str, str] = {}
    for line in _lines("screening_terms.txt"):
        left, sep, right = line.partition("=")
        if sep:
            synonyms[fold_text(left.strip())] = fold_text(right.strip())
            words.append(fold_text(right.strip()))
        else:
            words.append(fold_text(left))
    return tuple(dict.fromkeys(words)), synonyms


@cache
def generic_words() -> frozenset[str]:
    return frozenset(w for line in _lines("screening_generic.txt") for w in line.split())


def _segmenter() -> Any:
    """A jieba tokenizer of its own (the classifier's is shared and must not change)."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                from models.segment import build_tokenizer

                _tokenizer = build_tokenizer(domain_dictionary()[0])
    return _tokenizer


@cache
def _synonym_pattern() -> re.Pattern[str] | None:
    synonyms = domain_dictionary()[1]
    if not synonyms:
        return None
    return re.compile("|".join(re.escape(s) for s in sorted(synonyms, key=len, reverse=True)))


def canonical(text: str) -> str:
    """Folded text with synonyms rewritten (电工钢 -> 硅钢)."""
    folded = fold_text(text)
    pattern = _synonym_pattern()
    if pattern is None:
        return folded
    synonyms = domain_dictionary()[1]
    return pattern.sub(lambda m: synonyms[m.group(0)], folded)


#: at most this many characters between the two parts of a compound written apart
#: (发光二极管芯片的封装 -> LED封装: "芯片的"; one modifier word and 的, chosen before measuring)
COMPOUND_GAP = 4
#: tokens that separate the parts of a compound (a list, not one noun phrase)
_SEPARATORS = frozenset({"及", "和", "与", "或", "及其", "以及", "或者", "并", "和或"})


@cache
def compound_parts() -> dict[str, tuple[str, str]]:
    """Domain compounds that split into two known words (LED封装 -> LED + 封装).

    A compound of ``screening_terms.txt`` whose two halves (two or more characters each) are
    both words of the segmentation dictionary; the split with the longest known head is used.
    """
    tok = _segmenter()
    out: dict[str, tuple[str, str]] = {}
    for word in domain_dictionary()[0]:
        for cut in range(2, len(word) - 1):
            left, right = word[:cut], word[cut:]
            if tok.FREQ.get(left) and tok.FREQ.get(right):
                out[word] = (left, right)
                break
    return out


@cache
def _compounds_by_part() -> tuple[dict[str, list[tuple[str, str]]], int]:
    """First part -> [(second part, compound)], and the longest first part."""
    by_first: dict[str, list[tuple[str, str]]] = {}
    for word, (left, right) in compound_parts().items():
        by_first.setdefault(left, []).append((right, word))
    return by_first, max((len(k) for k in by_first), default=0)


def _gapped_compounds(tokens: Sequence[str]) -> set[str]:
    """Domain compounds whose two parts occur in this order in separate tokens of one clause,
    at most COMPOUND_GAP characters apart: the first part begins or ends its token (LED芯片,
    人造石墨), the second begins its token (封装结构). 发光二极管芯片的封装结构 has LED封装,
    人造石墨负极材料 has 石墨负极材料; 无取向硅钢, one token, does not have 取向硅钢."""
    by_first, longest = _compounds_by_part()
    found: set[str] = set()
    if not by_first:
        return found
    for i, token in enumerate(tokens):
        if len(token) < 2:
            continue
        # candidate first parts: prefixes and suffixes of the token that are first parts
        starts: list[tuple[str, int]] = []  # (first part, characters after it in its token)
        for n in range(2, min(longest, len(token)) + 1):
            if token[:n] in by_first and not _inside_latin(token, n):
                starts.append((token[:n], len(token) - n))
            if (
                n < len(token)
                and token[-n:] in by_first
                and not _inside_latin(token, len(token) - n)
            ):
                starts.append((token[-n:], 0))
        for first, after in starts:
            gap = after
            for later in tokens[i + 1 :]:
                if gap > COMPOUND_GAP or later in _SEPARATORS or not _WORD_CHARS.fullmatch(later):
                    break
                for right, word in by_first[first]:
                    if later.startswith(right):
                        found.add(word)
                gap += len(later)
    return found


def _latin_tail(word: str, text: str) -> bool:
    """A word starting with a Latin letter that occurs only as the end of a longer Latin word
    (LED封装 in OLED封装: an OLED is not an LED)."""
    if not ("a" <= word[0] <= "z"):
        return False
    start = text.find(word)
    while start >= 0:
        if start == 0 or not text[start - 1].isascii() or not text[start - 1].isalnum():
            return False
        start = text.find(word, start + 1)
    return True


def _inside_latin(token: str, cut: int) -> bool:
    """A cut between two Latin letters or digits (OLED is not O + LED)."""
    return 0 < cut < len(token) and token[cut - 1].isascii() and token[cut].isascii()


_WORD_CHARS = re.compile(r"[a-z0-9\u4e00-\u9fff]+")


def terms(text: str) -> set[str]:
    """The distinct words of a text: search mode (compounds and their known parts) plus the
    domain compounds written with their parts apart (:func:`_gapped_compounds`)."""
    folded = canonical(text)
    tok = _segmenter()
    words = {
        w
        for w in tok.lcut_for_search(folded, HMM=False)
        if _WORD.fullmatch(w) and not _latin_tail(w, folded)
    }
    if compound_parts():
        words |= _gapped_compounds(tok.lcut(folded, HMM=False))
    return words


def build_packaged_df(path: Path = DF_FILE) -> int:
    """Count document frequencies over the packaged gazette titles and IPC titles."""
    import json

    from models.data import DATA_DIR

    texts: list[str] = []
    with gzip.open(DATA_DIR / "gazette_2019.jsonl.gz", "rt", encoding="utf-8") as handle:
        texts += [json.loads(line)["title"] for line in handle]
    with gzip.open(DATA_DIR / "ipc_titles_zh.tsv.gz", "rt", encoding="utf-8") as handle:
        texts += [line.rstrip("\n").partition("\t")[2] for line in handle]
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(terms(text))
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(f"#documents\t{len(texts)}\n")
        for word, n in sorted(counts.items()):
            out.write(f"{word}\t{n}\n")
    return len(texts)


@cache
def packaged_df() -> tuple[int, dict[str, int]]:
    """(documents, word -> documents containing it) of the packaged background."""
    total = 0
    df: dict[str, int] = {}
    with gzip.open(DF_FILE, "rt", encoding="utf-8") as handle:
        for line in handle:
            word, _, count = line.rstrip("\n").partition("\t")
            if word == "#documents":
                total = int(count)
            else:
                df[word] = int(count)
    return total, df


@dataclass(frozen=True)
class TermWeights:
    """Inverse document frequency over the packaged background plus stored documents."""

    documents: int
    df: dict[str, int]
    stored: Counter[str]
    stored_documents: int
    _memo: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, stored_texts: Iterable[str] = ()) -> TermWeights:
        total, df = packaged_df()
        stored: Counter[str] = Counter()
        count = 0
        for text in stored_texts:
            stored.update(terms(text))
            count += 1
        return cls(total + count, df, stored, count)

    def frequency(self, word: str) -> int:
        return self.df.get(word, 0) + self.stored.get(word, 0)

    def share(self, word: str) -> float:
        return self.frequency(word) / max(1, self.documents)

    def weight(self, word: str) -> float:
        """idf, damped linearly (in idf) from full at DISTINCTIVE_SHARE to 0 at GENERIC_SHARE."""
        cached = self._memo.get(word)
        if cached is None:
            cached = self._memo[word] = self._weight(word)
        return cached

    def _weight(self, word: str) -> float:
        if word in generic_words():
            return 0.0
        idf = math.log((self.documents + 1) / (self.frequency(word) + 1))
        low = math.log(1 / GENERIC_SHARE)
        high = math.log(1 / DISTINCTIVE_SHARE)
        return idf * min(1.0, max(0.0, (idf - low) / (high - low)))

    def distinctive(self, word: str) -> bool:
        return word not in generic_words() and self.share(word) <= DISTINCTIVE_SHARE

    def vector(self, words: Sequence[str] | set[str]) -> dict[str, float]:
        """Word -> weight, for the words that weigh anything."""
        out = {w: self.weight(w) for w in words}
        return {w: v for w, v in out.items() if v > 0}


if __name__ == "__main__":
    print(f"{build_packaged_df()} documents -> {DF_FILE}")
