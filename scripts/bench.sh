#!/usr/bin/env bash
# kg benchmark (make bench): full backups through the real path
# (PostgreSQL -> kg-worker -> temp file -> kg-gateway -> HTTP -> kg CLI -> local file),
# compared with pg_dump of the same data, and restores of those files back the same
# way (kg CLI -> HTTP upload -> kg-gateway -> temp file -> kg-worker -> PostgreSQL),
# compared with psql loading the pg_dump output into an empty database, at two sizes.
#
# Its own isolated stack, next to whatever else runs on this machine:
#   database kg_bench (dropped and created here), broker prefix kgbench,
#   gateway on 127.0.0.1:58180, one gateway and two workers (release build),
#   temp dir, CLI config/data, outputs and logs under <state>/bench/.
# It never touches the database kg, the broker prefix kg or port 58080.
# Its gateway and workers are started, waited for and stopped with the process library
# of the local scripts (deploy/local/lib.sh, as stack.sh's): ready when the gateway's
# GET /readyz answers and its GET /metrics counts both workers on the job queue. Job
# timings (queue, worker, stages) come from the jobs' own API (kg job status/list
# --json, GET /jobs?status=running); database facts (sizes, counts, postgres CPU) from SQL.
# Every process it starts is stopped on exit (also on error and Ctrl-C); the
# database and the large files are removed (logs stay in <state>/bench/logs).
#
# Environment:
#   BENCH_SMALL_CONCEPTS  concepts of the small graph (default 1650, ~50 MB backup)
#   BENCH_LARGE_CONCEPTS  concepts of the large graph (default 16500, ~500 MB backup)
#   BENCH_ONTOLOGIES      ontologies in each sample graph (default 5)
#   BENCH_RESHAPED=0      skip the restore of the reshaped large file (default 1: run it)
#   BENCH_KEEP=1          keep the database, backup and dump files (stack is still stopped)
#   BENCH_LOG_LEVEL       log level of gateway and workers (default info)
#   BENCH_BUILD=0         no swift build: use the release binaries in .build/release as they are
#   BENCH_ROUNDS          rounds of the two sizes' backup, pg_dump, restore and psql (default 3):
#                         after the first round (every measurement), rounds 2..N repeat these four
#                         in turn on the same graph; each wall time and ratio is the median of the
#                         rounds (all of them in <key>_runs_<size>), every other figure the first round's
#   BENCH_RECORDS=0       skip the "many records" pair (default 1: run it after the two sizes)
#   BENCH_RECORDS_ONLY=1  run only the "many records" pair
#   BENCH_RECORDS_SMALL   concepts of the small many-records graph (default 100000)
#   BENCH_RECORDS_LARGE   concepts of the large one (default 1000000; `make bench-scale`: 10000000)
#   BENCH_RECORDS_DATAFIRST_RESTORE  all (default), small or none: which sizes also restore the data-first file
#   BENCH_RECORDS_RESTORE_ONTO=empty  restore the pair's files onto an emptied graph (TRUNCATE first;
#                         default graph: each restore replaces the graph of its own size). A
#                         replace needs the old graph, the new one and the staging tables on disk
#                         at once: about 100 GB at 10 M concepts (`make bench-scale` uses empty).
#   BENCH_RECORDS_FRESH=0 measure the pair's backups and restores in the same gateway and workers
#                         (default 1: a fresh gateway and workers for each, see fresh_stack)
#                         Shape: that many concepts and instances, a tenth as many sources,
#                         twice as many relationships, UUID-style ids, 4-dimension embeddings:
#                         small records, many ids. Measured: backup, verify, restore, and
#                         verify + restore of the same file rewritten data first
#                         (`kg-sample data-first`: relationships before the concepts they name).
#   KG_STATE_DIR          state folder (default <repo>/.kg-local)
#   BENCH_INSTANCE=N      a second bench beside the first (database kg_benchN, port 58180+10N, <state>/benchN)
#
# Output: progress on stderr; the results table on stdout, and as the LAST line
# one machine-readable line of key=value pairs (also appended to <state>/bench/results.log).
#
# Adding a measurement (e.g. restore): write measure_<name> SIZE that stores its
# figures with `set_result KEY_SIZE VALUE`, add <name> to MEASUREMENTS, and add
# its rows to TABLE_ROWS and its keys to LAST_LINE_KEYS.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${KG_STATE_DIR:-$ROOT/.kg-local}
BENCH=$STATE/bench

SMALL_CONCEPTS=${BENCH_SMALL_CONCEPTS:-1650}
LARGE_CONCEPTS=${BENCH_LARGE_CONCEPTS:-16500}
ONTOLOGIES=${BENCH_ONTOLOGIES:-5}
KEEP=${BENCH_KEEP:-0}
RESHAPED=${BENCH_RESHAPED:-1}
LOG_LEVEL=${BENCH_LOG_LEVEL:-info}
RECORDS=${BENCH_RECORDS:-1}
RECORDS_ONLY=${BENCH_RECORDS_ONLY:-0}
RECORDS_SMALL=${BENCH_RECORDS_SMALL:-100000}
RECORDS_LARGE=${BENCH_RECORDS_LARGE:-1000000}
RECORDS_DATAFIRST_RESTORE=${BENCH_RECORDS_DATAFIRST_RESTORE:-all}
RECORDS_FRESH=${BENCH_RECORDS_FRESH:-1}
RECORDS_RESTORE_ONTO=${BENCH_RECORDS_RESTORE_ONTO:-graph}
BUILD=${BENCH_BUILD:-1}
ROUNDS=${BENCH_ROUNDS:-3}

# Fixed on purpose: a developer stack uses kg / kg / 58080 on this machine. BENCH_INSTANCE=N
# (1-9) runs a second bench beside the first on the same services: its own database, broker
# prefix, port and folder.
INSTANCE=${BENCH_INSTANCE:-}
[[ $INSTANCE =~ ^[1-9]?$ ]] || { echo "bench: BENCH_INSTANCE must be empty or one digit 1-9 (got \"$INSTANCE\")" >&2; exit 2; }
DB_NAME=kg_bench$INSTANCE
PSQL_DB_NAME=kg_bench${INSTANCE}_psql # scratch database of the psql comparison, dropped after each size
DB_ROLE=kg
BROKER_PREFIX=kgbench$INSTANCE
GATEWAY_PORT=$((58180 + ${INSTANCE:-0} * 10))
BENCH=$BENCH$INSTANCE
WORKERS=2

SIZES=(small large)
# Each is a function measure_<name> SIZE, run in this order. restore and
# restore_reshaped replace the graph of kg_bench with the backup's content (the same graph).
MEASUREMENTS=(backup verify backup_compressed pg_dump restore psql restore_reshaped)

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for n in "$SMALL_CONCEPTS" "$LARGE_CONCEPTS" "$ONTOLOGIES" "$RECORDS_SMALL" "$RECORDS_LARGE"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "BENCH_SMALL_CONCEPTS, BENCH_LARGE_CONCEPTS, BENCH_ONTOLOGIES and BENCH_RECORDS_SMALL/LARGE must be positive integers (got \"$n\")"
done
[[ $RESHAPED =~ ^[01]$ ]] || die "BENCH_RESHAPED must be 0 or 1 (got \"$RESHAPED\")"
[[ $BUILD =~ ^[01]$ ]] || die "BENCH_BUILD must be 0 or 1 (got \"$BUILD\")"
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "BENCH_ROUNDS must be a whole number from 1 to 99 (got \"$ROUNDS\")"
[[ $RECORDS =~ ^[01]$ && $RECORDS_ONLY =~ ^[01]$ ]] || die "BENCH_RECORDS and BENCH_RECORDS_ONLY must be 0 or 1"
[[ $RECORDS_DATAFIRST_RESTORE =~ ^(all|small|none)$ ]] || die "BENCH_RECORDS_DATAFIRST_RESTORE must be all, small or none"
[[ $RECORDS_RESTORE_ONTO =~ ^(graph|empty)$ ]] || die "BENCH_RECORDS_RESTORE_ONTO must be graph or empty"
[ "$RECORDS_ONLY" = 0 ] || { SIZES=(); RECORDS=1; }
RECORD_SIZES=()
[ "$RECORDS" = 0 ] || RECORD_SIZES=(records_small records_large)

declare -A CONCEPTS=([small]=$SMALL_CONCEPTS [large]=$LARGE_CONCEPTS [records_small]=$RECORDS_SMALL [records_large]=$RECORDS_LARGE)
# Extra kg-sample options per size (the many-records shape).
declare -A SAMPLE_ARGS=(
    [records_small]="--sources $((RECORDS_SMALL / 10)) --relationships $((RECORDS_SMALL * 2)) --dimensions 4 --id-style uuid"
    [records_large]="--sources $((RECORDS_LARGE / 10)) --relationships $((RECORDS_LARGE * 2)) --dimensions 4 --id-style uuid"
)
declare -A RESULT=()   # key -> value, e.g. RESULT[backup_s_large]=31.20
declare -A PID=()      # service name -> pid (gateway, worker-1, worker-2)
FG_PID=                # the long foreground step running now (killed on interrupt)
SAMPLER_PID=           # the python3 that samples a restore's stages from the API (stopped on exit)
BIN=
PG_BIN=
ADMIN_URL=
DB_URL=
PSQL_DB_URL=
API=http://127.0.0.1:$GATEWAY_PORT

set_result() { RESULT[$1]=$2; }
result() { printf '%s' "${RESULT[$1]:-NA}"; }

# ---------------------------------------------------------------- processes

# port_open, start_service, stop_pids, stop_pidfile, wait_stack_ready: the process
# library of the local scripts (deploy/local/lib.sh), shared with stack.sh and services.sh.
# shellcheck source=deploy/local/lib.sh
. "$ROOT/deploy/local/lib.sh"

# Stops what a previous run left behind (only if it was killed with SIGKILL, and only
# our gateway and workers: a pid file's pid may have been recycled since).
stop_leftovers() {
    local f
    for f in "$BENCH"/run/*.pid; do
        [ -e "$f" ] || continue
        pidfile_running "$f" && log "stopping $(basename "$f" .pid) (pid $(cat "$f")) left by an earlier run"
        stop_pidfile "$f"
    done
}

# Starts a service of the bench's stack (deploy/local/lib.sh start_service); its pid in PID[name].
bench_service() { # name command...
    local name=$1
    shift
    start_service "$name" "$BENCH/run/$name.pid" "$BENCH/logs/$name.log" "$@"
    PID[$name]=$STARTED_PID
}

# SIGTERM to all at once, up to 15 s for all to exit, then SIGKILL.
stop_services() {
    local name
    [ ${#PID[@]} -gt 0 ] || return 0
    stop_pids 15 "${PID[@]}"
    for name in "${!PID[@]}"; do
        log "$name stopped"
        rm -f "$BENCH/run/$name.pid"
    done
    PID=()
}

# Runs a long step in the background and waits, so that Ctrl-C / SIGTERM reach
# the trap at once; the trap then stops the step (and its children: /usr/bin/time's).
fg_run() {
    "$@" &
    FG_PID=$!
    local rc=0
    wait "$FG_PID" || rc=$?
    FG_PID=
    return $rc
}

stop_fg() {
    [ -n "$FG_PID" ] || return 0
    pkill -TERM -P "$FG_PID" 2>/dev/null || true
    kill -TERM "$FG_PID" 2>/dev/null || true
    wait "$FG_PID" 2>/dev/null || true
    FG_PID=
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    # An interrupt may land while a step's output is redirected to its log.
    exec 1>&7 2>&8
    stop_fg
    stop_stage_sampler
    stop_services
    if [ -n "$ADMIN_URL" ]; then
        psql_admin -c "DROP DATABASE IF EXISTS $PSQL_DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
        if [ "$KEEP" = 1 ]; then
            log "BENCH_KEEP=1: keeping database $DB_NAME and the files in ${BENCH#"$ROOT"/}/out"
        else
            psql_admin -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 &&
                log "dropped database $DB_NAME"
        fi
    fi
    if [ "$KEEP" != 1 ]; then
        rm -rf "$BENCH/out" "$BENCH/tmp" "$BENCH/config" "$BENCH/data" "$BENCH/admin-password"
    fi
    # The kgbench exchanges and queues stay on the broker (empty; reused by the next run).
    [ $rc -eq 0 ] || log "failed (exit $rc); logs in ${BENCH#"$ROOT"/}/logs"
    exit $rc
}

# ---------------------------------------------------------------- database

psql_admin() { PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" "$ADMIN_URL" -v ON_ERROR_STOP=1 -qAtX "$@"; }
psql_bench() { PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" "$DB_URL" -v ON_ERROR_STOP=1 -qAtX "$@"; }
psql_scratch() { PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" "$PSQL_DB_URL" -v ON_ERROR_STOP=1 -qAtX "$@"; }

# ---------------------------------------------------------------- jobs (the API)

# A job as the gateway's API shows it (GET /jobs/{id}, GET /jobs newest first, through
# the kg CLI logged in as the bench's admin), as one line of words:
#   job_id status created started completed seconds attempts
# (times as epoch seconds from created_at, started_at, completed_at; seconds is the
# job's result.seconds; NA for what is not set).
JOB_LINE_PY=$(
    cat <<'PY'
import json, sys
from datetime import datetime
doc = json.load(sys.stdin)
if "jobs" in doc:  # GET /jobs: the newest job of the type asked for
    doc = next((j for j in doc["jobs"] if j.get("job_type") == sys.argv[1]), None)
    if doc is None:
        sys.exit("no %s job in GET /jobs" % sys.argv[1])
def epoch(key):
    value = doc.get(key)
    return "%.6f" % datetime.fromisoformat(value).timestamp() if value else "NA"
seconds = (doc.get("result") or {}).get("seconds")
print(doc["job_id"], doc["status"], epoch("created_at"), epoch("started_at"), epoch("completed_at"),
      "NA" if seconds is None else seconds, doc.get("attempts", "NA"))
PY
)
job_line() { # job_id
    "$BIN/kg" job status "$1" --json --server "$API" 2>>"$BENCH/logs/kg-job.log" | python3 -c "$JOB_LINE_PY" -
}
latest_job_line() { # job_type
    "$BIN/kg" job list --json --server "$API" 2>>"$BENCH/logs/kg-job.log" | python3 -c "$JOB_LINE_PY" "$1"
}

# ---------------------------------------------------------------- measuring helpers

now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "NA" || b == "NA") print "NA"; else printf "%.2f", a - b }'; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (b + 0 == 0 || a == "NA" || b == "NA") print "NA"; else printf f, a / b }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }       # bytes -> MB (10^6)
kb_mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k * 1024 / 1e6 }'; } # kB (KiB) -> MB (10^6)
file_bytes() { stat -c %s "$1"; }

# Peak RSS: writing 5 to clear_refs resets VmHWM to the current RSS.
reset_peak_rss() { echo 5 >"/proc/$1/clear_refs"; }
peak_rss_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

CLK_TCK=$(getconf CLK_TCK)
# user+system CPU seconds of one process (children it reaped included when $2 = all).
cpu_s() {
    awk -v hz="$CLK_TCK" -v all="${2:-}" '{ sub(/^.*\) /, ""); t = $12 + $13; if (all == "all") t += $14 + $15; printf "%.2f", t / hz }' "/proc/$1/stat" 2>/dev/null || printf 0
}

# CPU of the whole PostgreSQL cluster: the postmaster and the backends it reaped
# (cutime/cstime), plus every live child. The developer stack on the same cluster
# adds a little (it is idle during the run, normally).
POSTMASTER_PID=
PG_CHILDREN_BEFORE=
pg_children() { [ -z "$POSTMASTER_PID" ] || ps -o pid= --ppid "$POSTMASTER_PID" | tr -d ' ' | sort; }
pg_cpu_s() {
    [ -n "$POSTMASTER_PID" ] || {
        printf 0
        return
    }
    local total pid
    total=$(cpu_s "$POSTMASTER_PID" all)
    for pid in $(pg_children); do
        total=$(awk -v a="$total" -v b="$(cpu_s "$pid")" 'BEGIN { printf "%.2f", a + b }')
    done
    printf '%s' "$total"
}
# Call before a measurement: remembers the backends that exist now and the CPU so far.
PG_CPU0=0
pg_cpu_start() {
    PG_CHILDREN_BEFORE=$(pg_children)
    PG_CPU0=$(pg_cpu_s)
}
# Call after it: waits (up to 3 s) until the backends the measurement opened have
# exited and been reaped (their CPU then shows in the postmaster's cutime); sets
# PG_CPU_USED to the cluster's CPU seconds since pg_cpu_start.
PG_CPU_USED=NA
pg_cpu_end() {
    local i
    for ((i = 0; i < 30; i++)); do
        [ -n "$(comm -13 <(printf '%s\n' "$PG_CHILDREN_BEFORE") <(pg_children))" ] || break
        sleep 0.1
    done
    PG_CPU_USED=$(awk -v a="$(pg_cpu_s)" -v b="$PG_CPU0" 'BEGIN { printf "%.2f", a - b }')
}

# Runs COMMAND under /usr/bin/time; sets TIME_WALL (s), TIME_RSS_KB, TIME_CPU (user+sys s).
timed() { # timefile logfile command...
    local tf=$1 lf=$2
    shift 2
    local rc=0
    fg_run /usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" >"$lf.out" 2>"$lf" || rc=$?
    if [ $rc -ne 0 ]; then
        log "failed (exit $rc): $*"
        tail -20 "$lf" >&2 || true
        return $rc
    fi
    read -r TIME_WALL TIME_RSS_KB u s < <(tail -1 "$tf")
    TIME_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
}

workers() {
    local w
    for ((w = 1; w <= WORKERS; w++)); do echo "worker-$w"; done
}

# ---------------------------------------------------------------- steps

setup_services() {
    log "services (PostgreSQL, RabbitMQ): deploy/local/services.sh start"
    "$ROOT/deploy/local/services.sh" start
    # shellcheck disable=SC1091
    . "$STATE/services.env"
    PG_BIN=$KG_PG_BIN
    ADMIN_URL=$KG_ADMIN_DATABASE_URL
    [[ $KG_DATABASE_URL =~ ^(postgres(ql)?://[^/?]+)/[^/?]+$ ]] || die "unexpected KG_DATABASE_URL in services.env: $KG_DATABASE_URL"
    DB_URL=${BASH_REMATCH[1]}/$DB_NAME
    PSQL_DB_URL=${BASH_REMATCH[1]}/$PSQL_DB_NAME
    local amqp=$KG_AMQP_URL

    # Nothing from the caller's environment may point the bench at another stack
    # (KG_API_URL, KG_TOKEN, KG_DATABASE_URL of the developer stack, tuning knobs…).
    local v
    for v in $(compgen -e | grep '^KG_' || true); do unset "$v"; done
    export KG_DATABASE_URL=$DB_URL
    export KG_AMQP_URL=$amqp
    export KG_BROKER_PREFIX=$BROKER_PREFIX
    export KG_TEMP_DIR=$BENCH/tmp
    export KG_MIGRATIONS_DIR=$ROOT/schema/migrations
    export KG_GATEWAY_HOST=127.0.0.1
    export KG_GATEWAY_PORT=$GATEWAY_PORT
    export KG_ADMIN_USERNAME=admin
    export KG_ADMIN_PASSWORD_FILE=$BENCH/admin-password
    export KG_LOG_LEVEL=$LOG_LEVEL
    # The many-records pair's 10 M file (`make bench-scale`) is 15.5 GB: past the default
    # max_upload_bytes (8 GiB), which refuses it, as it should a production upload that large.
    export KG_MAX_UPLOAD_BYTES=$((1 << 40))
    export XDG_CONFIG_HOME=$BENCH/config
    export XDG_DATA_HOME=$BENCH/data

    [ -x /usr/bin/time ] || {
        log "installing Debian's time package (/usr/bin/time)"
        local sudo=
        [ "$(id -u)" = 0 ] || sudo=sudo
        DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq time >/dev/null ||
            { $sudo apt-get -o DPkg::Lock::Timeout=900 update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq time >/dev/null; }
    }
    # shellcheck disable=SC2016 # awk's own $2
    POSTMASTER_PID=$(psql_admin -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'" 2>/dev/null |
        xargs -r -I{} awk '{ sub(/^.*\) /, ""); print $2 }' /proc/{}/stat 2>/dev/null || true)
    [ -n "$POSTMASTER_PID" ] || log "note: cannot find the PostgreSQL postmaster; postgres CPU is not reported"
}

build_release() {
    if [ "$BUILD" = 0 ]; then
        BIN=$ROOT/.build/release
        log "BENCH_BUILD=0: no build; the release binaries in $BIN as they are"
    else
        build_release_now
    fi
    local b
    for b in kg kg-gateway kg-worker kg-sample; do [ -x "$BIN/$b" ] || die "missing binary $BIN/$b"; done
}

build_release_now() {
    log "building (swift build -c release; the first build takes ~5 min)…"
    local started
    started=$(now)
    if ! (cd "$ROOT" && swift build -c release >"$BENCH/logs/build.log" 2>&1); then
        grep -E "error:" "$BENCH/logs/build.log" | head -20 >&2 || tail -20 "$BENCH/logs/build.log" >&2
        die "release build failed; see ${BENCH#"$ROOT"/}/logs/build.log"
    fi
    BIN=$(cd "$ROOT" && swift build -c release --show-bin-path)
    log "release build ready in $(elapsed "$started") s: $BIN"
}

setup_database() {
    log "database $DB_NAME: drop, create (owner $DB_ROLE), migrate"
    # The first admin, created by the gateway on a fresh database (migrate reads the setting too).
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$BENCH/admin-password")
    psql_admin -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)"
    psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_ROLE"
    "$BIN/kg-gateway" migrate >>"$BENCH/logs/migrate.log" 2>&1 || {
        tail -20 "$BENCH/logs/migrate.log" >&2
        die "kg-gateway migrate failed"
    }
}

start_stack() {
    if port_open "$GATEWAY_PORT"; then
        die "something already listens on 127.0.0.1:$GATEWAY_PORT; the bench needs this port for its own gateway"
    fi
    bench_service gateway "$BIN/kg-gateway" serve
    local w
    for ((w = 1; w <= WORKERS; w++)); do
        bench_service "worker-$w" env KG_WORKER_ID="bench-worker-$w" "$BIN/kg-worker" run
    done
    # Ready: the gateway's GET /readyz answers 200 and its GET /metrics counts WORKERS
    # consumers on the job queue (kg_queue_consumers): the workers take jobs.
    if ! wait_stack_ready "$API" "$WORKERS" 60 "${PID[@]}"; then
        local name
        for name in "${!PID[@]}"; do
            if [ "${PID[$name]}" = "$EXITED" ]; then
                tail -20 "$BENCH/logs/$name.log" >&2
                die "$name exited during startup"
            fi
        done
        tail -20 "$BENCH/logs/gateway.log" >&2
        die "the stack did not become ready within 60 s (gateway ready: $(gateway_ready "$API" && echo yes || echo no), job queue consumers: $(job_queue_consumers "$API") of $WORKERS)"
    fi
    "$BIN/kg" login --server "$API" --username admin --password-stdin <"$BENCH/admin-password" >>"$BENCH/logs/kg-login.log" 2>&1 || {
        cat "$BENCH/logs/kg-login.log" >&2
        die "kg login failed"
    }
    log "stack ready: gateway $API, $WORKERS workers, broker prefix $BROKER_PREFIX, CLI logged in"
}

# Settles fresh rows (hint bits, visibility map, statistics) so that the next reader does not pay for them.
vacuum_graph() {
    fg_run psql_bench -c "VACUUM (ANALYZE) kg.vocabulary, kg.ontologies, kg.concepts, kg.sources, kg.instances, kg.evidence, kg.relationships" \
        >>"$BENCH/logs/vacuum.log" 2>&1 || die "VACUUM failed: $(tail -5 "$BENCH/logs/vacuum.log")"
}

load_sample() { # size
    local size=$1 n=${CONCEPTS[$1]} started
    log "$size: loading the sample graph ($n concepts, $ONTOLOGIES ontologies)…"
    started=$(now)
    # shellcheck disable=SC2086 # the extra options are words
    fg_run "$BIN/kg-sample" --database-url "$DB_URL" --concepts "$n" --ontologies "$ONTOLOGIES" ${SAMPLE_ARGS[$size]:-} \
        >>"$BENCH/logs/kg-sample.log" 2>&1 || {
        tail -20 "$BENCH/logs/kg-sample.log" >&2
        die "kg-sample failed"
    }
    set_result "load_s_$size" "$(elapsed "$started")"
    # Settle the fresh rows (hint bits, visibility map, statistics) so that the
    # first reader does not pay for it: otherwise the backup, measured first, would.
    started=$(now)
    vacuum_graph
    set_result "vacuum_s_$size" "$(elapsed "$started")"
    set_result "concepts_$size" "$n"
    set_result "db_mb_$size" "$(mb "$(psql_bench -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'kg' AND c.relkind = 'r'")")"
    log "$size: loaded in $(result "load_s_$size") s ($(tail -1 "$BENCH/logs/kg-sample.log" | sed 's/^loaded sample graph: //')), vacuum $(result "vacuum_s_$size") s"
}

# kg admin backup --type full through gateway and worker.
measure_backup() { # size
    local size=$1 file=$BENCH/out/backup-$1.json
    rm -f "$file"
    log "$size: kg admin backup --type full…"
    local name
    for name in "${!PID[@]}"; do reset_peak_rss "${PID[$name]}"; done
    declare -A cpu0=()
    for name in "${!PID[@]}"; do cpu0[$name]=$(cpu_s "${PID[$name]}"); done
    pg_cpu_start
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)

    timed "$BENCH/out/time-backup-$size" "$BENCH/logs/kg-backup-$size.log" \
        "$BIN/kg" admin backup --type full --output "$file" --server "$API"

    local gw_kb wk_kb=0 wk_cpu=0 kb name2
    pg_cpu_end
    gw_kb=$(peak_rss_kb "${PID[gateway]}")
    for name2 in $(workers); do
        kb=$(peak_rss_kb "${PID[$name2]}")
        if [ "$kb" -gt "$wk_kb" ]; then wk_kb=$kb; fi
        wk_cpu=$(awk -v a="$wk_cpu" -v b="$(cpu_s "${PID[$name2]}")" -v c="${cpu0[$name2]}" 'BEGIN { printf "%.2f", a + b - c }')
    done
    local printed
    printed=$(tail -1 "$BENCH/logs/kg-backup-$size.log.out")
    [ "$printed" = "$file" ] || die "kg admin backup printed \"$printed\", expected \"$file\""
    [ -f "$file" ] || die "kg admin backup did not leave $file"

    local bytes
    bytes=$(file_bytes "$file")
    set_result "backup_s_$size" "$TIME_WALL"
    set_result "backup_mb_$size" "$(mb "$bytes")"
    set_result "backup_mbps_$size" "$(div "$(mb "$bytes")" "$TIME_WALL" %.1f)"
    set_result "rss_mb_cli_$size" "$(kb_mb "$TIME_RSS_KB")"
    set_result "rss_mb_gateway_$size" "$(kb_mb "$gw_kb")"
    set_result "rss_mb_worker_$size" "$(kb_mb "$wk_kb")"
    set_result "cpu_s_cli_$size" "$TIME_CPU"
    set_result "cpu_s_gateway_$size" "$(awk -v a="$(cpu_s "${PID[gateway]}")" -v b="${cpu0[gateway]}" 'BEGIN { printf "%.2f", a - b }')"
    set_result "cpu_s_worker_$size" "$wk_cpu"
    set_result "cpu_s_postgres_backup_$size" "$PG_CPU_USED"
    set_result "load_backup_$size" "$load"

    # The worker's share, from the job (GET /jobs, the newest backup): queued -> started -> export written.
    local line job status created started completed queued exported
    line=$(latest_job_line backup) || die "cannot read the backup job from the API (GET /jobs); see ${BENCH#"$ROOT"/}/logs/kg-job.log"
    read -r job status created started completed _ <<<"$line"
    queued=$(minus "$started" "$created")
    exported=$(minus "$completed" "$started")
    [ "$status" = completed ] || log "warning: backup job $job says \"$status\""
    set_result "backup_queue_s_$size" "$queued"
    set_result "backup_export_s_$size" "$exported"
    log "$size: backup $(result "backup_mb_$size") MB in $TIME_WALL s (worker export $exported s); peak RSS gateway $(result "rss_mb_gateway_$size") MB, worker $(result "rss_mb_worker_$size") MB, CLI $(result "rss_mb_cli_$size") MB"
    drop_kept_backups
}

# The gateway keeps each backup's file for resumed downloads (backup_resume_window_s, 1 h);
# the bench resumes nothing and runs one backup at a time. The kept copies go once a backup
# is measured, so that their disk (15 GB at 10 M concepts) and their dirty pages (written
# back during the next measurement) are not the next step's.
drop_kept_backups() {
    rm -f "$BENCH"/tmp/backup_*.json*
}

# kg admin verify of the file measure_backup saved: the local integrity check that
# kg admin backup also runs on the downloaded file before it gives it its name,
# so this is the part of backup_s spent after the download.
measure_verify() { # size
    local size=$1 file=$BENCH/out/backup-$1.json
    [ -f "$file" ] || die "measure_verify needs the file of measure_backup ($file)"
    log "$size: kg admin verify…"
    timed "$BENCH/out/time-verify-$size" "$BENCH/logs/kg-verify-$size.log" "$BIN/kg" admin verify "$file"
    set_result "verify_s_$size" "$TIME_WALL"
    set_result "verify_mbps_$size" "$(div "$(result "backup_mb_$size")" "$TIME_WALL" %.1f)"
    set_result "rss_mb_verify_$size" "$(kb_mb "$TIME_RSS_KB")"
    log "$size: verify $TIME_WALL s"
}

# pg_dump --data-only --schema=kg of the same database, plain format, to a file.
measure_pg_dump() { # size
    local size=$1 file=$BENCH/out/pg_dump-$1.sql
    rm -f "$file"
    log "$size: pg_dump --data-only --schema=kg…"
    local load
    pg_cpu_start
    load=$(cut -d' ' -f1 /proc/loadavg)
    timed "$BENCH/out/time-pg_dump-$size" "$BENCH/logs/pg_dump-$size.log" \
        "$PG_BIN/pg_dump" --data-only --schema=kg --format=plain --file="$file" "$DB_URL"
    local bytes
    bytes=$(file_bytes "$file")
    set_result "pg_dump_s_$size" "$TIME_WALL"
    set_result "pg_dump_mb_$size" "$(mb "$bytes")"
    set_result "pg_dump_mbps_$size" "$(div "$(mb "$bytes")" "$TIME_WALL" %.1f)"
    set_result "rss_mb_pg_dump_$size" "$(kb_mb "$TIME_RSS_KB")"
    set_result "cpu_s_pg_dump_$size" "$TIME_CPU"
    pg_cpu_end
    set_result "cpu_s_postgres_pg_dump_$size" "$PG_CPU_USED"
    set_result "load_pg_dump_$size" "$load"
    log "$size: pg_dump $(result "pg_dump_mb_$size") MB in $TIME_WALL s"
}

# ---------------------------------------------------------------- restore

# The stack's processes around a measurement: stack_mark resets the peak RSS of
# gateway and workers and remembers their CPU; stack_read sets STACK_GW_KB,
# STACK_WK_KB (max of the workers), STACK_GW_CPU and STACK_WK_CPU (sum) since then.
declare -A STACK_CPU0=()
stack_mark() {
    local name
    for name in "${!PID[@]}"; do
        reset_peak_rss "${PID[$name]}"
        STACK_CPU0[$name]=$(cpu_s "${PID[$name]}")
    done
}
stack_read() {
    local name kb
    STACK_GW_KB=$(peak_rss_kb "${PID[gateway]}")
    STACK_GW_CPU=$(awk -v a="$(cpu_s "${PID[gateway]}")" -v b="${STACK_CPU0[gateway]}" 'BEGIN { printf "%.2f", a - b }')
    STACK_WK_KB=0
    STACK_WK_CPU=0
    for name in $(workers); do
        kb=$(peak_rss_kb "${PID[$name]}")
        if [ "$kb" -gt "$STACK_WK_KB" ]; then STACK_WK_KB=$kb; fi
        STACK_WK_CPU=$(awk -v a="$STACK_WK_CPU" -v b="$(cpu_s "${PID[$name]}")" -v c="${STACK_CPU0[$name]}" 'BEGIN { printf "%.2f", a + b - c }')
    done
}

# Samples the stage of the running restore job from the API twice a second (one
# python3 process asking GET /jobs?status=running with the token the bench's CLI
# login stored), so that the worker's time can be split by stage. The worker
# reports every stage change, and progress within one at most once a second.
# A line per running restore and sample: epoch job_id stage references-check(0/1).
SAMPLER_PY=$(
    cat <<'PY'
import json, os, sys, time, urllib.request
api, config = sys.argv[1], sys.argv[2]
with open(config, encoding="utf-8") as f:
    token = json.load(f)["token"]
request = urllib.request.Request(api + "/jobs?status=running", headers={"Authorization": "Bearer " + token})
while True:
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            jobs = json.load(response)["jobs"]
        now = time.time()
        for job in jobs:
            if job.get("job_type") != "restore":
                continue
            progress = job.get("progress") or {}
            references = 1 if (progress.get("message") or "").startswith("checking references") else 0
            print("%.3f %s %s %d" % (now, job["job_id"], progress.get("stage"), references), flush=True)
    except Exception as error:  # a missed sample is not fatal: the next one counts
        print("sample failed: %s" % error, file=sys.stderr, flush=True)
    time.sleep(0.5)
PY
)
stop_stage_sampler() {
    [ -n "$SAMPLER_PID" ] || return 0
    kill -TERM "$SAMPLER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$SAMPLER_PID" 2>/dev/null || break
        sleep 0.1
    done
    SAMPLER_PID=
}
start_stage_sampler() { # output file
    python3 -c "$SAMPLER_PY" "$API" "$XDG_CONFIG_HOME/kg/config.json" >"$1" 2>>"$BENCH/logs/stage-sampler.log" 7>&- 8>&- 9>&- &
    SAMPLER_PID=$!
    disown "$SAMPLER_PID"
}

# Splits started_at..completed_at of a job into five groups of stages, from the
# samples: integrity check of the file (checking, creating_checkpoint), COPY into
# staging (loading), staging index and checks inside the database plus deleting
# the old graph (loading, "checking references…"), apply (restoring_*), verify and
# commit. A group shorter than the sampling interval may go unseen: its time then
# counts in the group before it. Prints five numbers, or NA×5.
stage_split() { # samples job_id started_epoch completed_epoch
    awk -v job="$2" -v t0="$3" -v t1="$4" '
        $2 == job && NF == 4 {
            k = $3
            g = (k == "checking" || k == "creating_checkpoint") ? 1 : (k == "loading" && $4 == 0) ? 2 : (k == "loading") ? 3 \
                : (k ~ /^restoring_/) ? 4 : (k == "verifying" || k == "committing") ? 5 : 0
            if (g > 0 && !(g in first)) first[g] = $1
            seen = 1
        }
        END {
            if (!seen || t0 == "" || t1 == "") { print "NA NA NA NA NA"; exit }
            first[1] = t0
            end = t1
            for (g = 5; g >= 1; g--) {
                if (g in first) { d[g] = end - first[g]; if (d[g] < 0) d[g] = 0; end = first[g] } else d[g] = 0
            }
            printf "%.1f %.1f %.1f %.1f %.1f\n", d[1], d[2], d[3], d[4], d[5]
        }' "$1"
}

# kg admin restore FILE --yes (replace) through gateway and worker, end to end;
# stores its figures under KIND (restore or restore_reshaped). Returns 1 when the
# restore failed (the peak RSS figures are stored all the same).
restore_run() { # size kind file
    local size=$1 kind=$2 file=$3
    [ -f "$file" ] || die "$kind needs $file"
    set_result "${kind}_mb_$size" "$(mb "$(file_bytes "$file")")"
    log "$size: kg admin restore --yes ($kind, $(result "${kind}_mb_$size") MB)…"
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    stack_mark
    pg_cpu_start
    start_stage_sampler "$BENCH/out/stages-$kind-$size"
    local t0 t1 rc=0
    t0=$(now)
    timed "$BENCH/out/time-$kind-$size" "$BENCH/logs/kg-$kind-$size.log" \
        "$BIN/kg" admin restore "$file" --yes --server "$API" || rc=$?
    t1=$(now)
    stop_stage_sampler
    pg_cpu_end
    stack_read
    set_result "rss_mb_gateway_${kind}_$size" "$(kb_mb "$STACK_GW_KB")"
    set_result "rss_mb_worker_${kind}_$size" "$(kb_mb "$STACK_WK_KB")"
    set_result "load_${kind}_$size" "$load"
    if [ $rc -ne 0 ]; then
        set_result "${kind}_s_$size" FAILED
        log "$size: $kind failed (kg exit $rc); peak RSS gateway $(result "rss_mb_gateway_${kind}_$size") MB, worker $(result "rss_mb_worker_${kind}_$size") MB"
        return 1
    fi

    local job
    job=$(tail -1 "$BENCH/logs/kg-$kind-$size.log.out")
    [[ $job =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
        die "kg admin restore printed \"$job\", expected a job id"

    # The job (GET /jobs/{id}): created once the upload ended and passed the gateway's
    # check; started -> completed is the worker's share.
    local line status created started completed seconds attempts
    line=$(job_line "$job") || die "cannot read restore job $job from the API (GET /jobs/$job); see ${BENCH#"$ROOT"/}/logs/kg-job.log"
    read -r _ status created started completed seconds attempts <<<"$line"
    [ "$status" = completed ] || die "restore job $job is \"$status\""
    [ "$attempts" = 1 ] || log "warning: restore job $job took $attempts attempts"
    local concepts
    concepts=$(psql_bench -c "SELECT count(*) FROM kg.concepts")
    [ "$concepts" = "${CONCEPTS[$size]}" ] || die "after the restore kg_bench holds $concepts concepts, expected ${CONCEPTS[$size]}"

    local check copy dbcheck apply finish
    read -r check copy dbcheck apply finish < <(stage_split "$BENCH/out/stages-$kind-$size" "$job" "$started" "$completed")
    set_result "${kind}_s_$size" "$TIME_WALL"
    set_result "${kind}_mbps_$size" "$(div "$(result "${kind}_mb_$size")" "$TIME_WALL" %.1f)"
    set_result "${kind}_submit_s_$size" "$(minus "$created" "$t0")"
    set_result "${kind}_queue_s_$size" "$(minus "$started" "$created")"
    set_result "${kind}_worker_s_$size" "$(minus "$completed" "$started")"
    set_result "${kind}_result_s_$size" "$seconds"
    set_result "${kind}_follow_s_$size" "$(minus "$t1" "$completed")"
    set_result "${kind}_check_s_$size" "$check"
    set_result "${kind}_copy_s_$size" "$copy"
    set_result "${kind}_dbcheck_s_$size" "$dbcheck"
    set_result "${kind}_apply_s_$size" "$apply"
    set_result "${kind}_finish_s_$size" "$finish"
    set_result "rss_mb_cli_${kind}_$size" "$(kb_mb "$TIME_RSS_KB")"
    set_result "cpu_s_cli_${kind}_$size" "$TIME_CPU"
    set_result "cpu_s_gateway_${kind}_$size" "$STACK_GW_CPU"
    set_result "cpu_s_worker_${kind}_$size" "$STACK_WK_CPU"
    set_result "cpu_s_postgres_${kind}_$size" "$PG_CPU_USED"

    # The worker removes the uploaded file on every path.
    local i left
    for ((i = 0; i < 20; i++)); do
        # Backup files kept for resumable downloads (backup_*) belong to their backup jobs and expire on their own.
        left=$(find "$BENCH/tmp" -type f ! -name 'backup_*' | wc -l)
        [ "$left" -gt 0 ] || break
        sleep 0.1
    done
    [ "$left" -eq 0 ] || log "warning: $left file(s) left in the temp dir after restore job $job: $(find "$BENCH/tmp" -type f ! -name 'backup_*' | head -3 | tr '\n' ' ')"
    log "$size: $kind in $TIME_WALL s (until the job row $(result "${kind}_submit_s_$size") s, worker $(result "${kind}_worker_s_$size") s); peak RSS gateway $(result "rss_mb_gateway_${kind}_$size") MB, worker $(result "rss_mb_worker_${kind}_$size") MB, CLI $(result "rss_mb_cli_${kind}_$size") MB"
}

# kg admin restore --yes of the file measure_backup saved (replace mode).
measure_restore() { # size
    local size=$1
    restore_run "$size" restore "$BENCH/out/backup-$size.json" || die "kg admin restore failed; see ${BENCH#"$ROOT"/}/logs"
    # kg admin restore checks the file locally before it uploads (as kg admin verify does).
}

# psql loading the pg_dump output into an empty database with the same schema and
# indexes: a scratch database, migrated, its seeded vocabulary emptied (the dump holds it).
measure_psql() { # size
    local size=$1 dump=$BENCH/out/pg_dump-$1.sql
    [ -f "$dump" ] || die "measure_psql needs the file of measure_pg_dump ($dump)"
    log "$size: psql: scratch database $PSQL_DB_NAME (drop, create, migrate, empty the vocabulary)"
    psql_admin -c "DROP DATABASE IF EXISTS $PSQL_DB_NAME WITH (FORCE)"
    psql_admin -c "CREATE DATABASE $PSQL_DB_NAME OWNER $DB_ROLE"
    KG_DATABASE_URL=$PSQL_DB_URL "$BIN/kg-gateway" migrate >>"$BENCH/logs/migrate-psql.log" 2>&1 || {
        tail -20 "$BENCH/logs/migrate-psql.log" >&2
        die "kg-gateway migrate of $PSQL_DB_NAME failed"
    }
    psql_scratch -c "DELETE FROM kg.vocabulary"
    log "$size: psql --single-transaction -f pg_dump file ($(result "pg_dump_mb_$size") MB)…"
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    pg_cpu_start
    timed "$BENCH/out/time-psql-$size" "$BENCH/logs/psql-$size.log" \
        "$PG_BIN/psql" "$PSQL_DB_URL" -X -v ON_ERROR_STOP=1 --single-transaction -q -f "$dump"
    pg_cpu_end
    local concepts
    concepts=$(psql_scratch -c "SELECT count(*) FROM kg.concepts")
    [ "$concepts" = "${CONCEPTS[$size]}" ] || die "psql loaded $concepts concepts, expected ${CONCEPTS[$size]}"
    set_result "psql_s_$size" "$TIME_WALL"
    set_result "psql_mbps_$size" "$(div "$(result "pg_dump_mb_$size")" "$TIME_WALL" %.1f)"
    set_result "rss_mb_psql_$size" "$(kb_mb "$TIME_RSS_KB")"
    set_result "cpu_s_psql_$size" "$TIME_CPU"
    set_result "cpu_s_postgres_psql_$size" "$PG_CPU_USED"
    set_result "load_psql_$size" "$load"
    psql_admin -c "DROP DATABASE IF EXISTS $PSQL_DB_NAME WITH (FORCE)"
    log "$size: psql loaded the dump in $TIME_WALL s"
}

# The same backup, laid out differently: data first and the metadata after it,
# the sections in reverse order (relationships before the concepts they name),
# every record's keys reversed, pretty-printed with 2-space indentation. A valid
# file that a streaming reader cannot take in its usual order. Large size only.
RESHAPE_PY=$(
    cat <<'PY'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
with open(src, encoding="utf-8") as f:
    doc = json.load(f)
def rev(value):
    return dict(reversed(list(value.items()))) if isinstance(value, dict) else value
data = doc.pop("data")
out = {"data": {name: [rev(r) for r in records] for name, records in reversed(list(data.items()))}}
del data
for key, value in reversed(list(doc.items())):
    out[key] = value
with open(dst, "w", encoding="utf-8") as f:
    json.dump(out, f, indent=2, ensure_ascii=False)
PY
)

measure_restore_reshaped() { # size
    local size=$1
    if [ "$size" != large ] || [ "$RESHAPED" != 1 ]; then
        local key
        for key in restore_reshaped_s restore_reshaped_mb restore_reshaped_submit_s restore_reshaped_worker_s \
            rss_mb_gateway_restore_reshaped rss_mb_worker_restore_reshaped rss_mb_cli_restore_reshaped load_restore_reshaped; do
            set_result "${key}_$size" "-"
        done
        [ "$size" != large ] || log "$size: BENCH_RESHAPED=0: no restore of a reshaped file"
        return 0
    fi
    local src=$BENCH/out/backup-$size.json file=$BENCH/out/backup-$size-reshaped.json
    log "$size: reshaping the backup file with python3 (data first, sections and keys reversed, indent 2)…"
    rm -f "$file"
    timed "$BENCH/out/time-reshape-$size" "$BENCH/logs/reshape-$size.log" python3 -c "$RESHAPE_PY" "$src" "$file" ||
        die "reshaping the backup failed"
    log "$size: reshaped in $TIME_WALL s (python3 peak RSS $(kb_mb "$TIME_RSS_KB") MB): $(mb "$(file_bytes "$file")") MB"
    # A failure here is a finding, not a broken bench: it is reported and the run goes on.
    restore_run "$size" restore_reshaped "$file" || log "warning: the restore of the reshaped file failed; see ${BENCH#"$ROOT"/}/logs/kg-restore_reshaped-$size.log"
    [ "$KEEP" = 1 ] || rm -f "$file"
}

# The wall time each repeated measurement sets, per round (RUNS[key] = "t1 t2 …").
declare -A ROUND_KEY=([backup]=backup_s [pg_dump]=pg_dump_s [restore]=restore_s [psql]=psql_s)
declare -A RUNS=()
# measure_<m>, noting the wall time of a repeated measurement.
measure_round() { # measurement size
    "measure_$1" "$2"
    [ -z "${ROUND_KEY[$1]:-}" ] || RUNS[${ROUND_KEY[$1]}_$2]+="$(result "${ROUND_KEY[$1]}_$2") "
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "NA"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

run_size() { # size
    local size=$1 m r key
    mkdir -p "$BENCH/out"
    load_sample "$size"
    for m in "${MEASUREMENTS[@]}"; do measure_round "$m" "$size"; done
    # Rounds 2..N: one run of a command is within ±20 % on this kind of machine, more than the
    # differences the bench is there to show. Each tool's runs alternate with the other's, on
    # the graph the last restore wrote, settled as after the load. Every figure but the wall
    # times stays the first round's: the gateway and the workers are not restarted between
    # rounds, and a process keeps memory it once mapped (the gateway's restore peak went
    # 72 -> 80 -> 98 MB over three rounds of the 531 MB restore), so a later round's RSS is
    # partly the earlier rounds'. The later rounds' RSS is in the log lines.
    declare -A first=()
    for key in "${!RESULT[@]}"; do [[ $key == *"_$size" ]] && first[$key]=${RESULT[$key]}; done
    for ((r = 2; r <= ROUNDS; r++)); do
        log "$size: round $r of $ROUNDS (backup, pg_dump, restore, psql)…"
        vacuum_graph
        for m in backup pg_dump restore psql; do
            [[ " ${MEASUREMENTS[*]} " == *" $m "* ]] || continue
            measure_round "$m" "$size"
        done
    done
    [ "$ROUNDS" = 1 ] || for key in "${!first[@]}"; do RESULT[$key]=${first[$key]}; done
    for m in backup pg_dump restore psql; do
        key=${ROUND_KEY[$m]}_$size
        [ -n "${RUNS[$key]:-}" ] || continue
        # shellcheck disable=SC2086 # the runs are words
        set_result "$key" "$(median ${RUNS[$key]})"
        set_result "${ROUND_KEY[$m]}_runs_$size" "$(printf '%s' "${RUNS[$key]% }" | tr ' ' /)"
    done
    [ "$ROUNDS" = 1 ] || log "$size: medians of $ROUNDS rounds: backup $(result "backup_s_$size") s ($(result "backup_s_runs_$size")), pg_dump $(result "pg_dump_s_$size") s ($(result "pg_dump_s_runs_$size")), restore $(result "restore_s_$size") s ($(result "restore_s_runs_$size")), psql $(result "psql_s_$size") s ($(result "psql_s_runs_$size"))"
    set_result "backup_ratio_$size" "$(div "$(result "backup_s_$size")" "$(result "pg_dump_s_$size")")"
    set_result "restore_ratio_$size" "$(div "$(result "restore_s_$size")" "$(result "psql_s_$size")")"
    # The files are large; only the figures are kept.
    [ "$KEEP" = 1 ] || rm -f "$BENCH/out/backup-$size.json" "$BENCH/out/pg_dump-$size.sql" "$BENCH/out/backup-$size-reshaped.json"
}

# ---------------------------------------------------------------- many records

# The many-records pair: per size, backup, verify, restore, then the same file
# rewritten data first, verified and restored. Peak RSS per process and
# operation, and records per second (concepts + sources + instance rows +
# relationships of the graph, per wall-clock second of the whole command).
# The many-records pair measures each backup and restore in a fresh gateway and
# fresh workers (BENCH_RECORDS_FRESH=0: in the same ones). A process keeps much of
# the memory its last peak mapped (glibc returns little of it), and stack_mark
# resets VmHWM to the current RSS, not to what the next operation needs: the large
# backup was measured after the small restores, in processes that kept their peak
# (gateway 76-89 MB, worker 61-65 MB), and took it as the backup's. Each figure is
# now the operation's own; the log line "RSS before" shows what was kept.
fresh_stack() { # label
    [ "$RECORDS_FRESH" = 1 ] || return 0
    local name before=""
    for name in "${!PID[@]}"; do before+=" $name=$(kb_mb "$(awk '/^VmRSS:/ { print $2 }' "/proc/${PID[$name]}/status")")"; done
    log "$1: RSS before (MB):$before; restarting gateway and workers"
    stop_services
    start_stack
}

run_records_size() { # size
    local size=$1 records file df
    mkdir -p "$BENCH/out"
    load_sample "$size"
    records=$(psql_bench -c "SELECT (SELECT count(*) FROM kg.concepts) + (SELECT count(*) FROM kg.sources)
                                    + (SELECT count(*) FROM kg.evidence) + (SELECT count(*) FROM kg.relationships)")
    set_result "records_$size" "$records"
    file=$BENCH/out/backup-$size.json
    df=$BENCH/out/backup-$size-datafirst.json

    fresh_stack "$size backup"
    measure_backup "$size"
    local p
    for p in cli gateway worker; do set_result "rss_mb_${p}_backup_$size" "$(result "rss_mb_${p}_$size")"; done
    set_result "records_per_s_backup_$size" "$(div "$records" "$(result "backup_s_$size")" %.0f)"

    records_verify "$size" verify "$file" "$records"
    log "$size: rewriting the backup data first (kg-sample data-first)…"
    rm -f "$df"
    timed "$BENCH/out/time-datafirst-$size" "$BENCH/logs/datafirst-$size.log" "$BIN/kg-sample" data-first "$file" "$df" ||
        die "kg-sample data-first failed"
    records_verify "$size" verify_datafirst "$df" "$records"
    # The two files hold the same records: the checker must say the same of both.
    cmp -s <(records_summary "$BENCH/logs/kg-verify-$size.log.out") <(records_summary "$BENCH/logs/kg-verify_datafirst-$size.log.out") ||
        die "kg admin verify counts differ between the file and its data-first rewrite: see ${BENCH#"$ROOT"/}/logs/kg-verify*-$size.log.out"

    local restore_datafirst=0
    if [ "$RECORDS_DATAFIRST_RESTORE" = all ] || { [ "$RECORDS_DATAFIRST_RESTORE" = small ] && [ "$size" = records_small ]; }; then
        restore_datafirst=1
    else
        rm -f "$df" # not restored: its disk is the restore's
    fi

    fresh_stack "$size restore"
    records_empty_graph "$size"
    restore_run "$size" restore "$file" || die "kg admin restore failed; see ${BENCH#"$ROOT"/}/logs"
    set_result "records_per_s_restore_$size" "$(div "$records" "$(result "restore_s_$size")" %.0f)"
    if [ "$restore_datafirst" = 1 ]; then
        fresh_stack "$size restore, data first"
        records_empty_graph "$size"
        restore_run "$size" restore_datafirst "$df" || die "kg admin restore of the data-first file failed; see ${BENCH#"$ROOT"/}/logs"
        set_result "records_per_s_restore_datafirst_$size" "$(div "$records" "$(result "restore_datafirst_s_$size")" %.0f)"
    else
        log "$size: BENCH_RECORDS_DATAFIRST_RESTORE=$RECORDS_DATAFIRST_RESTORE: no restore of the data-first file"
        local p
        for p in cli gateway worker; do set_result "rss_mb_${p}_restore_datafirst_$size" "-"; done
        set_result "records_per_s_restore_datafirst_$size" "-"
    fi
    [ "$KEEP" = 1 ] || rm -f "$file" "$df"
}

# BENCH_RECORDS_RESTORE_ONTO=empty: the graph's tables emptied before a restore, so that
# the restore needs no room for the old graph beside the new one.
records_empty_graph() { # size
    [ "$RECORDS_RESTORE_ONTO" = empty ] || return 0
    log "$1: emptying the graph before the restore (BENCH_RECORDS_RESTORE_ONTO=empty)…"
    fg_run psql_bench -c "TRUNCATE kg.relationships, kg.evidence, kg.instances, kg.sources, kg.concepts CASCADE" \
        >>"$BENCH/logs/vacuum.log" 2>&1 || die "TRUNCATE failed: $(tail -5 "$BENCH/logs/vacuum.log")"
}

# kg admin verify --json --offline FILE under /usr/bin/time; stores rss_mb_cli_<kind>_<size> and records_per_s_<kind>_<size>.
records_verify() { # size kind file records
    local size=$1 kind=$2 file=$3 records=$4
    log "$size: kg admin verify ($kind)…"
    timed "$BENCH/out/time-$kind-$size" "$BENCH/logs/kg-$kind-$size.log" "$BIN/kg" admin verify --json --offline "$file" ||
        die "kg admin verify of $file failed or found it invalid"
    set_result "${kind}_s_$size" "$TIME_WALL"
    set_result "rss_mb_cli_${kind}_$size" "$(kb_mb "$TIME_RSS_KB")"
    set_result "records_per_s_${kind}_$size" "$(div "$records" "$TIME_WALL" %.0f)"
    log "$size: $kind $TIME_WALL s, peak RSS $(result "rss_mb_cli_${kind}_$size") MB"
}

# What verify says of a file, without what depends on the layout: validity, counts, external references.
records_summary() { # verify --json output
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(r["valid"], sorted(r["counts"].items()), r["external_deps"], r["external_references"], r["errors"])' "$1"
}

RECORD_TABLE_ROWS=(
    "concepts|concepts"
    "records (concepts+sources+instance rows+relationships)|records"
    "backup file (MB)|backup_mb"
    "-"
    "kg admin backup (s)|backup_s"
    "kg admin verify (s)|verify_s"
    "kg admin verify, data-first file (s)|verify_datafirst_s"
    "kg admin restore --yes (s)|restore_s"
    "kg admin restore --yes, data-first file (s)|restore_datafirst_s"
    "-"
    "records/s backup|records_per_s_backup"
    "records/s verify|records_per_s_verify"
    "records/s verify, data first|records_per_s_verify_datafirst"
    "records/s restore|records_per_s_restore"
    "records/s restore, data first|records_per_s_restore_datafirst"
    "-"
    "peak RSS kg CLI, backup (MB)|rss_mb_cli_backup"
    "peak RSS gateway, backup (MB)|rss_mb_gateway_backup"
    "peak RSS worker, backup (MB)|rss_mb_worker_backup"
    "peak RSS kg CLI, verify (MB)|rss_mb_cli_verify"
    "peak RSS kg CLI, verify data first (MB)|rss_mb_cli_verify_datafirst"
    "peak RSS kg CLI, restore (MB)|rss_mb_cli_restore"
    "peak RSS gateway, restore (MB)|rss_mb_gateway_restore"
    "peak RSS worker, restore (MB)|rss_mb_worker_restore"
    "peak RSS kg CLI, restore data first (MB)|rss_mb_cli_restore_datafirst"
    "peak RSS gateway, restore data first (MB)|rss_mb_gateway_restore_datafirst"
    "peak RSS worker, restore data first (MB)|rss_mb_worker_restore_datafirst"
)
# rss_mb_<process>_<operation>_records_small/_large, records_per_s_<operation>_small/_large
RECORD_RSS_KEYS=(
    rss_mb_cli_backup rss_mb_gateway_backup rss_mb_worker_backup rss_mb_cli_verify rss_mb_cli_verify_datafirst
    rss_mb_cli_restore rss_mb_gateway_restore rss_mb_worker_restore
    rss_mb_cli_restore_datafirst rss_mb_gateway_restore_datafirst rss_mb_worker_restore_datafirst
)
RECORD_RATE_OPERATIONS=(backup verify verify_datafirst restore restore_datafirst)

print_records_table() {
    local row label key size width=56
    echo
    echo "kg bench, many records: $RECORDS_SMALL and $RECORDS_LARGE concepts (as many instances, a tenth as many sources,"
    echo "          twice as many relationships; UUID-style ids, 4-dimension embeddings)"
    [ "$RECORDS_RESTORE_ONTO" = graph ] || echo "          restores onto an emptied graph (BENCH_RECORDS_RESTORE_ONTO=$RECORDS_RESTORE_ONTO)"
    echo
    printf '%-*s %14s %14s\n' "$width" "" "${RECORD_SIZES[@]}"
    for row in "${RECORD_TABLE_ROWS[@]}"; do
        if [ "$row" = "-" ]; then
            echo
            continue
        fi
        label=${row%%|*}
        key=${row#*|}
        printf '%-*s' "$width" "$label"
        for size in "${RECORD_SIZES[@]}"; do printf ' %14s' "$(result "${key}_$size")"; done
        printf '\n'
    done
    echo
}

# kg admin backup --type full --compress gzip, then zstd, then encrypted to an age
# recipient, plain and zstd (issue 17): the size and the time of each against the plain
# backup, and the peak RSS of the worker and the CLI. (Methods are key names: age_zstd is
# zstd then age.)
measure_backup_compressed() { # size
    local size=$1 method file name kb wk_kb bytes recipient
    local -a args
    if ! command -v age-keygen >/dev/null; then die "age-keygen is missing (Debian's age package; deploy/local/services.sh install)"; fi
    [ -f "$BENCH/out/age-identity.txt" ] || age-keygen -o "$BENCH/out/age-identity.txt" 2>/dev/null
    recipient=$(age-keygen -y "$BENCH/out/age-identity.txt")
    for method in gzip zstd age age_zstd; do
        case $method in
            age) args=(--recipient "$recipient") ;;
            age_zstd) args=(--compress zstd --recipient "$recipient") ;;
            *) args=(--compress "$method") ;;
        esac
        file=$BENCH/out/backup-$size-$method.json
        rm -f "$file" "$file.sha256"
        log "$size: kg admin backup --type full ${args[*]}…"
        for name in "${!PID[@]}"; do reset_peak_rss "${PID[$name]}"; done
        timed "$BENCH/out/time-backup-$method-$size" "$BENCH/logs/kg-backup-$method-$size.log" \
            "$BIN/kg" admin backup --type full "${args[@]}" --output "$file" --server "$API"
        [ -f "$file" ] || die "kg admin backup ${args[*]} did not leave $file"
        wk_kb=0
        for name in $(workers); do
            kb=$(peak_rss_kb "${PID[$name]}")
            if [ "$kb" -gt "$wk_kb" ]; then wk_kb=$kb; fi
        done
        bytes=$(file_bytes "$file")
        set_result "backup_${method}_s_$size" "$TIME_WALL"
        set_result "backup_${method}_mb_$size" "$(mb "$bytes")"
        set_result "backup_${method}_ratio_$size" "$(div "$TIME_WALL" "$(result "backup_s_$size")")"
        set_result "rss_mb_worker_${method}_$size" "$(kb_mb "$wk_kb")"
        set_result "rss_mb_cli_${method}_$size" "$(kb_mb "$TIME_RSS_KB")"
        log "$size: backup --compress $method $(result "backup_${method}_mb_$size") MB in $TIME_WALL s"
        drop_kept_backups
        [ "$KEEP" = 1 ] || rm -f "$file" "$file.sha256"
    done
}

# ---------------------------------------------------------------- report

# label|key prefix (the size is appended)
TABLE_ROWS=(
    "concepts|concepts"
    "sample load (s)|load_s"
    "graph tables in PostgreSQL (MB)|db_mb"
    "-"
    "backup file (MB)|backup_mb"
    "kg admin backup, wall (s)|backup_s"
    "  waiting in the queue (s, job row)|backup_queue_s"
    "  worker export (s, job row)|backup_export_s"
    "backup throughput (MB/s)|backup_mbps"
    "kg admin verify of that file (s)|verify_s"
    "-"
    "backup --compress gzip file (MB)|backup_gzip_mb"
    "backup --compress gzip, wall (s)|backup_gzip_s"
    "  ratio to the plain backup's time|backup_gzip_ratio"
    "backup --compress zstd file (MB)|backup_zstd_mb"
    "backup --compress zstd, wall (s)|backup_zstd_s"
    "  ratio to the plain backup's time|backup_zstd_ratio"
    "backup --recipient (age) file (MB)|backup_age_mb"
    "backup --recipient (age), wall (s)|backup_age_s"
    "  ratio to the plain backup's time|backup_age_ratio"
    "backup --compress zstd --recipient, wall (s)|backup_age_zstd_s"
    "  ratio to the plain backup's time|backup_age_zstd_ratio"
    "peak RSS worker, gzip / zstd (MB)|rss_mb_worker_gzip"
    "  zstd|rss_mb_worker_zstd"
    "peak RSS kg CLI, gzip / zstd (MB)|rss_mb_cli_gzip"
    "  zstd|rss_mb_cli_zstd"
    "  age / zstd + age|rss_mb_cli_age"
    "  zstd + age|rss_mb_cli_age_zstd"
    "-"
    "pg_dump file (MB)|pg_dump_mb"
    "pg_dump, wall (s)|pg_dump_s"
    "pg_dump throughput (MB/s)|pg_dump_mbps"
    "-"
    "ratio backup_s / pg_dump_s|backup_ratio"
    "-"
    "kg admin restore --yes (replace), wall (s)|restore_s"
    "  start -> the job row (s: hash + metadata when pipelined)|restore_submit_s"
    "  waiting in the queue (s, job row)|restore_queue_s"
    "  worker, started -> completed (s, job row; upload inside)|restore_worker_s"
    "    its own figure (s, result.seconds)|restore_result_s"
    "    check the file (s, stage samples +-0.5)|restore_check_s"
    "    COPY into staging (s)|restore_copy_s"
    "    staging checks + delete old graph (s)|restore_dbcheck_s"
    "    apply to the graph (s)|restore_apply_s"
    "    verify + commit (s)|restore_finish_s"
    "  CLI sees the end (s, after completed_at)|restore_follow_s"
    "restore throughput (MB/s of backup file)|restore_mbps"
    "-"
    "psql -f pg_dump file into empty db (s)|psql_s"
    "psql throughput (MB/s of dump file)|psql_mbps"
    "-"
    "ratio restore_s / psql_s|restore_ratio"
    "-"
    "reshaped backup file (MB)|restore_reshaped_mb"
    "kg admin restore of it, wall (s)|restore_reshaped_s"
    "  start -> the job row (s: hash + metadata when pipelined)|restore_reshaped_submit_s"
    "  worker, started -> completed (s)|restore_reshaped_worker_s"
    "-"
    "peak RSS gateway (MB)|rss_mb_gateway"
    "peak RSS worker (MB, max of 2)|rss_mb_worker"
    "peak RSS kg CLI (MB)|rss_mb_cli"
    "peak RSS kg admin verify (MB)|rss_mb_verify"
    "peak RSS pg_dump (MB)|rss_mb_pg_dump"
    "peak RSS gateway, restore (MB)|rss_mb_gateway_restore"
    "peak RSS worker, restore (MB, max of 2)|rss_mb_worker_restore"
    "peak RSS kg CLI, restore (MB)|rss_mb_cli_restore"
    "peak RSS psql (MB)|rss_mb_psql"
    "peak RSS gateway, reshaped restore (MB)|rss_mb_gateway_restore_reshaped"
    "peak RSS worker, reshaped restore (MB)|rss_mb_worker_restore_reshaped"
    "peak RSS kg CLI, reshaped restore (MB)|rss_mb_cli_restore_reshaped"
    "-"
    "CPU during backup: postgres (s)|cpu_s_postgres_backup"
    "CPU during backup: worker (s)|cpu_s_worker"
    "CPU during backup: gateway (s)|cpu_s_gateway"
    "CPU during backup: kg CLI (s)|cpu_s_cli"
    "CPU during pg_dump: postgres (s)|cpu_s_postgres_pg_dump"
    "CPU during pg_dump: pg_dump (s)|cpu_s_pg_dump"
    "CPU during restore: postgres (s)|cpu_s_postgres_restore"
    "CPU during restore: worker (s)|cpu_s_worker_restore"
    "CPU during restore: gateway (s)|cpu_s_gateway_restore"
    "CPU during restore: kg CLI (s)|cpu_s_cli_restore"
    "CPU during psql: postgres (s)|cpu_s_postgres_psql"
    "CPU during psql: psql (s)|cpu_s_psql"
    "load average before backup|load_backup"
    "load average before pg_dump|load_pg_dump"
    "load average before restore|load_restore"
    "load average before psql|load_psql"
    "load average before reshaped restore|load_restore_reshaped"
)

LAST_LINE_KEYS=(
    backup_s pg_dump_s backup_ratio backup_mb
    rss_mb_gateway rss_mb_worker rss_mb_cli
    pg_dump_mb backup_export_s verify_s concepts
    restore_s psql_s restore_ratio
    rss_mb_gateway_restore rss_mb_worker_restore rss_mb_cli_restore
    restore_submit_s restore_worker_s
    backup_gzip_s backup_gzip_mb backup_zstd_s backup_zstd_mb backup_zstd_ratio
    backup_age_s backup_age_ratio backup_age_zstd_s backup_age_zstd_ratio rss_mb_cli_age rss_mb_cli_age_zstd
    backup_s_runs pg_dump_s_runs restore_s_runs psql_s_runs
)
# Plain keys (no size suffix): the value of the large size.
LAST_LINE_PLAIN_KEYS=(
    backup_s pg_dump_s backup_ratio backup_mb
    restore_s psql_s restore_ratio
    restore_reshaped_s rss_mb_gateway_restore_reshaped rss_mb_worker_restore_reshaped rss_mb_cli_restore_reshaped
)

print_table() {
    local row label key size width=38
    for row in "${TABLE_ROWS[@]}"; do
        label=${row%%|*}
        if [ "${#label}" -gt "$width" ]; then width=${#label}; fi
    done
    echo
    echo "kg bench: full backup (kg admin backup --type full) vs pg_dump --data-only --schema=kg,"
    echo "          restore (kg admin restore --yes, replace) vs psql loading that pg_dump output into an empty database"
    echo "release build; $(nproc) cores; $(if [ "$ROUNDS" = 1 ]; then echo "one run per measurement (no warm-up, no repeats): on a busy machine expect ±20 %"; else echo "backup, pg_dump, restore, psql: wall times are medians of $ROUNDS alternating rounds (every other figure: the first round)"; fi)"
    echo "MB = 10^6 bytes; RSS = peak resident set during the measurement (VmHWM after a reset, /usr/bin/time %M for CLI, pg_dump and psql)"
    echo
    printf '%-*s %12s %12s\n' "$width" "" "${SIZES[@]}"
    for row in "${TABLE_ROWS[@]}"; do
        if [ "$row" = "-" ]; then
            printf '%-*s %12s %12s\n' "$width" "" "" ""
            continue
        fi
        label=${row%%|*}
        key=${row#*|}
        printf '%-*s' "$width" "$label"
        for size in "${SIZES[@]}"; do printf ' %12s' "$(result "${key}_$size")"; done
        printf '\n'
    done
    echo
}

last_line() {
    local key size parts=()
    for key in "${LAST_LINE_KEYS[@]}"; do
        for size in ${SIZES[@]+"${SIZES[@]}"}; do parts+=("${key}_$size=$(result "${key}_$size")"); done
    done
    for key in "${LAST_LINE_PLAIN_KEYS[@]}"; do
        [ ${#SIZES[@]} -eq 0 ] || parts+=("$key=$(result "${key}_large")")
    done
    if [ ${#RECORD_SIZES[@]} -gt 0 ]; then
        for key in "${RECORD_RSS_KEYS[@]}"; do
            for size in "${RECORD_SIZES[@]}"; do parts+=("${key}_$size=$(result "${key}_$size")"); done
        done
        for key in "${RECORD_RATE_OPERATIONS[@]}"; do
            parts+=("records_per_s_${key}_small=$(result "records_per_s_${key}_records_small")")
            parts+=("records_per_s_${key}_large=$(result "records_per_s_${key}_records_large")")
        done
        parts+=("records_small=$(result records_records_small)" "records_large=$(result records_records_large)")
    fi
    echo "${parts[*]}"
}

# ---------------------------------------------------------------- main

main() {
    local started
    started=$(now)
    mkdir -p "$BENCH/logs" "$BENCH/run" "$BENCH/tmp"
    exec 9>"$BENCH/lock"
    flock -n 9 || die "another bench run holds ${BENCH#"$ROOT"/}/lock"
    exec 7>&1 8>&2 # the real stdout and stderr, for cleanup
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    stop_leftovers
    # Each run starts clean; the logs of the previous run are replaced.
    rm -rf "$BENCH/tmp" "$BENCH/out" "$BENCH/config" "$BENCH/data" "$BENCH"/logs/*
    mkdir -p "$BENCH/tmp" "$BENCH/out"

    setup_services
    build_release
    setup_database
    start_stack
    local size
    for size in ${SIZES[@]+"${SIZES[@]}"}; do run_size "$size"; done
    for size in ${RECORD_SIZES[@]+"${RECORD_SIZES[@]}"}; do run_records_size "$size"; done
    stop_services
    log "finished in $(elapsed "$started") s (build and setup included)"
    [ ${#SIZES[@]} -eq 0 ] || print_table
    [ ${#RECORD_SIZES[@]} -eq 0 ] || print_records_table
    local line
    line=$(last_line)
    printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$line" >>"$BENCH/results.log"
    echo "$line"
}

main "$@"
