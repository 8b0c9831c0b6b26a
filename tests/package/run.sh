#!/usr/bin/env bash
# The .deb end to end (`make test-package`, part of `make test`): builds it (debug, reusing
# `make test`'s builds), checks its files and control fields, runs lintian, installs it with apt,
# runs the installed command, reads its man page, verifies the systemd units, opens the installed
# app under Xvfb with a private keyring and takes a screenshot, then purges the package and checks
# that nothing of it remains but the user's data.
#
# Needs root or sudo (apt-get install), and the tools of scripts/install-deps.sh.
# UPDATE_SCREENSHOTS=1 saves the screenshot as docs/screenshots/installed-app.png; otherwise it
# stays in the run's temporary folder, which is deleted after a passing run and kept (its path
# printed) after a failing one.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT=(env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o DPkg::Lock::Timeout=300)

started=$SECONDS
step_started=$SECONDS
step() {
  echo "test-package: [$((SECONDS - started)) s] $*"
  step_started=$SECONDS
}
fail() {
  echo "test-package: FAILED: $*" >&2
  exit 1
}

work=$(mktemp -d)
installed_by_us=0
cleanup() {
  local status=$?
  if [ "$installed_by_us" = 1 ] && dpkg-query -W -f='${Status}' mde-car 2>/dev/null | grep -q installed; then
    echo "test-package: purging the package this run installed"
    $SUDO "${APT[@]}" purge mde-car >/dev/null || true
  fi
  if [ "$status" -eq 0 ]; then
    rm -rf "$work"
  else
    echo "test-package: the run's files are kept in $work" >&2
  fi
}
trap cleanup EXIT

for tool in dpkg-deb lintian apt-get man xvfb-run dbus-run-session xdotool import identify; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-deps.sh"
done
if dpkg-query -W -f='${Status}' mde-car 2>/dev/null | grep -q "ok installed"; then
  fail "mde-car is installed on this machine already; this test installs and purges it, so remove it first (apt-get purge mde-car)"
fi

# 1. Build.
step "building the .deb (debug)"
scripts/package.sh --debug >"$work/build.log" 2>&1 || {
  tail -30 "$work/build.log" >&2
  fail "scripts/package.sh --debug failed (log above, whole in $work/build.log)"
}
deb=$(tail -1 "$work/build.log")
[ -f "$deb" ] || fail "scripts/package.sh did not end with the .deb's path (got '$deb')"
echo "test-package: built $deb ($(du -h "$deb" | cut -f1)) in $((SECONDS - step_started)) s"
version=$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"name":"mde-car-cli","version":"\([^"]*\)".*/\1/p')
[ -n "$version" ] || fail "no version of mde-car-cli in cargo metadata"

# 2. Files.
step "checking the files in the .deb"
# Paths as "usr/..." (Tauri's tar has no leading "./"; dpkg takes both).
dpkg-deb -c "$deb" | sed 's| \./| |' >"$work/contents" || fail "dpkg-deb -c cannot read $deb"
files=(
  ./usr/bin/mde-car
  ./usr/bin/mde-car-desktop
  ./usr/share/applications/mde-car.desktop
  ./usr/share/icons/hicolor/32x32/apps/mde-car-desktop.png
  ./usr/share/icons/hicolor/128x128/apps/mde-car-desktop.png
  ./usr/share/icons/hicolor/512x512/apps/mde-car-desktop.png
  ./usr/share/man/man1/mde-car.1.gz
  ./usr/share/man/man1/mde-car-daemon.1.gz
  ./usr/share/man/man1/mde-car-connection-add.1.gz
  ./usr/share/man/man1/mde-car-desktop.1.gz
  ./usr/lib/systemd/system/mde-car.service
  ./usr/lib/systemd/user/mde-car.service
  ./usr/lib/sysusers.d/mde-car.conf
  ./usr/share/doc/mde-car/copyright
  ./usr/share/doc/mde-car/changelog.gz
)
for file in "${files[@]}"; do
  grep -q " ${file#./}\$" "$work/contents" || fail "the .deb lacks $file (dpkg-deb -c output in $work/contents)"
done
for bin in usr/bin/mde-car usr/bin/mde-car-desktop; do
  grep -Eq "^-rwxr-xr-x (root/root|0/0) .* $bin\$" "$work/contents" ||
    fail "$bin is not an executable owned by root: $(grep " $bin\$" "$work/contents")"
done
dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*usr/share/applications/mde-car.desktop' >"$work/desktop"
grep -qx 'Name=MDE Connected Assets & Risk' "$work/desktop" || fail "the .desktop file's Name is not the product name: $(cat "$work/desktop")"
grep -qx 'Exec=mde-car-desktop' "$work/desktop" || fail "the .desktop file does not start mde-car-desktop"
grep -qx 'Icon=mde-car-desktop' "$work/desktop" || fail "the .desktop file's icon is not the packaged one"

# 3. Control fields.
step "checking the control fields"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = mde-car ] || fail "Package is '$(field Package)', not mde-car"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', Cargo.toml says $version"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture is '$(field Architecture)'"
depends=$(field Depends)
for dependency in libwebkit2gtk-4.1-0 libgtk-3-0 libc6 libgcc-s1 libdbus-1-3 adduser; do
  [[ ", $depends," == *", $dependency"[\ ,]* ]] || fail "Depends lacks $dependency: $depends"
done
[[ "$(field Recommends)" == *gnome-keyring* ]] || fail "Recommends lacks gnome-keyring: $(field Recommends)"
[[ "$(field Maintainer)" == *@* ]] || fail "Maintainer has no address: $(field Maintainer)"
dpkg-deb -I "$deb" >"$work/info"
grep -Eq ' postinst( |$)' "$work/info" || fail "the .deb has no postinst (it makes the user mde-car)"

# 4. lintian.
step "lintian"
# The debug build is unstripped by design; `make package`'s release build is stripped.
if ! lintian --fail-on error,warning --suppress-tags unstripped-binary-or-object "$deb" >"$work/lintian" 2>&1; then
  cat "$work/lintian" >&2
  fail "lintian reports errors or warnings (above); fix them, or override one in packaging/lintian-overrides with a comment saying why"
fi
cat "$work/lintian"

# 5. Install.
step "apt-get install ./$(basename "$deb")"
installed_by_us=1
$SUDO "${APT[@]}" install "$deb" >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  fail "apt-get install of the .deb failed (above)"
}
dpkg-query -W -f='${Status}' mde-car | grep -q "ok installed" || fail "dpkg does not list mde-car as installed"

# 6. The installed command, man page, user and units.
step "checking what was installed"
out=$(/usr/bin/mde-car --version) || fail "/usr/bin/mde-car --version failed"
[ "$out" = "mde-car $version" ] || fail "/usr/bin/mde-car --version printed '$out', not 'mde-car $version'"
man -l /usr/share/man/man1/mde-car.1.gz 2>"$work/man.err" | col -b >"$work/man.txt" || fail "man -l mde-car.1.gz failed: $(cat "$work/man.err")"
grep -q 'MDE_CAR_DATA_DIR' "$work/man.txt" || fail "the man page lacks its ENVIRONMENT section"
grep -q 'mde-car-sync(1)' "$work/man.txt" || fail "the man page does not list the commands' pages"
[ ! -s "$work/man.err" ] || fail "man reports problems in mde-car.1: $(cat "$work/man.err")"
[ "$(man -w mde-car)" = /usr/share/man/man1/mde-car.1.gz ] || fail "'man mde-car' does not find the installed page"
getent passwd mde-car >/dev/null || fail "the postinst made no user mde-car"
[ "$(getent passwd mde-car | cut -d: -f6)" = /var/lib/mde-car ] || fail "mde-car's home is not /var/lib/mde-car"
[ "$(stat -c '%U %a' /var/lib/mde-car)" = "mde-car 700" ] || fail "/var/lib/mde-car is not mde-car's, 0700: $(stat -c '%U %a' /var/lib/mde-car)"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /usr/lib/systemd/system/mde-car.service >"$work/verify" 2>&1 ||
    fail "systemd-analyze verify of the system unit: $(cat "$work/verify")"
  [ ! -s "$work/verify" ] || fail "systemd-analyze verify warns about the system unit: $(cat "$work/verify")"
  mkdir -m 0700 "$work/runtime"
  XDG_RUNTIME_DIR=$work/runtime systemd-analyze --user verify /usr/lib/systemd/user/mde-car.service >"$work/verify" 2>&1 ||
    fail "systemd-analyze --user verify of the user unit: $(cat "$work/verify")"
  [ ! -s "$work/verify" ] || fail "systemd-analyze verify warns about the user unit: $(cat "$work/verify")"
else
  echo "test-package: no systemd-analyze here; the units are not verified"
fi

# 7. The installed app, on a virtual screen with a private keyring and a data folder of its own.
step "opening /usr/bin/mde-car-desktop under Xvfb"
data=$work/data
mkdir -p "$data" "$work/home"
HOME=$work/home XDG_DATA_HOME=$work/home/.local/share XDG_CONFIG_HOME=$work/home/.config \
  XDG_CACHE_HOME=$work/home/.cache MDE_CAR_DATA_DIR=$data SHOT=$work/installed-app.png \
  xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- scripts/with-keyring.sh \
  tests/package/screenshot.sh || fail "the installed app did not show its window (app log: $work/app.log)"
[ -f "$data/mde-car.sqlite3" ] || fail "the installed app did not open its database in MDE_CAR_DATA_DIR"
if [ "${UPDATE_SCREENSHOTS:-}" = 1 ]; then
  mkdir -p docs/screenshots
  cp "$work/installed-app.png" docs/screenshots/installed-app.png
  echo "test-package: saved docs/screenshots/installed-app.png"
fi

# 8. Purge.
step "apt-get purge mde-car"
$SUDO "${APT[@]}" purge mde-car >"$work/purge.log" 2>&1 || {
  cat "$work/purge.log" >&2
  fail "apt-get purge mde-car failed (above)"
}
installed_by_us=0
if dpkg -L mde-car >/dev/null 2>&1; then fail "dpkg still lists files of mde-car after the purge"; fi
if dpkg-query -W -f='${Status}' mde-car 2>/dev/null | grep -qv "not-installed"; then
  fail "dpkg still knows mde-car after the purge: $(dpkg-query -W -f='${Status}' mde-car)"
fi
for file in "${files[@]}"; do
  [ ! -e "${file#.}" ] || fail "${file#.} is still there after the purge"
done
[ -f "$data/mde-car.sqlite3" ] || fail "the purge removed the user's data folder ($data)"

step "passed: the .deb builds, is lintian-clean, installs, runs and purges cleanly"
