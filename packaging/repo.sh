#!/usr/bin/env bash
# The package repositories users' apt and dnf follow, built from .deb and .rpm files (every
# released version, oldest to newest) and signed with the project's key:
#
#   packaging/repo.sh OUT DIR_OR_FILE...      build OUT/ from these packages
#   packaging/repo.sh --sign-rpms FILE.rpm... sign these .rpm files in place
#
# The key is the secret key in $GNUPGHOME whose id or fingerprint is $REPO_KEY (the only one when
# unset). OUT/ is what GitHub Pages serves at https://solarcam-bridge.github.io/solarcam-bridge/:
#
#   solarcam-bridge.gpg    the public key for apt's Signed-By (binary)
#   solarcam-bridge.asc    the public key for dnf's gpgkey and rpm --import (armored)
#   deb/                   apt: dists/stable/{InRelease,Release,Release.gpg},
#                          dists/stable/main/binary-{amd64,arm64,armhf}/Packages{,.gz}, pool/main/
#   rpm/                   dnf: the .rpm files (each signed), repodata/ with repomd.xml.asc
#
# Debian's tools make the indexes: apt-ftparchive (apt-utils) for apt, createrepo_c for dnf,
# rpmsign for the packages. Those missing are installed with apt-get (as root, or with sudo) on
# the machine it runs on: apt-utils and gnupg always, createrepo-c and rpm only when .rpm files
# are given. Without .rpm files it makes the apt repository alone (no rpm/ in OUT). Origin and
# Label are "solarcam-bridge", so unattended-upgrades can be told to follow it
# ("origin=solarcam-bridge,label=solarcam-bridge").
set -euo pipefail
# No cd: the paths given are the caller's.
. "$(dirname "$0")/lib.sh"

# The build packages this run needs, from Debian, when missing (`rpm` true: the .rpm tools too).
install_tools() {
  local need=()
  command -v apt-ftparchive >/dev/null || need+=(apt-utils)
  command -v gpg >/dev/null || need+=(gnupg)
  if [ "$1" = true ]; then
    command -v createrepo_c >/dev/null || need+=(createrepo-c)
    command -v rpmsign >/dev/null || need+=(rpm)
  fi
  [ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
}
install_tools "$([ "${1:-}" = "--sign-rpms" ] && echo true || echo false)"

key=${REPO_KEY:-}
if [ -z "$key" ]; then
  key=$(gpg --batch --with-colons --list-secret-keys | awk -F: '$1 == "fpr" {print $10; exit}')
  [ -n "$key" ] || { echo "no secret key in ${GNUPGHOME:-~/.gnupg}: import the signing key, or set REPO_KEY" >&2; exit 1; }
fi
sign() { gpg --batch --yes --local-user "$key" --digest-algo SHA512 "$@"; }

sign_rpms() {
  # rpmsign replaces any signature already there: a re-published release is signed again, the same.
  # Debian's rpm looks for gpg2, which Debian does not ship under that name.
  local said
  said=$(rpmsign --addsign --define "__gpg $(command -v gpg)" --define "_gpg_name $key" \
    --define "_gpg_digest_algo sha256" "$@" 2>&1) || { echo "$said" >&2; return 1; }
}

if [ "${1:-}" = "--sign-rpms" ]; then
  shift
  sign_rpms "$@"
  exit 0
fi

out=${1:?usage: packaging/repo.sh OUT DIR_OR_FILE...}
shift
[ $# -gt 0 ] || { echo "usage: packaging/repo.sh OUT DIR_OR_FILE..." >&2; exit 1; }
debs=() rpms=()
for src in "$@"; do
  if [ -d "$src" ]; then
    while IFS= read -r f; do
      case "$f" in *.deb) debs+=("$f") ;; *.rpm) rpms+=("$f") ;; esac
    done < <(find "$src" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.rpm' \) | sort)
  else
    case "$src" in *.deb) debs+=("$src") ;; *.rpm) rpms+=("$src") ;; *) echo "$src: not a .deb or .rpm" >&2; exit 1 ;; esac
  fi
done
[ ${#debs[@]} -gt 0 ] || { echo "no .deb among: $*" >&2; exit 1; }
# A folder given may hold .rpm files: their tools, now that they are known to be needed.
[ ${#rpms[@]} -eq 0 ] || install_tools true

rm -rf "$out"
mkdir -p "$out/deb/pool/main"
gpg --batch --export "$key" >"$out/solarcam-bridge.gpg"
gpg --batch --armor --export "$key" >"$out/solarcam-bridge.asc"

# --- apt
cp "${debs[@]}" "$out/deb/pool/main/"
archs=(amd64 arm64 armhf)
(
  cd "$out/deb"
  for arch in "${archs[@]}"; do
    dir=dists/stable/main/binary-$arch
    mkdir -p "$dir"
    apt-ftparchive --arch "$arch" packages pool/main >"$dir/Packages"
    gzip -9nk "$dir/Packages"
  done
  apt-ftparchive \
    -o APT::FTPArchive::Release::Origin=solarcam-bridge \
    -o APT::FTPArchive::Release::Label=solarcam-bridge \
    -o APT::FTPArchive::Release::Suite=stable \
    -o APT::FTPArchive::Release::Codename=stable \
    -o APT::FTPArchive::Release::Architectures="${archs[*]}" \
    -o APT::FTPArchive::Release::Components=main \
    -o APT::FTPArchive::Release::Description="solarcam-bridge: Milesight 4G solar cameras in Home Assistant" \
    release dists/stable >Release.tmp
  mv Release.tmp dists/stable/Release
  sign --clearsign --output dists/stable/InRelease dists/stable/Release
  sign --armor --detach-sign --output dists/stable/Release.gpg dists/stable/Release
)

# --- dnf, when there are .rpm files
if [ ${#rpms[@]} -gt 0 ]; then
  mkdir -p "$out/rpm"
  cp "${rpms[@]}" "$out/rpm/"
  sign_rpms "$out"/rpm/*.rpm
  createrepo_c --quiet --general-compress-type=gz "$out/rpm" >/dev/null
  sign --armor --detach-sign --output "$out/rpm/repodata/repomd.xml.asc" "$out/rpm/repodata/repomd.xml"
fi

echo "== $out: ${#debs[@]} .deb, ${#rpms[@]} .rpm, signed by $key"
for arch in "${archs[@]}"; do
  printf '  %-6s %s\n' "$arch" "$(sed -n 's/^Version: //p' "$out/deb/dists/stable/main/binary-$arch/Packages" | tr '\n' ' ')"
done
