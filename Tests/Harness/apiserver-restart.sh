#!/usr/bin/env bash
# Restarts only the kube-apiserver of STATEDIR, with the same flags and port, and waits until it is
# ready again. etcd keeps running, so the cluster's objects and resourceVersions survive.
#
# Usage: apiserver-restart.sh STATEDIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATEDIR="$(harness_statedir "${1:-}")"
readonly STATEDIR
[[ -s "$STATEDIR/env" && -s "$STATEDIR/apiserver.args" ]] \
    || harness_die "$STATEDIR holds no running harness (no env or apiserver.args); run apiserver-up.sh first"

harness_lock_statedir "$STATEDIR"
[[ -n "$(harness_running_pid "$STATEDIR" etcd)" ]] \
    || harness_die "etcd of $STATEDIR is not running; use apiserver-up.sh to start both"

binary="$(harness_env_get "$STATEDIR" APISERVER_BIN)"
url="$(harness_env_get "$STATEDIR" APISERVER_URL)"
port="$(harness_env_get "$STATEDIR" APISERVER_PORT)"
token="$(harness_env_get "$STATEDIR" ADMIN_TOKEN)"
ca="$(harness_env_get "$STATEDIR" CA_FILE)"

started=$SECONDS
harness_stop "$STATEDIR" apiserver
stopped=$SECONDS
# Tests hold the URL, so the server must come back on the same port and never on another one.
if harness_port_busy "$port"; then
    harness_die "port 127.0.0.1:$port is taken by another process; kube-apiserver cannot come back there"
fi
harness_start_apiserver "$STATEDIR" "$binary" "$url" "$token" "$ca" \
    || harness_die_with_log "$STATEDIR" apiserver "kube-apiserver exited during restart"
harness_env_set "$STATEDIR" APISERVER_PID "$HARNESS_PID"
harness_log "restarted in $((SECONDS - started)) s (stop $((stopped - started)) s):" \
    "kube-apiserver pid $HARNESS_PID on $url"
