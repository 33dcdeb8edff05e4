#!/usr/bin/env bash
# Tests the container images as Docker and Home Assistant OS users meet them: builds the static
# binaries and the three images (build.sh), then runs tests/container.rs against them: the amd64
# image on a mounted config.yaml and as an add-on with a stand-in Supervisor, each against a real
# Mosquitto; the arm images checked for their architecture and started under qemu (registered
# with binfmt_misc here). Also checks the Compose example and the add-on repository. Starts dockerd when it is
# installed but not running (as root); installs Debian's docker.io when Docker is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

. packaging/lib.sh
command -v docker >/dev/null || apt_install docker.io
start_dockerd
# The arm images are started under qemu: the test fails, rather than skips them, without it.
enable_qemu_binfmt

packaging/container/build.sh

# The Compose example runs as users run it, except that eclipse-mosquitto cannot be pulled here:
# a stand-in image of Debian's Mosquitto (its binary, the libraries it links and a mosquitto user)
# takes its place, started the same way (/mosquitto/config/mosquitto.conf).
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || apt_install mosquitto
if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
  apt_install docker-compose
fi
ctx=target/container/mosquitto
rm -rf "$ctx" && mkdir -p "$ctx/root/etc" "$ctx/root/mosquitto/data" "$ctx/root/mosquitto/config"
cp --parents /usr/sbin/mosquitto "$ctx/root/"
for lib in $(ldd /usr/sbin/mosquitto | grep -o '/[^ ]*'); do cp -L --parents "$lib" "$ctx/root/"; done
echo 'root:x:0:0::/:/sbin/nologin
mosquitto:x:1883:1883::/mosquitto:/sbin/nologin' >"$ctx/root/etc/passwd"
echo 'root:x:0:
mosquitto:x:1883:' >"$ctx/root/etc/group"
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
COPY --chown=1883:1883 root/mosquitto/ /mosquitto/
ENTRYPOINT ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t solarcam-test-mosquitto "$ctx" >/dev/null

echo "== container tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --test container --run-ignored only --no-fail-fast
else
  cargo test --locked --test container -- --ignored
fi
