#!/usr/bin/env bash
# Unpack llama.cpp's HF -> GGUF converter (convert_hf_to_gguf.py, conversion/, gguf-py/) from the
# llama-cpp-python source distribution on PyPI into ~/.cache/xinstruct/llama.cpp, where
# `xinstruct train export --gguf` finds it. Uses only pip (PyPI); idempotent.
set -euo pipefail
VERSION="${1:-0.3.36}"   # keep in step with the llamacpp extra in pyproject.toml
PY="${PYTHON:-.venv/bin/python}"
DEST="${XDG_CACHE_HOME:-$HOME/.cache}/xinstruct/llama.cpp"
if [ -f "$DEST/convert_hf_to_gguf.py" ] && [ "$(cat "$DEST/VERSION" 2>/dev/null)" = "$VERSION" ]; then
  echo "converter already at $DEST"; exit 0
fi
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
# --no-binary gets the sdist, which vendors llama.cpp's sources; pip builds only its metadata.
"$PY" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$TMP"
SRC="llama_cpp_python-$VERSION/vendor/llama.cpp"
tar xzf "$TMP/llama_cpp_python-$VERSION.tar.gz" -C "$TMP" \
  "$SRC/convert_hf_to_gguf.py" "$SRC/gguf-py" "$SRC/conversion"
rm -rf "$DEST.tmp" && mkdir -p "$DEST.tmp"
cp -r "$TMP/$SRC/convert_hf_to_gguf.py" "$TMP/$SRC/gguf-py" "$TMP/$SRC/conversion" "$DEST.tmp/"
echo "$VERSION" > "$DEST.tmp/VERSION"
rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"
echo "converter unpacked to $DEST"
