# kproxy: `make run` starts the daemon on the demo cluster; `make test` runs every test.
# Both install what they need from Debian's packages first, and only when something is missing.

SWIFT ?= swift
DEB_PACKAGES := pkg-config libmnl-dev libnftnl-dev nftables iproute2 bind9-dnsutils curl \
	etcd-server etcd-client golang-go rsync dpkg-dev openssl dnsmasq-base conntrack libcap2-bin python3
## Only the benchmarks need these: a reference DNS server and load generator.
BENCH_PACKAGES := dnsperf knot
DEMO := deploy/examples/demo-cluster

.PHONY: all deps bench-deps install build run test bench bench-dns scale apiserver clean

all: build

## Installs missing Debian packages; `apt-get update` runs only when one is missing.
deps:
	@$(MAKE) --no-print-directory install PACKAGES="$(DEB_PACKAGES)"

bench-deps:
	@$(MAKE) --no-print-directory install PACKAGES="$(DEB_PACKAGES) $(BENCH_PACKAGES)"

install:
	@missing=""; \
	for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build -c release --product kproxy

run: build
	.build/release/kproxy run --config deploy/examples/demo-config.yaml --manifests $(DEMO) --dry-run

## The real kube-apiserver for the end-to-end tests, built once per machine and cached outside the repo.
apiserver: deps
	Tests/Harness/apiserver-build.sh

test: deps apiserver
	python3 deploy/check.py
	$(SWIFT) build --build-tests
	$(SWIFT) test --no-parallel

bench: bench-deps
	$(SWIFT) package --package-path bench benchmark

## dnsperf against `kproxy dns` and Knot serving the same zone (DESIGN.md §6).
bench-dns: bench-deps build
	bench/dns-perf.sh

## The scale check (not part of `make test`): 10k Services × 10 endpoints in a real kube-apiserver, then
## `kproxy run` (release) into a scratch netns; prints first-sync time, one-change latency and RSS.
scale: build apiserver
	bench/scale-e2e.sh

clean:
	rm -rf .build bench/.build
