"""Training data: load, validate, split by curriculum stage, and tokenize with assistant-only labels.

Bad rows are refused (with file and row) rather than skipped: a silently shrunk training set is
harder to notice than an error. Only over-length rows are handled by policy (drop and count, or
truncate), since their number depends on ``max_length``, not on the data being wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from xinstruct.core.errors import InputError

ROLES = ("system", "user", "assistant")


@dataclass
class Conversation:
    """One SFT example and where it came from (for error messages and the model card)."""

    messages: list[dict[str, str]]
    stage: int | None
    path: str
    row: int


@dataclass
class PreferencePair:
    prompt: list[dict[str, str]]
    chosen: list[dict[str, str]]
    rejected: list[dict[str, str]]
    path: str
    row: int


@dataclass
class EncodeStats:
    """What tokenization did to the rows; reported by the CLI and written to the model card."""

    kept: int = 0
    dropped_overlong: int = 0
    truncated: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    longest: int = 0
    dropped_rows: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["dropped_rows"] = self.dropped_rows[:20]
        return d


def file_digest(path: Path) -> str:
    """sha256 of a data file, or of a saved-dataset directory's files (for the model card)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row number, row)`` from JSONL (line numbers), JSON list, Parquet, or a ``save_to_disk`` dir."""
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", path=str(p))
    if p.is_dir():
        if not any((p / marker).exists() for marker in ("dataset_info.json", "dataset_dict.json", "state.json")):
            raise InputError("a directory is read only as a saved Hugging Face dataset (save_to_disk), and this one "
                             "has no dataset_info.json or dataset_dict.json; give .jsonl, .json or .parquet files",
                             path=str(p))
        try:
            from datasets import DatasetDict, load_from_disk
        except ImportError as exc:
            raise InputError("reading a saved dataset needs `datasets`: pip install 'xinstruct[hf]'", str(p)) from exc
        ds = load_from_disk(str(p))
        if isinstance(ds, DatasetDict):
            if "train" not in ds:
                raise InputError(f"saved DatasetDict has no 'train' split (has {', '.join(ds)})", path=str(p))
            ds = ds["train"]
        for i, row in enumerate(ds, start=1):
            yield i, dict(row)
        return
    suffix = "".join(p.suffixes[-2:]) if p.suffix == ".gz" else p.suffix
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(p)
        except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
            raise InputError(f"not a readable Parquet file: {exc}", path=str(p)) from exc
        for i, row in enumerate(table.to_pylist(), start=1):
            yield i, row
    elif suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise InputError(f"not valid UTF-8 at byte {exc.start}", path=str(p)) from exc
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON (column {exc.colno}): {exc.msg}", str(p), exc.lineno) from exc
        except RecursionError as exc:
            raise InputError("JSON nested too deeply to read", path=str(p)) from exc
        if not isinstance(data, list):
            raise InputError("a .json data file must hold a list of rows", path=str(p))
        for i, row in enumerate(data, start=1):
            yield i, row
    elif suffix in (".jsonl", ".ndjson"):
        with open(p, "rb") as fh:
            for i, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    yield i, json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise InputError(f"not valid UTF-8 at byte {exc.start} of the line", str(p), i) from exc
                except json.JSONDecodeError as exc:
                    raise InputError(f"invalid JSON ({exc.msg})", str(p), i) from exc
                except RecursionError as exc:
                    raise InputError("JSON nested too deeply to read", str(p), i) from exc
    else:
        raise InputError("unknown data format; use .jsonl, .json, .parquet or a saved-dataset directory", path=str(p))


def evaluation_only_reason(row: dict[str, Any]) -> str | None:
    """Why a row must never be trained on (benchmark data licensed for evaluation only), if it is such a row."""
    for key in ("source", "benchmark"):
        value = row.get(key)
        if isinstance(value, str) and value.strip().lower().startswith("multipl-e"):
            return f"{key}={value!r} is the MultiPL-E benchmark"
    lic = row.get("license")
    if isinstance(lic, str):
        text = lic.lower().replace("_", "-")
        if "evaluation-only" in text or "evaluation only" in text or "eval-only" in text:
            return f"license={lic!r}"
    return None


def _refuse_eval_only(row: dict[str, Any], path: str, n: int) -> None:
    reason = evaluation_only_reason(row)
    if reason:
        raise InputError(
            f"row {n}: evaluation-only data may not be used for training ({reason}); remove these rows", path=path
        )


def _check_messages(value: Any, path: str, n: int, what: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise InputError(f"row {n}: '{what}' must be a non-empty list of {{role, content}} messages", path=path)
    out = []
    for j, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise InputError(
                f"row {n}: {what}[{j}] must be {{'role': one of {'/'.join(ROLES)}, 'content': str}}, got {m!r:.120}",
                path=path,
            )
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _object_rows(paths: Sequence[str | Path]) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Every row of every file, each an object from a trainable source; a file without rows is an error."""
    for path in paths:
        sp = str(path)
        count = 0
        for n, row in read_rows(path):
            if not isinstance(row, dict):
                raise InputError(f"row {n}: expected an object, got {type(row).__name__}", path=sp)
            _refuse_eval_only(row, sp, n)
            count += 1
            yield sp, n, row
        if count == 0:
            raise InputError("no rows", path=sp)


def load_sft(paths: Sequence[str | Path]) -> list[Conversation]:
    """Validated conversations from every file, in file order."""
    out: list[Conversation] = []
    for sp, n, row in _object_rows(paths):
        if "messages" not in row:
            raise InputError(f"row {n}: no 'messages' field (keys: {', '.join(map(str, row))})", path=sp)
        msgs = _check_messages(row["messages"], sp, n, "messages")
        roles = [m["role"] for m in msgs]
        if "user" not in roles:
            raise InputError(f"row {n}: no user turn (roles: {', '.join(roles)})", path=sp)
        if "assistant" not in roles:
            raise InputError(f"row {n}: no assistant turn to learn from (roles: {', '.join(roles)})", path=sp)
        for m in msgs:
            if m["role"] == "assistant" and not m["content"].strip():
                raise InputError(f"row {n}: empty assistant answer", path=sp)
        if roles[-1] != "assistant":
            raise InputError(f"row {n}: the last turn is '{roles[-1]}', not the assistant's answer", path=sp)
        stage = row.get("stage")
        if stage is not None:
            try:
                stage = int(stage)
            except (TypeError, ValueError) as exc:
                raise InputError(f"row {n}: stage must be 1 or 2, got {stage!r}", path=sp) from exc
            if stage not in (1, 2):
                raise InputError(f"row {n}: stage must be 1 (generated) or 2 (original), got {stage}", path=sp)
        out.append(Conversation(messages=msgs, stage=stage, path=sp, row=n))
    return out


Row = TypeVar("Row", "Conversation", "PreferencePair")


def drop_contaminated(
    rows: Sequence[Row], specs: Sequence[str], log: Callable[[str], Any], path: str
) -> tuple[list[Row], dict[str, Any] | None]:
    """The rows (conversations or preference pairs) whose text shares no n-gram with the benchmarks
    ``specs`` names, and what was dropped; refuses to return nothing."""
    from xinstruct.data.decontam import Decontaminator

    dec = Decontaminator.from_specs(specs)
    if dec is None:
        return list(rows), None
    kept, dropped = [], []
    for r in rows:
        turns = r.messages if isinstance(r, Conversation) else [*r.prompt, *r.chosen, *r.rejected]
        if dec.overlaps("\n".join(m["content"] for m in turns if m["role"] != "system")):
            dropped.append(f"{r.path}:row {r.row}")
        else:
            kept.append(r)
    log(f"decontamination against {', '.join(specs)}: dropped {len(dropped)} row(s)"
        + (f" (e.g. {dropped[0]})" if dropped else ""))
    if not kept:
        raise InputError("every row overlaps a benchmark named by --decontaminate; nothing to train on", path)
    return kept, {"against": list(specs), "dropped": len(dropped), "dropped_rows": dropped[:20]}


def _as_messages(value: Any, role: str, path: str, n: int, what: str) -> list[dict[str, str]]:
    """TRL accepts plain strings or message lists; normalise to messages so the chat template applies."""
    if isinstance(value, str):
        if not value.strip():
            raise InputError(f"row {n}: empty '{what}'", path=path)
        return [{"role": role, "content": value}]
    msgs = _check_messages(value, path, n, what)
    if role == "assistant" and not "".join(m["content"] for m in msgs if m["role"] == "assistant").strip():
        raise InputError(f"row {n}: empty '{what}' answer", path=path)
    return msgs


def load_pairs(paths: Sequence[str | Path]) -> list[PreferencePair]:
    """Validated DPO pairs (TRL's prompt/chosen/rejected format, conversational or plain strings)."""
    out: list[PreferencePair] = []
    for sp, n, row in _object_rows(paths):
        missing = [k for k in ("prompt", "chosen", "rejected") if k not in row]
        if missing:
            raise InputError(f"row {n}: missing {', '.join(missing)} (a DPO pair needs prompt, chosen, rejected)", sp)
        prompt = _as_messages(row["prompt"], "user", sp, n, "prompt")
        if prompt[-1]["role"] == "assistant":
            raise InputError(f"row {n}: the prompt ends with an assistant turn", path=sp)
        chosen = _as_messages(row["chosen"], "assistant", sp, n, "chosen")
        rejected = _as_messages(row["rejected"], "assistant", sp, n, "rejected")
        if chosen == rejected:
            raise InputError(f"row {n}: chosen and rejected are identical", path=sp)
        out.append(PreferencePair(prompt=prompt, chosen=chosen, rejected=rejected, path=sp, row=n))
    return out


def split_stages(rows: Sequence[Conversation], curriculum: str) -> list[tuple[str, list[Conversation]]]:
    """The curriculum's stages in training order: stage 1 (generated) before stage 2 (original)."""
    if curriculum == "mixed" or all(r.stage is None for r in rows):
        return [("mixed" if curriculum == "mixed" else "all", list(rows))]
    unstaged = [r for r in rows if r.stage is None]
    if unstaged:
        r = unstaged[0]
        raise InputError(
            f"row {r.row}: has no stage while other rows do; the two-stage curriculum needs a stage "
            "(1 = generated, 2 = original) on every row, or use --curriculum mixed",
            path=r.path,
        )
    stages = [(f"stage{s}", [r for r in rows if r.stage == s]) for s in (1, 2)]
    return [(name, part) for name, part in stages if part]


def assistant_spans(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of each assistant reply (through end-of-turn).

    Found by rendering growing prefixes of the conversation, so it works with templates that have no
    ``{% generation %}`` markers (Qwen2.5's). A template that re-renders earlier turns differently
    (e.g. strips reasoning) breaks the prefix property and is refused rather than mis-masked.
    """
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True) if i else ""
        through = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not (through.startswith(before) and full.startswith(through)):
            raise InputError(
                "the chat template does not render the conversation as growing prefixes; "
                "cannot find the assistant tokens to train on"
            )
        # Learn the reply and the end-of-turn token, not the whitespace the template puts after it.
        spans.append((len(before), len(through.rstrip())))
    return full, spans


def encode_conversation(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """``input_ids`` and ``labels`` where every non-assistant token is -100."""
    text, spans = assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = [
        tid if any(s <= start < e for s, e in spans) else -100
        for tid, (start, _end) in zip(ids, enc["offset_mapping"], strict=True)
    ]
    return ids, labels


def encode_rows(
    tokenizer: Any, rows: Sequence[Conversation], max_length: int, overlong: str
) -> tuple[list[dict[str, list[int]]], EncodeStats]:
    """Tokenize rows for the trainer; over-length rows are dropped or truncated per ``overlong``."""
    if not getattr(tokenizer, "is_fast", False):
        raise InputError("assistant-only masking needs a fast tokenizer (offset mapping)")
    stats = EncodeStats()
    out = []
    for r in rows:
        ids, labels = encode_conversation(tokenizer, r.messages)
        stats.longest = max(stats.longest, len(ids))
        if len(ids) > max_length:
            if overlong == "drop":
                stats.dropped_overlong += 1
                stats.dropped_rows.append(f"{r.path}:row {r.row} ({len(ids)} tokens)")
                continue
            ids, labels = ids[:max_length], labels[:max_length]
            if all(x == -100 for x in labels):
                stats.dropped_overlong += 1
                stats.dropped_rows.append(f"{r.path}:row {r.row} (prompt alone exceeds {max_length} tokens)")
                continue
            stats.truncated += 1
        stats.kept += 1
        stats.tokens += len(ids)
        stats.trained_tokens += sum(1 for x in labels if x != -100)
        out.append({"input_ids": ids, "labels": labels})
    return out, stats
