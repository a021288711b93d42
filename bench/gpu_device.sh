#!/usr/bin/env bash
# On a lent GPU machine, from a checkout: the GPU tier's benchmark (≤ 8 minutes on one
# H100/H200), then its JSON. Arguments pass through (bench/gpu.py --help). PYTHON picks the
# interpreter (default: the project's .venv if there is one, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
result=bench/results/gpu.json
case " $* " in *" --smoke "*) result=bench/results/smoke/gpu.json ;; esac
"$py" bench/gpu.py "$@"
cat "$result"
# On a lent device machine, what is written under $OUT comes back.
if [ -n "${OUT:-}" ]; then cp "$result" "$OUT/"; fi
