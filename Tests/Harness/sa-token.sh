#!/usr/bin/env bash
# Gets a real bound ServiceAccount token from the harness's apiserver and lays it out in OUTDIR
# exactly as kubelet mounts /var/run/secrets/kubernetes.io/serviceaccount in a pod: files token,
# ca.crt and namespace, reached through symlinks into a timestamped directory that the `..data`
# symlink names. Calling it again rotates the token atomically, as kubelet does.
#
# Usage: sa-token.sh STATEDIR NAMESPACE SERVICEACCOUNT OUTDIR
#
# The namespace and ServiceAccount are created if they do not exist. No RBAC is granted.
#
# Environment:
#   TOKEN_EXPIRATION_SECONDS  requested lifetime (default 3600; the server's minimum is 600)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($# == 4)) || harness_die "usage: $0 STATEDIR NAMESPACE SERVICEACCOUNT OUTDIR"
STATEDIR="$(harness_statedir "$1")"
readonly STATEDIR NS="$2" SA="$3" OUTDIR="$4"
readonly EXPIRATION="${TOKEN_EXPIRATION_SECONDS:-3600}"
[[ -s "$STATEDIR/env" ]] || harness_die "$STATEDIR/env is missing; run apiserver-up.sh $STATEDIR first"
[[ "$EXPIRATION" =~ ^[0-9]+$ ]] || harness_die "TOKEN_EXPIRATION_SECONDS must be a number of seconds"

KUBECONFIG="$(harness_env_get "$STATEDIR" KUBECONFIG)"
URL="$(harness_env_get "$STATEDIR" APISERVER_URL)"
CA="$(harness_env_get "$STATEDIR" CA_FILE)"
ADMIN_TOKEN="$(harness_env_get "$STATEDIR" ADMIN_TOKEN)"
export KUBECONFIG
command -v kubectl >/dev/null || harness_die "kubectl is not installed"
kubectl() { command kubectl --kubeconfig "$KUBECONFIG" "$@"; }

if ! kubectl get namespace "$NS" >/dev/null 2>&1; then
    kubectl create namespace "$NS" >/dev/null || harness_die "cannot create namespace $NS"
fi
if ! kubectl -n "$NS" get serviceaccount "$SA" >/dev/null 2>&1; then
    kubectl -n "$NS" create serviceaccount "$SA" >/dev/null || harness_die "cannot create ServiceAccount $NS/$SA"
fi

# kubectl create token (TokenRequest); curl on the same API if this kubectl lacks the command.
request_token() {
    local token err
    err="$(mktemp)"
    if token="$(kubectl -n "$NS" create token "$SA" --duration="${EXPIRATION}s" 2>"$err")" && [[ -n "$token" ]]; then
        rm -f "$err"
        printf '%s' "$token"
        return 0
    fi
    if ! grep -qiE 'unknown (command|flag)' "$err"; then
        harness_die "kubectl create token for $NS/$SA failed: $(cat "$err"; rm -f "$err")"
    fi
    rm -f "$err"
    harness_log "this kubectl has no 'create token'; calling the TokenRequest API with curl"
    local response code body
    response="$(curl -sS -w '\n%{http_code}' --cacert "$CA" -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'Content-Type: application/json' -X POST \
        --data "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{\"expirationSeconds\":$EXPIRATION}}" \
        "$URL/api/v1/namespaces/$NS/serviceaccounts/$SA/token")" \
        || harness_die "TokenRequest for $NS/$SA: cannot reach $URL"
    code="${response##*$'\n'}"
    body="${response%$'\n'*}"
    [[ "$code" == 200 || "$code" == 201 ]] || harness_die "TokenRequest for $NS/$SA: HTTP $code: $body"
    token="$(printf '%s' "$body" | tr -d '\n' | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')"
    [[ -n "$token" ]] || harness_die "TokenRequest for $NS/$SA returned no token: $body"
    printf '%s' "$token"
}

token="$(request_token)"

# kubelet's AtomicWriter: write a new timestamped directory, swap `..data` to it with one rename,
# point the visible names at `..data/NAME`, then drop the old directory.
mkdir -p "$OUTDIR"
old_data="$(readlink "$OUTDIR/..data" 2>/dev/null || true)"
ts_dir="..$(date -u +%Y_%m_%d_%H_%M_%S.%N)"
mkdir "$OUTDIR/$ts_dir"
printf '%s' "$token" >"$OUTDIR/$ts_dir/token"
cp "$CA" "$OUTDIR/$ts_dir/ca.crt"
printf '%s' "$NS" >"$OUTDIR/$ts_dir/namespace"
chmod 755 "$OUTDIR/$ts_dir"
chmod 644 "$OUTDIR/$ts_dir/token" "$OUTDIR/$ts_dir/ca.crt" "$OUTDIR/$ts_dir/namespace"
ln -sfn "$ts_dir" "$OUTDIR/..data_tmp"
mv -T "$OUTDIR/..data_tmp" "$OUTDIR/..data"
for name in token ca.crt namespace; do
    [[ -L "$OUTDIR/$name" ]] || ln -sfn "..data/$name" "$OUTDIR/$name"
done
if [[ -n "$old_data" && "$old_data" != "$ts_dir" ]]; then
    rm -rf "${OUTDIR:?}/$old_data"
fi
harness_log "token for $NS/$SA in $OUTDIR (expires in ${EXPIRATION}s)"
echo "$OUTDIR"
