"""The MBPP tasks that no evaluation here reports: ids in neither MBPP+ nor MultiPL-E's MBPP sets.

Two slices, fixed before any measurement: ``measure`` (ids >= 601, 255 tasks) produces reported
figures; ``tune`` (ids < 601, 298 tasks) is the only place prompts or thresholds may be tuned.
"""

from __future__ import annotations

import re
from pathlib import Path

from xinstruct.eval.benchmarks import read_jsonl_gz
from xinstruct.eval.data import locate

SLICES = ("measure", "tune")


def free_ids(data: Path | None) -> set[int]:
    plus = {int(str(r["task_id"]).split("/")[1]) for r in read_jsonl_gz(locate("mbppplus/MbppPlus-v0.2.0.jsonl.gz", data))}
    mple: set[int] = set()
    root = locate("multipl-e/mbpp-py-reworded.jsonl.gz", data).parent
    for f in sorted(root.glob("mbpp-*-reworded.jsonl.gz")):
        for r in read_jsonl_gz(f):
            m = re.match(r"mbpp_(\d+)_", str(r["name"]))
            if m:
                mple.add(int(m.group(1)))
    everything = {int(str(r["task_id"]).split("/")[1])
                  for r in read_jsonl_gz(locate("mxeval/mbxp/mbpp_release_v1.jsonl.gz", data))}
    return everything - plus - mple


def number(task_id: str) -> int:
    return int(task_id.rsplit("/", 1)[1])


def in_slice(task_id: str, name: str) -> bool:
    return (number(task_id) >= 601) == (name == "measure")
