"""Generation memory: a bounded, score-ordered pool of an agent's best samples.

Admission requires MinHash Jaccard similarity to every stored sample below a threshold (so the
pool stays diverse); when full, a better-scored newcomer evicts the lowest-scored sample. The
memory is a pure function of the samples offered in order, so a resumed run rebuilds it exactly,
and so is its journal of offers (what entered, what it evicted, what was turned away and why),
which the run drains once per round into ``memory_history.jsonl``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasketch import MinHash

from xinstruct.core.runs import atomic_write_json

NUM_PERM = 64
_TOKEN = re.compile(r"\w+|[^\w\s]")


def minhash(text: str) -> MinHash:
    """MinHash over word 3-grams (word unigrams for very short texts)."""
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    grams = {" ".join(tokens[i : i + 3]) for i in range(max(1, len(tokens) - 2))} if len(tokens) >= 3 else set(tokens)
    m = MinHash(num_perm=NUM_PERM, seed=1)
    for g in sorted(grams):
        m.update(g.encode("utf-8"))
    return m


def sample_text(sample: dict[str, Any]) -> str:
    return f"{sample.get('instruction') or ''}\n{sample.get('solution') or ''}"


@dataclass
class Memory:
    language: str
    size: int
    threshold: float
    items: list[dict[str, Any]] = field(default_factory=list)
    """Highest priority first; ties keep the earlier sample first."""
    _hashes: dict[str, MinHash] = field(default_factory=dict, repr=False)
    journal: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """Outcomes of the offers since the last :meth:`history_row`."""

    @staticmethod
    def priority(sample: dict[str, Any]) -> float:
        scores = sample.get("scores") or {}
        total = scores.get("total")
        return float(total) if total is not None else 0.0

    def max_similarity(self, sample: dict[str, Any]) -> tuple[float, str | None]:
        probe = minhash(sample_text(sample))
        best, best_id = 0.0, None
        for item in self.items:
            sim = probe.jaccard(self._hashes[item["id"]])
            if sim > best:
                best, best_id = sim, item["id"]
        return best, best_id

    def offer(self, sample: dict[str, Any]) -> tuple[bool, str]:
        """Try to admit a sample; returns (admitted, reason)."""
        sim, similar_to = self.max_similarity(sample)
        prio = self.priority(sample)
        if sim >= self.threshold:
            self.journal.append({"id": sample.get("id"), "outcome": "too_similar", "total": prio,
                                 "similar_to": similar_to, "similarity": round(sim, 3)})
            return False, "too_similar"
        evicted = None
        if len(self.items) >= self.size:
            lowest = self.items[-1]
            if prio <= self.priority(lowest):
                self.journal.append({"id": sample.get("id"), "outcome": "below_memory_floor", "total": prio,
                                     "floor": self.priority(lowest)})
                return False, "below_memory_floor"
            evicted = self.items.pop()
            self._hashes.pop(evicted["id"], None)
        entry = {k: sample.get(k) for k in ("id", "language", "agent", "round", "instruction", "solution", "tests", "scores", "verdict")}
        at = next((i for i, it in enumerate(self.items) if self.priority(it) < prio), len(self.items))
        self.items.insert(at, entry)
        self._hashes[entry["id"]] = minhash(sample_text(entry))
        self.journal.append({"id": entry["id"], "outcome": "entered", "total": prio,
                             "evicted": evicted["id"] if evicted else None})
        return True, f"admitted (evicted {evicted['id']})" if evicted else "admitted"

    def top(self, k: int = 1) -> list[dict[str, Any]]:
        return self.items[:k]

    def history_row(self, round_no: int) -> dict[str, Any]:
        """The memory after ``round_no`` (ids and totals, best first) and the round's offers; drains the journal."""
        offers, self.journal = self.journal, []
        return {
            "language": self.language, "round": round_no, "size": self.size,
            "items": [{"id": it["id"], "round": it.get("round"), "total": self.priority(it)} for it in self.items],
            "entered": [{"id": o["id"], "total": o["total"]} for o in offers if o["outcome"] == "entered"],
            "evicted": [o["evicted"] for o in offers if o["outcome"] == "entered" and o["evicted"]],
            "too_similar": [{k: o[k] for k in ("id", "total", "similar_to", "similarity")}
                            for o in offers if o["outcome"] == "too_similar"],
            "below_floor": [{"id": o["id"], "total": o["total"], "floor": o["floor"]}
                            for o in offers if o["outcome"] == "below_memory_floor"],
        }

    def to_dict(self) -> dict[str, Any]:
        return {"language": self.language, "size": self.size, "threshold": self.threshold, "items": self.items}

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.language}.json"
        atomic_write_json(path, self.to_dict())
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Memory:
        mem = cls(language=data["language"], size=int(data["size"]), threshold=float(data["threshold"]))
        for item in data.get("items", []):
            mem.items.append(item)
            mem._hashes[item["id"]] = minhash(sample_text(item))
        return mem
