#!/bin/sh
# Builds the seat-lab's Debian 12 image from nothing (mmdebstrap from the
# configured Debian mirror; no image is downloaded) and caches it in
#   $SEATLAB_CACHE/image-HASH/{rootfs.raw,vmlinuz,initrd.img}
# where HASH covers packages.txt, this script and the guest/ tree: change
# any of them and the next run builds a new image. Prints the image folder.
#
# Needs root (mmdebstrap in root mode, files owned by root in the image),
# mmdebstrap and e2fsprogs (mkfs.ext4 -d).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SEATLAB_CACHE:-$repo/.build-seatlab}
mirror=${SEATLAB_MIRROR:-http://deb.debian.org/debian}
security=${SEATLAB_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
size=${SEATLAB_IMAGE_SIZE:-4G}

command -v mmdebstrap >/dev/null || { echo "seat-lab: mmdebstrap is missing (make seat-lab-deps)" >&2; exit 2; }
command -v mkfs.ext4 >/dev/null || { echo "seat-lab: mkfs.ext4 is missing (make seat-lab-deps)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "seat-lab: building the image needs root (mmdebstrap root mode)" >&2; exit 2; }

hash=$( (cd "$here" && cat packages.txt build-image.sh && find guest -type f | LC_ALL=C sort | xargs sha256sum && \
    find guest -printf '%p %m\n' | LC_ALL=C sort) | sha256sum | cut -c1-16)
out=$cache/image-$hash
if [ -f "$out/rootfs.raw" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
    echo "$out"; exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
packages=$(grep -v '^[[:space:]]*\(#\|$\)' "$here/packages.txt" | tr '\n' ',' | sed 's/,$//')
start=$(date +%s)
echo "seat-lab: building the image (mmdebstrap, bookworm; a few minutes)…" >&2
# Guest files, users, services: one customize hook (runs on the host, $1 = root).
cat > "$work/customize.sh" <<HOOK
#!/bin/sh
set -eu
root=\$1
cp -a "$here/guest/." "\$root/"
chroot "\$root" useradd --create-home --shell /bin/bash --comment "Pupil at the seat" pupil
chroot "\$root" passwd --lock root >/dev/null
echo seat-lab > "\$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 seat-lab\n' > "\$root/etc/hosts"
printf '/dev/vda / ext4 rw,relatime 0 1\n' > "\$root/etc/fstab"
chroot "\$root" systemctl enable seatlab-run.service >/dev/null
chroot "\$root" systemctl set-default graphical.target >/dev/null
# No first-boot work: the machine id is made once here.
chroot "\$root" systemd-machine-id-setup >/dev/null 2>&1 || true
rm -f "\$root"/etc/ssh/ssh_host_*
chroot "\$root" ssh-keygen -A >/dev/null
HOOK
chmod +x "$work/customize.sh"
mmdebstrap --quiet --mode=root --variant=apt --include="$packages" \
    --aptopt='APT::Install-Recommends "false"' \
    --customize-hook="$work/customize.sh \"\$1\"" \
    bookworm "$work/root" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main" >&2
cp "$(ls "$work"/root/boot/vmlinuz-* | sort -V | tail -1)" "$work/vmlinuz"
cp "$(ls "$work"/root/boot/initrd.img-* | sort -V | tail -1)" "$work/initrd.img"
chmod 0644 "$work/vmlinuz" "$work/initrd.img"
# mkfs.ext4 -d reports each special file on stdout: only the image folder goes there.
mkfs.ext4 -q -L seatlab-root -d "$work/root" "$work/rootfs.raw" "$size" >&2
rm -rf "$work/root"
mkdir -p "$out"
mv "$work/rootfs.raw" "$work/vmlinuz" "$work/initrd.img" "$out/"
printf '%s\n' "$(( $(date +%s) - start ))" > "$out/build-seconds"
echo "seat-lab: image built in $(cat "$out/build-seconds") s: $out" >&2
echo "$out"
