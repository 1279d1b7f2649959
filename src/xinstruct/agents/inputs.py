"""Input selection: the code snippets the agents start from, in their languages."""

from __future__ import annotations

from pathlib import Path

from xinstruct.core.extraction import Snippet, snippet_of
from xinstruct.core.languages import normalize_language
from xinstruct.core.pipeline import SkipLog
from xinstruct.core.records import Record
from xinstruct.data.decontam import Decontaminator, DropContaminated
from xinstruct.readers import ReaderConfig, read_input


def code_inputs(path: str | Path, languages: list[str], limit: int | None, skips: SkipLog,
                reader_cfg: ReaderConfig, decontaminator: Decontaminator | None = None) -> list[Record]:
    """Code snippets in the agents' languages, found as every stage finds them
    (``core/extraction.py``). The first ``limit`` usable snippets, in input order."""
    out: list[Record] = []
    step = DropContaminated(decontaminator) if decontaminator is not None else None
    records = read_input(path, reader_cfg, skips)
    for record in step(records) if step is not None else records:
        found = snippet_of(record.data)
        code = found.code if isinstance(found, Snippet) else None
        language = found.language if isinstance(found, Snippet) else None
        language = normalize_language(language) if isinstance(language, str) else None
        if not code or not code.strip():
            skips.add("agents", "no_code", record_id=record.id, detail=found if isinstance(found, str) else "")
            continue
        if language not in languages:
            skips.add("agents", "language_not_selected", record_id=record.id, detail=str(language))
            continue
        out.append(Record(id=record.id, data={"code": code, "language": language}, provenance=record.provenance))
        if limit is not None and len(out) >= limit:
            break
    if step is not None:
        skips.merge(step.skips)
    return out
