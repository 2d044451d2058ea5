# shellcheck shell=bash
# Shared functions for the apiserver harness scripts. Sourced, never run.
#
# State lives in one directory (STATEDIR) per server instance:
#   env              KEY=VALUE lines for tests (see README.md)
#   etcd.pid, apiserver.pid, etcd.args, apiserver.args
#   etcd.log, apiserver.log, pki/, etcd/, tokens.csv, kubeconfig

# shellcheck disable=SC2034 # used by the scripts that source this file
HARNESS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HARNESS_NAME="$(basename "$0" .sh)"
# Seconds to wait for a process to become ready, and for one to exit after SIGTERM.
HARNESS_START_TIMEOUT="${HARNESS_START_TIMEOUT:-120}"
HARNESS_STOP_TIMEOUT="${HARNESS_STOP_TIMEOUT:-20}"

harness_log() { echo "$HARNESS_NAME: $*" >&2; }
harness_die() {
    harness_log "error: $*"
    exit 1
}

# Prints STATEDIR as an absolute path. Paths go unquoted into the env file and into flags, so
# characters that need quoting are refused rather than half-supported.
harness_statedir() {
    local dir="${1:-}"
    [[ -n "$dir" ]] || harness_die "usage: $0 STATEDIR"
    [[ "$dir" =~ ^[A-Za-z0-9_./+-]+$ ]] || harness_die "STATEDIR '$dir' may only contain [A-Za-z0-9_./+-]"
    mkdir -p "$dir" || harness_die "cannot create STATEDIR $dir"
    (cd "$dir" && pwd)
}

# Installs the Debian packages providing the given commands (pairs "command:package"), if missing.
harness_ensure_tools() {
    local missing=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
    done
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) -eq 0 ]] || harness_die "missing packages ${missing[*]}; install them or run as root"
    harness_log "installing ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; then
        apt-get update -qq >&2 || harness_die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 \
            || harness_die "apt-get install ${missing[*]} failed"
    fi
}

# True while PID runs and was started with a path under STATEDIR on its command line. The second check keeps a
# recycled PID from being mistaken for ours; a zombie counts as gone (PID 1 here may not reap).
harness_pid_is_ours() {
    local pid="$1" statedir="$2"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/stat" ]] || return 1
    local stat state
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    state="${stat##*) }"
    state="${state%% *}"
    [[ "$state" != Z && "$state" != X ]] || return 1
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$statedir/"
}

# Prints the PID recorded in STATEDIR/NAME.pid if that process is still ours, else nothing.
harness_running_pid() {
    local statedir="$1" name="$2" pid
    pid="$(cat "$statedir/$name.pid" 2>/dev/null || true)"
    if harness_pid_is_ours "$pid" "$statedir"; then
        echo "$pid"
    fi
}

# Stops the process recorded in STATEDIR/NAME.pid: SIGTERM, then SIGKILL after
# HARNESS_STOP_TIMEOUT seconds. Does nothing if it is not running.
harness_stop() {
    local statedir="$1" name="$2" pid i
    pid="$(harness_running_pid "$statedir" "$name")"
    if [[ -z "$pid" ]]; then
        rm -f "$statedir/$name.pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < HARNESS_STOP_TIMEOUT * 10; i++)); do
        harness_pid_is_ours "$pid" "$statedir" || break
        sleep 0.1
    done
    if harness_pid_is_ours "$pid" "$statedir"; then
        harness_log "$name (pid $pid) ignored SIGTERM for ${HARNESS_STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            harness_pid_is_ours "$pid" "$statedir" || break
            sleep 0.1
        done
        harness_pid_is_ours "$pid" "$statedir" && harness_die "$name (pid $pid) survived SIGKILL"
    fi
    rm -f "$statedir/$name.pid"
}

# True if something listens on 127.0.0.1:PORT (or on a wildcard address with that port).
harness_port_busy() {
    ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# Prints a loopback TCP port that nothing listens on. Another process may take it before we bind,
# so callers retry when their server reports "address already in use".
harness_free_port() {
    local port i
    for ((i = 0; i < 200; i++)); do
        port=$((20000 + RANDOM % 30000))
        harness_port_busy "$port" || {
            echo "$port"
            return 0
        }
    done
    harness_die "found no free loopback port in 20000-49999"
}

# Starts BINARY with the arguments in STATEDIR/NAME.args (one per line) in its own session, logging
# to STATEDIR/NAME.log, and records its PID in STATEDIR/NAME.pid and in HARNESS_PID.
harness_spawn() {
    local statedir="$1" name="$2" binary="$3" args
    mapfile -t args <"$statedir/$name.args"
    echo "=== $(date -u +%FT%TZ) $HARNESS_NAME starts $binary" >>"$statedir/$name.log"
    # Without job control a background job is no process-group leader, so setsid execs in place
    # and $! is the server's own PID.
    # Closing fds 8 and 9 keeps the server from inheriting (and so holding forever) the locks.
    setsid "$binary" "${args[@]}" </dev/null >>"$statedir/$name.log" 2>&1 8>&- 9>&- &
    HARNESS_PID=$!
    echo "$HARNESS_PID" >"$statedir/$name.pid"
}

# Fails with the end of STATEDIR/NAME.log.
harness_die_with_log() {
    local statedir="$1" name="$2" message="$3"
    harness_log "last lines of $statedir/$name.log:"
    tail -n 25 "$statedir/$name.log" >&2 || true
    harness_die "$message"
}

# True if the log of NAME's latest start says its port was taken.
harness_log_says_port_taken() {
    local statedir="$1" name="$2"
    awk '/^=== /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$statedir/$name.log" \
        | grep -q "address already in use"
}

# Waits until etcd at STATEDIR answers /health, or its process dies. Returns 1 if it died.
harness_wait_etcd() {
    local statedir="$1" pid="$2" url="$3" i
    for ((i = 0; i < HARNESS_START_TIMEOUT * 5; i++)); do
        harness_pid_is_ours "$pid" "$statedir" || return 1
        if curl -fsS --max-time 2 "$url/health" 2>/dev/null | grep -q '"health":"true"'; then
            return 0
        fi
        sleep 0.2
    done
    harness_die_with_log "$statedir" etcd "etcd (pid $pid) not healthy after ${HARNESS_START_TIMEOUT}s"
}

# Waits until the apiserver answers /readyz with 200 and RBAC's bootstrap ClusterRoles exist (an
# RBAC answer before then can be a spurious 403). Returns 1 if the process died.
harness_wait_apiserver() {
    local statedir="$1" pid="$2" url="$3" token="$4" ca="$5" i stage=readyz
    local curl=(curl -sS -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$ca"
        -H "Authorization: Bearer $token")
    for ((i = 0; i < HARNESS_START_TIMEOUT * 5; i++)); do
        harness_pid_is_ours "$pid" "$statedir" || return 1
        if [[ $stage == readyz ]]; then
            [[ "$("${curl[@]}" "$url/readyz" 2>/dev/null)" == 200 ]] && stage=roles
        fi
        if [[ $stage == roles ]]; then
            local path=/apis/rbac.authorization.k8s.io/v1
            if [[ "$("${curl[@]}" "$url$path/clusterroles/system:node-proxier" 2>/dev/null)" == 200 &&
                "$("${curl[@]}" "$url$path/clusterrolebindings/system:discovery" 2>/dev/null)" == 200 ]]; then
                return 0
            fi
        fi
        sleep 0.2
    done
    harness_die_with_log "$statedir" apiserver \
        "apiserver (pid $pid) not ready (stuck at $stage) after ${HARNESS_START_TIMEOUT}s"
}

# Reads KEY from STATEDIR/env.
harness_env_get() {
    local statedir="$1" key="$2"
    [[ -r "$statedir/env" ]] || return 0
    sed -n "s/^$key=//p" "$statedir/env" | tail -n1
}

# Starts the apiserver from STATEDIR/apiserver.args and waits for it; sets HARNESS_PID. Returns 1
# if it exited during start-up (the caller reads the log: a taken port may be worth a retry).
harness_start_apiserver() {
    local statedir="$1" binary="$2" url="$3" token="$4" ca="$5"
    harness_spawn "$statedir" apiserver "$binary"
    if ! harness_wait_apiserver "$statedir" "$HARNESS_PID" "$url" "$token" "$ca"; then
        rm -f "$statedir/apiserver.pid"
        return 1
    fi
}

# Rewrites KEY=VALUE in STATEDIR/env, atomically.
harness_env_set() {
    local statedir="$1" key="$2" value="$3"
    { grep -v "^$key=" "$statedir/env" 2>/dev/null || true; echo "$key=$value"; } >"$statedir/env.tmp"
    mv "$statedir/env.tmp" "$statedir/env"
}

# Serialises up, restart and down on one STATEDIR (fd 8 stays open until the script exits).
harness_lock_statedir() {
    local lock="$1/harness.lock"
    exec 8>"$lock"
    flock -w "$HARNESS_START_TIMEOUT" 8 \
        || harness_die "another process has held $lock for ${HARNESS_START_TIMEOUT}s (find it with: fuser $lock)"
}
