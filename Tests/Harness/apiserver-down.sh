#!/usr/bin/env bash
# Stops the kube-apiserver, etcd and watchdog that apiserver-up.sh started for STATEDIR, by their
# recorded PIDs only, and waits until they are gone. Safe to call twice, or on a STATEDIR that never came up.
# STATEDIR itself is kept (logs, data); delete it yourself when done.
#
# Usage: apiserver-down.sh STATEDIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="${1:-}"
[[ -n "$dir" ]] || harness_die "usage: $0 STATEDIR"
if [[ ! -d "$dir" ]]; then
    harness_log "$dir does not exist; nothing to stop"
    exit 0
fi
STATEDIR="$(harness_statedir "$dir")"
readonly STATEDIR

harness_lock_statedir "$STATEDIR"
harness_stop "$STATEDIR" apiserver
harness_stop "$STATEDIR" etcd
# The watchdog becomes this script when its owner dies; it must not stop itself.
if [[ "$(harness_running_pid "$STATEDIR" watchdog)" != "$$" ]]; then
    harness_stop "$STATEDIR" watchdog
else
    rm -f "$STATEDIR/watchdog.pid"
fi
harness_log "stopped the servers of $STATEDIR"
