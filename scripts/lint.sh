#!/usr/bin/env bash
# `make lint` (and the first step of `make test`): the Swift sources must be as
# `swift format` (shipped with the toolchain) writes them, under the checked-in
# `.swift-format`. `scripts/lint.sh --fix` rewrites them in place.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
paths=(Package.swift Sources Tests)
if [ "${1:-}" = --fix ]; then
    exec swift format format --in-place --recursive --parallel "${paths[@]}"
fi
if ! swift format lint --strict --recursive --parallel "${paths[@]}"; then
    echo "[lint] the files above are not formatted as .swift-format says: run \`scripts/lint.sh --fix\` (or \`swift format -i FILE\`), review the diff and commit it" >&2
    exit 1
fi
echo "[lint] every Swift file is formatted (swift format lint --strict)" >&2
