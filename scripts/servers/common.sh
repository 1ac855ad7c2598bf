# Shared by the server scripts: free ports, waiting, stopping by PID. Sourced, not run.

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until SECONDS WHAT COMMAND...: run COMMAND until it succeeds, or fail after SECONDS.
wait_until() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# alive PID: the process exists and is not a zombie (a server orphaned by its starting shell is
# reparented to PID 1, which in some containers never reaps it).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

# close_inherited: close every descriptor above 2 in this shell, which then execs a server that
# outlives the caller. One left open stays held for the server's whole life: a lock (DIR/lock,
# or the one of a caller's `flock FILE script`) is never released, a pipe a caller reads to its
# end never ends.
close_inherited() {
    local fd
    [[ -d /proc/$BASHPID/fd ]] || return 0  # no /proc: nothing to go by
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
}

running() { [[ -f $1/pid ]] && alive "$(cat "$1/pid")"; }

# stop_pid DIR: SIGTERM the process in DIR/pid and wait for it to exit (SIGKILL after 60 s).
stop_pid() {
    local dir=$1 pid
    running "$dir" || { rm -f "$dir/pid"; return 0; }
    pid=$(cat "$dir/pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do
        alive "$pid" || { rm -f "$dir/pid"; return 0; }
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
}
