#!/usr/bin/env bash
# The Raspberry Pi install, watched. For arm64 (64-bit Raspberry Pi OS) and armhf (32-bit):
#   - a real Debian root of that architecture (debootstrap from Debian's packages), its programs
#     run by qemu-user-static through binfmt_misc;
#   - the .deb installed there with dpkg, its maintainer scripts running there: user, group,
#     folders and modes checked;
#   - the packaged binary's --version and check-config run inside, as the service's user;
#   - a real upgrade from the previous package revision (a second .deb, Debian revision 2) that
#     keeps the user's edited configuration and asks systemd to restart the service only if it
#     was running (try-restart), recorded by a stand-in for deb-systemd-invoke.
# Then the aarch64 .rpm installed with its scripts into an rpm root (the arm64 root, with rpm's
# own database), and removed again.
#
# Needs root. The roots are kept in $PI_ROOTS (default /var/tmp/solarcam-pi-roots) for the next
# run on the same machine; a fresh machine builds them (about 2 minutes each).
# Run by packaging/test.sh after packaging/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/lib.sh
[ "$(id -u)" -eq 0 ] || exec sudo --preserve-env=PATH,CARGO_HOME,RUSTUP_HOME,PI_ROOTS "$0" "$@"
export DEBIAN_FRONTEND=noninteractive

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v rpm >/dev/null || need+=(rpm)
[ ${#need[@]} -eq 0 ] || { apt-get update -qq; apt-get install -y -qq "${need[@]}"; }
enable_qemu_binfmt || fail "arm programs cannot run here"

version=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"name":"solarcam-bridge","version":"\([^"]*\)".*/\1/p')
roots=$(pi_roots)
mkdir -p "$roots"

# The previous revision of each package: the same build, packaged again as revision 2 is "this"
# one and revision 1 the one before it.
for target in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
  cargo deb --no-build --no-strip --target "$target" --deb-revision 2 --output dist/upgrade/ >/dev/null
done

for arch in arm64:aarch64:aarch64-unknown-linux-gnu armhf:armv7l:armv7-unknown-linux-gnueabihf; do
  IFS=: read -r debarch machine _target <<<"$arch"
  root="$roots/$debarch"
  # curl: packaging/repo-test.sh follows the README's apt steps in the arm64 root.
  debian_root "$debarch" "$root" "$PI_ROOT_PACKAGES" || fail "debootstrap $debarch"
  in_root() { chroot "$root" "$@"; }
  got=$(in_root uname -m)
  [ "$got" = "$machine" ] || fail "$debarch root runs as $got, not $machine"
  pass "$debarch: a Debian root whose programs run as $got (qemu)"
  in_root dpkg --purge solarcam-bridge >/dev/null 2>&1 || true
  rm -rf "$root/run/systemd/system" "$root/usr/local/sbin/deb-systemd-invoke" "$root/tmp/invoked"

  deb=$(ls dist/solarcam-bridge_"${version}"-1_"$debarch".deb)
  cp "$deb" "$root/tmp/solarcam-bridge-1.deb"
  in_root dpkg -i /tmp/solarcam-bridge-1.deb </dev/null >"$root/tmp/install.txt" 2>&1 \
    || { cat "$root/tmp/install.txt"; fail "$debarch: dpkg -i"; }
  grep -q "installed and enabled, but not started" "$root/tmp/install.txt" || fail "$debarch: no message after install"
  pass "$debarch: dpkg -i ran the maintainer scripts and told the user what to do"

  in_root getent passwd solarcam-bridge >/dev/null || fail "$debarch: no solarcam-bridge user"
  expect() { # path owner:group mode
    got=$(in_root stat -c '%U:%G %a' "$1") || fail "$debarch: $1 missing"
    [ "$got" = "$2 $3" ] || fail "$debarch: $1 is $got, expected $2 $3"
  }
  expect /usr/bin/solarcam-bridge root:root 755
  expect /etc/solarcam-bridge root:solarcam-bridge 750
  expect /etc/solarcam-bridge/config.yaml root:solarcam-bridge 640
  pass "$debarch: user solarcam-bridge, /etc/solarcam-bridge 750 and config.yaml 640, root:solarcam-bridge"

  out=$(in_root /usr/bin/solarcam-bridge --version)
  [ "$out" = "solarcam-bridge $version" ] || fail "$debarch: --version said $out"
  pass "$debarch: the packaged binary says $out"
  in_root su -s /bin/sh solarcam-bridge -c "solarcam-bridge check-config --config /etc/solarcam-bridge/config.yaml" \
    >"$root/tmp/check.txt" 2>&1 || { cat "$root/tmp/check.txt"; fail "$debarch: check-config"; }
  grep -q "OK" "$root/tmp/check.txt" || fail "$debarch: check-config said $(cat "$root/tmp/check.txt")"
  pass "$debarch: check-config on the installed file, as the service's user: $(cat "$root/tmp/check.txt")"

  # The upgrade, with systemd present (as on a Pi) and the user's edit in the config.
  printf '\n# edited on the Pi\n' >>"$root/etc/solarcam-bridge/config.yaml"
  mkdir -p "$root/run/systemd/system" "$root/usr/local/sbin"
  printf '#!/bin/sh\necho "$*" >> /tmp/invoked\n' >"$root/usr/local/sbin/deb-systemd-invoke"
  chmod 755 "$root/usr/local/sbin/deb-systemd-invoke"
  cp "$(ls dist/upgrade/solarcam-bridge_"${version}"-2_"$debarch".deb)" "$root/tmp/solarcam-bridge-2.deb"
  in_root dpkg -i /tmp/solarcam-bridge-2.deb </dev/null >"$root/tmp/upgrade.txt" 2>&1 \
    || { cat "$root/tmp/upgrade.txt"; fail "$debarch: upgrade"; }
  [ "$(in_root dpkg-query -W -f '${Version}' solarcam-bridge)" = "${version}-2" ] || fail "$debarch: not upgraded"
  grep -q "edited on the Pi" "$root/etc/solarcam-bridge/config.yaml" || fail "$debarch: the upgrade replaced the edited config"
  expect /etc/solarcam-bridge/config.yaml root:solarcam-bridge 640
  grep -q "installed and enabled" "$root/tmp/upgrade.txt" && fail "$debarch: the upgrade printed the first-install message"
  invoked=$(cat "$root/tmp/invoked" 2>/dev/null || true)
  [ "$invoked" = "try-restart solarcam-bridge.service" ] || fail "$debarch: the upgrade asked systemd for: ${invoked:-nothing}"
  pass "$debarch: upgrade ${version}-1 -> ${version}-2 kept the edited config and asked only for try-restart (a restart if it was running)"
  rm -rf "$root/run/systemd/system" "$root/usr/local/sbin/deb-systemd-invoke" "$root/tmp/invoked"

  in_root dpkg --purge solarcam-bridge >/dev/null
  in_root getent passwd solarcam-bridge >/dev/null && fail "$debarch: user left after purge"
  [ ! -e "$root/etc/solarcam-bridge" ] || fail "$debarch: /etc/solarcam-bridge left after purge"
  pass "$debarch: purge removed the config and the user"
done

# The .rpm with its scripts, into an rpm root: the arm64 Debian root has the shell, getent,
# groupadd and useradd its scripts use; rpm keeps its own database there.
root="$roots/arm64"
rpmfile=$(ls dist/solarcam-bridge-"${version}"*.aarch64.rpm)
rm -rf "$root/var/lib/rpm"
rpm --root "$root" --initdb
rpm --root "$root" -i --nodeps --ignorearch "$rpmfile" >"$root/tmp/rpm-install.txt" 2>&1 \
  || { cat "$root/tmp/rpm-install.txt"; fail "rpm -i"; }
grep -q "installed and enabled, but not started" "$root/tmp/rpm-install.txt" || fail "rpm: no message after install"
chroot "$root" getent passwd solarcam-bridge >/dev/null || fail "rpm: %pre made no user"
got=$(chroot "$root" stat -c '%U:%G %a' /etc/solarcam-bridge/config.yaml)
[ "$got" = "root:solarcam-bridge 640" ] || fail "rpm: config.yaml is $got"
out=$(chroot "$root" /usr/bin/solarcam-bridge --version)
[ "$out" = "solarcam-bridge $version" ] || fail "rpm: --version said $out"
pass "rpm: installed with its scripts into an rpm root: user made, config root:solarcam-bridge 640, $out"
rpm --root "$root" -e solarcam-bridge >/dev/null 2>&1 || fail "rpm -e"
[ ! -e "$root/usr/bin/solarcam-bridge" ] || fail "rpm: binary left after removal"
pass "rpm: removed"
chroot "$root" sh -c 'userdel solarcam-bridge 2>/dev/null; groupdel solarcam-bridge 2>/dev/null; true'
rm -rf "$root/var/lib/rpm" "$root/etc/solarcam-bridge"

echo "$passed passed, 0 failed"
