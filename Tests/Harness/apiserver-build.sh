#!/usr/bin/env bash
# Prints the path of a cached kube-apiserver 1.20.2 binary, building it first if it is missing.
#
# The binary is built from Debian's `kubernetes` source package (1.20.2 with its vendor/ tree), see
# DESIGN.md §7. The cache lives outside the repository, so one build serves every checkout and test
# run on the machine. A lock makes concurrent callers wait for one build instead of starting two.
#
# Environment:
#   KPROXY_TEST_CACHE  cache directory (default /var/cache/kproxy-test)
#
# Only the path goes to stdout; progress and errors go to stderr, the build output to
# $KPROXY_TEST_CACHE/kube-apiserver-1.20.2.build.log.
set -euo pipefail

readonly VERSION=1.20.2
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly CACHE="${KPROXY_TEST_CACHE:-/var/cache/kproxy-test}"
readonly BIN="$CACHE/kube-apiserver-$VERSION"
readonly LOG="$BIN.build.log"
readonly WORK="$CACHE/build-$VERSION"
readonly TREE="$WORK/kubernetes"
readonly PATCH="$HERE/reflect2-go1.18-mapiterinit.patch"
readonly SRC_LIST=/etc/apt/sources.list.d/debian-src.sources

log() { echo "apiserver-build: $*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -x "$BIN" ]]; then
    echo "$BIN"
    exit 0
fi

mkdir -p "$CACHE" 2>/dev/null || die "cannot create cache directory $CACHE (run as root, or set KPROXY_TEST_CACHE)"
[[ -w "$CACHE" ]] || die "cache directory $CACHE is not writable (run as root, or set KPROXY_TEST_CACHE)"

exec 9>"$CACHE/build.lock"
if ! flock -n 9; then
    log "another build holds $CACHE/build.lock; waiting for it"
    flock 9
fi
# The holder of the lock may have just finished the binary.
if [[ -x "$BIN" ]]; then
    echo "$BIN"
    exit 0
fi

# Installs the Debian packages that provide the given commands, only if some are missing.
ensure_tools() {
    local -A pkg_of=([go]=golang-go [rsync]=rsync [dpkg-source]=dpkg-dev [make]=make [patch]=patch
        [flock]=util-linux)
    local missing=() cmd
    for cmd in "${!pkg_of[@]}"; do
        command -v "$cmd" >/dev/null || missing+=("${pkg_of[$cmd]}")
    done
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) -eq 0 ]] || die "missing packages ${missing[*]}; install them or run as root"
    log "installing ${missing[*]}"
    apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 \
        || die "apt-get install ${missing[*]} failed"
}

# Adds a deb-src twin of the system's deb822 apt source unless source packages are already known.
ensure_source_index() {
    if apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes$'; then
        return 0
    fi
    if [[ ! -e "$SRC_LIST" ]]; then
        [[ -r /etc/apt/sources.list.d/debian.sources ]] \
            || die "no /etc/apt/sources.list.d/debian.sources to derive a deb-src entry from"
        log "adding $SRC_LIST (deb-src twin of debian.sources)"
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$SRC_LIST"
    fi
    log "apt-get update (for source package indexes)"
    apt-get update -qq >&2 || die "apt-get update failed"
    apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes$' \
        || die "apt knows no source package 'kubernetes' even with $SRC_LIST"
}

# Downloads, unpacks and patches the source into $TREE. A tree left by an interrupted build is
# reused, so the retry only compiles what is missing.
prepare_tree() {
    if [[ -f "$TREE/.kproxy-prepared" ]]; then
        log "reusing prepared source tree $TREE"
        return 0
    fi
    rm -rf "$WORK"
    mkdir -p "$WORK"
    log "downloading the kubernetes source package"
    (cd "$WORK" && apt-get source --download-only kubernetes) >>"$LOG" 2>&1 \
        || die "apt-get source --download-only kubernetes failed (see $LOG)"
    local dsc
    dsc=$(find "$WORK" -maxdepth 1 -name 'kubernetes_*.dsc' | head -n1)
    [[ -n "$dsc" ]] || die "apt-get source left no kubernetes_*.dsc in $WORK"
    [[ "$dsc" == *"$VERSION"* ]] || die "source package $(basename "$dsc") is not upstream $VERSION"
    log "unpacking $(basename "$dsc")"
    dpkg-source -x "$dsc" "$TREE.tmp" >>"$LOG" 2>&1 || die "dpkg-source -x failed (see $LOG)"
    log "patching vendored modern-go/reflect2 for Go >= 1.18"
    patch -d "$TREE.tmp" -p1 --forward <"$PATCH" >>"$LOG" 2>&1 \
        || die "applying $PATCH failed (see $LOG)"
    mkdir -p "$TREE.tmp/.go/src/k8s.io"
    ln -sfn ../../.. "$TREE.tmp/.go/src/k8s.io/kubernetes"
    touch "$TREE.tmp/.kproxy-prepared"
    mv "$TREE.tmp" "$TREE"
}

build() {
    log "building cmd/kube-apiserver (about 5 minutes on 2 idle cores; log: $LOG)"
    local start=$SECONDS
    # GOPROXY=off: everything comes from vendor/, and this machine may not reach the Go proxy.
    if ! (cd "$TREE" && env GOPATH="$TREE/.go" CGO_ENABLED=0 GOPROXY=off GOFLAGS= \
        make WHAT=cmd/kube-apiserver) >>"$LOG" 2>&1; then
        tail -n 30 "$LOG" >&2
        die "make WHAT=cmd/kube-apiserver failed (full log: $LOG)"
    fi
    local out="$TREE/_output/bin/kube-apiserver"
    [[ -x "$out" ]] || die "make succeeded but $out is missing"
    "$out" --version 2>/dev/null | grep -q "v$VERSION" \
        || die "$out reports $("$out" --version 2>&1), expected v$VERSION"
    cp "$out" "$BIN.tmp"
    mv "$BIN.tmp" "$BIN"
    log "built $BIN in $((SECONDS - start)) s"
}

: >"$LOG"
ensure_tools
ensure_source_index
prepare_tree
build
# The tree (with its Go build cache) is over a gigabyte and only the binary is needed.
rm -rf "$WORK"
echo "$BIN"
