"""The end-to-end loop on the embedded model, now ``configs/experiments/e2e_inverse.yaml``.

    XINSTRUCT_DATA=../shared/benchmarks python benchmarks/e2e_inverse_sft.py --out runs/e2e [--seed 1 ...]

runs ``xinstruct experiment configs/experiments/e2e_inverse.yaml`` with the given options (any
top-level key of the config, see ``xinstruct experiment --help``); phases, resumption, the sign
test and the report live in ``xinstruct.experiment`` (docs/training.md, "End-to-end experiment").
The first run (docs/results.md) used this script's earlier form with ``--limit 128``, now the
config's ``inverse.limit``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from xinstruct.cli import main

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "experiments" / "e2e_inverse.yaml"

if __name__ == "__main__":
    main(["experiment", str(CONFIG), *sys.argv[1:]])
