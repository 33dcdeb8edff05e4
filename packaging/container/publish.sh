#!/usr/bin/env bash
# Pushes the images packaging/container/build.sh made to a registry:
#   REPO/solarcam-bridge-{amd64,aarch64,armv7}:VERSION   one per architecture (the add-on's
#                                                         `image:` names these)
#   REPO/solarcam-bridge:VERSION and :latest              one name for all three, which Docker
#                                                         resolves per platform (Compose, docker run)
#
#   packaging/container/publish.sh ghcr.io/solarcam-bridge
#
# Log in to the registry first (docker login). A registry on this machine (127.0.0.1:PORT or
# localhost:PORT) is spoken to over plain HTTP, as Docker does for loopback registries.
set -euo pipefail
cd "$(dirname "$0")/../.."

repo=${1:?usage: packaging/container/publish.sh REPO, e.g. ghcr.io/solarcam-bridge}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
insecure=()
case "$repo" in 127.0.0.1:* | localhost:*) insecure=(--insecure) ;; esac

suffix_of() { case "$1" in amd64) echo "" ;; *) echo "-$1" ;; esac; }

per_arch=()
for arch in amd64 aarch64 armv7; do
  built="solarcam-bridge:$version$(suffix_of "$arch")"
  docker image inspect "$built" >/dev/null 2>&1 ||
    { echo "no image $built: run packaging/container/build.sh first" >&2; exit 1; }
  name="$repo/solarcam-bridge-$arch:$version"
  docker tag "$built" "$name"
  echo "== push $name"
  docker push -q "$name" >/dev/null
  per_arch+=("$name")
done

for tag in "$version" latest; do
  name="$repo/solarcam-bridge:$tag"
  echo "== push $name (amd64, arm64, arm/v7)"
  docker manifest rm "$name" >/dev/null 2>&1 || true
  docker manifest create "${insecure[@]}" "$name" "${per_arch[@]}" >/dev/null
  docker manifest push "${insecure[@]}" --purge "$name" >/dev/null
done
