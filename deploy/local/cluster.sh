#!/usr/bin/env bash
# A local RabbitMQ cluster of N nodes (default 3) on 127.0.0.1, for `make up BROKER_NODES=3`
# and the cluster tests. Every file is under one state folder (default .kg-local/cluster):
# one Erlang cookie, one epmd (its own port), per node its own name, AMQP port, distribution
# port, data and log. Nodes find each other by classic peer discovery. It never touches the
# single-node broker of services.sh (other name, ports, cookie and folder).
#
#   cluster.sh start          start the nodes that are not running; wait until all are clustered
#   cluster.sh stop           stop every node and the cluster's epmd; leave no process behind
#   cluster.sh kill N         kill -9 node N (a crash: no goodbye to its peers or clients)
#   cluster.sh start-node N   start node N again (after kill or stop-node)
#   cluster.sh stop-node N    stop node N gracefully
#   cluster.sh urls           print the AMQP URLs, comma-separated (KG_AMQP_URLS)
#   cluster.sh leader QUEUE   print the number of the node that leads quorum queue QUEUE
#   cluster.sh status
#
# Settings (environment): KG_CLUSTER_NODES (3), KG_CLUSTER_DIR, KG_CLUSTER_NAME (node names
# <name>1@localhost …, default kgmq), KG_CLUSTER_AMQP_PORTS / KG_CLUSTER_DIST_PORTS
# (comma-separated; default 55701… and 55711…), KG_CLUSTER_EPMD_PORT (55709).
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
. "$(dirname "$0")/lib.sh"
close_inherited_fds

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${KG_STATE_DIR:-$ROOT/.kg-local}
NODES=${KG_CLUSTER_NODES:-3}
DIR=${KG_CLUSTER_DIR:-$STATE/cluster}
NAME=${KG_CLUSTER_NAME:-kgmq}
EPMD_PORT=${KG_CLUSTER_EPMD_PORT:-55709}
RABBIT_BASE=/usr/lib/rabbitmq/bin

default_ports() { # base
    local i out=()
    for ((i = 1; i <= NODES; i++)); do out+=($(($1 + i))); done
    (IFS=,; echo "${out[*]}")
}
IFS=, read -r -a AMQP_PORTS <<<"${KG_CLUSTER_AMQP_PORTS:-$(default_ports 55700)}"
IFS=, read -r -a DIST_PORTS <<<"${KG_CLUSTER_DIST_PORTS:-$(default_ports 55710)}"

log() { printf '[cluster] %s\n' "$*" >&2; }

node_name() { echo "$NAME$1@localhost"; }
amqp_port() { echo "${AMQP_PORTS[$(($1 - 1))]}"; }

check_settings() {
    if [ "${#AMQP_PORTS[@]}" -lt "$NODES" ] || [ "${#DIST_PORTS[@]}" -lt "$NODES" ]; then
        log "KG_CLUSTER_AMQP_PORTS and KG_CLUSTER_DIST_PORTS need $NODES ports each"
        exit 2
    fi
    if [ "$NODES" -lt 1 ]; then
        log "KG_CLUSTER_NODES must be at least 1"
        exit 2
    fi
}

node_env() { # n command...
    local n=$1 dir=$DIR/node$1
    shift
    env -i PATH=/usr/sbin:/usr/bin:/bin:/sbin \
        HOME="$DIR/home" \
        LANG=C.UTF-8 \
        RABBITMQ_NODENAME="$(node_name "$n")" \
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" \
        RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_PID_FILE="$dir/rabbitmq.pid" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins" \
        RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf" \
        RABBITMQ_DIST_PORT="${DIST_PORTS[$((n - 1))]}" \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        ERL_EPMD_PORT="$EPMD_PORT" \
        "$@"
}

drop_privileges() {
    if [ "$(id -u)" = 0 ]; then echo setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups --; fi
}

prepare() {
    mkdir -p "$DIR/home"
    # The rabbitmq user must reach the folder (a checkout may live in a private home).
    [ "$(id -u)" = 0 ] && chmod 755 "$DIR"
    : >"$DIR/rabbitmq-env.conf"
    echo "[]." >"$DIR/enabled_plugins"
    [ -f "$DIR/home/.erlang.cookie" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/home/.erlang.cookie"
    chmod 400 "$DIR/home/.erlang.cookie"
    local n
    for ((n = 1; n <= NODES; n++)); do
        local dir=$DIR/node$n
        mkdir -p "$dir/mnesia" "$dir/log"
        {
            sed "s/@AMQP_PORT@/$(amqp_port "$n")/" "$ROOT/config/rabbitmq.conf"
            echo "# The cluster (deploy/local/cluster.sh): classic peer discovery of every node."
            echo "cluster_formation.peer_discovery_backend = classic_config"
            local m
            for ((m = 1; m <= NODES; m++)); do
                echo "cluster_formation.classic_config.nodes.$m = $(node_name "$m")"
            done
        } >"$dir/rabbitmq.conf"
    done
    [ "$(id -u)" = 0 ] && chown -R rabbitmq:rabbitmq "$DIR"
    return 0
}

start_node() { # n
    local n=$1 port
    port=$(amqp_port "$n")
    if port_open "$port"; then
        log "node $n ($(node_name "$n")) already answers on $port"
        return 0
    fi
    # shellcheck disable=SC2046
    node_env "$n" setsid $(drop_privileges) "$RABBIT_BASE/rabbitmq-server" >>"$DIR/node$n/log/server.out" 2>&1 </dev/null &
    echo $! >"$DIR/node$n/launcher.pid"
}

wait_node() { # n seconds
    local n=$1 port
    port=$(amqp_port "$n")
    if wait_port "$port" "$2" "node $n"; then
        log "node $n ($(node_name "$n")) answers on 127.0.0.1:$port"
        return 0
    fi
    log "see $DIR/node$n/log"
    return 1
}

ctl() { # n args...: rabbitmqctl against node n
    local n=$1
    shift
    # shellcheck disable=SC2046
    node_env "$n" $(drop_privileges) "$RABBIT_BASE/rabbitmqctl" -n "$(node_name "$n")" "$@"
}

start() {
    check_settings
    prepare
    # The first node first: the others find it running and join it (started together, blank
    # nodes could each form a cluster of their own).
    start_node 1
    wait_node 1 90
    local n
    for ((n = 2; n <= NODES; n++)); do start_node "$n"; done
    for ((n = 2; n <= NODES; n++)); do wait_node "$n" 90; done
    if [ "$NODES" -gt 1 ]; then
        ctl 1 await_online_nodes "$NODES" --timeout 60000 >/dev/null
    fi
    log "cluster of $NODES nodes up: $(urls)"
}

node_pid() { # n: the broker's (beam's) pid, or nothing
    local f=$DIR/node$1/rabbitmq.pid
    [ -f "$f" ] && cat "$f" 2>/dev/null || true
}

kill_node() { # n
    local pid
    pid=$(node_pid "$1")
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        log "node $1 is not running"
        return 0
    fi
    kill -KILL "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$DIR/node$1/rabbitmq.pid"
    stop_launcher "$1"
    log "node $1 killed (-9, pid $pid)"
}

stop_launcher() { # n
    local f=$DIR/node$1/launcher.pid pid
    if [ -f "$f" ]; then
        pid=$(cat "$f")
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        rm -f "$f"
    fi
}

stop_node() { # n
    local pid
    pid=$(node_pid "$1")
    # The node's Erlang VM (beam.smp); a recycled pid is left alone.
    [ -z "$pid" ] || OURS=beam.smp stop_pids 15 "$pid"
    rm -f "$DIR/node$1/rabbitmq.pid"
    stop_launcher "$1"
}

stop() {
    check_settings
    local n
    for ((n = NODES; n >= 1; n--)); do stop_node "$n" & done
    wait
    # epmd outlives the nodes: stop ours (by its port) too.
    node_env 1 epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
    log "cluster stopped"
}

leader() { # queue
    local n name line
    for ((n = 1; n <= NODES; n++)); do
        port_open "$(amqp_port "$n")" || continue
        line=$(ctl "$n" list_queues -q --no-table-headers name leader 2>/dev/null | awk -v q="$1" '$1 == q { print $2 }')
        [ -n "$line" ] || continue
        for ((name = 1; name <= NODES; name++)); do
            if [ "$line" = "$(node_name "$name")" ]; then
                echo "$name"
                return 0
            fi
        done
    done
    log "no running node names a leader of queue $1"
    return 1
}

urls() {
    local n out=()
    for ((n = 1; n <= NODES; n++)); do out+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/%2f"); done
    (IFS=,; echo "${out[*]}")
}

status() {
    check_settings
    local n
    for ((n = 1; n <= NODES; n++)); do
        if port_open "$(amqp_port "$n")"; then
            echo "node $n $(node_name "$n"): up (127.0.0.1:$(amqp_port "$n"))"
        else
            echo "node $n $(node_name "$n"): down"
        fi
    done
}

case "${1:-}" in
start) start ;;
stop) stop ;;
kill) check_settings && kill_node "${2:?node number}" ;;
start-node) check_settings && prepare && start_node "${2:?node number}" && wait_node "$2" 90 ;;
stop-node) check_settings && stop_node "${2:?node number}" ;;
urls) urls ;;
leader) check_settings && leader "${2:?queue name}" ;;
status) status ;;
*)
    echo "usage: $0 start|stop|kill N|start-node N|stop-node N|urls|leader QUEUE|status" >&2
    exit 2
    ;;
esac
