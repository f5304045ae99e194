#!/usr/bin/env bash
# `make kind-up`: a kind cluster with Cephalon installed from charts/cephalon.
#
#   1. create the kind cluster $KIND_CLUSTER (kept if it exists; `make kind-down` deletes it)
#   2. build the four images from the repository root and load them into the cluster
#   3. create the test tenant's Secrets (fake values generated here, never written to git)
#   4. deploy the scripted model (devkit image), then `helm upgrade --install` the chart
#      with tests/e2e_kind/values.yaml and wait for the operator and Redis
#
# Needs Docker (running), kind >= 0.24 (its CNI enforces NetworkPolicy), kubectl, helm.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER="${KIND_CLUSTER:-cephalon}"
TAG="${IMAGE_TAG:-e2e}"
NAMESPACE="${CEPHALON_NAMESPACE:-cephalon-system}"
REDIS_IMAGE="${REDIS_IMAGE:-redis:7.4}"

say() { printf '\033[1mkind-up:\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

for tool in docker kind kubectl helm openssl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (needs docker, kind, kubectl, helm)"
done
docker info >/dev/null 2>&1 || die "the Docker engine is not running"
kind_version="$(kind version | sed -n 's/^kind v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')"
read -r major minor <<<"${kind_version:-0 0}"
if (( major == 0 && minor < 24 )); then
  die "kind >= 0.24 is needed (its kindnet CNI enforces NetworkPolicy); found $(kind version)"
fi

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  say "cluster $CLUSTER exists"
else
  say "creating cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --config tests/e2e_kind/kind-config.yaml --wait 180s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

declare -A images=(
  [operator]=operator/Dockerfile
  [gateway]=gateway/Dockerfile
  [runtime]=session_runtime/Dockerfile
  [devkit]=devkit/Dockerfile
)
for name in operator gateway runtime devkit; do
  say "building cephalon/$name:$TAG"
  docker build --file "${images[$name]}" --tag "cephalon/$name:$TAG" .
done
docker image inspect "$REDIS_IMAGE" >/dev/null 2>&1 || docker pull "$REDIS_IMAGE"
say "loading images into $CLUSTER"
kind load docker-image --name "$CLUSTER" \
  "cephalon/operator:$TAG" "cephalon/gateway:$TAG" "cephalon/runtime:$TAG" \
  "cephalon/devkit:$TAG" "$REDIS_IMAGE"

kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "$NAMESPACE" --overwrite \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted >/dev/null

# The test tenant's credentials: fake, random, created only in the cluster.
if ! kubectl -n "$NAMESPACE" get secret discord-e2e-credentials >/dev/null 2>&1; then
  kubectl -n "$NAMESPACE" create secret generic discord-e2e-credentials \
    --from-literal=bot-token="fake-e2e-bot-token-$(openssl rand -hex 8)" \
    --from-literal=public-key="$(openssl rand -hex 32)" \
    --from-literal=app-id=1300000000000000099 >/dev/null
fi
if ! kubectl -n "$NAMESPACE" get secret discord-e2e-model >/dev/null 2>&1; then
  kubectl -n "$NAMESPACE" create secret generic discord-e2e-model \
    --from-literal=api-key="fake-e2e-model-key-$(openssl rand -hex 8)" >/dev/null
fi

say "deploying the scripted model"
sed "s|IMAGE|cephalon/devkit:$TAG|" tests/e2e_kind/manifests/model.yaml \
  | kubectl -n "$NAMESPACE" apply -f - >/dev/null

say "installing the chart"
helm upgrade --install cephalon charts/cephalon \
  --namespace "$NAMESPACE" \
  --values tests/e2e_kind/values.yaml \
  --set-string "operator.image.tag=$TAG,images.gateway.tag=$TAG,images.runtime.tag=$TAG" \
  --set-string "redis.image.repository=${REDIS_IMAGE%%:*},redis.image.tag=${REDIS_IMAGE##*:}" \
  --wait --timeout 5m
kubectl -n "$NAMESPACE" rollout status deployment/cephalon-model --timeout 120s
kubectl -n "$NAMESPACE" rollout status deployment/cephalon-operator --timeout 120s
kubectl -n "$NAMESPACE" rollout status statefulset/cephalon-redis --timeout 180s
say "ready: kubectl --context kind-$CLUSTER get pt; make e2e-kind"
