#!/usr/bin/env bash
# Builds strata/postgres:<TAG>, the stand-in for the official postgres image (see the Dockerfile). STRATA_DEBIAN_IMAGE
# is the Debian base (default debian:bookworm-slim; without a registry: strata/debian-minbase:bookworm, made by
# `npm run images:ci-base`).
set -euo pipefail
cd "$(dirname "$0")"
DOCKER=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}
TAG=${TAG:-dev}
base=${STRATA_DEBIAN_IMAGE:-debian:bookworm-slim}
"$DOCKER" info >/dev/null 2>&1 ||
  { echo "error: no Docker daemon answers ($DOCKER info failed): the image is built with Docker: start it, then npm run images:postgres" >&2; exit 1; }
printf '==> strata/postgres:%s (Debian PostgreSQL 15, from %s) … ' "$TAG" "$base"
started=$(date +%s)
if ! out=$(DOCKER_BUILDKIT=0 "$DOCKER" build -q --build-arg "BASE_IMAGE=$base" -t "strata/postgres:$TAG" . 2>&1); then
  echo "failed"
  echo "$out" | tail -5 >&2
  echo "the base image $base could not be had: set STRATA_DEBIAN_IMAGE to a local Debian bookworm image (npm run images:ci-base makes strata/debian-minbase:bookworm)" >&2
  exit 1
fi
printf '%ss\n' "$(( $(date +%s) - started ))"
