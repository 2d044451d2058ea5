#!/usr/bin/env bash
# Scale check of `kproxy run` end to end (issue 7): 10k Services × 10 endpoints in a real
# kube-apiserver 1.20.2 (Tests/Harness), the release build of kproxy programming a scratch network
# namespace, and these figures:
#   1. time from process start to the first full sync (/healthz `lastUpdated` turns non-empty), and
#      the full sync's own duration (kproxy_sync_full_proxy_rules_duration_seconds);
#   2. time for a one-Service change (one EndpointSlice patched with kubectl) to appear in the kernel
#      (a netlink dump of that Service's chain, then `nft list chain`), median of CHANGES runs, with
#      the daemon's partial-sync duration and kproxy_network_programming_duration_seconds for the same changes;
#   3. the daemon's RSS (VmRSS, VmHWM) after the first sync and after serving DNS;
#   4. a `dig` of one of the 10k names.
#
# Usage (root): bench/scale-e2e.sh            or   make scale
# Environment: SERVICES (10000), ENDPOINTS (10, at most 10), CHANGES (5), LOAD_JOBS (6 parallel
#   kubectl), MIN_SYNC_PERIOD (100ms), DNS (on; off runs kproxy without its DNS server), KPROXY
#   (default .build/release/kproxy, built if missing), STATEDIR (default /tmp/kproxy-scale: harness
#   state, generated manifests, kproxy.log).
#
# Idempotent: each run stops the apiserver a previous run left in STATEDIR and starts from an empty
# etcd. On exit (also on failure or Ctrl-C) it stops kproxy, deletes its network namespace and stops
# its own apiserver; STATEDIR stays for the logs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARNESS="$ROOT/Tests/Harness"
SERVICES="${SERVICES:-10000}"
ENDPOINTS="${ENDPOINTS:-10}"
CHANGES="${CHANGES:-5}"
LOAD_JOBS="${LOAD_JOBS:-6}"
MIN_SYNC_PERIOD="${MIN_SYNC_PERIOD:-100ms}"
DNS_SERVING="${DNS:-on}"
KPROXY="${KPROXY:-$ROOT/.build/release/kproxy}"
OUT="${STATEDIR:-/tmp/kproxy-scale}"
API="$OUT/api" # the harness's STATEDIR
NS="kpt-scale-$$-$RANDOM"
K8S_NS=scale
CHUNK=500 # objects per `kubectl create -f` file

die() { echo "scale-e2e: $*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

((EUID == 0)) || die "needs root (network namespaces, nftables, the apiserver harness)"
((ENDPOINTS >= 1 && ENDPOINTS <= 10)) || die "ENDPOINTS must be 1..10"
((SERVICES >= CHANGES && SERVICES <= 10000)) || die "SERVICES must be CHANGES..10000 (ClusterIPs 10.96.100.1-10.96.139.250)"
for tool in kubectl nft ip curl dig python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (make deps installs it)"
done
if [[ ! -x "$KPROXY" ]]; then
    log "building kproxy (release)"
    (cd "$ROOT" && swift build -c release --product kproxy) >&2
fi

KPROXY_PID=""
WAITER_PID=""
cleanup() {
    local status=$?
    [[ -z "$WAITER_PID" ]] || kill "$WAITER_PID" 2>/dev/null || true
    if [[ -n "$KPROXY_PID" ]] && kill -0 "$KPROXY_PID" 2>/dev/null; then
        kill -TERM "$KPROXY_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$KPROXY_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$KPROXY_PID" 2>/dev/null || true
        wait "$KPROXY_PID" 2>/dev/null || true
    fi
    ip netns del "$NS" 2>/dev/null || true
    "$HARNESS/apiserver-down.sh" "$API" >/dev/null 2>&1 || true
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the API server, fresh --------------------------------------------------------------------------
mkdir -p "$OUT"
"$HARNESS/apiserver-down.sh" "$API" >/dev/null 2>&1 || true
rm -rf "$API" "$OUT/manifests" "$OUT/sa"
"$HARNESS/apiserver-build.sh" >/dev/null
log "starting kube-apiserver in $API"
HARNESS_OWNER_PID=$$ "$HARNESS/apiserver-up.sh" "$API" >/dev/null
eval "$(grep -E '^(APISERVER_HOST|APISERVER_PORT|KUBECONFIG)=' "$API/env" | sed 's/^/export /')"

# --- 10k Services and their EndpointSlices -----------------------------------------------------------
# Service i: ClusterIP 10.96.(100 + i/250).(1 + i%250), port 80 -> 8080.
# Endpoint j of Service i: 10.(200 + j).(i/250).(1 + i%250), all unique, inside clusterCIDR 10.192.0.0/11.
cluster_ip() { echo "10.96.$((100 + $1 / 250)).$((1 + $1 % 250))"; }
svc_name() { printf 'svc-%05d' "$1"; }
log "generating $SERVICES Services × $ENDPOINTS endpoints"
mkdir -p "$OUT/manifests"
python3 - "$OUT/manifests" "$SERVICES" "$ENDPOINTS" "$CHUNK" "$K8S_NS" <<'EOF'
import json, sys
out, services, endpoints, chunk, ns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
objects = []
for i in range(services):
    name = "svc-%05d" % i
    a, b = i // 250, 1 + i % 250
    objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterIP": "10.96.%d.%d" % (100 + a, b),
                 "ports": [{"name": "p", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
    objects.append({"apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4", "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.%d.%d.%d" % (200 + j, a, b)], "conditions": {"ready": True},
                       "topology": {"kubernetes.io/hostname": "node-%d" % (j % 3)}} for j in range(endpoints)]})
for n, start in enumerate(range(0, len(objects), chunk)):
    with open("%s/chunk-%03d.json" % (out, n), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": objects[start:start + chunk]}, f)
EOF

kubectl create namespace "$K8S_NS" >/dev/null
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata: {name: node-a}
EOF
kubectl patch node node-a --subresource=status --type=merge \
    -p '{"status":{"addresses":[{"type":"InternalIP","address":"10.99.0.1"}]}}' >/dev/null
log "loading $(ls "$OUT/manifests" | wc -l) chunk files with $LOAD_JOBS parallel kubectl create"
load_start=$(now)
ls "$OUT/manifests"/chunk-*.json \
    | xargs -P "$LOAD_JOBS" -I{} sh -c 'kubectl create --validate=false -f "$1" >/dev/null || exit 255' _ {} \
    || die "kubectl create failed (see above)"
load_end=$(now)
loaded_services=$(kubectl get services -n "$K8S_NS" --no-headers | wc -l)
loaded_slices=$(kubectl get endpointslices.v1beta1.discovery.k8s.io -n "$K8S_NS" --no-headers | wc -l)
((loaded_services == SERVICES && loaded_slices == SERVICES)) \
    || die "the server holds $loaded_services Services and $loaded_slices EndpointSlices, expected $SERVICES"
log "loaded in $(ms "$load_start" "$load_end") ms"

# --- kproxy's identity, as deployed -------------------------------------------------------------------
kubectl apply -f "$ROOT/deploy/rbac.yaml" >/dev/null
"$HARNESS/sa-token.sh" "$API" kube-system kproxy "$OUT/sa" >/dev/null

# --- kproxy run ---------------------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HEALTHZ=$(free_port); METRICS=$(free_port); DNS=$(free_port)
cat >"$OUT/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
healthzBindAddress: 127.0.0.1:$HEALTHZ
metricsBindAddress: 127.0.0.1:$METRICS
clusterCIDR: 10.192.0.0/11
nftables: {syncPeriod: 30s, minSyncPeriod: $MIN_SYNC_PERIOD}
dns:
  listen: [$([[ "$DNS_SERVING" == off ]] || echo "127.0.0.1:$DNS")]
  upstreams: []
EOF
ip netns add "$NS"
ip -n "$NS" link set lo up

log "starting kproxy run (netns $NS, log $OUT/kproxy.log)"
start=$(now)
KUBERNETES_SERVICE_HOST="$APISERVER_HOST" KUBERNETES_SERVICE_PORT="$APISERVER_PORT" \
    "$KPROXY" run --serviceaccount-dir "$OUT/sa" --hostname-override node-a --netns "$NS" \
    --config "$OUT/config.yaml" >"$OUT/kproxy.log" 2>&1 &
KPROXY_PID=$!

metric() { # metric NAME-with-suffix: its value in a fresh scrape (0 when absent)
    curl -s "http://127.0.0.1:$METRICS/metrics" | awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}
rss() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$KPROXY_PID/status"; }

synced=""
for _ in $(seq 1200); do # 120 s
    kill -0 "$KPROXY_PID" 2>/dev/null || { tail -n 30 "$OUT/kproxy.log" >&2; die "kproxy exited before its first sync"; }
    body=$(curl -s --max-time 1 "http://127.0.0.1:$HEALTHZ/healthz" || true)
    if [[ "$body" == *lastUpdated* && "$body" != *'"lastUpdated": ""'* && "$body" != *'"lastUpdated":""'* ]]; then
        synced=$(now); break
    fi
    sleep 0.1
done
[[ -n "$synced" ]] || { tail -n 30 "$OUT/kproxy.log" >&2; die "no full sync within 120 s"; }
first_sync_ms=$(ms "$start" "$synced")
full_sync_s=$(metric kproxy_sync_full_proxy_rules_duration_seconds_sum)
full_syncs=$(metric kproxy_sync_full_proxy_rules_duration_seconds_count)
sleep 1 # let the first sync's garbage go before reading RSS
rss_synced=$(rss VmRSS)
log "first full sync after $first_sync_ms ms; RSS $rss_synced MiB"

in_ns_nft() { ip netns exec "$NS" nft "$@"; }
programmed_ips=$(in_ns_nft list map ip kproxy service-ips | grep -c 'tcp . 80 : goto service-' || true)

# --- one-Service changes ------------------------------------------------------------------------------
# Waiting for a change with `nft list chain` costs a dump of every chain and set in the table per poll
# (hundreds of ms at 10k Services), and `nft monitor` re-reads the whole table per event and falls
# behind. This watcher asks the kernel over netlink for the rules of one chain only (a filtered
# NFT_MSG_GETRULE dump, well under a millisecond) until the new endpoint's address appears in them.
cat >"$OUT/wait-rule.py" <<'EOF'
"""wait-rule.py TABLE CHAIN IPV4 TIMEOUT: prints "ready" after the first dump of the chain's rules, then,
once IPV4 appears in them, the wall-clock time; exits 1 on timeout."""
import socket, struct, sys, time
table, chain, ip, timeout = sys.argv[1], sys.argv[2], socket.inet_aton(sys.argv[3]), float(sys.argv[4])
NFNL_SUBSYS_NFTABLES, NFT_MSG_GETRULE, NFPROTO_IPV4 = 10, 7, 2
NLM_F_REQUEST, NLM_F_DUMP, NLMSG_ERROR, NLMSG_DONE = 1, 0x300, 2, 3
def attr(kind, value):
    data = value.encode() + b"\0"
    return struct.pack("=HH", 4 + len(data), kind) + data + b"\0" * (-len(data) % 4)
body = struct.pack("=BBH", NFPROTO_IPV4, 0, 0) + attr(1, table) + attr(2, chain)  # NFTA_RULE_TABLE, _CHAIN
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
def dump(seq):
    sock.send(struct.pack("=IHHII", 16 + len(body), NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETRULE,
                          NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
    found = False
    while True:
        data, offset = sock.recv(1 << 20), 0
        while offset < len(data):
            length, kind = struct.unpack_from("=IH", data, offset)
            if kind == NLMSG_DONE:
                return found
            if kind == NLMSG_ERROR:
                errno = -struct.unpack_from("=i", data, offset + 16)[0]
                sys.exit("netlink dump of %s %s failed: errno %d" % (table, chain, errno))
            found = found or ip in data[offset + 16:offset + length]
            offset += (length + 3) & ~3
deadline, seq = time.time() + timeout, 1
if dump(seq):
    sys.exit("%s is already in %s" % (sys.argv[3], chain))
print("ready", flush=True)
while time.time() < deadline:
    seq += 1
    if dump(seq):
        print("%.6f" % time.time(), flush=True)
        sys.exit(0)
    time.sleep(0.0005)
sys.exit("%s did not appear in %s within %s s" % (sys.argv[3], chain, timeout))
EOF

latencies=()
kubectl_ms=()
after_kubectl=()
partial_count0=$(metric kproxy_sync_partial_proxy_rules_duration_seconds_count)
partial_sum0=$(metric kproxy_sync_partial_proxy_rules_duration_seconds_sum)
npd_count0=$(metric kproxy_network_programming_duration_seconds_count)
npd_sum0=$(metric kproxy_network_programming_duration_seconds_sum)
services_map=$(in_ns_nft list map ip kproxy service-ips)
for run in $(seq "$CHANGES"); do
    i=$(((run * 1777) % SERVICES))
    name=$(svc_name "$i")
    chain=$(awk -v ip="$(cluster_ip "$i")" '{ at = 0; for (f = 1; f < NF; f++) if ($f == ip) at = f; else if (at && $f == "goto") { c = $(f + 1); gsub(/[",]/, "", c); print c; exit } }' <<<"$services_map")
    [[ -n "$chain" ]] || die "$K8S_NS/$name ($(cluster_ip "$i")) is not in the service-ips map"
    new_ip="10.210.$((run / 250)).$((1 + run % 250))"
    t0=$(now)
    rules=$(in_ns_nft list chain ip kproxy "$chain")
    list_chain_ms=$(ms "$t0" "$(now)")
    [[ "$rules" == *"dnat to "* && "$rules" != *"dnat to $new_ip:"* ]] || die "unexpected $chain: $rules"
    sleep 1 # longer than minSyncPeriod: no coalescing with the previous change
    rm -f "$OUT/wait-rule.out"
    ip netns exec "$NS" python3 "$OUT/wait-rule.py" kproxy "$chain" "$new_ip" 30 >"$OUT/wait-rule.out" &
    WAITER_PID=$!
    for _ in $(seq 1000); do [[ -s "$OUT/wait-rule.out" ]] && break; sleep 0.01; done
    [[ "$(head -n 1 "$OUT/wait-rule.out")" == ready ]] || die "the netlink watcher did not start"
    t_start=$(now)
    kubectl patch endpointslices.v1beta1.discovery.k8s.io "$name" -n "$K8S_NS" --type=json \
        -p "[{\"op\":\"replace\",\"path\":\"/endpoints/0/addresses/0\",\"value\":\"$new_ip\"}]" >/dev/null
    t_kubectl=$(now)
    wait "$WAITER_PID" || { tail -n 30 "$OUT/kproxy.log" >&2; die "$new_ip never reached $chain"; }
    WAITER_PID=""
    seen=$(sed -n 2p "$OUT/wait-rule.out")
    rules=$(in_ns_nft list chain ip kproxy "$chain")
    [[ "$rules" == *"dnat to $new_ip:"* ]] || die "netlink showed $new_ip, but nft list chain $chain does not: $rules"
    after_kubectl+=("$(ms "$t_kubectl" "$seen")")
    latencies+=("$(ms "$t_start" "$seen")")
    kubectl_ms+=("$(ms "$t_start" "$t_kubectl")")
    log "change $run ($name -> $new_ip): in the kernel after ${latencies[-1]} ms (kubectl patch took ${kubectl_ms[-1]} ms, then ${after_kubectl[-1]} ms)"
done
sleep 0.5
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
partial_n=$(awk -v a="$(metric kproxy_sync_partial_proxy_rules_duration_seconds_count)" -v b="$partial_count0" 'BEGIN { print a - b }')
partial_mean_ms=$(awk -v s1="$(metric kproxy_sync_partial_proxy_rules_duration_seconds_sum)" -v s0="$partial_sum0" -v n="$partial_n" \
    'BEGIN { if (n > 0) printf "%.2f", (s1 - s0) / n * 1000; else print "n/a" }')
npd_n=$(awk -v a="$(metric kproxy_network_programming_duration_seconds_count)" -v b="$npd_count0" 'BEGIN { print a - b }')
npd_mean_ms=$(awk -v s1="$(metric kproxy_network_programming_duration_seconds_sum)" -v s0="$npd_sum0" -v n="$npd_n" \
    'BEGIN { if (n > 0) printf "%.1f", (s1 - s0) / n * 1000; else print "n/a" }')

# --- DNS ----------------------------------------------------------------------------------------------
probe=$(svc_name $((SERVICES / 2)))
dig_answer="n/a (DNS=off)" dns_queries=0 dns_answers=0 dns_ms=0
if [[ "$DNS_SERVING" != off ]]; then
    dig_answer=$(dig +short +time=2 +tries=1 @127.0.0.1 -p "$DNS" "$probe.$K8S_NS.svc.cluster.local" A)
    [[ "$dig_answer" == "$(cluster_ip $((SERVICES / 2)))" ]] \
        || die "dig $probe.$K8S_NS.svc.cluster.local answered '$dig_answer', expected $(cluster_ip $((SERVICES / 2)))"
    for i in $(seq 0 7 $((SERVICES - 1))); do echo "$(svc_name "$i").$K8S_NS.svc.cluster.local A"; done >"$OUT/dns-queries"
    dns_start=$(now)
    dns_answers=$(dig +short +time=2 +tries=1 @127.0.0.1 -p "$DNS" -f "$OUT/dns-queries" | grep -c '^10\.96\.' || true)
    dns_ms=$(ms "$dns_start" "$(now)")
    dns_queries=$(wc -l <"$OUT/dns-queries")
fi
rss_dns=$(rss VmRSS)
hwm=$(rss VmHWM)

errors=$(grep -ciE 'error|warning|critical' "$OUT/kproxy.log" || true)
kill -0 "$KPROXY_PID" 2>/dev/null || die "kproxy died during the run (see $OUT/kproxy.log)"

# --- results ------------------------------------------------------------------------------------------
{
    echo
    echo "kproxy scale check: $SERVICES Services × $ENDPOINTS endpoints, real kube-apiserver 1.20.2, minSyncPeriod $MIN_SYNC_PERIOD, DNS $DNS_SERVING"
    printf '%-58s %s\n' "what" "value"
    printf '%-58s %s\n' "loading the API server ($((2 * SERVICES)) objects, $LOAD_JOBS× kubectl)" "$(ms "$load_start" "$load_end") ms"
    printf '%-58s %s\n' "start -> first full sync (/healthz lastUpdated)" "$first_sync_ms ms"
    printf '%-58s %s\n' "  of which the full sync itself (metric, $full_syncs sync)" "$(awk -v s="$full_sync_s" 'BEGIN { printf "%.0f", s * 1000 }') ms"
    printf '%-58s %s\n' "ClusterIPs in the kernel's service-ips map" "$programmed_ips"
    printf '%-58s %s\n' "one-Service change -> kernel, median of $CHANGES (kubectl start)" "$(median "${latencies[@]}") ms  (all: ${latencies[*]})"
    printf '%-58s %s\n' "  kubectl patch itself, median" "$(median "${kubectl_ms[@]}") ms"
    printf '%-58s %s\n' "  kubectl exit -> kernel, median" "$(median "${after_kubectl[@]}") ms  (all: ${after_kubectl[*]})"
    printf '%-58s %s\n' "  (for scale: one \`nft list chain\` of that chain)" "$list_chain_ms ms"
    printf '%-58s %s\n' "  partial sync duration, mean of $partial_n (metric)" "$partial_mean_ms ms"
    printf '%-58s %s\n' "  network_programming_duration, mean of $npd_n (metric)" "$npd_mean_ms ms"
    printf '%-58s %s\n' "RSS after the first sync (VmRSS)" "$rss_synced MiB"
    if [[ "$DNS_SERVING" == off ]]; then
        printf '%-58s %s\n' "RSS at the end (DNS off)" "$rss_dns MiB"
    else
        printf '%-58s %s\n' "RSS after $dns_queries DNS queries ($dns_answers answered, $dns_ms ms)" "$rss_dns MiB"
    fi
    printf '%-58s %s\n' "peak RSS (VmHWM)" "$hwm MiB"
    printf '%-58s %s\n' "dig $probe.$K8S_NS.svc.cluster.local" "$dig_answer"
    printf '%-58s %s\n' "log lines with error/warning ($OUT/kproxy.log)" "$errors"
}
