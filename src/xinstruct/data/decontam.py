"""Benchmark decontamination: word n-gram shingles of every benchmark prompt and solution.

``export_ngrams`` writes them once (JSON, hashed shingles); :class:`Decontaminator` loads that file
(or builds from tasks) and answers whether a training text shares shingles with any benchmark text.
Words are lower-cased alphanumeric tokens, so formatting and punctuation changes do not hide a copy.
The data stages (``inverse``, ``agents``, ``train sft``) take ``--decontaminate`` and drop, and
count, every input or sample that shares an n-gram with the named benchmarks: as the
:class:`DropContaminated` step on records, or through :meth:`Decontaminator.overlaps` on other rows.
Benchmarks named by ``--decontaminate`` are read by ``eval.benchmarks``' loaders (imported only then).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from xinstruct.core.errors import InputError
from xinstruct.core.pipeline import Step
from xinstruct.core.records import Record
from xinstruct.core.runs import atomic_write_json

_WORD = re.compile(r"[A-Za-z0-9_]+")
NGRAM = 13


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _h(gram: tuple[str, ...]) -> int:
    return int.from_bytes(hashlib.blake2b(" ".join(gram).encode(), digest_size=8).digest(), "big")


def shingles(text: str, n: int = NGRAM) -> set[int]:
    """Hashed word n-grams of ``text``; a text shorter than n words gives its whole word sequence."""
    w = words(text)
    if not w:
        return set()
    if len(w) < n:
        return {_h(tuple(w))}
    return {_h(tuple(w[i : i + n])) for i in range(len(w) - n + 1)}


def benchmark_texts(names: Iterable[str], data: Path | None = None) -> list[str]:
    """Prompts, canonical solutions and tests of the named benchmarks."""
    from xinstruct.eval.benchmarks import load_tasks, parse_benchmark

    texts: list[str] = []
    for name in names:
        for t in load_tasks(parse_benchmark(name), data):
            texts.append(t.prompt)
            if t.canonical:
                texts.append(t.prompt + t.canonical)
    return texts


class Decontaminator:
    """``overlaps(text)`` is True when the text shares at least ``threshold`` of its n-grams with a benchmark."""

    def __init__(self, grams: set[int], n: int = NGRAM, threshold: float = 0.0) -> None:
        self.grams = grams
        self.n = n
        self.threshold = threshold

    @classmethod
    def from_texts(cls, texts: Iterable[str], n: int = NGRAM, threshold: float = 0.0) -> Decontaminator:
        grams: set[int] = set()
        for t in texts:
            grams |= shingles(t, n)
        return cls(grams, n, threshold)

    @classmethod
    def from_benchmarks(cls, names: Iterable[str], data: Path | None = None, n: int = NGRAM,
                        threshold: float = 0.0) -> Decontaminator:
        return cls.from_texts(benchmark_texts(names, data), n, threshold)

    @classmethod
    def load(cls, path: str | Path, threshold: float = 0.0) -> Decontaminator:
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls({int(x, 16) for x in d["ngrams"]}, int(d["n"]), threshold)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not an n-gram file from 'xinstruct eval decontam-export' ({exc})", str(path)) from exc

    @classmethod
    def from_specs(cls, specs: Iterable[str], data: Path | None = None) -> Decontaminator | None:
        """From ``--decontaminate`` values: n-gram files and/or benchmark names (loaded like
        ``xinstruct eval`` loads them: ``XINSTRUCT_DATA``, the cache, or a download). None if empty."""
        specs = list(specs)
        if not specs:
            return None
        grams: set[int] = set()
        names = []
        for spec in specs:
            if Path(spec).is_file():
                loaded = cls.load(spec)
                if loaded.n != NGRAM:
                    raise InputError(f"n-gram size {loaded.n}; the data stages compare {NGRAM}-word n-grams", spec)
                grams |= loaded.grams
            else:
                names.append(spec)
        if names:
            grams |= cls.from_benchmarks(names, data).grams
        return cls(grams)

    def ratio(self, text: str) -> float:
        """Share of the text's n-grams found in the benchmarks (0.0 for empty text)."""
        mine = shingles(text, self.n)
        return len(mine & self.grams) / len(mine) if mine else 0.0

    def overlaps(self, text: str) -> bool:
        """Any shared n-gram (threshold 0) or a shared share above ``threshold``."""
        return self.ratio(text) > self.threshold


class DropContaminated(Step):
    """Drops records whose text fields share an n-gram with a benchmark (reason ``benchmark_overlap``)."""

    name = "decontaminate"

    def __init__(self, decontaminator: Decontaminator, fields: tuple[str, ...] = ("instruction", "response", "code")) -> None:
        super().__init__()
        self.decontaminator = decontaminator
        self.fields = fields

    def run(self, records: Iterable[Record], rank: int = 0, world_size: int = 1) -> Iterator[Record]:
        for record in records:
            text = "\n".join(str(record.data[f]) for f in self.fields if record.data.get(f))
            ratio = self.decontaminator.ratio(text)
            if ratio > self.decontaminator.threshold:
                self.drop(record, "benchmark_overlap", detail=f"{ratio:.1%} of its {self.decontaminator.n}-grams")
                continue
            yield record


def export_ngrams(names: list[str], out: Path, n: int = NGRAM, data: Path | None = None) -> dict[str, Any]:
    texts = benchmark_texts(names, data)
    dec = Decontaminator.from_texts(texts, n)
    payload = {"n": n, "benchmarks": names, "hash": "blake2b-64 of lower-cased words joined by spaces",
               "texts": len(texts), "ngrams": sorted(f"{g:016x}" for g in dec.grams)}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, payload)
    return {"texts": len(texts), "ngrams": len(dec.grams)}
