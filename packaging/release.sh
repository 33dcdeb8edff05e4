#!/usr/bin/env bash
# A release's files: the .deb and .rpm packages (packaging/build.sh) and the static binaries
# (packaging/container/build.sh), gathered in dist/release/ with SHA256SUMS; with --publish TAG,
# attached to GitHub release TAG (made when missing), with the changelog's entry as its notes.
#
#   packaging/release.sh                   gather and check them
#   packaging/release.sh --publish v0.1.0  and publish (needs gh and GH_TOKEN, as in CI)
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
out=dist/release
rm -rf "$out" && mkdir -p "$out"
shopt -s nullglob
files=(dist/*"$version"*.deb dist/*"$version"*.rpm dist/static/solarcam-bridge-"$version"-*)
[ ${#files[@]} -ge 8 ] || {
  echo "expected 3 .deb, 2 .rpm and 3 static binaries for $version in dist/, found: ${files[*]:-none}" >&2
  echo "run packaging/build.sh and packaging/container/build.sh first" >&2
  exit 1
}
# The sums are of the built files; checked against the copies, they catch a copy gone wrong.
for f in "${files[@]}"; do
  printf '%s  %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(basename "$f")"
done >"$out/SHA256SUMS.tmp"
cp "${files[@]}" "$out/"
mv "$out/SHA256SUMS.tmp" "$out/SHA256SUMS"
(cd "$out" && sha256sum --quiet --strict -c SHA256SUMS)
[ "$(wc -l <"$out/SHA256SUMS")" -eq "$(find "$out" -maxdepth 1 -type f ! -name SHA256SUMS | wc -l)" ] \
  || { echo "SHA256SUMS does not list every file in $out" >&2; exit 1; }
echo "== $out"
ls -l "$out"

if [ "${1:-}" = "--publish" ]; then
  tag=${2:?usage: packaging/release.sh --publish vVERSION}
  [ "$tag" = "v$version" ] || { echo "tag $tag is not v$version (Cargo.toml)" >&2; exit 1; }
  # The notes: this version's entry in the add-on's changelog (the project's one changelog).
  notes=$(awk -v v="## $version" '$0 == v {on = 1; next} /^## / {on = 0} on' \
    packaging/home-assistant/solarcam-bridge/CHANGELOG.md)
  gh release view "$tag" >/dev/null 2>&1 ||
    gh release create "$tag" --title "solarcam-bridge $version" --notes "${notes:-solarcam-bridge $version}"
  gh release upload "$tag" "$out"/* --clobber
fi
