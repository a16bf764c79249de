#!/usr/bin/env bash
# Builds strata/node-base:24, a Debian bookworm image with THIS machine's Node 24 binary (the one `npm ci`
# put in node_modules/node) and npm, for machines that cannot pull node:24-bookworm-slim from a registry.
# It also trusts this machine's CA bundle, so `npm ci` inside `docker build` works behind a TLS-intercepting
# proxy. That trust is baked into this local base image only, never into the project's images.
set -euo pipefail
cd "$(dirname "$0")/../../.."
DOCKER=${DOCKER:-/usr/bin/docker}
TAG=${STRATA_BASE_IMAGE:-strata/node-base:24}
"$DOCKER" info >/dev/null 2>&1 ||
  { echo "error: no Docker daemon answers ($DOCKER info failed): the base image is built with Docker: start it (dockerd, or Docker Desktop), then npm run images:ci-base" >&2; exit 1; }
step() { printf '==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

node_bin=$(node -p 'require("fs").realpathSync(process.execPath)')
[ "$(node -p 'process.versions.node.split(".")[0]')" = 24 ] || { echo "run through npm so Node 24 from node_modules is used" >&2; exit 1; }
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[ -f "$npm_dir/package.json" ] || npm_dir=/usr/lib/node_modules/npm

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! "$DOCKER" image inspect strata/debian-minbase:bookworm >/dev/null 2>&1; then
  step "debootstrap --variant=minbase bookworm (about 30 s)"
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
  step "docker import strata/debian-minbase:bookworm"
  tar -C "$work/rootfs" -c . | "$DOCKER" import - strata/debian-minbase:bookworm >/dev/null
  rm -rf "$work/rootfs"
fi

step "$TAG from $node_bin ($(node --version)) and npm $(npm --version 2>/dev/null)"
mkdir -p "$work/ctx"
cp "$node_bin" "$work/ctx/node"
cp -r "$npm_dir" "$work/ctx/npm"
cp /etc/ssl/certs/ca-certificates.crt "$work/ctx/ca-certificates.crt"
cat > "$work/ctx/Dockerfile" <<'DOCKERFILE'
FROM strata/debian-minbase:bookworm
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
DOCKERFILE
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$TAG" "$work/ctx" >/dev/null
step "built $TAG ($("$DOCKER" image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
