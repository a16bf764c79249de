#!/usr/bin/env bash
# `npm run k8s:deploy`: deploys Strata to the current minikube profile.
#   1. builds the images (npm run images) and loads them into minikube (the overlay never pulls them);
#   2. kubectl apply -k k8s/overlays/minikube;
#   3. waits for every rollout; 4. prints the gateway URL.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${TAG:-dev}
step() { printf '\n==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

command -v minikube >/dev/null || { echo "minikube is not installed: https://minikube.sigs.k8s.io/docs/start/" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "kubectl is not installed: https://kubernetes.io/docs/tasks/tools/" >&2; exit 1; }
minikube status >/dev/null 2>&1 || {
  echo "minikube is not running. Start it with NetworkPolicy enforcement and metrics for the HPAs:" >&2
  echo "  minikube start --cpus=4 --memory=8g --cni=calico && minikube addons enable metrics-server" >&2
  exit 1
}
[ "$(kubectl config current-context)" = "$(minikube profile 2>/dev/null || echo minikube)" ] ||
  echo "note: kubectl's current context is $(kubectl config current-context); deploying there"

step "images"
TAG=$TAG bash tools/images/build-images.sh
APPS=($(node libs/service-registry/dist/cli.js names))
i=0
for app in "${APPS[@]}"; do
  i=$((i + 1))
  step "[$i/${#APPS[@]}] minikube image load strata/$app:$TAG"
  minikube image load "strata/$app:$TAG"
done

step "kubectl apply -k k8s/overlays/minikube"
kubectl apply -k k8s/overlays/minikube

step "waiting for rollouts"
kubectl -n strata rollout status statefulset/postgres --timeout=300s
for app in "${APPS[@]}"; do kubectl -n strata rollout status "deployment/$app" --timeout=300s; done

step "Strata is up"
kubectl -n strata get pods -L app.kubernetes.io/component -o wide
edge=$(node libs/service-registry/dist/cli.js names --layer edge | head -1)
url=$(minikube service "$edge" -n strata --url | head -1)
echo
echo "Gateway: $url"
echo "Try:     curl $url/api/products/p-000042"
