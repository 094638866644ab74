"""Batch look-up of the Chinese character 1-3-grams of many texts in the vocabulary, in numpy.

Classification spent most of its featurisation time in Python: one Aho-Corasick iteration per
text and a Python tuple per match. Here a whole batch is one code-point array: every 1-, 2- and
3-gram of consecutive CJK characters becomes an integer key (15 bits per character, offset from
U+3400, plus the n-gram length), 1-grams are read from a direct table and 2-/3-grams from an
open-addressing hash table of the vocabulary's keys, probed for all n-grams at once (about
twice as fast as a binary search over the sorted keys). The result is exactly the set of Chinese
features :func:`models.text.analyze` would produce and the vocabulary knows, because a CJK-only
n-gram can only occur inside a CJK run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

#: the CJK ranges of :data:`models.text._RUNS`: U+3400-U+4DBF and U+4E00-U+9FFF
_BASE, _EXT_A_END, _URO_START, _LAST = 0x3400, 0x4DBF, 0x4E00, 0x9FFF
_BITS = 15  # 0x9FFF - 0x3400 < 2**15
_TABLE_SIZE = _LAST - _BASE + 1

IntArray = npt.NDArray[np.int64]

#: Fibonacci hashing: multiply, keep the top bits of the 64-bit product
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_EMPTY = -1  # no key is negative


def _codepoints(text: str) -> IntArray:
    # surrogatepass: a lone surrogate (valid in a JSON string) must not fail the whole batch
    raw = text.encode("utf-32-le", "surrogatepass")
    return np.frombuffer(raw, dtype=np.uint32).astype(np.int64)


def _is_cjk(points: IntArray) -> npt.NDArray[np.bool_]:
    return ((points >= _BASE) & (points <= _EXT_A_END)) | (
        (points >= _URO_START) & (points <= _LAST)
    )


def _ngram_keys(offsets: IntArray, cjk: npt.NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    """(key, start position) of every 2- and 3-gram of consecutive CJK characters."""
    pair = cjk[:-1] & cjk[1:]
    at2 = np.flatnonzero(pair)
    keys2 = (2 << 45) | (offsets[at2] << _BITS) | offsets[at2 + 1]
    at3 = np.flatnonzero(pair[:-1] & cjk[2:])
    keys3 = (3 << 45) | (offsets[at3] << 2 * _BITS) | (offsets[at3 + 1] << _BITS) | offsets[at3 + 2]
    return np.concatenate((keys2, keys3)), np.concatenate((at2, at3))


class NgramTable:
    """The vocabulary's CJK-only 1-3-gram terms, as arrays for vectorised look-up."""

    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        terms = list(vocabulary) or [""]
        ids = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        ids = ids if len(ids) else np.full(1, -1, dtype=np.int64)
        lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
        # every term's characters in one array, a sentinel after each so that n-gram keys of
        # one term never read the next term's characters
        points = _codepoints("\x00".join(terms))
        cjk = _is_cjk(points)
        offsets = np.where(cjk, points - _BASE, 0)
        starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
        cjk_count = np.add.reduceat(np.append(cjk, False).astype(np.int64), starts)
        cjk_count[lengths == 0] = 0
        all_cjk = (cjk_count == lengths) & (lengths >= 1) & (lengths <= 3)
        self.unigram = np.full(_TABLE_SIZE, -1, dtype=np.int64)
        one = all_cjk & (lengths == 1)
        self.unigram[offsets[starts[one]]] = ids[one]
        keys, at = _ngram_keys(offsets, cjk)
        # a term of length n is exactly the n-gram starting at its first character
        length_of_key = keys >> 45
        term_at = np.full(len(points), -1, dtype=np.int64)
        term_at[starts[all_cjk & (lengths >= 2)]] = np.flatnonzero(all_cjk & (lengths >= 2))
        owner = term_at[at]
        mine = (owner >= 0) & (lengths[np.maximum(owner, 0)] == length_of_key)
        self._build_hash(keys[mine], ids[owner[mine]])

    def _slots(self, keys: IntArray) -> IntArray:
        product = keys.astype(np.uint64) * _MULTIPLIER  # wraps modulo 2**64, as meant
        return (product >> self._shift).astype(np.int64)

    def _build_hash(self, keys: IntArray, ids: IntArray) -> None:
        """Linear probing at a load factor under 1/2, filled in vectorised rounds: each round
        every pending key whose slot is free competes for it, one wins, the others move on."""
        bits = max(4, (2 * len(keys)).bit_length())
        self._mask = (1 << bits) - 1
        self._shift = np.uint64(64 - bits)
        self.table_keys = np.full(1 << bits, _EMPTY, dtype=np.int64)
        self.table_ids = np.full(1 << bits, _EMPTY, dtype=np.int64)
        slot = self._slots(keys)
        pending = np.arange(len(keys))
        while pending.size:
            wanted = slot[pending]
            free = self.table_keys[wanted] == _EMPTY
            _, first = np.unique(wanted[free], return_index=True)
            winners = pending[free][first]
            self.table_keys[slot[winners]] = keys[winners]
            self.table_ids[slot[winners]] = ids[winners]
            pending = pending[self.table_keys[slot[pending]] != keys[pending]]
            taken = self.table_keys[slot[pending]] != _EMPTY
            slot[pending[taken]] = (slot[pending[taken]] + 1) & self._mask

    def _find(self, keys: IntArray) -> IntArray:
        """Feature id of each key, -1 where the vocabulary does not have it."""
        found = np.full(len(keys), -1, dtype=np.int64)
        active = np.arange(len(keys))
        slot = self._slots(keys)
        while active.size:
            stored = self.table_keys[slot]
            hit = stored == keys[active]
            found[active[hit]] = self.table_ids[slot[hit]]
            going_on = ~hit & (stored != _EMPTY)
            active = active[going_on]
            slot = (slot[going_on] + 1) & self._mask
        return found

    def lookup(self, texts: Sequence[str]) -> tuple[IntArray, IntArray]:
        """(row, feature id) of every known Chinese n-gram occurrence in already normalised texts.

        Rows are positions in ``texts``; the pairs come in no particular order.
        """
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        points = _codepoints("\x00".join(texts))
        row_at = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)[: len(points)]
        cjk = _is_cjk(points)
        offsets = np.where(cjk, points - _BASE, 0)
        at1 = np.flatnonzero(cjk)
        ids1 = self.unigram[offsets[at1]]
        keys, at = _ngram_keys(offsets, cjk)
        ids = np.concatenate((ids1, self._find(keys)))
        rows = row_at[np.concatenate((at1, at))]
        known = ids >= 0
        return rows[known], ids[known]
