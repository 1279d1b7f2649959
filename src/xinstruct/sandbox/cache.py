"""Content-addressed cache of compiled artifacts (and of compile errors).

Generation loops re-run identical programs (retries, re-evaluation, the same tests against the same
solution); javac, rustc and g++ cost 0.5-3 s a job, so a hit saves most of the job's time.
Entries are directories written under a temporary name and renamed into place, so concurrent
writers never expose half an entry.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xinstruct" / "compile"


@dataclass(frozen=True)
class CacheEntry:
    ok: bool
    stderr: str
    seconds: float
    path: Path


def cache_key(language: str, toolchain: str, command: tuple[str, ...], files: dict[str, str]) -> str:
    """Hash of everything that determines the artifact: toolchain identity, command and sources."""
    h = hashlib.sha256()
    for part in (language, toolchain, "\0".join(command)):
        h.update(part.encode() + b"\1")
    for name in sorted(files):
        h.update(name.encode() + b"\2" + files[name].encode() + b"\3")
    return h.hexdigest()


class CompileCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()

    def _dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> CacheEntry | None:
        d = self._dir(key)
        try:
            meta = json.loads((d / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        return CacheEntry(bool(meta["ok"]), meta.get("stderr", ""), float(meta.get("seconds", 0.0)), d)

    def put(
        self, key: str, ok: bool, stderr: str, seconds: float, workdir: Path, patterns: tuple[str, ...]
    ) -> None:
        final = self._dir(key)
        if final.exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
        try:
            if ok:
                for name in os.listdir(workdir):
                    src = workdir / name
                    if src.is_file() and not src.is_symlink() and any(fnmatch.fnmatch(name, p) for p in patterns):
                        shutil.copy2(src, tmp / name)
            (tmp / "meta.json").write_text(json.dumps({"ok": ok, "stderr": stderr, "seconds": seconds}))
            os.rename(tmp, final)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # lost a race with another writer or disk full: no entry

    @staticmethod
    def restore(entry: CacheEntry, workdir: Path) -> None:
        for src in entry.path.iterdir():
            if src.name != "meta.json":
                shutil.copy2(src, workdir / src.name)
