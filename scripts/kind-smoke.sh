#!/usr/bin/env bash
# For machines with Docker (not this project's development machines, which have no Docker
# engine): a kind cluster from kind-config.yaml, the operator's image built and loaded,
# ZooKeeper, the Helm chart, and a smoke test: an annotated Pod is found by a real ASAB
# client running in another Pod. Needs docker, kind, kubectl and helm on PATH.
#   scripts/kind-smoke.sh          # create, install, test (the cluster is kept)
#   scripts/kind-smoke.sh delete   # remove the cluster
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cluster=asab-discovery
image=asab-discovery-operator:0.1.0
say() { printf '[kind] %s\n' "$*" >&2; }

if [ "${1:-}" = delete ]; then
  kind delete cluster --name "$cluster"
  exit 0
fi

kind get clusters | grep -qx "$cluster" || kind create cluster --config kind-config.yaml
kubectl config use-context "kind-$cluster" >/dev/null

say "building and loading $image"
docker build -t "$image" .
kind load docker-image "$image" --name "$cluster"

say "ZooKeeper (one server, in namespace zookeeper)"
kubectl create namespace zookeeper --dry-run=client -o yaml | kubectl apply -f -
kubectl -n zookeeper apply -f examples/kind/zookeeper.yaml
kubectl -n zookeeper rollout status statefulset/zookeeper --timeout=300s

say "the operator, by its Helm chart"
helm upgrade --install asab-discovery-operator manifests/helm/asab-discovery-operator \
  --namespace asab-system --create-namespace \
  --set zookeeper.servers=zookeeper.zookeeper.svc.cluster.local:2181 --wait --timeout 300s

say "an annotated Pod, and a real ASAB client that must find it"
kubectl create namespace smoke --dry-run=client -o yaml | kubectl apply -f -
kubectl -n smoke create configmap asab-peer --from-file=tests/peers/asab_peer.py \
  --dry-run=client -o yaml | kubectl apply -f -
kubectl -n smoke apply -f examples/kind/smoke.yaml
kubectl -n smoke wait --for=condition=Ready pod/web --timeout=180s
if kubectl -n smoke wait --for=condition=complete job/asab-client --timeout=300s; then
  kubectl -n smoke logs job/asab-client
  say "passed: the ASAB client located the annotated Pod"
else
  kubectl -n smoke logs job/asab-client || true
  kubectl -n asab-system logs -l app.kubernetes.io/name=asab-discovery-operator --tail=50 || true
  say "FAILED"
  exit 1
fi
