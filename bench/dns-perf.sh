#!/usr/bin/env bash
# DNS answers from the cluster zone, kproxy against Knot DNS (DESIGN.md §6: ≥ 1.0× Knot, same records,
# same run). Both serve the zone generated from one set of manifests: kproxy reads the manifests, Knot
# the master file `kproxy dns --print-zone` writes from them. dnsperf runs each server with the same
# query mix, first with one UDP worker/socket each, then with two (the machine's cores).
#
# Usage: bench/dns-perf.sh [SERVICES] [SECONDS]   (defaults: 10000 Services, 10 s per run)
# Needs: dnsperf, knot (Debian packages), python3, and a release build of kproxy (built if missing).
set -euo pipefail

SERVICES=${1:-10000}
SECONDS_PER_RUN=${2:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KPROXY=${KPROXY:-$ROOT/.build/release/kproxy}
KPROXY_PORT=5453
KNOT_PORT=5454

for tool in dnsperf knotd python3; do
	command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install dnsperf knot python3" >&2; exit 1; }
done
if [ ! -x "$KPROXY" ]; then
	(cd "$ROOT" && swift build -c release --product kproxy)
fi

WORK=$(mktemp -d /tmp/kpt-dns-perf.XXXXXX)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# Manifests: SERVICES ClusterIP Services in 100 namespaces, every tenth headless with 10 named endpoints;
# and the query mix: Service A, AAAA (NODATA), named-port SRV, headless A, and NXDOMAIN.
python3 - "$SERVICES" "$WORK" <<'EOF'
import json, sys
services, work = int(sys.argv[1]), sys.argv[2]
objects, queries = [], []
for n in range(services):
    ns, name, headless = f"ns-{n % 100}", f"svc-{n}", n % 10 == 0
    ip = f"10.{96 + n // 65536}.{n // 256 % 256}.{n % 256}"
    objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
                    "spec": {"clusterIP": "None" if headless else ip, "ports": [{"name": "http", "port": 80}]}})
    objects.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": f"{name}-1", "namespace": ns,
                                 "labels": {"kubernetes.io/service-name": name}},
                    "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    "endpoints": [{"addresses": [f"10.{128 + n // 65536}.{n // 256 % 256}.{e + 1}"],
                                   "conditions": {"ready": True}, "hostname": f"ep-{e}"} for e in range(10)]})
    base = f"{name}.{ns}.svc.cluster.local"
    if n % 7 == 0:
        queries += [f"{base} A", f"{base} AAAA", f"_http._tcp.{base} SRV", f"nope-{n}.{ns}.svc.cluster.local A"]
with open(f"{work}/manifests.json", "w") as f:
    json.dump({"apiVersion": "v1", "kind": "List", "items": objects}, f)
with open(f"{work}/queries.txt", "w") as f:
    f.write("\n".join(queries) + "\n")
EOF
mkdir -p "$WORK/manifests" "$WORK/knot"
mv "$WORK/manifests.json" "$WORK/manifests/"
"$KPROXY" dns --manifests "$WORK/manifests" --print-zone >"$WORK/knot/cluster.local.zone"

start_knot() { # workers
	cat >"$WORK/knot/knot.conf" <<EOF
server:
    listen: 127.0.0.1@$KNOT_PORT
    udp-workers: $1
    tcp-workers: 1
    background-workers: 1
    rundir: $WORK/knot
log:
  - target: stderr
    any: error
database:
    storage: $WORK/knot
zone:
  - domain: cluster.local
    file: $WORK/knot/cluster.local.zone
    journal-content: none
    zonefile-sync: -1
EOF
	knotd -c "$WORK/knot/knot.conf" &
	PIDS+=($!)
}

start_kproxy() { # sockets
	"$KPROXY" dns --manifests "$WORK/manifests" --listen "127.0.0.1:$KPROXY_PORT" --udp-sockets "$1" \
		--resolv-conf /dev/null 2>"$WORK/kproxy.log" &
	PIDS+=($!)
}

wait_for() { # port
	# Loading 10k Services from JSON takes kproxy a while on a busy machine: allow a minute.
	for _ in $(seq 300); do
		dig +time=1 +tries=1 @127.0.0.1 -p "$1" svc-1.ns-1.svc.cluster.local A 2>/dev/null | grep -q "status: NOERROR" && return
		sleep 0.2
	done
	echo "server on port $1 did not answer" >&2
	cat "$WORK/kproxy.log" >&2 2>/dev/null || true
	exit 1
}

stop_all() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	PIDS=()
}

perf() { # port → "qps avg_latency_ms lost"
	dnsperf -s 127.0.0.1 -p "$1" -d "$WORK/queries.txt" -l "$SECONDS_PER_RUN" -c 8 -T 1 -q 200 -t 2 2>&1 |
		python3 -c '
import re, sys
text = sys.stdin.read()
qps = re.search(r"Queries per second:\s+([\d.]+)", text)
lat = re.search(r"Average Latency \(s\):\s+([\d.]+)", text)
lost = re.search(r"Queries lost:\s+(\d+)", text)
if not qps: sys.exit("dnsperf failed:\n" + text)
print(qps.group(1), float(lat.group(1)) * 1000, lost.group(1))'
}

echo "DNS: $SERVICES Services, $(wc -l <"$WORK/queries.txt") query names, $SECONDS_PER_RUN s per run, $(nproc) cores"
printf "%-10s %-8s %12s %14s %8s\n" server workers QPS "avg lat (ms)" lost
declare -A RESULT
for workers in 1 2; do
	start_knot "$workers"; wait_for $KNOT_PORT
	RESULT[knot$workers]=$(perf $KNOT_PORT); stop_all
	start_kproxy "$workers"; wait_for $KPROXY_PORT
	RESULT[kproxy$workers]=$(perf $KPROXY_PORT); stop_all
	for server in knot kproxy; do
		read -r qps lat lost <<<"${RESULT[$server$workers]}"
		printf "%-10s %-8s %12.0f %14.3f %8s\n" "$server" "$workers" "$qps" "$lat" "$lost"
	done
done
echo
for workers in 1 2; do
	read -r kq kl _ <<<"${RESULT[knot$workers]}"
	read -r pq pl _ <<<"${RESULT[kproxy$workers]}"
	python3 -c "print(f'$workers worker(s): kproxy/Knot QPS = {$pq/$kq:.2f}x (target >= 1.0x), latency = {$pl/$kl:.2f}x')"
done
