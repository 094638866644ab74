"""The previous infringement-risk screening (kept only as the baseline of
``python -m rules.evaluate_screening``): TF-IDF cosine between new documents and an
enterprise's own patents and product descriptions, one threshold for everything.

The threshold is not a magic number: it is a high percentile of the cosine between random
pairs of unrelated background documents (packaged gazette titles plus stored documents), so a
hit means "closer than 99.5% of random pairs". The result is a score and the overlapping terms,
a reason to look, never a legal finding of infringement.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ahocorasick
import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from rules.query import fold_text

#: words that say nothing about the technology (patent boilerplate)
STOPWORDS = frozenset(
    [
        "一种",
        "方法",
        "装置",
        "系统",
        "及其",
        "所述",
        "包括",
        "用于",
        "设置",
        "以及",
        "其中",
        "具有",
        "进行",
        "通过",
        "一个",
        "相应",
        "其特征",
        "特征",
        "所述的",
        "根据",
        "本发明",
        "本实用新型",
        "实用新型",
        "发明",
        "用途",
        "制备",
        "应用",
        "结构",
        "the",
        "and",
        "for",
        "with",
        "of",
        "a",
        "an",
        "to",
        "in",
        "on",
    ]
)


@cache
def _jieba() -> object:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """jieba words of two or more characters, boilerplate removed."""
    jieba = _jieba()
    # no HMM new-word discovery: 30% faster, and stable tokens for short titles
    words = jieba.lcut(fold_text(text), HMM=False)  # type: ignore[attr-defined]
    return [w for w in words if len(w.strip()) >= 2 and w not in STOPWORDS and not w.isdigit()]


@cache
def background_titles() -> tuple[str, ...]:
    text = (
        resources.files("rules").joinpath("data/background_titles.txt").read_text(encoding="utf-8")
    )
    return tuple(line for line in text.splitlines() if line.strip())


@dataclass(frozen=True)
class SimilarityHit:
    score: float
    #: which own patent or product it resembles ("product 1", "CN112345678B")
    against: str
    overlapping_terms: tuple[str, ...]
    #: share of random background pairs with a lower score (0..100)
    percentile: float

    def explain(self, threshold: float, threshold_percentile: float) -> dict[str, object]:
        return {
            "score": round(self.score, 3),
            "threshold": round(threshold, 3),
            "threshold_percentile": threshold_percentile,
            "percentile": round(self.percentile, 2),
            "against": self.against,
            "overlapping_terms": list(self.overlapping_terms),
            "note": "text similarity for screening only; not a legal assessment of infringement",
        }


class BaselineScreen:
    """Profiles (subscription key -> labelled texts) fitted against a background corpus."""

    def __init__(
        self,
        profiles: dict[str, list[tuple[str, str]]],
        background: list[str] | None = None,
        *,
        percentile: float = 99.5,
        floor: float = 0.2,
        min_overlap: int = 2,
        pairs: int = 3000,
        seed: int = 0,
    ) -> None:
        corpus = list(background_titles()) + list(background or [])
        items = [
            (key, label, text)
            for key, texts in profiles.items()
            for label, text in texts
            if text.strip()
        ]
        self.vectorizer = TfidfVectorizer(
            tokenizer=tokenize, lowercase=False, token_pattern=None, sublinear_tf=True, min_df=1
        )
        matrix = self.vectorizer.fit_transform(corpus + [t for _, _, t in items])
        self.terms = self.vectorizer.get_feature_names_out()
        background_matrix = matrix[: len(corpus)]
        self.profile_matrix = sparse.csr_matrix(matrix[len(corpus) :])
        self.profile_keys = [key for key, _, _ in items]
        self.profile_labels = [label for _, label, _ in items]
        rng = random.Random(seed)
        n = background_matrix.shape[0]
        left = [rng.randrange(n) for _ in range(pairs)]
        right = [rng.randrange(n) for _ in range(pairs)]
        scores = np.asarray(
            background_matrix[left].multiply(background_matrix[right]).sum(axis=1)
        ).ravel()
        self.background_scores = np.sort(scores)
        self.percentile = percentile
        self.min_overlap = min_overlap
        self.threshold = max(floor, float(np.percentile(scores, percentile)))
        self._build_vocabulary()

    @property
    def empty(self) -> bool:
        return self.profile_matrix.shape[0] == 0

    def _build_vocabulary(self) -> None:
        """An automaton over every profile word, to skip texts that cannot share enough of them."""
        self._vocabulary = ahocorasick.Automaton()
        coo = self.profile_matrix.tocoo()
        owners: dict[str, set[int]] = {}
        for row, col in zip(coo.row, coo.col, strict=True):
            owners.setdefault(str(self.terms[col]), set()).add(int(row))
        for term, rows in owners.items():
            self._vocabulary.add_word(term, (term, frozenset(rows)))
        if owners:
            self._vocabulary.make_automaton()

    def _may_overlap(self, text: str) -> bool:
        """Exact pre-filter: a hit needs ``min_overlap`` shared words, and a shared word is
        always a substring of the folded text, so texts containing fewer profile words as
        substrings are skipped without the (slow) jieba tokenisation."""
        if not len(self._vocabulary):
            return False
        seen: dict[int, set[str]] = {}
        for _, (term, rows) in self._vocabulary.iter(fold_text(text)):
            for row in rows:
                words = seen.setdefault(row, set())
                words.add(term)
                if len(words) >= self.min_overlap:
                    return True
        return False

    def percentile_of(self, score: float) -> float:
        below = np.searchsorted(self.background_scores, score, side="left")
        return 100.0 * float(below) / max(1, len(self.background_scores))

    def screen(self, texts: list[str]) -> list[dict[str, SimilarityHit]]:
        """For each text: subscription key -> its best hit at or above the threshold."""
        results: list[dict[str, SimilarityHit]] = [{} for _ in texts]
        if self.empty or not texts:
            return results
        keep = [i for i, text in enumerate(texts) if self._may_overlap(text)]
        if not keep:
            return results
        docs = self.vectorizer.transform([texts[i] for i in keep])
        scores = sparse.csr_matrix(docs @ self.profile_matrix.T)
        for row in range(scores.shape[0]):
            start, end = scores.indptr[row], scores.indptr[row + 1]
            for col, score in zip(scores.indices[start:end], scores.data[start:end], strict=True):
                if score < self.threshold:
                    continue
                key = self.profile_keys[col]
                best = results[keep[row]].get(key)
                if best is None or score > best.score:
                    overlap = self._overlap(docs[row], col)
                    if len(overlap) < self.min_overlap:
                        continue  # one shared word in a short title is no evidence
                    results[keep[row]][key] = SimilarityHit(
                        score=float(score),
                        against=self.profile_labels[col],
                        overlapping_terms=overlap,
                        percentile=self.percentile_of(float(score)),
                    )
        return results

    def _overlap(
        self, doc_row: sparse.csr_matrix, profile_index: int, top: int = 8
    ) -> tuple[str, ...]:
        product = doc_row.multiply(self.profile_matrix[profile_index]).tocoo()
        order = np.argsort(-product.data)[:top]
        return tuple(str(self.terms[product.col[i]]) for i in order)
