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
# A .kg-local that is a link (made by choose_state below) is used where it points:
# the services must be given paths they can reach.
[ -L "$STATE" ] && STATE=$(readlink -f "$STATE")
PG_BIN=${KG_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PORT=${KG_PG_PORT:-55432}
AMQP_PORT=${KG_AMQP_PORT:-55672}
EPMD_PORT=${KG_EPMD_PORT:-54369}
DIST_PORT=${KG_AMQP_DIST_PORT:-55679}
RABBIT_BASE=/usr/lib/rabbitmq/bin

log() { printf '[services] %s\n' "$*" >&2; }

# The first folder on the way to $1 that user $2 cannot enter (nothing when all can).
unreachable_by() { # path user
    local path=$1 user=$2 dir=""
    local part
    IFS=/ read -ra parts <<<"${path#/}"
    for part in "${parts[@]}"; do
        [ -n "$part" ] || continue
        dir="$dir/$part"
        [ -e "$dir" ] || return 0
        if ! setpriv --reuid="$user" --regid="$user" --init-groups -- test -x "$dir" 2>/dev/null; then
            echo "$dir"
            return 0
        fi
    done
}

# As root, PostgreSQL and RabbitMQ run as their own users (postgres, rabbitmq), who
# must be able to enter the state folder. A checkout in a private folder (a clone
# under /root, mode 700) cannot hold it: the default state then lives in a
# per-checkout folder under /var/tmp, with .kg-local a link to it; an explicit
# KG_STATE_DIR they cannot reach is refused at once, naming the folder and the fix.
choose_state() {
    [ "$(id -u)" = 0 ] || return 0
    local user blocked=""
    for user in postgres rabbitmq; do
        id -u "$user" >/dev/null 2>&1 || continue
        blocked=$(unreachable_by "$STATE" "$user")
        [ -z "$blocked" ] || break
    done
    [ -n "$blocked" ] || return 0
    if [ -n "${KG_STATE_DIR:-}" ]; then
        log "KG_STATE_DIR=$KG_STATE_DIR cannot be used: the $user user (PostgreSQL and RabbitMQ run as their own users) cannot enter $blocked"
        log "fix: set KG_STATE_DIR to a folder they can reach (e.g. /var/tmp/kg-state), or unset it to let this script choose one"
        exit 1
    fi
    local link=$ROOT/.kg-local
    local fallback
    fallback=/var/tmp/kg-state-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
    if [ -e "$link" ] && [ ! -L "$link" ]; then
        log "$link cannot hold the services' state: the $user user cannot enter $blocked (this checkout is in a private folder)"
        log "fix: remove $link (rm -rf $link, it holds only what a failed start left) and run this again: the state will then live in $fallback, with $link a link to it"
        exit 1
    fi
    mkdir -p "$fallback"
    chmod 755 "$fallback"
    ln -sfn "$fallback" "$link"
    STATE=$fallback
    log "$blocked cannot be entered by the $user user: the services' state is in $STATE (.kg-local links to it)"
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
    # libzstd-dev: --compress zstd; zstd and age: the tests check kg's files with the tools, both ways.
    local want=(postgresql-15 rabbitmq-server libpq-dev librabbitmq-dev libcurl4-openssl-dev zlib1g-dev libzstd-dev pkg-config python3
                curl openssl systemd zstd age)
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
        wait_port "$PG_PORT" 30 PostgreSQL || { log "see $STATE/logs/postgres.log"; return 1; }
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
    wait_port "$AMQP_PORT" 60 RabbitMQ || { log "see $STATE/logs/rabbitmq.out and $dir/log"; return 1; }
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
        # The broker's Erlang VM (beam.smp); a recycled pid is left alone.
        [ -z "$pid" ] || OURS=beam.smp stop_pids 10 "$pid"
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
    choose_state
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
rabbitmq-start) choose_state && start_rabbitmq ;;
rabbitmq-stop) stop_rabbitmq ;;
postgres-start) choose_state && start_postgres ;;
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
