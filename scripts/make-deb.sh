#!/bin/sh
# Builds the Debian package of a seat: vigie-agent, vigie-ui, vigie-vnc, the
# consoles (vigie, vigie-watch, vigie-view), vigie-server and vigie-input-hold in /usr/bin, the systemd units, the LightDM, Xorg, Xsession and polkit files,
# the Signage templates. Plain dpkg-deb from a staging tree (no debhelper).
#
#   scripts/make-deb.sh [BIN_DIR] [OUT_DIR]
#
# BIN_DIR: where the binaries are (default: the release build with the
# Swift runtime linked in statically, `swift build -c release --static-swift-stdlib`).
# Prints the path of the .deb. Needs dpkg-dev (dpkg-shlibdeps) for Depends.
#
# VIGIE_DEB_DEV=1 (tests): accepts binaries linked to the toolchain's Swift
# runtime (a debug build) and compresses with gzip -1. Such a package only
# runs where the toolchain is; it is for checking the package's shape.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$(cd "$here" && swift build -c release --static-swift-stdlib --show-bin-path)}
out=${2:-$here/dist}
package=vigie-agent
arch=$(dpkg --print-architecture)
version=${VIGIE_VERSION:-0.1.0~git$(cd "$here" && git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d)}
maintainer=${VIGIE_MAINTAINER:-"Vigie maintainers <vigie@example.org>"}

for b in vigie-agent vigie-ui vigie-vnc vigie vigie-server vigie-watch vigie-view vigie-input-hold; do
    [ -x "$bin/$b" ] || { echo "make-deb: $bin/$b is missing (build first)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
doc=$root/usr/share/doc/$package

install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/libexec/vigie" \
    "$root/usr/share/vigie" "$root/usr/share/lightdm/lightdm.conf.d" "$root/usr/share/X11/xorg.conf.d" \
    "$root/usr/share/polkit-1/rules.d" "$root/etc/X11/Xsession.d" "$doc/examples" "$root/usr/share/applications"

# Binaries, stripped (Swift metadata lives in sections, not in the symbol table).
for b in vigie-agent vigie-ui vigie-vnc vigie vigie-server vigie-watch vigie-view vigie-input-hold; do
    install -m 0755 "$bin/$b" "$root/usr/bin/$b"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$b"
done

install -m 0644 "$here/Config/vigie-agent.service" "$here/Config/vigie-server.service" "$here/Config/vigie-input-hold.service" "$root/lib/systemd/system/"
install -m 0755 "$here/Config/lightdm/vigie-display-setup" "$root/usr/libexec/vigie/lightdm-display-setup"
install -m 0644 "$here/Config/lightdm/50-vigie.conf" "$root/usr/share/lightdm/lightdm.conf.d/50-vigie.conf"
install -m 0644 "$here/Config/xorg.conf.d/50-vigie.conf" "$root/usr/share/X11/xorg.conf.d/50-vigie.conf"
install -m 0644 "$here/Config/polkit/50-vigie.rules" "$root/usr/share/polkit-1/rules.d/50-vigie.rules"
install -m 0644 "$here/Config/X11/90vigie-xhost" "$root/etc/X11/Xsession.d/90vigie-xhost"
install -m 0644 "$here/Config/desktop/vigie-help.desktop" "$root/usr/share/applications/vigie-help.desktop"
cp -R "$here/Signage" "$root/usr/share/vigie/Signage"
find "$root/usr/share/vigie" -type d -exec chmod 0755 {} + && find "$root/usr/share/vigie" -type f -exec chmod 0644 {} +

install -m 0644 "$here/Config/school.example.toml" "$doc/examples/school.example.toml"
install -m 0644 "$here/Config/agent.env.example" "$doc/examples/agent.env"
install -m 0644 "$here/docs/SEATS.md" "$doc/SEATS.md"
install -m 0644 "$here/README.md" "$doc/README.md"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: vigie
Comment: Classroom supervision for Linux schools. The binaries link statically
 the Swift runtime and the Swift packages named in Package.swift
 (Apache-2.0 with Runtime Library Exception, MIT; BoringSSL: ISC/OpenSSL).

Files: *
Copyright: 2025-2026 The Vigie authors
License: Apache-2.0

License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
# A native package (no Debian revision): its changelog is changelog.gz.
printf '%s (%s) unstable; urgency=medium\n\n  * Package built from the source tree.\n\n -- %s  %s\n' \
    "$package" "$version" "$maintainer" "$(date -R)" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz" "$doc/copyright"

# Runtime libraries, as dpkg-shlibdeps sees them in the binaries.
mkdir -p "$work/src/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$package" "$package" > "$work/src/debian/control"
dev=${VIGIE_DEB_DEV:-0}
shlibopts=
[ "$dev" = 1 ] && shlibopts=--ignore-missing-info
shlibs=$(cd "$work/src" && dpkg-shlibdeps $shlibopts -O -e"$root/usr/bin/vigie-agent" -e"$root/usr/bin/vigie-ui" -e"$root/usr/bin/vigie" -e"$root/usr/bin/vigie-server" -e"$root/usr/bin/vigie-watch" -e"$root/usr/bin/vigie-input-hold" -e"$root/usr/bin/vigie-vnc" -e"$root/usr/bin/vigie-view" 2>"$work/shlibdeps.err" \
    | sed -n 's/^shlibs:Depends=//p') || { cat "$work/shlibdeps.err" >&2; exit 1; }
depends="$shlibs, adduser, x11-xserver-utils"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)

cat > "$root/DEBIAN/control" <<CONTROL
Package: $package
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Recommends: lightdm, polkitd | policykit-1, systemd
Suggests: novnc
Section: admin
Priority: optional
Homepage: https://vigie.invalid/
Description: classroom supervision agent for school PCs (Vigie)
 The Vigie seat agent carries out what a teacher's console asks (lock,
 message, screenshot, power off, log off) on this PC's X display, only when
 the school's policy allows it, tells the person at the seat, and journals
 every decision for the school's processing register.
 .
 This package runs the agent as the system user "vigie", follows the seat's
 sessions through logind, grants it X access through LightDM's
 display-setup-script or Xsession, disables VT switching and zapping in Xorg,
 and lets it power off, reboot and log off through polkit. It also ships the
 vigie command (console, PKI, register, school server).
CONTROL

echo /etc/X11/Xsession.d/90vigie-xhost > "$root/DEBIAN/conffiles"

cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent group vigie >/dev/null; then
        addgroup --system --quiet vigie
    fi
    if ! getent passwd vigie >/dev/null; then
        adduser --system --quiet --ingroup vigie --home /var/lib/vigie --no-create-home \
            --shell /usr/sbin/nologin --gecos "Vigie seat agent" vigie
    fi
    install -d -m 0700 -o vigie -g vigie /var/lib/vigie
    install -d -m 0755 /etc/vigie
fi
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
    # Enabled, started only once /etc/vigie/agent.env exists (ConditionPathExists).
    if deb-systemd-helper debian-installed vigie-agent.service >/dev/null 2>&1 || [ -z "$2" ]; then
        deb-systemd-helper enable vigie-agent.service >/dev/null || true
    else
        deb-systemd-helper update-state vigie-agent.service >/dev/null || true
    fi
    # The input holder, also on an upgrade from a version without it (debhelper's rule).
    if deb-systemd-helper --quiet was-enabled vigie-input-hold.service; then
        deb-systemd-helper enable vigie-input-hold.service >/dev/null || true
    else
        deb-systemd-helper update-state vigie-input-hold.service >/dev/null || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        if [ -n "$2" ]; then
            deb-systemd-invoke try-restart vigie-agent.service vigie-input-hold.service >/dev/null || true
        else
            deb-systemd-invoke start vigie-agent.service vigie-input-hold.service >/dev/null || true
        fi
    fi
fi
exit 0
POSTINST

cat > "$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    deb-systemd-invoke stop vigie-agent.service vigie-server.service vigie-input-hold.service >/dev/null || true
fi
if [ "$1" = remove ] && getent passwd vigie >/dev/null; then
    # Without its agent nobody could lift a lock: close the seat's windows.
    pkill -TERM -u vigie -x vigie-ui || true
fi
exit 0
PRERM

cat > "$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = remove ] && command -v deb-systemd-helper >/dev/null; then
    deb-systemd-helper mask vigie-agent.service vigie-input-hold.service >/dev/null || true
fi
if [ "$1" = purge ]; then
    if command -v deb-systemd-helper >/dev/null; then
        deb-systemd-helper purge vigie-agent.service vigie-input-hold.service >/dev/null || true
        deb-systemd-helper unmask vigie-agent.service vigie-input-hold.service >/dev/null || true
    fi
    # The seat's state and journal go, and so does /etc/vigie: the school's
    # config and the seat's identity, private key included (a purged seat
    # must not keep a key that still opens the school's network). A school
    # server's register (/var/lib/vigie-server) is a legal record and stays.
    rm -rf /var/lib/vigie /etc/vigie
    # The system user and group the package created, once nothing runs as
    # them (prerm stopped the units and the seat's windows); kept when a
    # server's register it owns stays behind.
    # (adduser writes the comment as "Vigie seat agent,,,".)
    if [ ! -e /var/lib/vigie-server ] && getent passwd vigie | cut -d: -f5 | grep -q '^Vigie seat agent'; then
        pkill -KILL -u vigie >/dev/null 2>&1 || true
        deluser --system --quiet vigie >/dev/null 2>&1 || userdel vigie >/dev/null 2>&1 || true
    fi
    if [ ! -e /var/lib/vigie-server ] && getent group vigie >/dev/null; then
        delgroup --system --quiet --only-if-empty vigie >/dev/null 2>&1 || groupdel vigie >/dev/null 2>&1 || true
    fi
fi
exit 0
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control" "$root/DEBIAN/conffiles"

mkdir -p "$out"
deb=$out/${package}_${version}_${arch}.deb
if [ "$dev" = 1 ]; then compression="-Zgzip -z1"; else compression="-Zxz"; fi
dpkg-deb --root-owner-group $compression --build "$root" "$deb" >/dev/null
echo "$deb"
