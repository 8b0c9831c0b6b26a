#!/usr/bin/env bash
# Builds the .deb through Tauri's bundler (`make package`; docs/packaging.md): the desktop app,
# the mde-car command at /usr/bin/mde-car with its man pages, and the systemd units, sysusers.d
# file and maintainer scripts of packaging/. Prints the .deb's path as its last line.
#
#   scripts/package.sh           release build, stripped (what `make package` ships)
#   scripts/package.sh --debug   debug build (tests/package/run.sh: reuses `make test`'s
#                                builds, unstripped)
#
# Bundling is switched on only here: `tauri bundle` gets packaging/tauri.package.json (and a
# generated config with the built files and the shared-library dependencies) merged over
# src-tauri/tauri.conf.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

fail() { echo "package: $*" >&2; exit 1; }

profile=release
if [ "${1:-}" = "--debug" ]; then
  profile=debug
elif [ -n "${1:-}" ]; then
  fail "unknown option $1 (only --debug)"
fi

tauri=$root/ui/node_modules/.bin/tauri
[ -x "$tauri" ] || fail "no Tauri CLI at ui/node_modules/.bin/tauri: run scripts/install-deps.sh (npm ci in ui/)"
for tool in dpkg-shlibdeps dpkg-parsechangelog dpkg gzip; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-deps.sh"
done

metadata=$(cargo metadata --format-version 1 --no-deps)
target_dir=$(printf '%s' "$metadata" | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$target_dir" ] || fail "cargo metadata named no target directory"
cargo_version=$(printf '%s' "$metadata" |
  sed -n 's/.*"name":"mde-car-cli","version":"\([^"]*\)".*/\1/p')
tauri_version=$(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' src-tauri/tauri.conf.json)
changelog_version=$(sed -n '1s/^mde-car (\([^)]*\)).*/\1/p' packaging/debian/changelog)
[ -n "$cargo_version" ] || fail "no version of mde-car-cli in cargo metadata"
[ "$cargo_version" = "$tauri_version" ] ||
  fail "Cargo.toml says version $cargo_version, src-tauri/tauri.conf.json $tauri_version: make them one"
[ "$cargo_version" = "$changelog_version" ] ||
  fail "packaging/debian/changelog's newest entry is $changelog_version, not $cargo_version: add an entry"

cargo_profile=()
tauri_profile=()
if [ "$profile" = release ]; then
  cargo_profile=(--release)
  # Stripped binaries (lintian: unstripped-binary-or-object), for this build only.
  export CARGO_PROFILE_RELEASE_STRIP=symbols
else
  tauri_profile=(--debug)
fi
bin_dir=$target_dir/$profile
stage=$target_dir/package/$profile
rm -rf "$stage"
mkdir -p "$stage/man1"

echo "package: building the mde-car command ($profile)"
cargo build "${cargo_profile[@]}" -p mde-car-cli
install -m 0755 "$bin_dir/mde-car" "$stage/mde-car"
# The pages' date is the newest changelog entry's, so a rebuild makes the same pages.
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l packaging/debian/changelog -STimestamp) \
  "$stage/mde-car" man "$stage/man1" >/dev/null
cp packaging/man/mde-car-desktop.1 "$stage/man1/"
for page in "$stage"/man1/*.1; do
  chmod 0644 "$page"
  gzip -9n "$page"
done

echo "package: building the desktop app ($profile)"
if [ "$profile" = release ]; then
  # `tauri build` builds the app with its custom-protocol feature; --no-bundle, because the
  # dependencies below are read from the built binaries first. The UI is built here: Tauri runs
  # beforeBuildCommand from the project root, where its `../ui` misses (null drops the key).
  npm --prefix ui run build
  (cd src-tauri && "$tauri" build --no-bundle --ci --config '{"build":{"beforeBuildCommand":null}}')
else
  # The debug app as `make test` builds it (`cargo build -p mde-car-desktop`, which embeds
  # ui/dist too), so its build is reused rather than redone with other features.
  [ -f ui/dist/index.html ] || npm --prefix ui run build
  cargo build -p mde-car-desktop
fi

# The shared libraries both binaries link, as Debian packages (dpkg-shlibdeps reads the
# installed packages' shlibs/symbols files). Tauri adds libwebkit2gtk-4.1-0 and libgtk-3-0 itself.
shlibs=$stage/shlibs
mkdir -p "$shlibs/debian"
printf 'Source: mde-car\n\nPackage: mde-car\nArchitecture: any\n' >"$shlibs/debian/control"
depends=$(cd "$shlibs" && dpkg-shlibdeps -O -e"$stage/mde-car" -e"$bin_dir/mde-car-desktop" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || fail "dpkg-shlibdeps found no dependencies of the binaries"
depends_json=""
IFS=',' read -ra entries <<<"$depends"
for entry in "${entries[@]}" adduser; do
  entry=$(echo "$entry" | sed 's/^ *//; s/ *$//')
  case "$entry" in
    libwebkit2gtk-4.1-0 | libwebkit2gtk-4.1-0\ * | libgtk-3-0 | libgtk-3-0\ *) continue ;;
  esac
  depends_json+="${depends_json:+, }\"$entry\""
done

generated=$stage/tauri.generated.json
cat >"$generated" <<EOF
{
  "bundle": {
    "linux": {
      "deb": {
        "depends": [$depends_json],
        "files": {
          "/usr/bin/mde-car": "$stage/mde-car",
          "/usr/share/man/man1": "$stage/man1/"
        }
      }
    }
  }
}
EOF

echo "package: bundling the .deb"
(cd src-tauri && "$tauri" bundle "${tauri_profile[@]}" --bundles deb --ci --no-sign \
  --config "$root/packaging/tauri.package.json" --config "$generated")

deb=$bin_dir/bundle/deb/mde-car_${cargo_version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "the bundler wrote no $deb"
echo "$deb"
