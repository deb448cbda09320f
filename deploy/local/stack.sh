#!/usr/bin/env bash
# The local kg stack: PostgreSQL and RabbitMQ (services.sh), one kg-gateway and
# two kg-workers, all on 127.0.0.1, all state under .kg-local/.
#
#   stack.sh up     start what is not running (safe to run again); writes .kg-local/env
#                   and logs the local CLI in as the local admin. KG_BROKER_NODES=3
#                   (make up BROKER_NODES=3): a local RabbitMQ cluster (cluster.sh) with a
#                   quorum job queue replicated on every node, instead of the single broker
#   stack.sh down   stop everything it started; no process is left behind
#   stack.sh demo   up, load a sample graph, take backups with the real CLI
#   stack.sh status
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
. "$(dirname "$0")/lib.sh"
close_inherited_fds

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${KG_STATE_DIR:-$ROOT/.kg-local}
GATEWAY_PORT=${KG_LOCAL_GATEWAY_PORT:-58080}
WORKERS=${KG_LOCAL_WORKERS:-2}
BUILD_FLAGS=${KG_BUILD_FLAGS:-}
BROKER_NODES=${KG_BROKER_NODES:-1}

log() { printf '[stack] %s\n' "$*" >&2; }

bin_dir() { (cd "$ROOT" && swift build $BUILD_FLAGS --show-bin-path); }

build() {
    log "building (swift build $BUILD_FLAGS)…"
    (cd "$ROOT" && swift build $BUILD_FLAGS 2>&1 | grep -E "error|warning: unre|Compiling|Build complete" | grep -v Compiling | tail -5) >&2
}

# The gateway answers GET /readyz and WORKERS workers consume its job queue (its GET /metrics).
wait_ready() {
    local pids=() w
    pids+=("$(cat "$STATE/run/gateway.pid")")
    for ((w = 1; w <= WORKERS; w++)); do pids+=("$(cat "$STATE/run/worker-$w.pid")"); done
    wait_stack_ready "http://127.0.0.1:$GATEWAY_PORT" "$WORKERS" 60 "${pids[@]}" && return 0
    if [ -n "$EXITED" ]; then
        log "a process of the stack (pid $EXITED) exited during startup; see .kg-local/logs"
    elif gateway_ready "http://127.0.0.1:$GATEWAY_PORT"; then
        log "the gateway is ready but $(job_queue_consumers "http://127.0.0.1:$GATEWAY_PORT") of $WORKERS workers consume its job queue after 60 s; see .kg-local/logs/worker-*.log"
        return 1
    else
        log "the gateway did not become ready; see .kg-local/logs/gateway.log"
    fi
    tail -20 "$STATE/logs/gateway.log" >&2 || true
    return 1
}

up() {
    if [ "$BROKER_NODES" -gt 1 ]; then
        # PostgreSQL as always; RabbitMQ as a cluster of BROKER_NODES nodes, fully formed
        # before any gateway declares the quorum queue (so it gets a replica on every node).
        "$ROOT/deploy/local/services.sh" postgres-start
        "$ROOT/deploy/local/services.sh" write-env
        KG_CLUSTER_NODES=$BROKER_NODES "$ROOT/deploy/local/cluster.sh" start
        echo "$BROKER_NODES" >"$STATE/broker-nodes"
    else
        "$ROOT/deploy/local/services.sh" start
        rm -f "$STATE/broker-nodes"
    fi
    mkdir -p "$STATE/logs" "$STATE/tmp" "$STATE/run"
    set -a
    # shellcheck disable=SC1091
    . "$STATE/services.env"
    set +a
    if [ "$BROKER_NODES" -gt 1 ]; then
        KG_AMQP_URLS=$(KG_CLUSTER_NODES=$BROKER_NODES "$ROOT/deploy/local/cluster.sh" urls)
        export KG_AMQP_URLS KG_BROKER_QUEUE_TYPE=quorum
    fi
    build
    local bin
    bin=$(bin_dir)
    if [ ! -f "$STATE/admin-password" ]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/admin-password")
    fi
    export KG_TEMP_DIR="$STATE/tmp"
    export KG_MIGRATIONS_DIR="$ROOT/schema/migrations"
    export KG_GATEWAY_PORT=$GATEWAY_PORT
    export KG_ADMIN_USERNAME=admin
    export KG_ADMIN_PASSWORD_FILE="$STATE/admin-password"
    "$bin/kg-gateway" migrate >&2
    start_service gateway "$STATE/run/gateway.pid" "$STATE/logs/gateway.log" "$bin/kg-gateway" serve
    local w
    for ((w = 1; w <= WORKERS; w++)); do
        start_service "worker-$w" "$STATE/run/worker-$w.pid" "$STATE/logs/worker-$w.log" env KG_WORKER_ID="local-worker-$w" "$bin/kg-worker" run
    done
    wait_ready
    cat >"$STATE/env" <<ENV
KG_DATABASE_URL=$KG_DATABASE_URL
KG_AMQP_URL=$KG_AMQP_URL
KG_AMQP_URLS=${KG_AMQP_URLS:-}
KG_BROKER_QUEUE_TYPE=${KG_BROKER_QUEUE_TYPE:-classic}
KG_API_URL=http://127.0.0.1:$GATEWAY_PORT
KG_TEMP_DIR=$STATE/tmp
KG_MIGRATIONS_DIR=$ROOT/schema/migrations
KG_ADMIN_USERNAME=admin
KG_ADMIN_PASSWORD_FILE=$STATE/admin-password
KG_BIN_DIR=$bin
ENV
    "$bin/kg" login --server "http://127.0.0.1:$GATEWAY_PORT" --username admin --password-stdin <"$STATE/admin-password" >&2
    "$bin/kg" config set api_url "http://127.0.0.1:$GATEWAY_PORT" >/dev/null
    log "stack is up: gateway http://127.0.0.1:$GATEWAY_PORT, $WORKERS workers, $BROKER_NODES broker node(s); settings in .kg-local/env"
}

down() {
    local f
    for f in "$STATE"/run/*.pid; do
        [ -e "$f" ] || continue
        stop_pidfile "$f" 10
        log "stopped $(basename "$f" .pid)"
    done
    if [ -f "$STATE/broker-nodes" ] || [ -d "$STATE/cluster" ]; then
        KG_CLUSTER_NODES=$(cat "$STATE/broker-nodes" 2>/dev/null || echo 3) "$ROOT/deploy/local/cluster.sh" stop
        rm -f "$STATE/broker-nodes"
    fi
    "$ROOT/deploy/local/services.sh" stop
}

demo() {
    up
    set -a
    # shellcheck disable=SC1091
    . "$STATE/env"
    set +a
    local bin=$KG_BIN_DIR
    log "loading a sample graph (300 concepts, 3 ontologies)…"
    "$bin/kg-sample" --concepts 300 --ontologies 3 >&2
    log "kg admin backup --type full"
    local full
    full=$("$bin/kg" admin backup --type full)
    log "kg admin backup --type ontology --ontology 'Philosophy of Mind' --compress gzip"
    local onto
    onto=$("$bin/kg" admin backup --type ontology --ontology "Philosophy of Mind" --compress gzip)
    log "kg admin verify $full"
    "$bin/kg" admin verify "$full" >&2
    log "kg admin list-backups"
    "$bin/kg" admin list-backups
    log "changing the graph, then restoring the full backup (kg admin restore --yes)"
    psql -q "$KG_DATABASE_URL" -c "DELETE FROM kg.relationships WHERE relationship_id % 2 = 0" >&2
    "$bin/kg" admin restore "$full" --yes >/dev/null
    log "taking a second full backup and comparing its data with the first"
    local again
    again=$("$bin/kg" admin backup --type full)
    if python3 - "$full" "$again" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if a["data"] == b["data"] else 1)
PY
    then
        log "round trip OK: the restored graph is the backup's content"
    else
        log "round trip MISMATCH between $full and $again"
        return 1
    fi
    echo
    echo "Full backup saved to:     $full"
    echo "Ontology backup saved to: $onto"
    echo "Backup after the restore: $again"
    echo "Stop the stack with: make down"
}

case "${1:-}" in
up) up ;;
down) down ;;
demo) demo ;;
status)
    "$ROOT/deploy/local/services.sh" status
    if [ -f "$STATE/broker-nodes" ]; then KG_CLUSTER_NODES=$(cat "$STATE/broker-nodes") "$ROOT/deploy/local/cluster.sh" status; fi
    for f in "$STATE"/run/*.pid; do
        [ -e "$f" ] || continue
        if pidfile_running "$f"; then echo "$(basename "$f" .pid): up (pid $(cat "$f"))"; else echo "$(basename "$f" .pid): down"; fi
    done
    ;;
*)
    echo "usage: $0 up|down|demo|status" >&2
    exit 2
    ;;
esac
