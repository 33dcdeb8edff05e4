#!/usr/bin/env bash
# Tests the packages as a user meets them, on this (Debian) machine, as root: builds them
# (packaging/build.sh), lints the .deb, installs, reinstalls, removes and purges it, checking every
# file's place, owner and mode each time; reads the .rpm's file list and scripts; runs the
# packaged arm64 and armhf binaries under qemu-user-static against a local Mosquitto; then
# packaging/pi-test.sh installs and upgrades them in real arm64 and armhf Debian roots and the
# .rpm in an rpm root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME "$0" "$@"; fi
export DEBIAN_FRONTEND=noninteractive

. packaging/lib.sh

need=()
command -v lintian >/dev/null || need+=(lintian)
command -v rpm >/dev/null || need+=(rpm)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
command -v mosquitto_sub >/dev/null || need+=(mosquitto mosquitto-clients)
command -v systemd-analyze >/dev/null || need+=(systemd)
[ ${#need[@]} -eq 0 ] || { apt-get update -qq; apt-get install -y -qq "${need[@]}"; }

packaging/build.sh
version=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"name":"solarcam-bridge","version":"\([^"]*\)".*/\1/p')
deb=$(ls dist/solarcam-bridge_"${version}"*_amd64.deb)
rpm_x86=$(ls dist/solarcam-bridge-"${version}"*.x86_64.rpm)

# --- the sizes the README's download table states: each file, and the binary in it
for debarch in amd64 arm64 armhf; do
  f=$(ls dist/solarcam-bridge_"${version}"*_"$debarch".deb)
  row="_${debarch}.deb\`"
  within_readme_size "$(basename "$f")" "$(stat -c %s "$f")" "$(readme_mb "$row" 3)"
  bin=$(dpkg-deb -c "$f" | awk '$6 == "./usr/bin/solarcam-bridge" { print $3 }')
  within_readme_size "$(basename "$f"): its binary" "$bin" "$(readme_mb "$row" 4)"
done
for rpmarch in aarch64 x86_64; do
  f=$(ls dist/solarcam-bridge-"${version}"*."$rpmarch".rpm)
  row=".${rpmarch}.rpm\`"
  within_readme_size "$(basename "$f")" "$(stat -c %s "$f")" "$(readme_mb "$row" 3)"
  bin=$(rpm -qlvp "$f" 2>/dev/null | awk '$9 == "/usr/bin/solarcam-bridge" { print $5 }')
  within_readme_size "$(basename "$f"): its binary" "$bin" "$(readme_mb "$row" 4)"
done
pass "the packages and their binaries are within 10 % of the sizes the README states"

# --- .deb: lint
lintian --fail-on error --suppress-tags no-manual-page "$deb" | tee /tmp/lintian.txt || fail "lintian reports errors"
pass "lintian: no errors ($(grep -c '^W:' /tmp/lintian.txt || true) warnings)"

# --- .deb: install
dpkg --purge solarcam-bridge >/dev/null 2>&1 || true
dpkg -i "$deb" </dev/null | tee /tmp/install.txt
grep -q "installed and enabled, but not started" /tmp/install.txt || fail "no message after install"
pass "install tells the user to edit the file before starting"

unit=""
for d in /usr/lib/systemd/system /lib/systemd/system; do [ -f "$d/solarcam-bridge.service" ] && unit="$d/solarcam-bridge.service" && break; done
[ -n "$unit" ] || fail "no unit installed"
expect() { # path owner:group mode
  [ -e "$1" ] || fail "$1 missing"
  got=$(stat -c '%U:%G %a' "$1")
  [ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
  pass "$1 $2 $3"
}
expect /usr/bin/solarcam-bridge root:root 755
expect /etc/solarcam-bridge root:solarcam-bridge 750
expect /etc/solarcam-bridge/config.yaml root:solarcam-bridge 640
expect "$unit" root:root 644
expect /usr/share/man/man1/solarcam-bridge.1.gz root:root 644
getent passwd solarcam-bridge >/dev/null || fail "no solarcam-bridge user"
pass "system user solarcam-bridge"
grep -qx /etc/solarcam-bridge/config.yaml /var/lib/dpkg/info/solarcam-bridge.conffiles || fail "config.yaml is not a conffile"
pass "config.yaml is a conffile"
[ -L /etc/systemd/system/multi-user.target.wants/solarcam-bridge.service ] || fail "service not enabled"
pass "service enabled"
solarcam-bridge --version | grep -qx "solarcam-bridge $version" || fail "--version"
pass "$(solarcam-bridge --version)"
su -s /bin/sh solarcam-bridge -c "solarcam-bridge check-config --config /etc/solarcam-bridge/config.yaml" || fail "check-config as the service user"
pass "check-config on the installed file, as the service user"
su -s /bin/sh nobody -c "cat /etc/solarcam-bridge/config.yaml" >/dev/null 2>&1 && fail "others can read the config"
pass "others cannot read the config"
systemd-analyze verify "$unit" || fail "systemd-analyze verify"
pass "systemd-analyze verify accepts the installed unit"

# --- .deb: a reinstall over itself keeps an edited config (the real upgrade is in pi-test.sh)
printf '\n# edited by the test\n' >> /etc/solarcam-bridge/config.yaml
dpkg -i "$deb" </dev/null >/dev/null
grep -q "edited by the test" /etc/solarcam-bridge/config.yaml || fail "reinstall replaced the edited config"
expect /etc/solarcam-bridge/config.yaml root:solarcam-bridge 640
pass "reinstall keeps the edited config"

# --- .deb: remove keeps the config, purge removes what install created
dpkg -r solarcam-bridge >/dev/null
[ ! -e /usr/bin/solarcam-bridge ] || fail "binary left after remove"
[ ! -e "$unit" ] || fail "unit left after remove"
grep -q "edited by the test" /etc/solarcam-bridge/config.yaml || fail "remove deleted the config"
pass "remove: binary and unit gone, config kept"
# The state directory as systemd's StateDirectory= leaves it after a run (no systemd runs here;
# packaging/repo-test.sh purges after a real one).
install -d -o solarcam-bridge -g solarcam-bridge -m 750 /var/lib/solarcam-bridge
echo '{"discovered":["5CC5638AE24E"]}' > /var/lib/solarcam-bridge/state.json
dpkg -P solarcam-bridge >/dev/null
[ ! -e /etc/solarcam-bridge ] || fail "/etc/solarcam-bridge left after purge"
[ ! -e /var/lib/solarcam-bridge ] || fail "/var/lib/solarcam-bridge left after purge"
[ ! -L /etc/systemd/system/multi-user.target.wants/solarcam-bridge.service ] || fail "enable link left after purge"
getent passwd solarcam-bridge >/dev/null && fail "user left after purge"
pass "purge: config, state, enable link and user gone"

# --- .rpm: file list, config file, scripts
rpm -qlp "$rpm_x86" 2>/dev/null | tee /tmp/rpm-files.txt
for f in /usr/bin/solarcam-bridge /etc/solarcam-bridge/config.yaml /usr/lib/systemd/system/solarcam-bridge.service /usr/share/man/man1/solarcam-bridge.1; do
  grep -qx "$f" /tmp/rpm-files.txt || fail "$f not in the rpm"
done
pass "rpm file list"
rpm -qp --configfiles "$rpm_x86" 2>/dev/null | grep -qx /etc/solarcam-bridge/config.yaml || fail "config.yaml is not an rpm config file"
pass "rpm: config.yaml is a config file"
rpm -qp --scripts "$rpm_x86" 2>/dev/null > /tmp/rpm-scripts.txt
grep -q "useradd --system" /tmp/rpm-scripts.txt && grep -q "systemctl enable solarcam-bridge" /tmp/rpm-scripts.txt \
  && grep -q "try-restart" /tmp/rpm-scripts.txt || fail "rpm scripts"
pass "rpm scripts create the user, enable the service, restart it on upgrade"
ls dist/solarcam-bridge-"${version}"*.aarch64.rpm >/dev/null || fail "no aarch64 rpm"
pass "aarch64 rpm built"

# --- arm64 and armhf under qemu: --version, and a short run that publishes discovery
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" -d
trap 'pkill -f "$work/mosquitto.conf" || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  mosquitto_pub -p "$port" -t test/up -n 2>/dev/null && break
  sleep 0.1
done
mosquitto_pub -p "$port" -t test/up -n || fail "mosquitto did not start on $port"
for arch in aarch64:arm64:aarch64-unknown-linux-gnu arm:armhf:armv7-unknown-linux-gnueabihf; do
  IFS=: read -r qemu debarch target <<<"$arch"
  # The binary as packaged, not the one in target/.
  pkg=$(ls dist/solarcam-bridge_"${version}"-1_"$debarch".deb) || fail "no $debarch deb"
  dpkg-deb -x "$pkg" "$work/pkg-$debarch"
  bin="$work/pkg-$debarch/usr/bin/solarcam-bridge"
  sysroot=/usr/$([ "$qemu" = arm ] && echo arm-linux-gnueabihf || echo aarch64-linux-gnu)
  out=$(qemu-"$qemu"-static -L "$sysroot" "$bin" --version) || fail "$debarch --version"
  [ "$out" = "solarcam-bridge $version" ] || fail "$debarch --version said $out"
  pass "$debarch under qemu: $out"
  mac=$([ "$qemu" = arm ] && echo 0011223344AA || echo 0011223344BB)
  printf 'mqtt:\n  url: mqtt://127.0.0.1:%s\n  client_id: qemu-%s\nstate_dir: %s\ncameras:\n  - mac: %s\n    name: Qemu %s\n' \
    "$port" "$debarch" "$work/state-$debarch" "$mac" "$debarch" > "$work/$debarch.yaml"
  qemu-"$qemu"-static -L "$sysroot" "$bin" --config "$work/$debarch.yaml" 2>"$work/$debarch.log" &
  pid=$!
  id=$(echo "$mac" | tr 'A-Z' 'a-z')
  # The camera's one device config (homeassistant/device/<node>/config), with its snapshot entity.
  got=$(mosquitto_sub -p "$port" -t "homeassistant/device/solarcam_$id/config" -C 1 -W 30) || { cat "$work/$debarch.log"; fail "$debarch published no discovery"; }
  kill -TERM "$pid"; wait "$pid" || fail "$debarch did not stop cleanly"
  echo "$got" | grep -q "\"name\":\"Qemu $debarch\"" || fail "$debarch discovery names no device Qemu $debarch: $got"
  echo "$got" | grep -q "\"unique_id\":\"solarcam_${id}_snapshot\"" || fail "$debarch discovery has no snapshot entity: $got"
  pass "$debarch under qemu: discovery for camera $mac published, clean stop"
done

echo "$passed passed, 0 failed"

# The Pi install, watched: the arm64 and armhf .debs in real roots of those architectures, a real
# upgrade, and the .rpm in an rpm root.
packaging/pi-test.sh
