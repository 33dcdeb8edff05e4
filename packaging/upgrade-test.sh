#!/usr/bin/env bash
# A real amd64 upgrade, watched: the previous release (packaging/previous-release, built from its
# own source) is installed in a Debian bookworm root running systemd as PID 1 (a Docker container
# of a debootstrapped root), configured and started against a Mosquitto on this machine; then
# this tree's .deb (dist/, from packaging/build.sh) is installed over it. Checked: the service was
# stopped (offline published) and started again (online), by a new process running the new
# binary, with the user's edited config kept and the service still enabled.
#
# Needs root, Docker and debootstrap (installed when missing). The Debian root and the previous
# release's build are kept under $PI_ROOTS (default /var/tmp/solarcam-pi-roots) for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME,PI_ROOTS "$0" "$@"
. packaging/lib.sh

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; passed=$((passed + 1)); }
passed=0

command -v debootstrap >/dev/null || apt_install debootstrap
command -v mosquitto_sub >/dev/null || apt_install mosquitto mosquitto-clients
command -v docker >/dev/null || apt_install docker.io
start_dockerd
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb

version=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"name":"solarcam-bridge","version":"\([^"]*\)".*/\1/p')
new_deb=$(ls dist/solarcam-bridge_"${version}"-1_amd64.deb) || fail "no dist/solarcam-bridge_${version}-1_amd64.deb: run packaging/build.sh first"
previous=$(grep -v '^#' packaging/previous-release | head -1)
git cat-file -e "$previous^{commit}" 2>/dev/null || fail "the previous release $previous is not in this clone's history"
short=$(git rev-parse --short "$previous")
old_version="${version}~git${short}-1"
cache=${PI_ROOTS:-/var/tmp/solarcam-pi-roots}
mkdir -p "$cache"

# --- the previous release's .deb, from its own source
old_deb="$cache/previous/solarcam-bridge_${old_version}_amd64.deb"
if [ ! -f "$old_deb" ]; then
  echo "== building the previous release ($short) from its source"
  src="$cache/previous/src-$short"
  rm -rf "$src" && mkdir -p "$src"
  git archive "$previous" | tar -x -C "$src"
  (cd "$src" && CARGO_TARGET_DIR="$cache/previous/target" cargo build --release --locked --target x86_64-unknown-linux-gnu)
  (cd "$src" && CARGO_TARGET_DIR="$cache/previous/target" cargo deb --no-build --no-strip \
    --target x86_64-unknown-linux-gnu --deb-version "${version}~git${short}" --output "$old_deb")
fi
dpkg --compare-versions "$old_version" lt "${version}-1" || fail "$old_version does not sort before ${version}-1"
hash_of_deb() { # the sha256 of the binary a .deb installs
  local d; d=$(mktemp -d); dpkg-deb -x "$1" "$d"; sha256sum "$d/usr/bin/solarcam-bridge" | cut -d' ' -f1; rm -rf "$d"
}
old_hash=$(hash_of_deb "$old_deb")
new_hash=$(hash_of_deb "$new_deb")
[ "$old_hash" != "$new_hash" ] || fail "the previous release's binary is this one"
pass "previous release $old_version built from $short (binary ${old_hash:0:12}), new ${version}-1 (binary ${new_hash:0:12})"

# --- a Debian root with systemd, as a Docker image
root="$cache/amd64-systemd"
if [ ! -x "$root/lib/systemd/systemd" ]; then
  echo "== debootstrap amd64 with systemd into $root"
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  rm -rf "$root"
  debootstrap --arch=amd64 --variant=minbase --include=adduser,systemd,systemd-sysv,dbus \
    bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >"$cache/amd64-systemd.log" 2>&1 \
    || { tail -20 "$cache/amd64-systemd.log"; fail "debootstrap"; }
fi
image=solarcam-test-systemd:bookworm
docker image inspect "$image" >/dev/null 2>&1 || tar -C "$root" -c . | docker import - "$image" >/dev/null

# --- Mosquitto on this machine, the container on its network
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d)
name="solarcam-upgrade-$$"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" -d
cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  pkill -f "$work/mosquitto.conf" || true
  [ -z "${watcher:-}" ] || kill "$watcher" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do mosquitto_pub -p "$port" -t test/up -n 2>/dev/null && break; sleep 0.1; done

# CAP_SYS_ADMIN (and no seccomp or AppArmor profile) lets systemd build the unit's sandbox (its
# own mount namespace: ProtectSystem=strict, PrivateTmp...) as on a Pi; CAP_SYS_PTRACE lets the
# test read which binary the service runs (/proc/PID/exe).
docker run -d --name "$name" --network host --tmpfs /run --tmpfs /run/lock \
  --cap-add SYS_ADMIN --cap-add SYS_PTRACE --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  -v /sys/fs/cgroup:/sys/fs/cgroup:ro -e container=docker "$image" /lib/systemd/systemd >/dev/null
in_box() { docker exec "$name" "$@"; }
# The one thing a container cannot give it: a user namespace (PrivateUsers=). Turned off here by
# a drop-in, as an administrator would; the unit's sandbox as shipped is scored by
# `systemd-analyze security` in tests/service.rs.
in_box mkdir -p /etc/systemd/system/solarcam-bridge.service.d
printf '[Service]\nPrivateUsers=no\n' | docker exec -i "$name" tee /etc/systemd/system/solarcam-bridge.service.d/container.conf >/dev/null
for _ in $(seq 100); do
  state=$(in_box systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 0.2
done
case "$state" in running|degraded) ;; *) fail "systemd in the container: $state" ;; esac
pass "systemd is PID 1 in a bookworm container ($state)"

# --- the previous release, installed, configured and running
docker cp "$old_deb" "$name:/tmp/old.deb"
in_box dpkg -i /tmp/old.deb </dev/null >"$work/install.txt" 2>&1 || { cat "$work/install.txt"; fail "install $old_version"; }
printf 'mqtt:\n  url: mqtt://127.0.0.1:%s\n  client_id: upgrade-test\ncameras:\n  - mac: 5CC5638AE24C\n    name: Driveway\n# edited by the user\n' "$port" \
  | docker exec -i "$name" tee /etc/solarcam-bridge/config.yaml >/dev/null
in_box systemctl start solarcam-bridge
mosquitto_sub -p "$port" -t solarcam/bridge/availability -C 1 -W 30 >"$work/first.txt" || { in_box journalctl -u solarcam-bridge --no-pager | tail -20; fail "$old_version never came online"; }
[ "$(cat "$work/first.txt")" = online ] || fail "$old_version: availability $(cat "$work/first.txt")"
pid1=$(in_box systemctl show -p MainPID --value solarcam-bridge)
[ "$(in_box sha256sum "/proc/$pid1/exe" | cut -d' ' -f1)" = "$old_hash" ] || fail "the running process is not the previous release's binary"
pass "$old_version running as PID $pid1, online"

# --- the upgrade
mosquitto_sub -p "$port" -t solarcam/bridge/availability -v >"$work/availability.txt" &
watcher=$!
for _ in $(seq 100); do grep -q "availability online" "$work/availability.txt" 2>/dev/null && break; sleep 0.1; done
docker cp "$new_deb" "$name:/tmp/new.deb"
in_box dpkg -i /tmp/new.deb </dev/null >"$work/upgrade.txt" 2>&1 || { cat "$work/upgrade.txt"; fail "upgrade"; }
[ "$(in_box dpkg-query -W -f '${Version}' solarcam-bridge)" = "${version}-1" ] || fail "not upgraded"
grep -q "installed and enabled" "$work/upgrade.txt" && fail "the upgrade printed the first-install message"
# Seen by Home Assistant: offline (the old process stopping), then online (the new one).
for _ in $(seq 300); do
  sed -n '/availability offline/,$p' "$work/availability.txt" | grep -q "availability online" && break
  sleep 0.1
done
sed -n '/availability offline/,$p' "$work/availability.txt" | grep -q "availability online" \
  || { cat "$work/availability.txt"; in_box journalctl -u solarcam-bridge --no-pager | tail -20; fail "no offline then online across the upgrade"; }
pass "availability across the upgrade: $(cut -d' ' -f2 "$work/availability.txt" | tr '\n' ' ')"
pid2=$(in_box systemctl show -p MainPID --value solarcam-bridge)
[ "$pid2" != 0 ] && [ "$pid2" != "$pid1" ] || fail "the service was not restarted (PID $pid1, then $pid2)"
[ "$(in_box sha256sum "/proc/$pid2/exe" | cut -d' ' -f1)" = "$new_hash" ] || fail "the restarted process does not run the new binary"
[ "$(in_box systemctl is-active solarcam-bridge)" = active ] || fail "not active after the upgrade"
[ "$(in_box systemctl is-enabled solarcam-bridge)" = enabled ] || fail "not enabled after the upgrade"
in_box grep -q "edited by the user" /etc/solarcam-bridge/config.yaml || fail "the upgrade replaced the edited config"
in_box journalctl -u solarcam-bridge --no-pager >"$work/journal.txt"
grep -q "stopped" "$work/journal.txt" || fail "the journal has no clean stop"
[ "$(grep -c "starting:" "$work/journal.txt")" -eq 2 ] || fail "the journal has not two starts"
pass "restarted by the upgrade: PID $pid1 -> $pid2, running the new binary, enabled, the edited config kept"

# --- purge, after a real run: the service stops, and what it left goes
in_box test -d /var/lib/solarcam-bridge || fail "no /var/lib/solarcam-bridge after a run (StateDirectory=)"
in_box dpkg -P solarcam-bridge </dev/null >"$work/purge.txt" 2>&1 || { cat "$work/purge.txt"; fail "purge"; }
for _ in $(seq 100); do [ "$(tail -1 "$work/availability.txt")" = "solarcam/bridge/availability offline" ] && break; sleep 0.1; done
[ "$(tail -1 "$work/availability.txt")" = "solarcam/bridge/availability offline" ] || fail "the service was not stopped by the purge"
for gone in /var/lib/solarcam-bridge /etc/solarcam-bridge /usr/bin/solarcam-bridge; do
  in_box test ! -e "$gone" || fail "$gone left after purge"
done
in_box getent passwd solarcam-bridge >/dev/null && fail "user left after purge"
pass "purge: the service stopped (offline), state, config, binary and user gone"

echo "$passed passed, 0 failed"
