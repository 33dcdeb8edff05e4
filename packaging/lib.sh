# Shell helpers for the packaging scripts (sourced, not run).

# Runs a command as root: directly when already root, else through sudo.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs Debian packages, refreshing the package lists first.
apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
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
