#!/usr/bin/env bash
# Builds the packages into dist/: .deb for amd64, arm64 (Raspberry Pi 3/4/5 on a 64-bit OS) and
# armhf (32-bit Raspberry Pi OS); .rpm for x86_64 and aarch64. Cross-compiles with rustup's targets
# and Debian's cross gcc, installing what is missing. Prints each stripped binary's size.
#
#   packaging/build.sh                 all three architectures
#   packaging/build.sh aarch64-unknown-linux-gnu ...   only these Rust targets
set -euo pipefail
cd "$(dirname "$0")/.."

. packaging/lib.sh

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)

command -v cargo-deb >/dev/null || cargo_install --locked cargo-deb
command -v cargo-generate-rpm >/dev/null || cargo_install --locked cargo-generate-rpm

missing=()
for t in "${targets[@]}"; do
  case "$t" in
    aarch64-unknown-linux-gnu) command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
    armv7-unknown-linux-gnueabihf) command -v arm-linux-gnueabihf-gcc >/dev/null || missing+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross) ;;
  esac
done
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
rustup target add "${targets[@]}" >/dev/null

mkdir -p dist
# One cargo for every target: each one's last steps (the crate itself and the fat LTO link) run
# on one core, and another target's build fills the other.
echo "== cargo build --release ${targets[*]/#/--target }"
cargo build --release --locked "${targets[@]/#/--target=}"
for t in "${targets[@]}"; do
  echo "== $t"
  # Symbols are stripped by the release profile already.
  cargo deb --no-build --no-strip --target "$t" --output dist/
  case "$t" in
    x86_64-*|aarch64-*) cargo generate-rpm --target "$t" --output dist/ ;;
  esac
done

echo "== stripped binary sizes"
for t in "${targets[@]}"; do
  printf '%-32s %8d bytes\n' "$t" "$(stat -c %s "target/$t/release/solarcam-bridge")"
done
ls -l dist/
