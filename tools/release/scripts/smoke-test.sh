#!/usr/bin/env bash
# Starts each strata/<service> image once, as Kubernetes would run it (read-only root filesystem, no
# capabilities, non-root), and checks that it answers its health check. The ports are this test's choice (the image
# sets none: Kubernetes' manifests do). Prints the time from `docker run`
# to healthy. orders needs PostgreSQL: DATABASE_URL (reached through the host network) must be set.
set -euo pipefail
cd "$(dirname "$0")/../../.."
DOCKER=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}
TAG=${TAG:-dev}
"$DOCKER" info >/dev/null 2>&1 ||
  { echo "error: no Docker daemon answers ($DOCKER info failed): the smoke test runs each image in Docker: start it, then npm run images:smoke" >&2; exit 1; }
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL that orders may use}"
hardening=(--read-only --cap-drop ALL --security-opt no-new-privileges --user 10001:10001)
names=()
cleanup() { [ ${#names[@]} -eq 0 ] || "$DOCKER" rm -f "${names[@]}" >/dev/null 2>&1 || true; }
trap cleanup EXIT

now_ms() { date +%s%3N; }
wait_healthy() { # name check-command...
  local name=$1; shift
  local until=$(( $(now_ms) + 20000 ))
  while [ "$(now_ms)" -lt "$until" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$name")" != true ]; then break; fi
    sleep 0.05
  done
  echo "FAILED: $name is not healthy; its log:" >&2
  "$DOCKER" logs "$name" 2>&1 | tail -20 >&2
  return 1
}

printf '%-28s %-10s %s\n' IMAGE HEALTHY "STARTUP (docker run → health check passes)"
npx nx run @strata/service-registry:build --output-style=static >/dev/null
edge=" $(node libs/service-registry/dist/cli.js names --layer edge | tr '\n' ' ') "
with_db=" $(node libs/service-registry/dist/cli.js names --data postgres | tr '\n' ' ') "
for app in $(node libs/service-registry/dist/cli.js names); do
  name="strata-smoke-$app-$$"
  names+=("$name")
  started=$(now_ms)
  if [[ "$with_db" == *" $app "* ]]; then
    port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    "$DOCKER" run -d --name "$name" "${hardening[@]}" --network host -e GRPC_HOST=127.0.0.1 -e GRPC_PORT="$port" \
      -e METRICS_PORT=0 -e DATABASE_URL="$DATABASE_URL" "strata/$app:$TAG" >/dev/null
  elif [[ "$edge" == *" $app "* ]]; then
    "$DOCKER" run -d --name "$name" "${hardening[@]}" -e GATEWAY_PORT=8080 -p 127.0.0.1::8080 "strata/$app:$TAG" >/dev/null
  else
    "$DOCKER" run -d --name "$name" "${hardening[@]}" -e GRPC_PORT=50051 -e METRICS_PORT=0 -p 127.0.0.1::50051 "strata/$app:$TAG" >/dev/null
  fi
  if [[ "$edge" == *" $app "* ]]; then
    url="http://$("$DOCKER" port "$name" 8080 | head -1)/readyz"
    wait_healthy "$name" node -e "fetch('$url').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
  elif [[ "$with_db" == *" $app "* ]]; then
    # Ready, not only alive: orders serves its contract once its database answers.
    wait_healthy "$name" node libs/service-kit/dist/healthcheck-cli.js "127.0.0.1:$port" "$(node libs/service-registry/dist/cli.js contract "$app")"
  else
    wait_healthy "$name" node libs/service-kit/dist/healthcheck-cli.js "$("$DOCKER" port "$name" 50051 | head -1)"
  fi
  printf '%-28s %-10s %s ms\n' "strata/$app:$TAG" yes "$(( $(now_ms) - started ))"
done
