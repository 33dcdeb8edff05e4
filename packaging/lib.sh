# Shell helpers for the packaging scripts (sourced, not run).

# Runs a command as root: directly when already root, else through sudo.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs Debian packages, refreshing the package lists first. It waits for dpkg's lock rather
# than fail on it: scripts/test prepares in the background (scripts/prepare) while it tests.
apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@"
}

# A Debian root (minbase) of architecture $1 in $2, with the packages $3 (comma-separated), of
# the suite $4 (bookworm when not given; scripts/ha-test makes an unstable one), made once and kept: its `.includes` holds the list it was made with, and a root made with another
# is made anew. A lock beside it makes a second caller wait for the first instead of making it
# twice (scripts/prepare makes the roots in the background while the tests run). A foreign
# architecture needs enable_qemu_binfmt first. Runs as root.
debian_root() {
  local arch=$1 root=$2 includes=$3 suite=${4:-bookworm}
  mkdir -p "$(dirname "$root")"
  (
    flock 9
    [ "$(cat "$root/.includes" 2>/dev/null)" != "$includes" ] || exit 0
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    echo "== debootstrap $arch ($suite, minbase) with $includes into $root"
    rm -rf --one-file-system "$root"
    debootstrap --arch="$arch" --variant=minbase --include="$includes" "$suite" "$root" \
      "${mirror:-http://deb.debian.org/debian}" >"$root.log" 2>&1 \
      || { tail -20 "$root.log" >&2; echo "debootstrap $arch into $root failed (log: $root.log)" >&2; exit 1; }
    echo "$includes" >"$root/.includes"
  ) 9>"$root.lock"
}

# What the roots hold: the Pi roots (arm64, armhf: packaging/pi-test.sh, and the README's apt
# steps in packaging/repo-test.sh, which need curl) and the amd64 one run under systemd in Docker
# (packaging/repo-test.sh).
PI_ROOT_PACKAGES=adduser,curl
SYSTEMD_ROOT_PACKAGES=adduser,systemd,systemd-sysv,dbus,curl,ca-certificates,unattended-upgrades

# The directory that keeps the Debian roots and the previous release's build between runs.
pi_roots() { echo "${PI_ROOTS:-/var/tmp/solarcam-pi-roots}"; }

# `cargo install`s a tool the scripts use (cargo-deb, cargo-generate-rpm, cargo-fuzz, rumqttd):
# unoptimised and without debug info, in one target directory that all of them share
# (target/tools), so that a fresh machine spends its minutes on the project, not on its tools
# (they took 15 of them optimised). They pack a few MB or play a test broker: their speed is not
# what is measured.
cargo_install() {
  CARGO_PROFILE_DEV_DEBUG=0 cargo install --debug --target-dir "$PWD/target/tools" "$@"
}

# Starts the Docker engine when it is installed but not answering (a fresh machine starts none),
# logging to target/dockerd.log, and waits up to 30 s for it.
start_dockerd() {
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null || { echo "no dockerd: apt-get install docker.io" >&2; return 1; }
  echo "== starting dockerd (log: target/dockerd.log)"
  mkdir -p target
  as_root sh -c 'nohup dockerd >target/dockerd.log 2>&1 &'
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "dockerd did not start:" >&2
  tail -20 target/dockerd.log >&2
  return 1
}

# Registers qemu-user-static for arm64 and armhf with binfmt_misc, so that arm programs (a Debian
# root, an arm image) run here; fails when the kernel cannot.
enable_qemu_binfmt() {
  local need=()
  command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
  command -v update-binfmts >/dev/null || need+=(binfmt-support)
  [ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
  mountpoint -q /proc/sys/fs/binfmt_misc || as_root mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc
  local fmt
  for fmt in qemu-aarch64 qemu-arm; do
    # qemu-user-static registers its formats only if binfmt-support was there first: import them.
    [ -e "/proc/sys/fs/binfmt_misc/$fmt" ] || as_root update-binfmts --import "$fmt" >/dev/null 2>&1 || true
    as_root update-binfmts --enable "$fmt" >/dev/null 2>&1 || true
    if [ ! -e "/proc/sys/fs/binfmt_misc/$fmt" ]; then
      echo "binfmt_misc has no $fmt: arm programs cannot run here" >&2
      return 1
    fi
  done
}

# A test script's verdicts: `pass` counts a check that held, `fail` stops the script saying why.
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; passed=$((passed + 1)); }
passed=0

# A size the README states, in MB, from the first row holding $1 (fixed text), cell $2 (counting
# from 1 across the row's |-separated cells).
readme_mb() {
  grep -F -- "$1" README.md | head -1 | awk -F'|' -v c="$2" '{ v = $(c + 1); gsub(/[^0-9.]/, "", v); print v }'
}

# Fails when $2 bytes are more than 10 % off the README's $3 MB for $1 (over, or under: a figure
# users read must not drift from what is built either way); prints both.
within_readme_size() {
  local what=$1 bytes=$2 mb=$3
  [ -n "$mb" ] || fail "$what: no size for it in README.md"
  local low high
  low=$(awk -v mb="$mb" 'BEGIN { printf "%d", mb * 1000000 * 0.9 }')
  high=$(awk -v mb="$mb" 'BEGIN { printf "%d", mb * 1000000 * 1.1 }')
  [ "$bytes" -le "$high" ] && [ "$bytes" -ge "$low" ] \
    || fail "$what: $bytes bytes, more than 10 % off the README's $mb MB; update README.md"
  echo "$what: $bytes bytes (README: $mb MB)"
}
