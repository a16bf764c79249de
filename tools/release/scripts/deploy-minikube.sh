#!/usr/bin/env bash
# `npm run k8s:deploy [-- --overlay minikube-observability]`: deploys the declared release to the minikube profile.
#   1. npm run release: build the images whose content changed (content tags) and declare every tag in
#      k8s/overlays/minikube (the overlay in git says what runs; commit it; minikube-observability builds on it);
#   2. get those images into minikube: built straight in minikube's Docker (STRATA_BUILD_IN_MINIKUBE=1, `minikube
#      docker-env`; nothing to copy), or loaded with `minikube image load` (only the ones minikube does not have).
#      Earlier images stay in minikube, so `npm run k8s:rollback` needs no rebuild;
#   3. kubectl apply -k k8s/overlays/<overlay>; 4. wait for the rollouts of the services whose image changed;
#   5. print the gateway's URL (node IP and NodePort) without holding a tunnel open.
# Written for bash 3.2 (macOS's /bin/bash): no associative arrays, mapfile or ${var,,}; a test keeps it so.
set -euo pipefail
cd "$(dirname "$0")/../../.."
step() { printf '\n==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
fail() { echo "k8s:deploy: $*" >&2; exit 1; }

overlay=minikube
while [ $# -gt 0 ]; do
  case "$1" in
    --overlay) overlay=${2:-}; shift 2 ;;
    --overlay=*) overlay=${1#--overlay=}; shift ;;
    *) echo "usage: npm run k8s:deploy -- [--overlay minikube|minikube-observability]" >&2; exit 2 ;;
  esac
done
[ -f "k8s/overlays/$overlay/kustomization.yaml" ] || fail "no overlay k8s/overlays/$overlay (minikube or minikube-observability)"
case "$overlay" in minikube | minikube-*) ;; *) fail "k8s:deploy deploys to minikube; $overlay is not a minikube overlay" ;; esac

command -v minikube >/dev/null || fail "minikube is not installed: https://minikube.sigs.k8s.io/docs/start/"
command -v kubectl >/dev/null || fail "kubectl is not installed: https://kubernetes.io/docs/tasks/tools/"
minikube status >/dev/null 2>&1 || {
  echo "k8s:deploy: minikube is not running. Start it with NetworkPolicy enforcement and metrics for the HPAs:" >&2
  echo "  minikube start --cpus=4 --memory=8g --cni=calico && minikube addons enable metrics-server" >&2
  exit 1
}
# Only the minikube profile: a kubectl context left on another cluster must not receive a development release.
profile=$(minikube profile 2>/dev/null || echo minikube)
context=$(kubectl config current-context 2>/dev/null || echo '(none)')
[ "$context" = "$profile" ] ||
  fail "kubectl's current context is $context, not the minikube profile $profile; nothing was changed. Switch with: kubectl config use-context $profile"

# The service names come from the declarations (dist is not committed: build the small CLI that reads them first).
npx nx run @strata/service-registry:build --output-style=static >/dev/null
apps=$(node libs/service-registry/dist/cli.js names)
before=$(mktemp)
trap 'rm -f "$before"' EXIT
for app in $apps; do
  printf '%s %s\n' "$app" "$(kubectl -n strata get deployment "$app" -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null || true)" >>"$before"
done
image_before() { awk -v app="$1" '$1 == app { print $2 }' "$before"; }

if [ "${STRATA_BUILD_IN_MINIKUBE:-0}" = 1 ]; then
  step "release: build in minikube's Docker, declare the tags in k8s/overlays/minikube"
  npm run -s release -- --overlays minikube --minikube
else
  step "release: build, declare the tags in k8s/overlays/minikube"
  npm run -s release -- --overlays minikube
  in_minikube=$(minikube image ls 2>/dev/null || true)
  for app in $apps; do
    tag=$(node -e "const y=require('yaml');const k=y.parse(require('fs').readFileSync('k8s/overlays/minikube/kustomization.yaml','utf8'));console.log(k.images.find(i=>i.name==='strata/$app').newTag)")
    if printf '%s\n' "$in_minikube" | grep -q "strata/$app:$tag\$"; then
      echo "strata/$app:$tag is in minikube already"
    else
      step "minikube image load strata/$app:$tag"
      minikube image load "strata/$app:$tag"
    fi
  done
fi

step "kubectl apply -k k8s/overlays/$overlay"
kubectl apply -k "k8s/overlays/$overlay"

step "waiting for the rollouts of what changed"
kubectl -n strata rollout status statefulset/postgres --timeout=300s
for app in $apps; do
  now=$(kubectl -n strata get deployment "$app" -o jsonpath='{.spec.template.spec.containers[0].image}')
  was=$(image_before "$app")
  if [ "$now" != "$was" ]; then
    echo "$app: ${was:-(new)} → $now"
    kubectl -n strata rollout status "deployment/$app" --timeout=300s
  else
    echo "$app: unchanged ($now)"
  fi
done

step "Strata is up"
kubectl -n strata get pods -L app.kubernetes.io/component -o wide
edge=$(node libs/service-registry/dist/cli.js names --layer edge | head -1)
# The node's address and the NodePort, read rather than `minikube service --url`, which keeps a tunnel open (and so
# never returns) with the docker driver on macOS and Windows.
port=$(kubectl -n strata get service "$edge" -o jsonpath='{.spec.ports[0].nodePort}')
url="http://$(minikube ip):$port"
echo
echo "Gateway: $url"
echo "Try:     curl $url/api/products/p-000042"
case "$(uname -s)" in
  Darwin | MINGW* | MSYS* | CYGWIN*)
    echo "With the docker driver on this system the node's address is not reachable from here: run"
    echo "  minikube service $edge -n strata --url    (in another terminal: it keeps a tunnel open while it runs)"
    ;;
esac
echo "Commit k8s/overlays/minikube/kustomization.yaml: it declares what runs. Roll back with npm run k8s:rollback."
