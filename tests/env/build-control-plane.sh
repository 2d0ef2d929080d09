#!/usr/bin/env bash
# Builds a real kube-apiserver and a real etcd from the Go module proxy, the way
# Kubernetes' own test environment gets them, and the clients the manifest tests use
# (kubectl with its built-in kustomize, and helm), into a cache outside the repo:
#   $ASAB_OPERATOR_CACHE (default ~/.cache/asab-discovery-operator)/bin
# The Go module and build caches (~/go/pkg/mod, ~/.cache/go-build) make every run
# after the first one take a second. Prints the four binaries' paths at the end:
# etcd, kube-apiserver, kubectl, helm.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
HELM_VERSION=${HELM_VERSION:-v4.3.2}
CACHE=${ASAB_OPERATOR_CACHE:-$HOME/.cache/asab-discovery-operator}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=$CACHE/bin
export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}
mkdir -p "$BIN" "$CACHE/src"

log() { printf '[control-plane] %s\n' "$*" >&2; }

# go build -v names each package it compiles: count them instead of printing
# thousands of lines, but let anything else (errors) through.
build_with_progress() {
  local what=$1 out=$2 logfile
  logfile=$CACHE/src/$what.build.log
  log "compiling $what (first run on this machine only; 10-25 min on 2 cores)"
  if ! go build -v -trimpath -ldflags "${LDFLAGS:-}" -o "$out.tmp" . 2>"$logfile"; then
    grep -v -E '^[A-Za-z0-9._/~-]+$' "$logfile" | tail -n 40 >&2
    log "building $what failed; full log: $logfile"
    return 1
  fi
  log "compiled $(grep -c -E '^[A-Za-z0-9._/~-]+$' "$logfile" || true) packages for $what"
  mv "$out.tmp" "$out"
}

build_etcd() {
  local out=$BIN/etcd-$ETCD_VERSION work=$CACHE/src/etcd-$ETCD_VERSION
  [ -x "$out" ] && { echo "$out"; return; }
  mkdir -p "$work"
  cp "$HERE/go/etcd/main.go" "$work/"
  cat >"$work/go.mod" <<MOD
module asab-operator-testenv/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  log "resolving etcd $ETCD_VERSION modules"
  (cd "$work" && go mod tidy >&2 && LDFLAGS="-s -w" build_with_progress "etcd-$ETCD_VERSION" "$out")
  echo "$out"
}

# kubernetes' go.mod requires its staging modules (k8s.io/api, k8s.io/apiserver, ...)
# at v0.0.0 and replaces them with ./staging paths that do not exist outside its
# repo. Pin each one to the matching published v0.MINOR.PATCH, reading the list
# from that go.mod so that it never goes stale.
kube_replaces() {
  local gomod=$1 staging=v0.${K8S_VERSION#v1.}
  awk -v v="$staging" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { printf "replace %s => %s %s\n", $1, $1, v }' "$gomod"
}

build_kube_apiserver() {
  local out=$BIN/kube-apiserver-$K8S_VERSION work=$CACHE/src/kube-apiserver-$K8S_VERSION gomod
  [ -x "$out" ] && { echo "$out"; return; }
  mkdir -p "$work"
  cp "$HERE/go/kube-apiserver/main.go" "$work/"
  log "fetching k8s.io/kubernetes@$K8S_VERSION go.mod"
  gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  {
    printf 'module asab-operator-testenv/kube-apiserver\n\ngo 1.24\n\nrequire k8s.io/kubernetes %s\n\n' "$K8S_VERSION"
    kube_replaces "$gomod"
  } >"$work/go.mod"
  log "pinned $(grep -c '^replace' "$work/go.mod") staging modules to v0.${K8S_VERSION#v1.}; resolving modules (first run downloads ~300 MB)"
  local major minor
  major=$(echo "$K8S_VERSION" | cut -d. -f1 | tr -d v)
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  local pkg=k8s.io/component-base/version
  (cd "$work" && go mod tidy >&2 &&
    LDFLAGS="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
      build_with_progress "kube-apiserver-$K8S_VERSION" "$out")
  echo "$out"
}

# kubectl lives in its own module (k8s.io/kubectl), published at v0.MINOR.PATCH.
build_kubectl() {
  local out=$BIN/kubectl-$K8S_VERSION work=$CACHE/src/kubectl-$K8S_VERSION staging=v0.${K8S_VERSION#v1.}
  [ -x "$out" ] && { echo "$out"; return; }
  mkdir -p "$work"
  cp "$HERE/go/kubectl/main.go" "$work/"
  cat >"$work/go.mod" <<MOD
module asab-operator-testenv/kubectl

go 1.24

require (
	k8s.io/kubectl $staging
	k8s.io/component-base $staging
	k8s.io/client-go $staging
)
MOD
  log "resolving kubectl $staging modules"
  local pkg=k8s.io/client-go/pkg/version base=k8s.io/component-base/version
  (cd "$work" && go mod tidy >&2 &&
    LDFLAGS="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $base.gitVersion=$K8S_VERSION" \
      build_with_progress "kubectl-$K8S_VERSION" "$out")
  echo "$out"
}

# helm's own main package, installed at a pinned version (its go.mod has no replaces).
build_helm() {
  local out=$BIN/helm-$HELM_VERSION work=$CACHE/src/helm-$HELM_VERSION
  [ -x "$out" ] && { echo "$out"; return; }
  mkdir -p "$work"
  log "compiling helm $HELM_VERSION (first run on this machine only)"
  if ! GOBIN=$work go install -trimpath \
      -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
      "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" 2>"$work/build.log"; then
    tail -n 40 "$work/build.log" >&2
    log "building helm failed; full log: $work/build.log"
    return 1
  fi
  mv "$work/helm" "$out"
  echo "$out"
}

exec 9>"$CACHE/build.lock"
flock 9
build_etcd
build_kube_apiserver
build_kubectl
build_helm
