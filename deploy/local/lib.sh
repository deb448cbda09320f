# The process library of the local scripts (sourced, not run): services.sh, stack.sh and
# scripts/bench.sh start, wait for and stop their processes with these functions only.
# A caller defines log() (one line to stderr).

# Close every inherited descriptor above stderr (bash keeps 255 for the script):
# the daemons started here must not keep a caller's pipes or sockets open, or a
# caller waiting for them to close (a test harness, CI) would wait for ever. In a
# subshell it closes the subshell's own ($BASHPID), before it execs a daemon.
close_inherited_fds() {
    local fd
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ] 2>/dev/null && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
}

# ---------------------------------------------------------------- ports and URLs

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds what
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        port_open "$1" && return 0
        sleep 0.1
    done
    log "$3 did not open port $1 within $2 s"
    return 1
}

# Waits until URL answers 2xx (curl -f); 1 after SECONDS.
wait_url() { # url seconds
    local i
    for ((i = 0; i < $2 * 5; i++)); do
        curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# ---------------------------------------------------------------- readiness

# The gateway is ready when its GET /readyz says so (database and broker reachable).
gateway_ready() { curl -fsS -o /dev/null --max-time 2 "$1/readyz" 2>/dev/null; }

# Consumers of the job queue (the workers taking jobs), as the gateway's GET /metrics
# reports them (kg_queue_consumers of <prefix>.jobs.work, cached up to 5 s): 0 when
# the gateway does not answer or has no broker.
job_queue_consumers() { # api_url
    { curl -fsS --max-time 2 "$1/metrics" 2>/dev/null || true; } |
        awk '/^kg_queue_consumers\{queue="[^"]*\.jobs\.work"\} / { n = $2 } END { printf "%d", n + 0 }'
}

# Waits until the gateway at API is ready and at least N workers consume its job queue.
# Returns 1 after SECONDS, or at once when a pid of PIDS (optional) has exited (its
# name then in EXITED).
EXITED=
wait_stack_ready() { # api_url workers seconds [pid...]
    local api=$1 want=$2 seconds=$3 i pid
    shift 3
    EXITED=
    for ((i = 0; i < seconds * 5; i++)); do
        for pid in "$@"; do
            kill -0 "$pid" 2>/dev/null || {
                EXITED=$pid
                return 1
            }
        done
        if gateway_ready "$api" && { [ "$want" -eq 0 ] || [ "$(job_queue_consumers "$api")" -ge "$want" ]; }; then return 0; fi
        sleep 0.2
    done
    return 1
}

# ---------------------------------------------------------------- processes

# The pid runs one of the named binaries (default kg-gateway, kg-worker): a pid file's
# pid may have been recycled by an unrelated process since.
is_ours() { # pid [binary name...]
    local pid=$1 exe name
    shift
    [ $# -gt 0 ] || set -- kg-gateway kg-worker
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    # A binary rebuilt (replaced) under its running process reads "…/kg-worker (deleted)":
    # still ours. Without this, `make down` and the bench left such processes running
    # after a rebuild while saying they were stopped.
    exe=${exe% (deleted)}
    for name in "$@"; do [ "${exe##*/}" = "$name" ] && return 0; done
    return 1
}

# The pid in PIDFILE runs, and is ours.
pidfile_running() { # pidfile [binary name...]
    local f=$1
    shift
    [ -f "$f" ] && is_ours "$(cat "$f")" "$@"
}

# Starts COMMAND in a session of its own (Ctrl-C on the caller's terminal does not reach
# it; the caller stops it), stdin closed, output appended to LOG, its pid in PIDFILE and
# STARTED_PID. Nothing is started when PIDFILE names one of ours that runs.
STARTED_PID=
start_service() { # name pidfile log command...
    local name=$1 pidfile=$2 logfile=$3
    shift 3
    if pidfile_running "$pidfile"; then
        STARTED_PID=$(cat "$pidfile")
        log "$name already running (pid $STARTED_PID)"
        return 0
    fi
    # The subshell closes what the caller holds open (a lock, its saved stdout) and
    # becomes the service (exec, and setsid does not fork there): $! is the service's pid.
    (
        close_inherited_fds
        exec setsid "$@" >>"$logfile" 2>&1 </dev/null
    ) &
    STARTED_PID=$!
    disown "$STARTED_PID" 2>/dev/null || true # no "Killed" job notices; stopped by pid
    echo "$STARTED_PID" >"$pidfile"
    log "$name started (pid $STARTED_PID, log $logfile)"
}

# SIGTERM to every pid given that is ours (binary names in OURS, default kg-gateway
# kg-worker), up to SECONDS for all to exit, then SIGKILL to what is left.
# Returns after all have exited; a pid that is not ours is left alone.
OURS=
stop_pids() { # seconds pid...
    local seconds=$1 pid i alive
    shift
    local -a mine=()
    # shellcheck disable=SC2086 # OURS is a list of words
    for pid in "$@"; do is_ours "$pid" $OURS && mine+=("$pid"); done
    [ ${#mine[@]} -gt 0 ] || return 0
    for pid in "${mine[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for ((i = 0; i < seconds * 10; i++)); do
        alive=0
        for pid in "${mine[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 1 ] || return 0
        sleep 0.1
    done
    for pid in "${mine[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid ignored SIGTERM for $seconds s; killed"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

# stop_pids for the pid in PIDFILE, which is then removed.
stop_pidfile() { # pidfile [seconds]
    local f=$1
    [ -f "$f" ] || return 0
    stop_pids "${2:-15}" "$(cat "$f")"
    rm -f "$f"
}
