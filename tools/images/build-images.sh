#!/usr/bin/env bash
# `npm run images`: compiles the apps, then builds strata/<service>:<tag> for each one and prints sizes.
# BASE_IMAGE defaults to the official node:24-bookworm-slim; set STRATA_BASE_IMAGE to use another
# (CI: strata/node-base:24 from tools/images/build-ci-base.sh). TAG defaults to dev.
set -euo pipefail
cd "$(dirname "$0")/../.."
DOCKER=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}
TAG=${TAG:-dev}
BASE=${STRATA_BASE_IMAGE:-node:24-bookworm-slim}
printf '==> compiling the apps (nx build)\n'
npx nx run @strata/service-registry:build --output-style=static >/dev/null
# The services come from their declarations (apps/<name>/service.json), not from a list kept here.
APPS=(${APPS:-$(node libs/service-registry/dist/cli.js names)})
npx nx run-many -t build --projects="$(IFS=,; echo "${APPS[*]/#/@strata/}")" --output-style=static >/dev/null
i=0
for app in "${APPS[@]}"; do
  i=$((i + 1))
  started=$(date +%s)
  printf '==> [%d/%d] strata/%s:%s (base %s) … ' "$i" "${#APPS[@]}" "$app" "$TAG" "$BASE"
  # The legacy builder: Debian's docker.io has no buildx.
  DOCKER_BUILDKIT=0 "$DOCKER" build -q --build-arg "BASE_IMAGE=$BASE" -f "apps/$app/Dockerfile" -t "strata/$app:$TAG" . >/dev/null
  printf '%ss\n' "$(( $(date +%s) - started ))"
done
printf '\n%-28s %s\n' IMAGE SIZE
for app in "${APPS[@]}"; do
  printf '%-28s %s\n' "strata/$app:$TAG" "$("$DOCKER" image inspect -f '{{.Size}}' "strata/$app:$TAG" | awk '{printf "%.0f MB", $1/1e6}')"
done
