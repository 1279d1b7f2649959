#!/usr/bin/env bash
# Builds llama-cpp-python (the version pyproject.toml pins) for this CPU without AMX and installs it
# into the given Python's environment. Why: on AMX CPUs (Sapphire Rapids and later) llama.cpp's
# AMX matmul segfaults on the first decode of Q4_K_M weights (ggml-org/llama.cpp#20824; seen here
# with 0.3.36), and a plain `pip install` compiles it in with -march=native. pip's own wheel cache
# does not key on CMAKE_ARGS, so the wheel is cached here under a key of version, flags and CPU.
set -euo pipefail
PY="${1:?usage: install-llama-cpp.sh PYTHON}"
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$here/../pyproject.toml" | head -n 1)"
[ -n "$version" ] || { echo "install-llama-cpp.sh: no llama-cpp-python==X pin in pyproject.toml" >&2; exit 1; }

flags="-DGGML_NATIVE=ON"
if [ "$(uname -m)" = "x86_64" ]; then
  # explicit -mno-* flags win over -march=native in GCC and Clang
  no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  flags="$flags -DCMAKE_C_FLAGS='$no_amx' -DCMAKE_CXX_FLAGS='$no_amx'"
fi
cpu="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m)"
key="$(printf '%s\n%s\n%s\n' "$version" "$flags" "$cpu" | sha256sum | cut -c1-16)"
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/xinstruct/wheels/llama-cpp-python-$version-$key"

if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "llama-cpp-python $version: building for this CPU (about 7 minutes; cached in $wheels)"
  mkdir -p "$wheels.tmp"
  CMAKE_ARGS="$flags" "$PY" -m pip wheel -q --no-deps --no-cache-dir "llama-cpp-python==$version" -w "$wheels.tmp"
  rm -rf "$wheels" && mv "$wheels.tmp" "$wheels"
fi
"$PY" -m pip install -q --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
# dependencies of the wheel (numpy, jinja2, diskcache, typing-extensions) from the index
"$PY" -m pip install -q "$(ls "$wheels"/llama_cpp_python-*.whl)"

info="$("$PY" -c 'import llama_cpp.llama_cpp as l; l.llama_backend_init(); print(l.llama_print_system_info().decode())')"
case "$info" in
  *"AMX_INT8 = 1"*) echo "install-llama-cpp.sh: the build still has AMX enabled: $info" >&2; exit 1 ;;
esac
echo "llama-cpp-python $version installed: ${info%% | LLAMAFILE*}"
