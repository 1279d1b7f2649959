"""Paired comparisons of two models on the same tasks: per-task gained/lost and the exact sign test.

Pass@1 differences of a few points on 164 tasks are within noise; counting the tasks one model
solves and the other does not, and asking how likely that split is under "no effect", is the
paired test that uses what the evaluation actually measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from xinstruct.core.stats import sign_test

__all__ = ["Paired", "paired", "sign_test"]


@dataclass(frozen=True)
class Paired:
    """How ``a`` compares with ``b`` on the tasks both were scored on."""

    tasks: int
    gained: int
    lost: int
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired(a: Mapping[str, float], b: Mapping[str, float], *, higher_is_better: bool = True) -> Paired:
    """Tasks where ``a`` beats ``b`` (gained) or trails it (lost), over the task ids both have.

    Values are per-task scores: the fraction of samples passed (0/1 when greedy) or, with
    ``higher_is_better=False``, a loss such as a solution's negative log-likelihood.
    """
    both = sorted(set(a) & set(b))
    sign = 1 if higher_is_better else -1
    gained = sum(1 for t in both if sign * (a[t] - b[t]) > 0)
    lost = sum(1 for t in both if sign * (a[t] - b[t]) < 0)
    return Paired(tasks=len(both), gained=gained, lost=lost, p_value=sign_test(gained, lost))
