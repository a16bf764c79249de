#!/usr/bin/env bash
# Builds strata/postgres:<TAG> for the capacity experiment. STRATA_DEBIAN_IMAGE is the Debian base
# (default debian:bookworm-slim; CI: strata/debian-minbase:bookworm made by tools/images/build-ci-base.sh).
set -euo pipefail
cd "$(dirname "$0")"
DOCKER=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}
TAG=${TAG:-dev}
printf '==> strata/postgres:%s (Debian PostgreSQL 15) … ' "$TAG"
started=$(date +%s)
DOCKER_BUILDKIT=0 "$DOCKER" build -q --build-arg "BASE_IMAGE=${STRATA_DEBIAN_IMAGE:-debian:bookworm-slim}" -t "strata/postgres:$TAG" . >/dev/null
printf '%ss\n' "$(( $(date +%s) - started ))"
