#!/usr/bin/env bash
# Updates through the signed package repositories (packaging/repo.sh), with the real package
# managers, following the README's own steps:
#
#   - a throwaway signing key; the repository published first with the previous release
#     (packaging/previous-release, built from its own source) and served over HTTP on a free
#     loopback port, then published again with this tree's packages added, as a release does;
#   - amd64, in a Debian bookworm root running systemd as PID 1 (a Docker container): the README's
#     apt steps (key, .sources file, apt install) bring the previous release, which runs against a
#     Mosquitto on this machine and queues a command for a sleeping camera; unattended-upgrades,
#     told to follow the repository as the README says, brings this tree's: the service was
#     stopped and started again by a new process that reports the new version, with the edited
#     config, the state directory and the queued command kept; a later release that changes the
#     packaged config.yaml is held by unattended-upgrades and asked about by apt, which keeps the
#     edited one; then purge;
#   - the same repository signed with another key, with a tampered Packages file or a tampered
#     .deb: refused by apt;
#   - arm64, in a Debian root run by qemu: the README's steps install the previous release and
#     its update (apt update && apt upgrade) brings this one;
#   - rpm: the README's .repo file and dnf install into an install root bring the previous
#     release (repository metadata and package signatures checked), dnf upgrade this one; a
#     tampered package, a package signed by another key and metadata signed by another key are
#     refused.
#
# Needs root, Docker, debootstrap, qemu-user-static, dnf and createrepo_c (installed when
# missing), and dist/ from packaging/build.sh. The Debian roots and the previous release's build
# are kept under $PI_ROOTS (default /var/tmp/solarcam-pi-roots) for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME,PI_ROOTS "$0" "$@"
. packaging/lib.sh
export DEBIAN_FRONTEND=noninteractive

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mosquitto_sub >/dev/null || need+=(mosquitto mosquitto-clients)
command -v docker >/dev/null || need+=(docker.io)
command -v dnf >/dev/null || need+=(dnf)
command -v rpmbuild >/dev/null || need+=(rpm)
command -v gpg >/dev/null || need+=(gnupg)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
start_dockerd
enable_qemu_binfmt || fail "arm programs cannot run here"
command -v cargo-deb >/dev/null || cargo_install --locked cargo-deb
command -v cargo-generate-rpm >/dev/null || cargo_install --locked cargo-generate-rpm

version=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"name":"solarcam-bridge","version":"\([^"]*\)".*/\1/p')
for f in "solarcam-bridge_${version}-1_amd64.deb" "solarcam-bridge_${version}-1_arm64.deb" "solarcam-bridge-${version}-1.x86_64.rpm"; do
  [ -f "dist/$f" ] || fail "no dist/$f: run packaging/build.sh first"
done
previous=$(grep -v '^#' packaging/previous-release | head -1)
git cat-file -e "$previous^{commit}" 2>/dev/null || fail "the previous release $previous is not in this clone's history"
short=$(git rev-parse --short=7 "$previous")
cache=$(pi_roots)
work=$(mktemp -d)
chmod 755 "$work"

# --- the previous release's packages, from its own source
# No version is tagged yet, so the previous release is a commit of main: it is built as version
# 0.1.0-git.<commit> (so that it reports itself apart from this tree's) and packaged as
# 0.1.0~git<commit>-1, which apt and dnf order before this tree's 0.1.0-1.
old_version="${version}~git${short}"
old_reports="${version}-git.${short}"
prev="$cache/previous-$short"
mkdir -p "$prev"
deb_of() { # the previous release's .deb for a Rust target
  case "$1" in x86_64-*) echo "$prev/solarcam-bridge_${old_version}-1_amd64.deb" ;;
    *) echo "$prev/solarcam-bridge_${old_version}-1_arm64.deb" ;; esac
}
targets=()
for t in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
  [ -f "$(deb_of "$t")" ] || targets+=("$t")
done
if [ ${#targets[@]} -gt 0 ]; then
  echo "== building the previous release ($short) for ${targets[*]} from its source"
  src="$prev/src"
  if [ ! -f "$src/.prepared" ]; then
    rm -rf "$src" && mkdir -p "$src"
    git archive "$previous" | tar -x -C "$src"
    sed -i "0,/^version = \"$version\"/s//version = \"$old_reports\"/" "$src/Cargo.toml"
    perl -0pi -e "s/(name = \"solarcam-bridge\"\nversion = )\"\Q$version\E\"/\$1\"$old_reports\"/" "$src/Cargo.lock"
    touch "$src/.prepared"
  fi
  # Both targets in one cargo, and without the release profile's fat LTO and single codegen
  # unit: what is tested is how the previous release behaves when upgraded from, not its size.
  (cd "$src" && CARGO_TARGET_DIR="$prev/target" CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo build --release --locked "${targets[@]/#/--target=}")
  for t in "${targets[@]}"; do
    (cd "$src" && CARGO_TARGET_DIR="$prev/target" cargo deb --no-build --no-strip \
      --target "$t" --deb-version "${old_version}-1" --output "$(deb_of "$t")")
    if [[ $t == x86_64-* ]]; then
      (cd "$src" && CARGO_TARGET_DIR="$prev/target" cargo generate-rpm --target "$t" \
        --target-dir "$prev/target" -s "version = \"$old_version\"" --output "$prev/")
    fi
  done
fi
old_rpm=$(ls "$prev"/solarcam-bridge-"${old_version}"-1.x86_64.rpm) || fail "no previous .rpm in $prev"
dpkg --compare-versions "${old_version}-1" lt "${version}-1" || fail "$old_version does not sort before ${version}-1"
[ "$(rpm --eval "%{lua: print(rpm.vercmp('${old_version}-1', '${version}-1'))}")" = -1 ] \
  || fail "rpm does not order $old_version before $version"
hash_of_deb() { # the sha256 of the binary a .deb installs
  local d; d=$(mktemp -d); dpkg-deb -x "$1" "$d"; sha256sum "$d/usr/bin/solarcam-bridge" | cut -d' ' -f1; rm -rf "$d"
}
old_hash=$(hash_of_deb "$prev/solarcam-bridge_${old_version}-1_amd64.deb")
new_hash=$(hash_of_deb "dist/solarcam-bridge_${version}-1_amd64.deb")
[ "$old_hash" != "$new_hash" ] || fail "the previous release's binary is this one"
pass "previous release $old_version built from $short (amd64 and arm64 .deb, x86_64 .rpm), reporting $old_reports"

# --- keys, and the repository served over HTTP
keys() { # a throwaway signing key in $work/$1
  mkdir -p -m 700 "$work/$1"
  GNUPGHOME="$work/$1" gpg --batch --passphrase '' --quick-gen-key "solarcam-bridge test ($1) <$1@solarcam-bridge.invalid>" rsa3072 sign 1d 2>/dev/null
}
keys key
keys other-key
mkdir -p "$work/www"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" >"$work/http.log" 2>&1 &
server=$!
url="http://127.0.0.1:$port"
publish() { # publish KEYDIR PACKAGES...: the repository, signed with that key, as the site's content
  rm -rf "$work/www.new"
  GNUPGHOME="$work/$1" packaging/repo.sh "$work/www.new" "${@:2}" >"$work/repo.txt" 2>&1 || { cat "$work/repo.txt"; fail "packaging/repo.sh"; }
  # The site always serves the project's key: signed by another, the indexes are someone else's.
  GNUPGHOME="$work/key" gpg --batch --export >"$work/www.new/solarcam-bridge.gpg"
  GNUPGHOME="$work/key" gpg --batch --armor --export >"$work/www.new/solarcam-bridge.asc"
  rm -rf "$work/www.old" && mv "$work/www" "$work/www.old" && mv "$work/www.new" "$work/www"
}
old_debs=("$prev"/solarcam-bridge_"${old_version}"-1_{amd64,arm64}.deb)
new_debs=(dist/solarcam-bridge_"${version}"-1_{amd64,arm64,armhf}.deb)
new_rpms=(dist/solarcam-bridge-"${version}"-1.{x86_64,aarch64}.rpm)
publish key "${old_debs[@]}" "$old_rpm"
for _ in $(seq 50); do curl -fs "$url/solarcam-bridge.gpg" -o /dev/null && break; sleep 0.1; done
pass "the repository with the previous release, signed by a throwaway key, served at $url"

# The README's steps, as a shell script: the fenced block after the marker comment, the
# project's address replaced by the test server's, sudo a no-op (the roots run as root).
readme_steps() {
  awk -v m="<!-- $1 -->" '$0 == m {on = 1; next} on && /^```/ {if (in_block) exit; in_block = 1; next} in_block' README.md \
    | sed "s|https://solarcam-bridge.github.io/solarcam-bridge|$url|g"
}
for block in apt-repository apt-update unattended-upgrades dnf-repository; do
  [ -n "$(readme_steps "$block")" ] || fail "README.md has no steps after <!-- $block -->"
done
as_readme_says() { printf 'set -e\nsudo() { "$@"; }\n%s\n' "$(readme_steps "$1")"; }

# --- a Debian root with systemd, curl and the CA certificates, as a Docker image
includes=$SYSTEMD_ROOT_PACKAGES
root="$cache/amd64-systemd"
debian_root amd64 "$root" "$includes" || fail "debootstrap amd64"
image=solarcam-test-systemd:bookworm-$(echo "$includes" | sha256sum | cut -c1-8)
docker image inspect "$image" >/dev/null 2>&1 || tar -C "$root" -c . | docker import - "$image" >/dev/null

# --- Mosquitto on this machine, the container on its network
mqtt_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
name="solarcam-repo-$$"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mqtt_port" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" -d
arm_root="$cache/arm64"
rpm_root="$work/rpm-root"
cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  pkill -f "$work/mosquitto.conf" || true
  kill "$server" 2>/dev/null || true
  [ -z "${watcher:-}" ] || kill "$watcher" 2>/dev/null || true
  umount "$rpm_root" 2>/dev/null || true
  if [ -d "$arm_root/etc" ]; then # leave pi-test.sh's root as it was
    chroot "$arm_root" dpkg --purge solarcam-bridge >/dev/null 2>&1 || true
    rm -rf "$arm_root/etc/apt/sources.list.d/solarcam-bridge.sources" "$arm_root/etc/apt/keyrings/solarcam-bridge.gpg" \
      "$arm_root/etc/apt/apt.conf.d/99assume-yes" "$arm_root"/var/lib/apt/lists/127.0.0.1*
  fi
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do mosquitto_pub -p "$mqtt_port" -t test/up -n 2>/dev/null && break; sleep 0.1; done

# CAP_SYS_ADMIN (and no seccomp or AppArmor profile) lets systemd build the unit's sandbox (its
# own mount namespace: ProtectSystem=strict, PrivateTmp...) as on a Pi; CAP_SYS_PTRACE lets the
# test read which binary the service runs (/proc/PID/exe).
docker run -d --name "$name" --network host --tmpfs /run --tmpfs /run/lock \
  --cap-add SYS_ADMIN --cap-add SYS_PTRACE --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  -v /sys/fs/cgroup:/sys/fs/cgroup:ro -e container=docker "$image" /lib/systemd/systemd >/dev/null
in_box() { docker exec "$name" "$@"; }
in_box_i() { docker exec -i "$name" "$@"; }
in_box_sh() { in_box_i bash -s; }
# The one thing a container cannot give it: a user namespace (PrivateUsers=). Turned off here by
# a drop-in, as an administrator would; the unit's sandbox as shipped is scored by
# `systemd-analyze security` in tests/service.rs.
in_box mkdir -p /etc/systemd/system/solarcam-bridge.service.d
printf '[Service]\nPrivateUsers=no\n' | in_box_i tee /etc/systemd/system/solarcam-bridge.service.d/container.conf >/dev/null
# Only the test's repository (the packages need nothing the root lacks), and "yes" to apt's
# questions, as the user would answer.
in_box rm -f /etc/apt/sources.list /etc/apt/sources.list.d/debian.sources
echo 'APT::Get::Assume-Yes "true";' | in_box_i tee /etc/apt/apt.conf.d/99assume-yes >/dev/null
for _ in $(seq 100); do
  state=$(in_box systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 0.2
done
case "$state" in running|degraded) ;; *) fail "systemd in the container: $state" ;; esac
# apt's own timers would take apt's lock at a moment of their choosing: the test runs their work.
in_box systemctl stop apt-daily.timer apt-daily-upgrade.timer
pass "systemd is PID 1 in a bookworm container ($state)"

# --- refused: another key, a tampered index, a tampered package
refused() { # refused WHAT PATTERN: a fresh apt update and install fails, saying PATTERN
  in_box sh -c 'rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb'
  if as_readme_says apt-repository | in_box_sh >"$work/refused.txt" 2>&1; then
    cat "$work/refused.txt"; fail "$1: apt installed it"
  fi
  grep -q "$2" "$work/refused.txt" || { cat "$work/refused.txt"; fail "$1: apt failed, but not with \"$2\""; }
  in_box sh -c '! dpkg-query -W solarcam-bridge >/dev/null 2>&1' || fail "$1: solarcam-bridge got installed"
  pass "$1: refused by apt ($(grep -m1 -o "$2.*" "$work/refused.txt" | cut -c1-90))"
}
publish other-key "${old_debs[@]}" "$old_rpm"
refused "the repository signed by another key" "NO_PUBKEY"
publish key "${old_debs[@]}" "$old_rpm"
# Both forms of the index (apt fetches the compressed one).
sed -i 's/^Maintainer: .*/Maintainer: someone else <x@example.com>/' "$work/www/deb/dists/stable/main/binary-amd64/Packages"
gzip -9nkf "$work/www/deb/dists/stable/main/binary-amd64/Packages"
refused "a tampered Packages file" "Hash Sum mismatch\|File has unexpected size"
publish key "${old_debs[@]}" "$old_rpm"
deb_in_pool=$(ls "$work"/www/deb/pool/main/*_amd64.deb)
printf 'x' | dd of="$deb_in_pool" bs=1 seek=$(($(stat -c %s "$deb_in_pool") - 100)) conv=notrunc 2>/dev/null
refused "a tampered .deb" "Hash Sum mismatch\|File has unexpected size\|SHA256"
publish key "${old_debs[@]}" "$old_rpm"

# --- the previous release, installed the README's way, configured and running
in_box sh -c 'rm -rf /var/lib/apt/lists/*'
as_readme_says apt-repository | in_box_sh >"$work/install.txt" 2>&1 || { cat "$work/install.txt"; fail "the README's apt steps"; }
[ "$(in_box dpkg-query -W -f '${Version}' solarcam-bridge)" = "${old_version}-1" ] || fail "the README's apt steps did not install $old_version"
grep -q "installed and enabled, but not started" "$work/install.txt" || fail "no first-install message"
# As the message says, under a real systemd: enabled for the next boot, not running yet.
[ "$(in_box systemctl is-enabled solarcam-bridge)" = enabled ] || fail "not enabled after install"
[ "$(in_box systemctl is-active solarcam-bridge || true)" = inactive ] || fail "started by the install, before the file was edited"
pass "after install: enabled, and not started until the file is edited (systemctl is-enabled, is-active)"
policy=$(in_box apt-cache policy)
grep -q "o=solarcam-bridge,a=stable,n=stable,l=solarcam-bridge,c=main" <<<"$policy" || { echo "$policy"; fail "apt sees no Origin and Label"; }
pass "the README's apt steps installed $old_version from the signed repository (apt sees origin=solarcam-bridge, label=solarcam-bridge, as unattended-upgrades matches)"

printf 'mqtt:\n  url: mqtt://127.0.0.1:%s\n  client_id: repo-test\ncameras:\n  - mac: 5CC5638AE24C\n    name: Driveway\n# edited by the user\n' "$mqtt_port" \
  | in_box_i tee /etc/solarcam-bridge/config.yaml >/dev/null
in_box systemctl start solarcam-bridge
mosquitto_sub -p "$mqtt_port" -t solarcam/bridge/availability -C 1 -W 30 >"$work/first.txt" || { in_box journalctl -u solarcam-bridge --no-pager | tail -20; fail "$old_version never came online"; }
[ "$(cat "$work/first.txt")" = online ] || fail "$old_version: availability $(cat "$work/first.txt")"
pid1=$(in_box systemctl show -p MainPID --value solarcam-bridge)
[ "$(in_box sha256sum "/proc/$pid1/exe" | cut -d' ' -f1)" = "$old_hash" ] || fail "the running process is not the previous release's binary"
# The previous release announces each entity in its own config; this one, each device in one.
old_topic=homeassistant/binary_sensor/solarcam_bridge/connectivity/config
new_topic=homeassistant/device/solarcam_bridge/config
reports() { # the version the running bridge reports to Home Assistant (its device's firmware), on topic $1
  mosquitto_sub -p "$mqtt_port" -t "$1" -C 1 -W 10 \
    | grep -o '"sw_version":"[^"]*"' | head -1 | cut -d'"' -f4
}
[ "$(reports "$old_topic")" = "$old_reports" ] || fail "$old_version reports $(reports "$old_topic"), not $old_reports"
pass "$old_version running as PID $pid1, online, reporting $old_reports to Home Assistant"

# A command for the camera, which sleeps: the bridge wakes it and keeps the command in its state.
mosquitto_sub -p "$mqtt_port" -t 4GSolarCam/Wake/5CC5638AE24C -C 1 -W 10 >"$work/wake.txt" &
waker=$!
sleep 0.3
mosquitto_pub -p "$mqtt_port" -t solarcam/5CC5638AE24C/command -m reboot
wait "$waker" || fail "no wake sent for the queued command"
for _ in $(seq 50); do in_box grep -q '"reboot"' /var/lib/solarcam-bridge/state.json 2>/dev/null && break; sleep 0.1; done
in_box grep -q '"reboot"' /var/lib/solarcam-bridge/state.json || fail "the queued reboot is not in the state file"
pass "a reboot for the sleeping camera: wake sent, the command queued in /var/lib/solarcam-bridge/state.json"

# --- the next release published; unattended-upgrades follows the repository as the README says
mosquitto_sub -p "$mqtt_port" -t solarcam/bridge/availability -v >"$work/availability.txt" &
watcher=$!
for _ in $(seq 100); do grep -q "availability online" "$work/availability.txt" 2>/dev/null && break; sleep 0.1; done
as_readme_says unattended-upgrades | in_box_sh >/dev/null || fail "the README's unattended-upgrades step"
publish key "${old_debs[@]}" "$old_rpm" "${new_debs[@]}" "${new_rpms[@]}"
# What apt's daily timers run: the lists updated, then unattended-upgrade.
in_box apt-get update -q >"$work/upgrade.txt" 2>&1 || { cat "$work/upgrade.txt"; fail "apt-get update"; }
in_box unattended-upgrade -v >>"$work/upgrade.txt" 2>&1 || { cat "$work/upgrade.txt"; fail "unattended-upgrade"; }
[ "$(in_box dpkg-query -W -f '${Version}' solarcam-bridge)" = "${version}-1" ] || { cat "$work/upgrade.txt"; fail "unattended-upgrade did not upgrade"; }
grep -q "Allowed origins are:.*origin=solarcam-bridge,label=solarcam-bridge" "$work/upgrade.txt" || { cat "$work/upgrade.txt"; fail "unattended-upgrade did not follow the README's origin"; }
# The dpkg log must be there to be searched: grep on a missing file fails, and the check with it.
dpkg_log=/var/log/unattended-upgrades/unattended-upgrades-dpkg.log
in_box grep -q "solarcam-bridge" "$dpkg_log" || fail "no unattended-upgrades dpkg log naming the upgrade at $dpkg_log"
in_box grep -q "installed and enabled" "$dpkg_log" && fail "the upgrade printed the first-install message"
# Seen by Home Assistant: offline (the old process stopping), then online (the new one).
for _ in $(seq 300); do
  sed -n '/availability offline/,$p' "$work/availability.txt" | grep -q "availability online" && break
  sleep 0.1
done
sed -n '/availability offline/,$p' "$work/availability.txt" | grep -q "availability online" \
  || { cat "$work/availability.txt"; in_box journalctl -u solarcam-bridge --no-pager | tail -20; fail "no offline then online across the upgrade"; }
pass "unattended-upgrade, with the README's origin, brought ${version}-1; availability: $(cut -d' ' -f2 "$work/availability.txt" | tr '\n' ' ')"
pid2=$(in_box systemctl show -p MainPID --value solarcam-bridge)
[ "$pid2" != 0 ] && [ "$pid2" != "$pid1" ] || fail "the service was not restarted (PID $pid1, then $pid2)"
[ "$(in_box sha256sum "/proc/$pid2/exe" | cut -d' ' -f1)" = "$new_hash" ] || fail "the restarted process does not run the new binary"
for _ in $(seq 20); do [ "$(reports "$new_topic")" = "$version" ] && break; sleep 0.5; done
[ "$(reports "$new_topic")" = "$version" ] || fail "the restarted bridge reports $(reports "$new_topic"), not $version"
# The upgrade moved the per-entity configs to the device config, once: the old topic holds nothing
# retained any more, and the state file records the move so that a restart does not repeat it.
left=$(mosquitto_sub -p "$mqtt_port" -t "$old_topic" -C 1 -W 2 || true)
[ -z "$left" ] || fail "the previous release's config is still retained on $old_topic: $left"
for _ in $(seq 50); do in_box grep -Eq '"device_discovery": *true' /var/lib/solarcam-bridge/state.json && break; sleep 0.1; done
in_box grep -Eq '"device_discovery": *true' /var/lib/solarcam-bridge/state.json || fail "the state file does not record the move to device discovery"
[ "$(in_box systemctl is-active solarcam-bridge)" = active ] || fail "not active after the upgrade"
[ "$(in_box systemctl is-enabled solarcam-bridge)" = enabled ] || fail "not enabled after the upgrade"
in_box grep -q "edited by the user" /etc/solarcam-bridge/config.yaml || fail "the upgrade replaced the edited config"
in_box journalctl -u solarcam-bridge --no-pager >"$work/journal.txt"
grep -q "stopped" "$work/journal.txt" || fail "the journal has no clean stop"
[ "$(grep -c "starting:" "$work/journal.txt")" -eq 2 ] || fail "the journal has not two starts"
pass "restarted by the upgrade: PID $pid1 -> $pid2, running the new binary, reporting $version, enabled, the edited config kept"

# The queued command survived: the camera speaks, and the new process sends it the reboot.
in_box grep -q '"reboot"' /var/lib/solarcam-bridge/state.json || fail "the state file lost the queued reboot"
mosquitto_sub -p "$mqtt_port" -t 4GSolarCam/Config/5CC5638AE24C -C 1 -W 10 >"$work/config-command.txt" &
commander=$!
sleep 0.3
mosquitto_pub -p "$mqtt_port" -t 4GSolarCam/Status -m '{"devMac": "5C:C5:63:8A:E2:4C", "battery": 80}'
wait "$commander" || fail "the camera woke after the upgrade, but the queued reboot never came"
[ "$(cat "$work/config-command.txt")" = reboot ] || fail "the camera got $(cat "$work/config-command.txt"), not reboot"
pass "the queue survived the upgrade: the state file kept it, and the camera got reboot on 4GSolarCam/Config/5CC5638AE24C when it spoke"

# --- a release that changes the packaged config.yaml, which the user has edited: this tree's
# package as a later revision (-2) whose config.yaml has one line more, as such a release would.
# unattended-upgrades leaves it for the user; the README's apt steps ask, and keep theirs.
next="$work/next"
rm -rf "$next" && dpkg-deb -R "dist/solarcam-bridge_${version}-1_amd64.deb" "$next"
grep -qx /etc/solarcam-bridge/config.yaml "$next/DEBIAN/conffiles" || fail "config.yaml is not a conffile of the package"
echo "# a line the next release added" >>"$next/etc/solarcam-bridge/config.yaml"
sed -i "s/^Version: .*/Version: ${version}-2/" "$next/DEBIAN/control"
if [ -f "$next/DEBIAN/md5sums" ]; then
  (cd "$next" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs md5sum) >"$next/DEBIAN/md5sums"
fi
next_deb="$work/solarcam-bridge_${version}-2_amd64.deb"
dpkg-deb -b "$next" "$next_deb" >/dev/null
publish key "${old_debs[@]}" "$old_rpm" "${new_debs[@]}" "${new_rpms[@]}" "$next_deb"
in_box apt-get update -q >"$work/held.txt" 2>&1 || { cat "$work/held.txt"; fail "apt-get update"; }
in_box unattended-upgrade -v >>"$work/held.txt" 2>&1 || { cat "$work/held.txt"; fail "unattended-upgrade"; }
[ "$(in_box dpkg-query -W -f '${Version}' solarcam-bridge)" = "${version}-1" ] || { cat "$work/held.txt"; fail "unattended-upgrade upgraded over the edited config"; }
grep -q "solarcam-bridge.*conffile prompt\|conffile prompt.*solarcam-bridge" "$work/held.txt" \
  || { cat "$work/held.txt"; fail "unattended-upgrade did not say it leaves the upgrade for its conffile prompt"; }
in_box grep -q "edited by the user" /etc/solarcam-bridge/config.yaml || fail "unattended-upgrade touched the edited config"
pass "a release changing the edited config.yaml: unattended-upgrade holds it ($(grep -m1 -o "[^ ]*conffile prompt[^.]*" "$work/held.txt"))"
# The README's update, the user answering the prompt with its default (Enter: keep theirs).
as_readme_says apt-update | in_box_i tee /tmp/apt-update.sh >/dev/null
printf '\n' | in_box_i bash /tmp/apt-update.sh >"$work/asked.txt" 2>&1 || { cat "$work/asked.txt"; fail "the README's update"; }
for said in "Configuration file '/etc/solarcam-bridge/config.yaml'" "Modified (by you or by a script) since installation" \
  "Package distributor has shipped an updated version" "The default action is to keep your current version"; do
  grep -qF "$said" "$work/asked.txt" || { cat "$work/asked.txt"; fail "apt did not ask which config.yaml to keep (no \"$said\")"; }
done
[ "$(in_box dpkg-query -W -f '${Version}' solarcam-bridge)" = "${version}-2" ] || { cat "$work/asked.txt"; fail "the README's update did not bring ${version}-2"; }
in_box grep -q "edited by the user" /etc/solarcam-bridge/config.yaml || fail "the update replaced the edited config"
in_box grep -q "a line the next release added" /etc/solarcam-bridge/config.yaml.dpkg-dist || fail "no config.yaml.dpkg-dist with the release's version"
for _ in $(seq 50); do [ "$(in_box systemctl is-active solarcam-bridge)" = active ] && break; sleep 0.1; done
[ "$(in_box systemctl is-active solarcam-bridge)" = active ] || fail "not active after the update"
pass "the README's update asked which config.yaml to keep, kept the edited one (the release's beside it as config.yaml.dpkg-dist), brought ${version}-2, service active"

# --- purge, after a real run: the service stops, and what it left goes
in_box dpkg -P solarcam-bridge </dev/null >"$work/purge.txt" 2>&1 || { cat "$work/purge.txt"; fail "purge"; }
for _ in $(seq 100); do [ "$(tail -1 "$work/availability.txt")" = "solarcam/bridge/availability offline" ] && break; sleep 0.1; done
[ "$(tail -1 "$work/availability.txt")" = "solarcam/bridge/availability offline" ] || fail "the service was not stopped by the purge"
for gone in /var/lib/solarcam-bridge /etc/solarcam-bridge /usr/bin/solarcam-bridge; do
  in_box test ! -e "$gone" || fail "$gone left after purge"
done
in_box getent passwd solarcam-bridge >/dev/null && fail "user left after purge"
pass "purge: the service stopped (offline), state, config, binary and user gone"
docker rm -f "$name" >/dev/null

# --- arm64, in pi-test.sh's Debian root under qemu
[ -x "$arm_root/usr/bin/curl" ] || fail "no arm64 root with curl at $arm_root: packaging/pi-test.sh makes it"
in_arm() { chroot "$arm_root" "$@"; }
[ "$(in_arm uname -m)" = aarch64 ] || fail "the arm64 root does not run as aarch64"
in_arm dpkg --purge solarcam-bridge >/dev/null 2>&1 || true
echo 'APT::Get::Assume-Yes "true";' >"$arm_root/etc/apt/apt.conf.d/99assume-yes"
publish key "${old_debs[@]}" "$old_rpm"
# Only the test's repository is read: the root's Debian sources are set aside for the moment.
arm_apt=(-o Dir::Etc::SourceList=/dev/null)
as_readme_says apt-repository | sed "s|apt update|apt ${arm_apt[*]} update|; s|apt install|apt ${arm_apt[*]} install|" \
  | chroot "$arm_root" bash -s >"$work/arm-install.txt" 2>&1 || { cat "$work/arm-install.txt"; fail "arm64: the README's apt steps"; }
[ "$(in_arm dpkg-query -W -f '${Version}' solarcam-bridge)" = "${old_version}-1" ] || fail "arm64: $old_version not installed"
[ "$(in_arm solarcam-bridge --version)" = "solarcam-bridge $old_reports" ] || fail "arm64: the installed binary says $(in_arm solarcam-bridge --version)"
publish key "${old_debs[@]}" "$old_rpm" "${new_debs[@]}" "${new_rpms[@]}"
as_readme_says apt-update | sed "s|apt update|apt ${arm_apt[*]} update|; s|apt upgrade|apt ${arm_apt[*]} upgrade|" \
  | chroot "$arm_root" bash -s >"$work/arm-upgrade.txt" 2>&1 || { cat "$work/arm-upgrade.txt"; fail "arm64: the README's update"; }
[ "$(in_arm dpkg-query -W -f '${Version}' solarcam-bridge)" = "${version}-1" ] || fail "arm64: not upgraded"
[ "$(in_arm solarcam-bridge --version)" = "solarcam-bridge $version" ] || fail "arm64: after the upgrade the binary says $(in_arm solarcam-bridge --version)"
pass "arm64 (qemu): the README's steps installed $old_version (it says $old_reports), the README's update (apt update && apt upgrade) brought ${version}-1 (it says $version)"

# --- rpm: the README's .repo file, dnf install and upgrade, in an install root
# The root is the amd64 Debian root (a shell, getent, useradd and systemctl for the package's
# scripts), with an rpm database of its own. A stand-in package tells that database what a Fedora
# system would already have installed (glibc, the shell, systemd, shadow-utils): every capability
# the two packages require that no package in the repository provides.
mkdir -p "$rpm_root"
mkdir -p "$work/rpm-upper" "$work/rpm-work"
mount -t overlay overlay -o "lowerdir=$root,upperdir=$work/rpm-upper,workdir=$work/rpm-work" "$rpm_root"
rpm --root "$rpm_root" --initdb
mkdir -p "$work/stand-in"
{
  printf 'Name: system-stand-in\nVersion: 1\nRelease: 1\nSummary: what a Fedora root already has\nLicense: MIT\nBuildArch: noarch\n'
  rpm -qpR "$old_rpm" "${new_rpms[0]}" 2>/dev/null | grep -v '^rpmlib(\|^config(' | sort -u | sed 's/^/Provides: /'
  printf '%%description\nStands in for the distribution packages of a real Fedora root.\n%%files\n'
} >"$work/stand-in/stand-in.spec"
rpmbuild -bb --define "_topdir $work/stand-in" --define "_rpmdir $work/stand-in" "$work/stand-in/stand-in.spec" >"$work/stand-in.txt" 2>&1 \
  || { cat "$work/stand-in.txt"; fail "rpmbuild of the stand-in"; }
rpm --root "$rpm_root" -i --nosignature "$work"/stand-in/noarch/system-stand-in-1-1.noarch.rpm >"$work/stand-in.txt" 2>&1 \
  || { cat "$work/stand-in.txt"; fail "installing the stand-in"; }
dnf_in_root() { dnf --installroot "$rpm_root" --releasever 1 --setopt=cachedir="$work/dnf-cache" -y "$@"; }
fresh_dnf() { # as on a machine that never met the repository: no cache, no key imported
  rm -rf "$work/dnf-cache"
  rpm --root "$rpm_root" -e --allmatches gpg-pubkey >/dev/null 2>&1 || true
}
as_dnf_readme_says() { # the README's dnf steps, aimed at the install root
  as_readme_says dnf-repository | sed "s|/etc/yum.repos.d/|$rpm_root/etc/yum.repos.d/|g; s|dnf install|dnf_in_root install|"
}
export -f dnf_in_root
export rpm_root work
dnf_refused() { # dnf_refused WHAT PATTERN
  fresh_dnf
  if as_dnf_readme_says | bash -s >"$work/dnf-refused.txt" 2>&1; then cat "$work/dnf-refused.txt"; fail "$1: dnf installed it"; fi
  grep -qi "$2" "$work/dnf-refused.txt" || { cat "$work/dnf-refused.txt"; fail "$1: dnf failed, but not with \"$2\""; }
  ! rpm --root "$rpm_root" -q solarcam-bridge >/dev/null 2>&1 || fail "$1: solarcam-bridge got installed"
  pass "$1: refused by dnf ($(grep -im1 -o "$2.*" "$work/dnf-refused.txt" | cut -c1-90))"
}
mkdir -p "$rpm_root/etc/yum.repos.d"

publish other-key "${old_debs[@]}" "$old_rpm"
dnf_refused "repository metadata signed by another key" "Bad GPG signature"
# Packages signed by another key, in metadata signed by the right one.
cp "$old_rpm" "$work/other-signed.rpm"
GNUPGHOME="$work/other-key" packaging/repo.sh --sign-rpms "$work/other-signed.rpm"
publish key "${old_debs[@]}" "$old_rpm"
cp "$work/other-signed.rpm" "$work/www/rpm/$(basename "$old_rpm")"
createrepo_c --quiet "$work/www/rpm" >/dev/null
GNUPGHOME="$work/key" gpg --batch --yes --armor --detach-sign -o "$work/www/rpm/repodata/repomd.xml.asc" "$work/www/rpm/repodata/repomd.xml"
dnf_refused "a package signed by another key" "Public key for .* is not installed"
# A tampered package: its bytes changed after signing, the metadata rebuilt and signed properly.
publish key "${old_debs[@]}" "$old_rpm"
rpm_in_repo="$work/www/rpm/$(basename "$old_rpm")"
printf 'x' | dd of="$rpm_in_repo" bs=1 seek=$(($(stat -c %s "$rpm_in_repo") - 100)) conv=notrunc 2>/dev/null
createrepo_c --quiet "$work/www/rpm" >/dev/null
GNUPGHOME="$work/key" gpg --batch --yes --armor --detach-sign -o "$work/www/rpm/repodata/repomd.xml.asc" "$work/www/rpm/repodata/repomd.xml"
dnf_refused "a tampered package (metadata rebuilt and signed)" "Problem opening package"

publish key "${old_debs[@]}" "$old_rpm"
fresh_dnf
as_dnf_readme_says | bash -s >"$work/dnf-install.txt" 2>&1 || { cat "$work/dnf-install.txt"; fail "the README's dnf steps"; }
[ "$(rpm --root "$rpm_root" -q --qf '%{VERSION}-%{RELEASE}' solarcam-bridge)" = "${old_version}-1" ] || fail "dnf did not install $old_version"
grep -q "installed and enabled, but not started" "$work/dnf-install.txt" || { cat "$work/dnf-install.txt"; fail "dnf: the package's scripts did not run"; }
grep -qi "importing gpg key" "$work/dnf-install.txt" || { cat "$work/dnf-install.txt"; fail "dnf imported no key"; }
echo "# edited by the user" >>"$rpm_root/etc/solarcam-bridge/config.yaml"
publish key "${old_debs[@]}" "$old_rpm" "${new_debs[@]}" "${new_rpms[@]}"
dnf_in_root upgrade --refresh solarcam-bridge >"$work/dnf-upgrade.txt" 2>&1 || { cat "$work/dnf-upgrade.txt"; fail "dnf upgrade"; }
[ "$(rpm --root "$rpm_root" -q --qf '%{VERSION}-%{RELEASE}' solarcam-bridge)" = "${version}-1" ] || fail "dnf did not upgrade to $version"
grep -q "edited by the user" "$rpm_root/etc/solarcam-bridge/config.yaml" || fail "dnf upgrade replaced the edited config"
[ "$(chroot "$rpm_root" solarcam-bridge --version)" = "solarcam-bridge $version" ] || fail "dnf: the upgraded binary says $(chroot "$rpm_root" solarcam-bridge --version)"
pass "the README's dnf steps installed $old_version (key imported, metadata and package signatures checked), dnf upgrade brought ${version}-1, the edited config kept"

echo "$passed passed, 0 failed"
