#!/usr/bin/env bash
# Starts etcd and a real kube-apiserver 1.20.2 on free loopback ports, with state in STATEDIR, and
# returns once the server is ready and RBAC's bootstrap roles exist. Prints STATEDIR/env.
#
# Usage: apiserver-up.sh STATEDIR
#
# Calling it again while both servers run does nothing. If only one still runs, both are restarted
# on the same data, certificates, token and (when still free) ports.
#
# Environment:
#   APISERVER_BIN          use this kube-apiserver instead of apiserver-build.sh's cached one
#   HARNESS_OWNER_PID      if set, a watchdog runs apiserver-down.sh once this process is gone, so
#                          a test runner that crashes before its teardown leaks no servers
#   HARNESS_START_TIMEOUT  seconds to wait for each server (default 120)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly SERVICE_CIDR=10.96.0.0/16
readonly SERVICE_KUBERNETES_IP=10.96.0.1
readonly SA_ISSUER=https://kubernetes.default.svc.cluster.local

STATEDIR="$(harness_statedir "${1:-}")"
readonly STATEDIR
readonly PKI="$STATEDIR/pki"

harness_ensure_tools etcd:etcd-server etcdctl:etcd-client openssl:openssl curl:curl ss:iproute2 \
    setsid:util-linux flock:util-linux
APISERVER_BIN="${APISERVER_BIN:-$("$HARNESS_DIR/apiserver-build.sh")}"
[[ -x "$APISERVER_BIN" ]] || harness_die "kube-apiserver binary $APISERVER_BIN is not executable"
[[ "$APISERVER_BIN" =~ ^[A-Za-z0-9_./+-]+$ ]] \
    || harness_die "APISERVER_BIN '$APISERVER_BIN' may only contain [A-Za-z0-9_./+-] (it goes unquoted into env)"

harness_lock_statedir "$STATEDIR"

# Already up: nothing to do.
etcd_pid="$(harness_running_pid "$STATEDIR" etcd)"
apiserver_pid="$(harness_running_pid "$STATEDIR" apiserver)"
if [[ -n "$etcd_pid" && -n "$apiserver_pid" ]]; then
    harness_log "already running (etcd pid $etcd_pid, kube-apiserver pid $apiserver_pid)"
    echo "$STATEDIR/env"
    exit 0
fi
if [[ -n "$etcd_pid" || -n "$apiserver_pid" ]]; then
    harness_log "only one of etcd and kube-apiserver runs; restarting both"
fi
harness_stop "$STATEDIR" watchdog
harness_stop "$STATEDIR" apiserver
harness_stop "$STATEDIR" etcd

# Creates the throwaway CA, the serving certificate and the ServiceAccount signing key, once per
# STATEDIR, so a second start keeps every client's trust and every issued token valid.
make_pki() {
    [[ -s "$PKI/sa.pub" ]] && return 0
    local tmp="$PKI.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    (
        cd "$tmp"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
            -subj "/CN=kproxy-test-ca" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign"
        openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
            -subj "/CN=kube-apiserver"
        cat >apiserver.ext <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:$SERVICE_KUBERNETES_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
        openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
            -days 3650 -extfile apiserver.ext -out apiserver.crt
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
        openssl pkey -in sa.key -pubout -out sa.pub
        rm -f apiserver.csr apiserver.ext
        chmod 600 ./*.key
    ) >>"$STATEDIR/pki.log" 2>&1 || harness_die "openssl failed making $PKI (see $STATEDIR/pki.log)"
    rm -rf "$PKI"
    mv "$tmp" "$PKI"
}

# Writes the static token file with an admin in system:masters, once per STATEDIR.
make_tokens() {
    [[ -s "$STATEDIR/tokens.csv" ]] && return 0
    local token
    token="$(openssl rand -hex 24)"
    echo "$token,admin,kproxy-harness-admin,\"system:masters\"" >"$STATEDIR/tokens.csv.tmp"
    chmod 600 "$STATEDIR/tokens.csv.tmp"
    mv "$STATEDIR/tokens.csv.tmp" "$STATEDIR/tokens.csv"
}

# Prints the port saved under KEY in the previous env if it is still free, else a new free port.
pick_port() {
    local old
    old="$(harness_env_get "$STATEDIR" "$1")"
    if [[ -n "$old" ]] && ! harness_port_busy "$old"; then
        echo "$old"
    else
        harness_free_port
    fi
}

start_etcd() {
    local client peer attempt
    client="$(pick_port ETCD_CLIENT_PORT)"
    peer="$(pick_port ETCD_PEER_PORT)"
    for attempt in 1 2 3 4 5; do
        printf '%s\n' \
            --name=harness \
            --data-dir="$STATEDIR/etcd" \
            --listen-client-urls="http://127.0.0.1:$client" \
            --advertise-client-urls="http://127.0.0.1:$client" \
            --listen-peer-urls="http://127.0.0.1:$peer" \
            --initial-advertise-peer-urls="http://127.0.0.1:$peer" \
            --initial-cluster="harness=http://127.0.0.1:$peer" \
            --initial-cluster-state=new \
            --logger=zap \
            --log-outputs=stderr >"$STATEDIR/etcd.args"
        harness_spawn "$STATEDIR" etcd "$(command -v etcd)"
        if harness_wait_etcd "$STATEDIR" "$HARNESS_PID" "http://127.0.0.1:$client"; then
            ETCD_PID=$HARNESS_PID ETCD_CLIENT_PORT=$client ETCD_PEER_PORT=$peer
            return 0
        fi
        rm -f "$STATEDIR/etcd.pid"
        harness_log_says_port_taken "$STATEDIR" etcd \
            || harness_die_with_log "$STATEDIR" etcd "etcd exited during start-up"
        harness_log "etcd port taken (attempt $attempt); trying others"
        client="$(harness_free_port)"
        peer="$(harness_free_port)"
    done
    harness_die_with_log "$STATEDIR" etcd "etcd found no free ports in 5 attempts"
}

write_apiserver_args() {
    local port="$1"
    printf '%s\n' \
        --advertise-address=127.0.0.1 \
        --endpoint-reconciler-type=none \
        --bind-address=127.0.0.1 \
        --secure-port="$port" \
        --insecure-port=0 \
        --cert-dir="$PKI" \
        --tls-cert-file="$PKI/apiserver.crt" \
        --tls-private-key-file="$PKI/apiserver.key" \
        --client-ca-file="$PKI/ca.crt" \
        --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --token-auth-file="$STATEDIR/tokens.csv" \
        --authorization-mode=RBAC \
        --service-account-key-file="$PKI/sa.pub" \
        --service-account-signing-key-file="$PKI/sa.key" \
        --service-account-issuer="$SA_ISSUER" \
        --api-audiences="$SA_ISSUER" \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --allow-privileged=true \
        --profiling=false \
        --v=1 >"$STATEDIR/apiserver.args"
}

start_apiserver() {
    local port attempt url
    port="$(pick_port APISERVER_PORT)"
    for attempt in 1 2 3 4 5; do
        write_apiserver_args "$port"
        url="https://127.0.0.1:$port"
        if harness_start_apiserver "$STATEDIR" "$APISERVER_BIN" "$url" "$ADMIN_TOKEN" "$PKI/ca.crt"; then
            APISERVER_PID=$HARNESS_PID APISERVER_PORT=$port
            return 0
        fi
        harness_log_says_port_taken "$STATEDIR" apiserver \
            || harness_die_with_log "$STATEDIR" apiserver "kube-apiserver exited during start-up"
        harness_log "apiserver port taken (attempt $attempt); trying another"
        port="$(harness_free_port)"
    done
    harness_die_with_log "$STATEDIR" apiserver "kube-apiserver found no free port in 5 attempts"
}

write_kubeconfig() {
    cat >"$STATEDIR/kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: harness
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: admin
  user:
    token: $ADMIN_TOKEN
contexts:
- name: harness
  context:
    cluster: harness
    user: admin
current-context: harness
EOF
    chmod 600 "$STATEDIR/kubeconfig.tmp"
    mv "$STATEDIR/kubeconfig.tmp" "$STATEDIR/kubeconfig"
}

# The watchdog's command line names STATEDIR/, so harness_pid_is_ours recognises it (and the
# apiserver-down.sh it becomes).
start_watchdog() {
    [[ -n "${HARNESS_OWNER_PID:-}" ]] || return 0
    if ! [[ "$HARNESS_OWNER_PID" =~ ^[0-9]+$ ]] || ! kill -0 "$HARNESS_OWNER_PID" 2>/dev/null; then
        harness_die "HARNESS_OWNER_PID=$HARNESS_OWNER_PID is not a running process"
    fi
    # shellcheck disable=SC2016 # expanded by the watchdog's own shell
    printf '%s\n' -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" "$3"' harness-watchdog \
        "$HARNESS_OWNER_PID" "$HARNESS_DIR/apiserver-down.sh" "$STATEDIR/" >"$STATEDIR/watchdog.args"
    harness_spawn "$STATEDIR" watchdog "$(command -v bash)"
    WATCHDOG_PID=$HARNESS_PID
}

write_env() {
    cat >"$STATEDIR/env.tmp" <<EOF
STATEDIR=$STATEDIR
APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
APISERVER_HOST=127.0.0.1
APISERVER_PORT=$APISERVER_PORT
APISERVER_PID=$APISERVER_PID
APISERVER_BIN=$APISERVER_BIN
CA_FILE=$PKI/ca.crt
CA_KEY_FILE=$PKI/ca.key
ADMIN_TOKEN=$ADMIN_TOKEN
KUBECONFIG=$STATEDIR/kubeconfig
SA_ISSUER=$SA_ISSUER
SERVICE_CLUSTER_IP_RANGE=$SERVICE_CIDR
ETCD_ENDPOINT=http://127.0.0.1:$ETCD_CLIENT_PORT
ETCD_CLIENT_PORT=$ETCD_CLIENT_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
ETCD_PID=$ETCD_PID
WATCHDOG_PID=$WATCHDOG_PID
EOF
    mv "$STATEDIR/env.tmp" "$STATEDIR/env"
}

# A failed start leaves nothing running.
up_completed=false
trap '$up_completed || { harness_stop "$STATEDIR" watchdog; harness_stop "$STATEDIR" apiserver;
    harness_stop "$STATEDIR" etcd; }' EXIT

started=$SECONDS
make_pki
make_tokens
ADMIN_TOKEN="$(cut -d, -f1 "$STATEDIR/tokens.csv")"
start_etcd
start_apiserver
WATCHDOG_PID=
start_watchdog
write_kubeconfig
write_env
up_completed=true
harness_log "ready in $((SECONDS - started)) s: https://127.0.0.1:$APISERVER_PORT" \
    "(kube-apiserver pid $APISERVER_PID, etcd pid $ETCD_PID)"
echo "$STATEDIR/env"
