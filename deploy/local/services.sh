#!/usr/bin/env bash
# Starts and stops the services kg needs (PostgreSQL 15, RabbitMQ) on 127.0.0.1,
# with every file under one project-local state folder (default .kg-local/).
#
#   services.sh install   apt packages that are missing (PostgreSQL, RabbitMQ, -dev libraries)
#   services.sh start     start what is not running; write $STATE/services.env
#   services.sh stop      stop both, epmd included; leave no process behind
#   services.sh status
#   services.sh write-env write $STATE/services.env (the URLs of the services) only
#
# Safe to run again: start skips what already answers. Ports come from the
# environment (KG_PG_PORT, KG_AMQP_PORT, KG_EPMD_PORT, KG_AMQP_DIST_PORT) so that
# two stacks on one machine never collide.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
. "$(dirname "$0")/lib.sh"
close_inherited_fds

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STATE=${KG_STATE_DIR:-$ROOT/.kg-local}
PG_BIN=${KG_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${KG_PG_PORT:-55432}
AMQP_PORT=${KG_AMQP_PORT:-55672}
EPMD_PORT=${KG_EPMD_PORT:-54369}
DIST_PORT=${KG_AMQP_DIST_PORT:-55679}
RABBIT_BASE=/usr/lib/rabbitmq/bin

log() { printf '[services] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds what
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        port_open "$1" && return 0
        sleep 0.1
    done
    log "$3 did not open port $1 within $2 s; see $STATE/logs"
    return 1
}

as_user() { # user command...
    local user=$1
    shift
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
    else
        "$@"
    fi
}

install_packages() {
    # systemd: its systemd-analyze verifies the unit files in DeployKitTests.
    local want=(postgresql-15 rabbitmq-server libpq-dev librabbitmq-dev libcurl4-openssl-dev zlib1g-dev pkg-config python3 curl openssl
                systemd)
    local missing=()
    local p
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    log "installing: ${missing[*]}"
    local sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get -o DPkg::Lock::Timeout=900 update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${missing[@]}" >/dev/null
}

start_postgres() {
    local dir=$STATE/pg
    mkdir -p "$dir" "$STATE/logs"
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$dir"
        touch "$STATE/logs/postgres.log" && chown postgres:postgres "$STATE/logs/postgres.log"
    fi
    if port_open "$PG_PORT"; then
        log "PostgreSQL already answers on $PG_PORT"
    else
        if [ ! -f "$dir/data/PG_VERSION" ]; then
            as_user postgres "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
            # Tuned for a throwaway local stack: durability of the dev cluster itself is not the point.
            cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
        fi
        as_user postgres "$PG_BIN/pg_ctl" -D "$dir/data" -l "$STATE/logs/postgres.log" -w -t 60 start >/dev/null
        wait_port "$PG_PORT" 30 PostgreSQL
        log "PostgreSQL started on 127.0.0.1:$PG_PORT"
    fi
    # The role and database the services use; CREATEDB so tests can make their own databases.
    local psql=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
    if [ "$("${psql[@]}" -c "select 1 from pg_roles where rolname = 'kg'")" != 1 ]; then
        "${psql[@]}" -c "create role kg login createdb"
    fi
    if [ "$("${psql[@]}" -c "select 1 from pg_database where datname = 'kg'")" != 1 ]; then
        "${psql[@]}" -c "create database kg owner kg"
    fi
}

rabbit_env() {
    local dir=$STATE/rabbitmq
    env -i PATH=/usr/sbin:/usr/bin:/bin:/sbin \
        HOME="$dir/home" \
        LANG=C.UTF-8 \
        RABBITMQ_NODENAME=rabbit@localhost \
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" \
        RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_PID_FILE="$dir/rabbitmq.pid" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
        RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
        RABBITMQ_DIST_PORT="$DIST_PORT" \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        ERL_EPMD_PORT="$EPMD_PORT" \
        "$@"
}

start_rabbitmq() {
    local dir=$STATE/rabbitmq
    if port_open "$AMQP_PORT"; then
        log "RabbitMQ already answers on $AMQP_PORT"
        return 0
    fi
    mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
    : >"$dir/rabbitmq-env.conf"
    echo "[]." >"$dir/enabled_plugins"
    # consumer_timeout: a long restore holds its message unacked; the worker stays
    # correct either way (the job row decides), this only avoids needless redelivery.
    sed "s/@AMQP_PORT@/$AMQP_PORT/" "$ROOT/config/rabbitmq.conf" >"$dir/rabbitmq.conf"
    [ -f "$dir/home/.erlang.cookie" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/home/.erlang.cookie"
    chmod 400 "$dir/home/.erlang.cookie"
    [ "$(id -u)" = 0 ] && chown -R rabbitmq:rabbitmq "$dir"
    local drop=()
    [ "$(id -u)" = 0 ] && drop=(setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups --)
    mkdir -p "$STATE/logs"
    rabbit_env setsid "${drop[@]}" "$RABBIT_BASE/rabbitmq-server" >"$STATE/logs/rabbitmq.out" 2>&1 </dev/null &
    echo $! >"$STATE/rabbitmq.launcher.pid"
    wait_port "$AMQP_PORT" 60 RabbitMQ
    log "RabbitMQ started on 127.0.0.1:$AMQP_PORT"
}

stop_postgres() {
    local dir=$STATE/pg
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_user postgres "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
        log "PostgreSQL stopped"
    fi
}

stop_rabbitmq() {
    local dir=$STATE/rabbitmq pid
    if [ -f "$dir/rabbitmq.pid" ]; then
        pid=$(cat "$dir/rabbitmq.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$dir/rabbitmq.pid"
    fi
    if [ -f "$STATE/rabbitmq.launcher.pid" ]; then
        pid=$(cat "$STATE/rabbitmq.launcher.pid")
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        rm -f "$STATE/rabbitmq.launcher.pid"
    fi
    # epmd outlives the broker: stop it too (only ours, by its port).
    rabbit_env epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true
    pkill -f "epmd.*-port $EPMD_PORT" 2>/dev/null || true
    pkill -f "beam.*$dir" 2>/dev/null || true
    log "RabbitMQ stopped"
}

write_env() {
    mkdir -p "$STATE"
    cat >"$STATE/services.env" <<EOF
KG_DATABASE_URL=postgresql://kg@127.0.0.1:$PG_PORT/kg
KG_ADMIN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres
KG_AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f
KG_PG_BIN=$PG_BIN
KG_PG_PORT=$PG_PORT
KG_AMQP_PORT=$AMQP_PORT
EOF
}

case "${1:-}" in
install) install_packages ;;
start)
    install_packages
    start_postgres &
    pg=$!
    start_rabbitmq
    wait $pg
    write_env
    ;;
stop)
    stop_rabbitmq
    stop_postgres
    ;;
# Single services, for fault tests.
rabbitmq-start) start_rabbitmq ;;
rabbitmq-stop) stop_rabbitmq ;;
postgres-start) start_postgres ;;
postgres-stop) stop_postgres ;;
write-env) write_env ;;
postgres-restart)
    as_user postgres "$PG_BIN/pg_ctl" -D "$STATE/pg/data" -l "$STATE/logs/postgres.log" -m fast -w -t 60 restart >/dev/null
    ;;
status)
    port_open "$PG_PORT" && echo "postgresql: up (127.0.0.1:$PG_PORT)" || echo "postgresql: down"
    port_open "$AMQP_PORT" && echo "rabbitmq: up (127.0.0.1:$AMQP_PORT)" || echo "rabbitmq: down"
    ;;
*)
    echo "usage: $0 install|start|stop|status|rabbitmq-start|rabbitmq-stop|postgres-start|postgres-stop|postgres-restart|write-env" >&2
    exit 2
    ;;
esac
