#!/usr/bin/env bash
# publish.sh against a real registry on this machine (Debian's docker-registry): publishes the
# images build.sh made, removes every local copy, then pulls them back as users and the
# Supervisor do: the multi-arch name once per platform (checking each image's architecture, and
# running the binary, under qemu for arm), and the add-on's `image:` with {arch} replaced.
# Run after packaging/container/test.sh (it removes the local images at the end of its run).
set -euo pipefail
cd "$(dirname "$0")/../.."
. packaging/lib.sh

command -v docker-registry >/dev/null || apt_install docker-registry
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/config.yml" <<CONFIG
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/storage
http:
  addr: 127.0.0.1:$port
CONFIG
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
repo="127.0.0.1:$port/solarcam-bridge"
echo "== registry at $repo"

packaging/container/publish.sh "$repo"

# No local copy left: what follows comes from the registry. By ID: an image an earlier pull
# untagged is listed as REPO:<none>, which no command takes as a name.
ours() { docker images --format '{{.ID}} {{.Repository}}' | awk '$2 ~ /(^|\/)solarcam-bridge(-(amd64|aarch64|armv7))?$/ {print $1}' | sort -u; }
ids=$(ours)
[ -z "$ids" ] || docker rmi -f $ids >/dev/null
[ -z "$(ours)" ] || { echo "local images left: $(ours | tr '\n' ' ')" >&2; exit 1; }

check() { # image platform -> its Os/Architecture/Variant, and its --version run on that platform
  local image=$1 platform=$2 got out
  got=$(docker image inspect -f '{{.Os}}/{{.Architecture}}{{if .Variant}}/{{.Variant}}{{end}}' "$image")
  [ "$got" = "$platform" ] || { echo "$image: $got, not $platform" >&2; exit 1; }
  out=$(docker run --rm --platform "$platform" "$image" --version)
  [ "$out" = "solarcam-bridge $version" ] || { echo "$image on $platform said: $out" >&2; exit 1; }
  echo "   $image: $got, runs: $out"
}

echo "== docker pull --platform ... $repo/solarcam-bridge:$version"
for platform in linux/amd64 linux/arm64 linux/arm/v7; do
  docker pull -q --platform "$platform" "$repo/solarcam-bridge:$version" >/dev/null
  check "$repo/solarcam-bridge:$version" "$platform"
done
docker pull -q --platform linux/arm64 "$repo/solarcam-bridge:latest" >/dev/null
check "$repo/solarcam-bridge:latest" linux/arm64

# The add-on as the Supervisor installs it: `image:` with {arch} replaced, tagged with `version:`.
addon=packaging/home-assistant/solarcam-bridge/config.yaml
image=$(sed -n 's/^image: *//p' "$addon")
addon_version=$(sed -n 's/^version: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$addon")
[ "$addon_version" = "$version" ] || { echo "add-on version $addon_version, Cargo.toml $version" >&2; exit 1; }
echo "== the add-on's image: $image"
for arch in $(sed -n '/^arch:/,/^[a-z]/s/^ *- *//p' "$addon"); do
  case "$arch" in amd64) platform=linux/amd64 ;; aarch64) platform=linux/arm64 ;; armv7) platform=linux/arm/v7 ;; esac
  # Here the registry is this machine's, in place of ghcr.io/solarcam-bridge.
  name="${image/ghcr.io\/solarcam-bridge/$repo}"
  name="${name/\{arch\}/$arch}:$addon_version"
  docker pull -q "$name" >/dev/null
  check "$name" "$platform"
done
echo "== published and pulled back: ok"
