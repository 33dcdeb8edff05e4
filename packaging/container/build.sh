#!/usr/bin/env bash
# Static (musl) binaries for amd64, aarch64 and armv7, and a FROM-scratch image for each, loaded
# into the local Docker. Nothing is pulled from an image registry; the toolchains come from rustup
# and Debian's packages (installed when missing; needs root or sudo for that).
#
#   solarcam-bridge:VERSION          solarcam-bridge:latest           amd64
#   solarcam-bridge:VERSION-aarch64  solarcam-bridge:latest-aarch64   Raspberry Pi 3/4/5, 64-bit OS
#   solarcam-bridge:VERSION-armv7    solarcam-bridge:latest-armv7     Raspberry Pi, 32-bit OS
#
# Each image is also tagged with the name the Home Assistant add-on pulls
# (ghcr.io/solarcam-bridge/solarcam-bridge-ARCH:VERSION), ready for `docker push`.
# The binaries are copied to dist/static/solarcam-bridge-VERSION-ARCH.
#
#   packaging/container/build.sh                   all three
#   packaging/container/build.sh amd64 armv7       only these
#   NO_IMAGES=1 packaging/container/build.sh       the static binaries only (no Docker needed)
set -euo pipefail
cd "$(dirname "$0")/../.."

. packaging/lib.sh

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
registry_name=ghcr.io/solarcam-bridge/solarcam-bridge
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 aarch64 armv7)

# arch -> Rust target, Docker platform, tag suffix
target_of() { case "$1" in amd64) echo x86_64-unknown-linux-musl ;; aarch64) echo aarch64-unknown-linux-musl ;; armv7) echo armv7-unknown-linux-musleabihf ;; *) echo "unknown architecture $1 (amd64, aarch64, armv7)" >&2; exit 2 ;; esac; }
platform_of() { case "$1" in amd64) echo linux/amd64 ;; aarch64) echo linux/arm64 ;; armv7) echo linux/arm/v7 ;; esac; }
suffix_of() { case "$1" in amd64) echo "" ;; *) echo "-$1" ;; esac; }

# --- toolchains -------------------------------------------------------------------------------
missing=()
command -v file >/dev/null || missing+=(file)
command -v curl >/dev/null || missing+=(curl)
command -v xz >/dev/null || missing+=(xz-utils)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
[ -f /usr/share/zoneinfo/Europe/Berlin ] || missing+=(tzdata)
for a in "${arches[@]}"; do
  case "$a" in
    amd64) command -v musl-gcc >/dev/null || missing+=(musl-tools) ;;
    aarch64) command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu) ;;
    armv7) command -v arm-linux-gnueabihf-gcc >/dev/null || missing+=(gcc-arm-linux-gnueabihf) ;;
  esac
done
if [ -z "${NO_IMAGES:-}" ] && ! command -v docker >/dev/null; then missing+=(docker.io); fi
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

tools=$(pwd)/target/container/toolchain
mkdir -p "$tools/lib" dist/static

# armv7: Debian's musl for armhf (libc.a, crt files, gcc specs), unpacked here from its .deb, so
# the machine's dpkg gets no foreign architecture (whose indexes every later apt-get update would
# have to fetch), and arm-linux-gnueabihf-gcc pointed at it instead of glibc.
armv7_toolchain() {
  local musl=$tools/musl-armhf lib=usr/lib/arm-linux-musleabihf
  if [ ! -f "$musl/$lib/libc.a" ]; then
    local mirror suite entry file sum
    mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
    [ -n "$mirror" ] || mirror=$(grep -hoE '^deb +https?://[^ ]+/debian ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1)
    mirror=${mirror:-http://deb.debian.org/debian}
    suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
    echo "   (musl-dev for armhf from $mirror, $suite)"
    curl -fsSL "$mirror/dists/$suite/main/binary-armhf/Packages.xz" | xz -d >"$tools/Packages-armhf"
    entry=$(awk '/^Package: musl-dev$/ {p = 1} p && /^$/ {exit} p' "$tools/Packages-armhf")
    file=$(sed -n 's/^Filename: //p' <<<"$entry")
    sum=$(sed -n 's/^SHA256: //p' <<<"$entry")
    [ -n "$file" ] && [ -n "$sum" ] || { echo "no musl-dev in the armhf index of $mirror" >&2; exit 1; }
    curl -fsSL -o "$tools/musl-dev-armhf.deb" "$mirror/$file"
    echo "$sum  $tools/musl-dev-armhf.deb" | sha256sum --check --quiet
    rm -rf "$musl" && dpkg-deb -x "$tools/musl-dev-armhf.deb" "$musl"
  fi
  sed "s|/usr/lib/arm-linux-musleabihf|$musl/$lib|g; s|/usr/include/arm-linux-musleabihf|$musl/usr/include/arm-linux-musleabihf|g" \
    "$musl/$lib/musl-gcc.specs" >"$tools/musl-armhf.specs"
  printf '#!/bin/sh\nexec arm-linux-gnueabihf-gcc -specs %s "$@"\n' "$tools/musl-armhf.specs" \
    >"$tools/arm-linux-musleabihf-gcc"
  chmod +x "$tools/arm-linux-musleabihf-gcc"
  # Rust's std asks for libunwind; gcc's own unwinder (libgcc_eh) provides the same symbols.
  ln -sf "$(arm-linux-gnueabihf-gcc -print-file-name=libgcc_eh.a)" "$tools/lib/libunwind.a"
}

# amd64 and aarch64 in one cargo: each one's last steps (the crate itself and the fat LTO link)
# run on one core, and the other's build fills the other. armv7 on its own: it may build std.
compile() {
  local arch targets=()
  for arch in "$@"; do
    case "$arch" in amd64 | aarch64) targets+=("$(target_of "$arch")") ;; esac
  done
  if [ ${#targets[@]} -gt 0 ]; then
    echo "== cargo build ${targets[*]/#/--target }"
    rustup target add "${targets[@]}" >/dev/null
    CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc \
      cargo build --release --locked "${targets[@]/#/--target=}"
  fi
  [[ " $* " == *" armv7 "* ]] || return 0
  local target wrapper=$tools/arm-linux-musleabihf-gcc extra=()
  target=$(target_of armv7)
  echo "== armv7: cargo build --target $target"
  armv7_toolchain
  if ! rustup target add "$target" >/dev/null 2>&1; then
    # rustup's mirror has no prebuilt std for this target here: build std from rustup's
    # rust-src with the same compiler (RUSTC_BOOTSTRAP unlocks -Z build-std on stable).
    echo "   (no prebuilt std for $target: building it from rust-src)"
    rustup component add rust-src >/dev/null
    extra=(-Z build-std=std,panic_abort)
    export RUSTC_BOOTSTRAP=1
  fi
  CC_armv7_unknown_linux_musleabihf="$wrapper" \
  CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_LINKER="$wrapper" \
  CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_RUSTFLAGS="-C link-self-contained=no -L $tools/lib" \
    cargo build --release --locked --target "$target" "${extra[@]}"
  unset RUSTC_BOOTSTRAP
}

# The static binary of one architecture, checked and copied to dist/static.
collect() {
  local arch=$1 bin
  bin="target/$(target_of "$arch")/release/solarcam-bridge"
  if ! file "$bin" | grep -q 'statically linked\|static-pie linked'; then
    echo "$bin is not statically linked: $(file -b "$bin")" >&2
    exit 1
  fi
  cp "$bin" "dist/static/solarcam-bridge-$version-$arch"
}

image() {
  local arch=$1 target suffix ctx
  target=$(target_of "$arch")
  suffix=$(suffix_of "$arch")
  ctx=target/container/$arch
  rm -rf "$ctx"
  mkdir -p "$ctx/rootfs/data" "$ctx/rootfs/config" "$ctx/rootfs/usr/share/zoneinfo"
  # The zone data, so TZ=Europe/Berlin (Docker's -e TZ, the Supervisor's) names the archive's
  # files in local time; without the right/ and posix/ copies: 200 KB compressed.
  tar -C /usr/share/zoneinfo --exclude=./right --exclude=./posix --exclude=./posixrules -cf - . |
    tar -C "$ctx/rootfs/usr/share/zoneinfo" -xf -
  cp "target/$target/release/solarcam-bridge" "$ctx/"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
  echo "== $arch: docker build"
  # The classic builder: FROM scratch needs no registry, and no buildx plugin is required. Its
  # cache ignores the platform (an amd64 layer would be reused for arm64): no cache, it is cheap.
  DOCKER_BUILDKIT=0 docker build -q --no-cache --platform "$(platform_of "$arch")" \
    --label org.opencontainers.image.version="$version" \
    --label io.hass.version="$version" --label io.hass.arch="$arch" \
    -t "solarcam-bridge:$version$suffix" -t "solarcam-bridge:latest$suffix" \
    -t "$registry_name-$arch:$version" \
    -f packaging/container/Dockerfile "$ctx" >/dev/null
}

compile "${arches[@]}"
for a in "${arches[@]}"; do collect "$a"; done
if [ -z "${NO_IMAGES:-}" ]; then
  if ! docker info >/dev/null 2>&1; then
    echo "Docker is installed but its daemon does not answer: start it (systemctl start docker, or dockerd &)" >&2
    exit 1
  fi
  for a in "${arches[@]}"; do image "$a"; done
  # This machine's image also under the published multi-arch name (ghcr.io/.../solarcam-bridge),
  # which is what Docker resolves that name to here: Compose runs it without a pull.
  case "$(uname -m)" in x86_64) host=amd64 ;; aarch64) host=aarch64 ;; armv7l) host=armv7 ;; *) host= ;; esac
  if [ -n "$host" ] && docker image inspect "solarcam-bridge:$version$(suffix_of "$host")" >/dev/null 2>&1; then
    for tag in "$version" latest; do
      docker tag "solarcam-bridge:$version$(suffix_of "$host")" "ghcr.io/solarcam-bridge/solarcam-bridge:$tag"
    done
  fi
fi

echo "== sizes"
for a in "${arches[@]}"; do
  bin="dist/static/solarcam-bridge-$version-$a"
  line=$(printf '%-8s binary %8d bytes' "$a" "$(stat -c %s "$bin")")
  if [ -z "${NO_IMAGES:-}" ]; then
    tag="solarcam-bridge:$version$(suffix_of "$a")"
    line+=$(printf '   image %-32s %8d bytes (%s)' "$tag" "$(docker image inspect -f '{{.Size}}' "$tag")" \
      "$(docker image inspect -f '{{.Os}}/{{.Architecture}}{{if .Variant}}/{{.Variant}}{{end}}' "$tag")")
  fi
  echo "$line"
  # The README's image table, row by tag: the image (cell 3) and its binary (cell 4).
  row="\`solarcam-bridge:$version$(suffix_of "$a")\`"
  within_readme_size "$a binary" "$(stat -c %s "$bin")" "$(readme_mb "$row" 4)"
  if [ -z "${NO_IMAGES:-}" ]; then
    within_readme_size "$a image" "$(docker image inspect -f '{{.Size}}' "$tag")" "$(readme_mb "$row" 3)"
  fi
done
