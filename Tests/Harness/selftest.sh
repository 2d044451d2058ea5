#!/usr/bin/env bash
# End-to-end check of the harness against the real server: build (cached), up, objects, a
# ServiceAccount token through RBAC, apiserver restart, etcd compaction, owner watchdog, down.
# Leaves no process behind, even when a check fails.
#
# Usage: selftest.sh [STATEDIR]   (default: a fresh directory under /tmp, removed on success)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATEDIR="$(harness_statedir "${1:-$(mktemp -d /tmp/kproxy-harness-selftest.XXXXXX)}")"
trap '"$HARNESS_DIR/apiserver-down.sh" "$STATEDIR"' EXIT

check() {
    local what="$1"
    shift
    if "$@"; then
        harness_log "ok: $what"
    else
        harness_die "FAILED: $what"
    fi
}
# Prints the HTTP status of GET PATH with the bearer token in file TOKEN_FILE.
status_with() {
    curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA_FILE" \
        -H "Authorization: Bearer $(cat "$1")" "$APISERVER_URL$2"
}
is() { [[ "$1" == "$2" ]] || { harness_log "got '$1', want '$2'"; return 1; }; }
gone() { ! harness_pid_is_ours "$1" "$STATEDIR"; }

t=$SECONDS
"$HARNESS_DIR/apiserver-build.sh" >/dev/null
harness_log "build (or cache hit): $((SECONDS - t)) s"

t=$SECONDS
"$HARNESS_DIR/apiserver-up.sh" "$STATEDIR" >/dev/null
harness_log "up: $((SECONDS - t)) s"
set -a
# shellcheck source=/dev/null
source "$STATEDIR/env"
set +a

check "/readyz" is "$(kubectl get --raw /readyz)" ok
check "server is v1.20.2" is "$(curl -sS --cacert "$CA_FILE" "$APISERVER_URL/version" |
    sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p')" v1.20.2
check "second up is a no-op" is "$("$HARNESS_DIR/apiserver-up.sh" "$STATEDIR" 2>/dev/null)" "$STATEDIR/env"
check "up kept the PIDs" is "$(cat "$STATEDIR/apiserver.pid")" "$APISERVER_PID"

kubectl create namespace selftest >/dev/null
kubectl -n selftest create service clusterip web --tcp=80:8080 >/dev/null
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: selftest
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
- name: ""
  protocol: TCP
  port: 8080
endpoints:
- addresses: ["10.244.1.5"]
  conditions: {ready: true}
EOF
check "EndpointSlice served as v1beta1" is "$(kubectl -n selftest get endpointslices.v1beta1.discovery.k8s.io web-1 \
    -o jsonpath='{.endpoints[0].addresses[0]}')" 10.244.1.5
check "no discovery.k8s.io/v1" is "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA_FILE" \
    -H "Authorization: Bearer $ADMIN_TOKEN" "$APISERVER_URL/apis/discovery.k8s.io/v1/endpointslices")" 404

sa="$STATEDIR/serviceaccount"
"$HARNESS_DIR/sa-token.sh" "$STATEDIR" selftest proxy "$sa" >/dev/null
check "token, ca.crt, namespace laid out" test -s "$sa/token" -a -s "$sa/ca.crt" -a "$(cat "$sa/namespace")" = selftest
check "SA token gets 403 without a binding" is "$(status_with "$sa/token" /api/v1/services)" 403
kubectl create clusterrolebinding selftest-proxy --clusterrole=system:node-proxier \
    --serviceaccount=selftest:proxy >/dev/null
check "SA token gets 200 with system:node-proxier" is "$(status_with "$sa/token" /api/v1/services)" 200
check "bogus token gets 401" is "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA_FILE" \
    -H "Authorization: Bearer bogus" "$APISERVER_URL/api/v1/services")" 401
old_token_target="$(readlink "$sa/..data")"
"$HARNESS_DIR/sa-token.sh" "$STATEDIR" selftest proxy "$sa" >/dev/null
check "second sa-token.sh rotates ..data" test "$(readlink "$sa/..data")" != "$old_token_target" \
    -a ! -e "$sa/$old_token_target"

t=$SECONDS
"$HARNESS_DIR/apiserver-restart.sh" "$STATEDIR" >/dev/null
harness_log "restart: $((SECONDS - t)) s"
new_pid="$(harness_env_get "$STATEDIR" APISERVER_PID)"
check "restart changed the apiserver PID" test "$new_pid" != "$APISERVER_PID"
check "old apiserver is gone" gone "$APISERVER_PID"
check "same URL after restart" is "$(harness_env_get "$STATEDIR" APISERVER_URL)" "$APISERVER_URL"
check "token and binding survive the restart" is "$(status_with "$sa/token" /api/v1/namespaces/selftest/services)" 200
check "objects survive the restart" is "$(kubectl -n selftest get service web -o 'jsonpath={.spec.ports[0].targetPort}')" 8080

revision="$(ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINT" endpoint status -w fields |
    sed -n 's/^"Revision" : //p')"
check "etcdctl compact" env ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINT" compact "$revision"
check "compacted list gives 410" is "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA_FILE" \
    -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$APISERVER_URL/api/v1/services?resourceVersion=2&resourceVersionMatch=Exact")" 410

pids="$(cat "$STATEDIR/etcd.pid") $(cat "$STATEDIR/apiserver.pid")"
t=$SECONDS
"$HARNESS_DIR/apiserver-down.sh" "$STATEDIR"
harness_log "down: $((SECONDS - t)) s"
"$HARNESS_DIR/apiserver-down.sh" "$STATEDIR"
for pid in $pids; do
    check "pid $pid is gone" gone "$pid"
done

# The watchdog: a stand-in owner process dies, the servers follow.
sleep 300 &
owner=$!
HARNESS_OWNER_PID=$owner "$HARNESS_DIR/apiserver-up.sh" "$STATEDIR" >/dev/null
pids="$(cat "$STATEDIR/etcd.pid") $(cat "$STATEDIR/apiserver.pid") $(cat "$STATEDIR/watchdog.pid")"
kill "$owner"
wait "$owner" 2>/dev/null || true
for ((i = 0; i < 300; i++)); do
    left=""
    for pid in $pids; do harness_pid_is_ours "$pid" "$STATEDIR" && left+=" $pid"; done
    [[ -z "$left" ]] && break
    sleep 0.1
done
check "watchdog stopped everything after its owner died" test -z "$left"

trap - EXIT
if [[ -z "${1:-}" ]]; then
    rm -rf "$STATEDIR"
fi
harness_log "all checks passed"
