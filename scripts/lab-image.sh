#!/usr/bin/env bash
# Build the offline lab base image: Debian 12 + systemd + python3, from Debian packages only
# (debootstrap -> docker import). The tag is a hash of the recipe, so the image is rebuilt only
# when the recipe changes. Prints the image reference on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
recipe=("$here/lab/image/base.packages" "$here/scripts/lab-image.sh")
suite=${LAB_SUITE:-bookworm}
mirror=${LAB_MIRROR:-http://deb.debian.org/debian}
repo=${LAB_IMAGE_REPO:-mediastack-lab-base}

hash=$( { cat "${recipe[@]}"; echo "$suite $mirror"; } | sha256sum | cut -c1-12)
ref="$repo:$hash"
if docker image inspect "$ref" >/dev/null 2>&1; then
  echo "lab image $ref is up to date" >&2
  echo "$ref"
  exit 0
fi

packages=$(grep -vE '^\s*(#|$)' "$here/lab/image/base.packages" | paste -sd, -)
rootfs=$(mktemp -d /var/tmp/mediastack-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "building $ref with debootstrap ($suite, $mirror)" >&2
start=$(date +%s)
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >&2
# A container has no consoles or udev to wait for; keep the units that make no sense in one off.
for unit in getty.target systemd-udevd.service systemd-udev-trigger.service \
            systemd-remount-fs.service systemd-firstboot.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
: > "$rootfs/etc/machine-id"
echo 'APT::Install-Recommends "false";' > "$rootfs/etc/apt/apt.conf.d/90-no-recommends"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | docker import \
  -c 'CMD ["/lib/systemd/systemd"]' -c 'ENV container=docker' \
  -m "mediastack lab base ($suite)" - "$ref" >&2
docker tag "$ref" "$repo:current"
echo "built $ref in $(( $(date +%s) - start )) s" >&2
echo "$ref"
