"""The ledger of an agents run: the one place samples change the team's state and the run's counts.

Every produced sample, fresh or replayed from the shard on a resume, goes through
:meth:`Ledger.apply` in the same fixed order, so memories, reflections, kept/rejected rows and
statistics end the same whether the run was interrupted or not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from xinstruct.agents.collaborate import MAX_FAULTS, Agent, Team
from xinstruct.agents.config import AgentsConfig
from xinstruct.agents.memory import minhash, sample_text
from xinstruct.agents.rows import rejected_row, sft_row
from xinstruct.agents.scorer import DIMENSIONS, SCORE_KEYS, merits_and_faults
from xinstruct.core.pipeline import SkipLog
from xinstruct.core.records import Record
from xinstruct.data.decontam import Decontaminator
from xinstruct.llm.cached import CachedBackend

STAGE = "agents"


class Ledger:
    """Counts by language and by stage, score sums, and the kept and rejected rows."""

    def __init__(self, cfg: AgentsConfig, decontaminator: Decontaminator | None, memory_dir: Path) -> None:
        self.cfg = cfg
        self.decontaminator = decontaminator
        self.memory_dir = memory_dir
        self.stats: dict[str, Counter[str]] = defaultdict(Counter)
        self.stage_stats: dict[str, Counter[str]] = defaultdict(Counter)
        self.score_sums: dict[str, Counter[str]] = defaultdict(Counter)
        self.score_counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.kept: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []

    def apply(self, sample: dict[str, Any], agent: Agent, round_hashes: list[Any] | None) -> None:
        lang = agent.language
        st = self.stats[lang]
        st["proposed"] += 1
        st["tokens"] += sample.get("tokens", 0)
        st["new_tokens"] += sample.get("new_tokens", 0)
        st["seconds"] += sample.get("seconds", 0.0)
        stage = self.stage_stats[sample["stage"]]
        stage["proposed"] += 1
        scores = sample.get("scores")
        if scores:
            st["scored"] += 1
            for key in SCORE_KEYS:
                if key in scores:
                    self.score_sums[lang][key] += scores[key]
                    self.score_counts[lang][key] += 1
        elif sample.get("score_raw") is not None:
            st["score_unparseable"] += 1
        reason = None
        if sample.get("error"):
            reason = sample["error"]
        elif sample.get("verdict") != "passed":
            reason = str(sample.get("verdict"))
            agent.faults.append(f"{sample['verdict']} ({str(sample.get('verdict_message') or '')[:80]})")
        else:
            st["passed"] += 1
            stage["passed"] += 1
            st["passed_after_repair" if sample.get("repairs") else "passed_first_try"] += 1
            if round_hashes is not None:
                probe = minhash(sample_text(sample))
                if any(probe.jaccard(h) >= self.cfg.similarity for h in round_hashes):
                    reason = "duplicate_in_round"
                round_hashes.append(probe)
            if reason is None and scores and scores.get("total") is not None and scores["total"] < self.cfg.min_score:
                reason = "low_score"
            if reason is None and self.decontaminator is not None and self.decontaminator.overlaps(sample_text(sample)):
                reason = "benchmark_overlap"
        if self.cfg.reflection:
            _, faults = merits_and_faults(scores)
            if faults and sample.get("verdict") == "passed":
                agent.faults.append("weak " + ", ".join(faults))
        if reason is not None:
            st[f"rejected.{reason}"] += 1
            stage["rejected"] += 1
            self.rejected.append(rejected_row(sample, reason))
        else:
            st["kept"] += 1
            stage["kept"] += 1
            self.kept.append(sft_row(sample))
            if self.cfg.memory:
                admitted, why = agent.memory.offer(sample)
                st["admitted" if admitted else f"memory.{why}"] += 1
                if admitted:
                    agent.memory.save(self.memory_dir)

    def summary(self, team: Team, inputs: list[Record], skips: SkipLog, dpo_rows: list[dict[str, Any]], wall: float,
                backend: CachedBackend) -> dict[str, Any]:
        per_language = {}
        for lang in self.cfg.languages:
            st = self.stats[lang]
            rejected = {k.split(".", 1)[1]: v for k, v in sorted(st.items()) if k.startswith("rejected.")}
            mean = {k: round(self.score_sums[lang][k] / self.score_counts[lang][k], 2)
                    for k in SCORE_KEYS if self.score_counts[lang][k]}
            per_language[lang] = {
                "proposed": st["proposed"], "passed": st["passed"], "passed_first_try": st["passed_first_try"],
                "passed_after_repair": st["passed_after_repair"], "kept": st["kept"],
                "rejected": rejected, "rejected_total": sum(rejected.values()),
                "admitted": st["admitted"],
                "not_admitted": {k.split(".", 1)[1]: v for k, v in st.items() if k.startswith("memory.")},
                "memory_size": len(team.agents[lang].memory.items),
                "scored": st["scored"], "score_unparseable": st["score_unparseable"], "mean_scores": mean,
                "tokens": st["tokens"], "new_tokens": st["new_tokens"], "seconds": round(st["seconds"], 1),
                "dpo_pairs": st["dpo_pairs"], "seed_snippets": len(team.agents[lang].snippets),
            }
        totals: Counter[str] = Counter()
        for row in per_language.values():
            for key in ("proposed", "passed", "passed_first_try", "passed_after_repair", "kept", "rejected_total",
                        "admitted", "tokens", "new_tokens", "dpo_pairs"):
                totals[key] += row[key]
        return {
            "stage": STAGE,
            "mode": self.cfg.mode,
            "memory": self.cfg.memory,
            "reflection": self.cfg.reflection,
            "inputs": len(inputs),
            "skipped_inputs": dict(skips.counts),
            "per_language": per_language,
            "by_stage": {k: dict(v) for k, v in sorted(self.stage_stats.items())},
            "totals": dict(totals),
            "pass_rate": round(totals["passed"] / totals["proposed"], 3) if totals["proposed"] else None,
            "first_try_pass_rate": round(totals["passed_first_try"] / totals["proposed"], 3) if totals["proposed"] else None,
            "tokens_per_kept": round(totals["tokens"] / totals["kept"], 1) if totals["kept"] else None,
            "dpo_rows": len(dpo_rows),
            "llm_calls": {"new": backend.new_calls, "cached": backend.cached_calls,
                          "retries": backend.retries_by_kind()},
            "wall_seconds": round(wall, 1),
            "dimensions": list(DIMENSIONS),
            "max_faults_in_prompt": MAX_FAULTS,
        }
