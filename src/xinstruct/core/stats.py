"""The exact sign test, in a neutral home: the experiment's paired comparisons and Inverse-Instruct's
yardstick both use it, and a stage must not import ``experiment``, which composes the stages."""

from __future__ import annotations

import math


def sign_test(gained: int, lost: int) -> float:
    """Two-sided exact sign (McNemar) test on the tasks that changed: the p-value under 'no effect'."""
    if gained < 0 or lost < 0:
        raise ValueError("counts must be >= 0")
    n, k = gained + lost, min(gained, lost)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
