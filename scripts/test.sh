#!/usr/bin/env bash
# `make test`: the lint (scripts/lint.sh), then every test. Starts PostgreSQL and RabbitMQ on loopback (installing
# them if missing), builds once, then runs unit and integration tests, which
# start their own gateways and workers against the real services.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# The whole suite (no arguments, as `make test` runs it) starts with the lint: a
# formatting slip fails in seconds, before the build. A filtered run skips it.
if [ $# -eq 0 ]; then
    scripts/lint.sh
fi

deploy/local/services.sh start
set -a
# shellcheck disable=SC1091
. "${KG_STATE_DIR:-$ROOT/.kg-local}/services.env"
set +a

echo "[test] building (debug, with tests)…" >&2
build_log=$(mktemp)
if ! swift build --build-tests >"$build_log" 2>&1; then
    grep -vE "^\[[0-9]+/[0-9]+\]" "$build_log" | tail -40 >&2
    rm -f "$build_log"
    echo "[test] the build failed; no test was run" >&2
    exit 1
fi
grep -E "warning:|error:" "$build_log" | head -20 >&2 || true
rm -f "$build_log"

export KG_BIN_DIR
KG_BIN_DIR=$(swift build --show-bin-path)
export KG_MIGRATIONS_DIR="$ROOT/schema/migrations"
echo "[test] running tests…" >&2
swift test --skip-build --disable-swift-testing "$@"
