# Shared by services.sh and stack.sh (sourced, not run).

# Close every inherited descriptor above stderr (bash keeps 255 for the script):
# the daemons started here must not keep a caller's pipes or sockets open, or a
# caller waiting for them to close (a test harness, CI) would wait for ever.
close_inherited_fds() {
    local fd
    for fd in /proc/$$/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ] 2>/dev/null && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
}
