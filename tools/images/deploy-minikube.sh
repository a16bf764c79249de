#!/usr/bin/env bash
# `npm run k8s:deploy`: deploys the declared release to the current minikube profile.
#   1. npm run release: build the images whose content changed (content tags) and declare every tag in
#      k8s/overlays/minikube (the overlay in git says what runs; commit it);
#   2. get those images into minikube: built straight in minikube's Docker (STRATA_BUILD_IN_MINIKUBE=1, `minikube
#      docker-env`; nothing to copy), or loaded with `minikube image load` (only the ones minikube does not have).
#      Earlier images stay in minikube, so `npm run k8s:rollback` needs no rebuild;
#   3. kubectl apply -k k8s/overlays/minikube; 4. wait for the rollouts of the services whose image changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
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

APPS=($(node libs/service-registry/dist/cli.js names))
# What runs now, to wait only for what changes.
declare -A before=()
for app in "${APPS[@]}"; do
  before[$app]=$(kubectl -n strata get deployment "$app" -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null || true)
done

if [ "${STRATA_BUILD_IN_MINIKUBE:-0}" = 1 ]; then
  step "release: build in minikube's Docker, declare the tags in k8s/overlays/minikube"
  npm run -s release -- --overlays minikube --minikube
else
  step "release: build, declare the tags in k8s/overlays/minikube"
  npm run -s release -- --overlays minikube
  for app in "${APPS[@]}"; do
    tag=$(node -e "const y=require('yaml');const k=y.parse(require('fs').readFileSync('k8s/overlays/minikube/kustomization.yaml','utf8'));console.log(k.images.find(i=>i.name==='strata/$app').newTag)")
    if minikube image ls 2>/dev/null | grep -q "strata/$app:$tag\$"; then
      echo "strata/$app:$tag is in minikube already"
    else
      step "minikube image load strata/$app:$tag"
      minikube image load "strata/$app:$tag"
    fi
  done
fi

step "kubectl apply -k k8s/overlays/minikube"
kubectl apply -k k8s/overlays/minikube

step "waiting for the rollouts of what changed"
kubectl -n strata rollout status statefulset/postgres --timeout=300s
for app in "${APPS[@]}"; do
  now=$(kubectl -n strata get deployment "$app" -o jsonpath='{.spec.template.spec.containers[0].image}')
  if [ "$now" != "${before[$app]}" ]; then
    echo "$app: ${before[$app]:-(new)} → $now"
    kubectl -n strata rollout status "deployment/$app" --timeout=300s
  else
    echo "$app: unchanged ($now)"
  fi
done

step "Strata is up"
kubectl -n strata get pods -L app.kubernetes.io/component -o wide
edge=$(node libs/service-registry/dist/cli.js names --layer edge | head -1)
url=$(minikube service "$edge" -n strata --url | head -1)
echo
echo "Gateway: $url"
echo "Try:     curl $url/api/products/p-000042"
echo "Commit k8s/overlays/minikube/kustomization.yaml: it declares what runs. Roll back with npm run k8s:rollback."
