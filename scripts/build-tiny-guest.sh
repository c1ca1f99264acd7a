#!/usr/bin/env bash
# Builds a tiny real Linux guest (Debian's kernel + a busybox initrd) that tests boot under QEMU to
# check, from INSIDE a running guest, what a hot-plugged VBS volume looks like (serial, ro, data).
#
# Why like this: the machines have no KVM, no network but the package registries, and no kernel in
# /boot to borrow. So we fetch Debian's kernel and busybox-static with `apt-get download` (never
# installed: dpkg -x into a temp dir), and pack the few modules the guest needs (virtio-pci,
# virtio-blk, virtio-scsi, scsi_mod, sd_mod and their dependencies) into an initrd whose /init
# insmods them in dependency order (Debian ships no modules.dep we could use inside the guest) and
# then serves a plain shell on the serial console ttyS0 with echo off, for test/support/tiny-guest.ts.
#
# Usage: scripts/build-tiny-guest.sh [OUT_DIR]   (default: var/guest under the repository)
# Writes OUT_DIR/vmlinuz, OUT_DIR/initrd.img, OUT_DIR/kernel-release, OUT_DIR/stamp.
# Idempotent: does nothing when both images exist and the stamp matches this recipe.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
OUT_DIR="${1:-$REPO_ROOT/var/guest}"

# The drivers the guest needs; their dependencies are found from the modules themselves.
ROOT_MODULES=(virtio_pci virtio_blk virtio_scsi sd_mod)

log() { printf 'build-tiny-guest: %s\n' "$*" >&2; }
die() { printf 'build-tiny-guest: error: %s\n' "$*" >&2; exit 1; }

# The stamp names the recipe (this script's content), so editing the script rebuilds the guest.
RECIPE_HASH="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
STAMP="recipe=$RECIPE_HASH"

if [[ -s "$OUT_DIR/vmlinuz" && -s "$OUT_DIR/initrd.img" && -f "$OUT_DIR/stamp" ]] &&
  [[ "$(cat "$OUT_DIR/stamp")" == "$STAMP" ]]; then
  log "up to date: $OUT_DIR (kernel $(cat "$OUT_DIR/kernel-release" 2>/dev/null || echo '?'))"
  exit 0
fi

for tool in apt-get dpkg-deb cpio gzip find sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' is needed (apt-get install cpio for cpio)"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tiny-guest.XXXXXX")"
trap 'rm -rf "$WORK"; rm -f "$OUT_DIR"/*.tmp.$$' EXIT
mkdir -p "$WORK/debs"

# apt-get download as root warns that _apt cannot write the temp dir; downloading as root is fine.
APT_OPTS=(-q -o APT::Sandbox::User=root)
UPDATED=0
download() {
  # download PACKAGE...: into $WORK/debs; runs `apt-get update` once if the lists do not know them.
  if (cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" download "$@" >"$WORK/apt.log" 2>&1); then
    return 0
  fi
  if [[ $UPDATED == 0 ]]; then
    log "apt-get download $* failed; running apt-get update once"
    apt-get "${APT_OPTS[@]}" update >"$WORK/apt-update.log" 2>&1 ||
      { cat "$WORK/apt-update.log" >&2; die "apt-get update failed"; }
    UPDATED=1
    (cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" download "$@" >"$WORK/apt.log" 2>&1) && return 0
  fi
  cat "$WORK/apt.log" >&2
  die "apt-get download $* failed"
}

log "downloading linux-image-amd64 (the meta package, to learn the current kernel package)"
download linux-image-amd64
META_DEB="$(ls "$WORK"/debs/linux-image-amd64_*.deb)"
KPKG="$(dpkg-deb -f "$META_DEB" Depends | tr ',' '\n' | grep -o 'linux-image-[0-9][^ ]*-amd64' | head -n1 || true)"
[[ -n "$KPKG" ]] || die "cannot find the kernel package in the Depends of $(basename "$META_DEB")"
log "downloading $KPKG and busybox-static"
download "$KPKG" busybox-static

log "unpacking with dpkg -x (nothing is installed)"
dpkg -x "$(ls "$WORK"/debs/"$KPKG"_*.deb)" "$WORK/kernel"
dpkg -x "$(ls "$WORK"/debs/busybox-static_*.deb)" "$WORK/busybox"

VMLINUZ="$(ls "$WORK"/kernel/boot/vmlinuz-* 2>/dev/null | head -n1 || true)"
[[ -n "$VMLINUZ" ]] || die "no boot/vmlinuz-* in $KPKG"
KREL="${VMLINUZ##*/vmlinuz-}"
MODDIR="$WORK/kernel/lib/modules/$KREL"
[[ -d "$MODDIR" ]] || die "no lib/modules/$KREL in $KPKG"
BUSYBOX="$WORK/busybox/bin/busybox"
[[ -x "$BUSYBOX" ]] || die "no bin/busybox in busybox-static"
log "kernel $KREL"

# --- modules: find each file, decompress if needed, read its depends=, order dependencies first ---
ROOTFS="$WORK/rootfs"
mkdir -p "$ROOTFS"/{bin,sbin,dev,proc,sys,tmp,mnt,lib/modules}

module_file() {
  # module_file NAME: the path of NAME's .ko(.xz|.zst|.gz) in the package (- and _ are the same).
  local alt="${1//_/-}" alt2="${1//-/_}" f
  f="$(find "$MODDIR/kernel" \( -name "$1.ko*" -o -name "$alt.ko*" -o -name "$alt2.ko*" \) -print -quit)"
  [[ -n "$f" ]] || die "module $1 not found under lib/modules/$KREL/kernel"
  printf '%s\n' "$f"
}

unpack_module() {
  # unpack_module SRC DEST: copies a module, decompressing .xz/.zst/.gz (Debian 12 ships plain .ko).
  case "$1" in
    *.ko) cp "$1" "$2" ;;
    *.ko.xz) xz -dc "$1" >"$2" || die "cannot decompress $1 (xz)" ;;
    *.ko.zst) zstd -qdc "$1" >"$2" || die "cannot decompress $1 (zstd)" ;;
    *.ko.gz) gzip -dc "$1" >"$2" || die "cannot decompress $1" ;;
    *) die "unknown module file type: $1" ;;
  esac
}

module_depends() {
  # module_depends FILE: the names in the module's depends= field (the .modinfo section).
  if command -v modinfo >/dev/null; then
    modinfo -F depends "$1" | tr ',' ' '
  else
    tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '
  fi
}

declare -A STATE=()
ORDER=()
visit() {
  # Depth-first: a module's dependencies are put in ORDER before it.
  local name="$1" dep src
  case "${STATE[$name]:-}" in
    done) return 0 ;;
    active) die "module dependency cycle at $name" ;;
  esac
  STATE[$name]=active
  src="$(module_file "$name")"
  unpack_module "$src" "$ROOTFS/lib/modules/$name.ko"
  for dep in $(module_depends "$ROOTFS/lib/modules/$name.ko"); do
    visit "$dep"
  done
  STATE[$name]=done
  ORDER+=("$name")
}
for m in "${ROOT_MODULES[@]}"; do visit "$m"; done
log "module load order: ${ORDER[*]}"

# --- busybox and its applets ---
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for applet in $("$ROOTFS/bin/busybox" --list); do
  [[ "$applet" == busybox ]] && continue
  ln -sf busybox "$ROOTFS/bin/$applet"
done
ln -sf ../bin/busybox "$ROOTFS/sbin/init"

# --- /init ---
{
  cat <<'EOF'
#!/bin/sh
# The tiny guest's init (generated by scripts/build-tiny-guest.sh): loads the virtio/SCSI drivers,
# then serves a shell on ttyS0 for test/support/tiny-guest.ts, which wraps each command in markers.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
# No modprobe in here: the kernel must not try to load modules on its own.
echo /bin/true > /proc/sys/kernel/modprobe
EOF
  printf 'for m in %s; do\n' "${ORDER[*]}"
  cat <<'EOF'
  insmod /lib/modules/$m.ko || echo "tiny-guest: insmod $m failed" > /dev/ttyS0
done
# Keep kernel messages off the console that carries command output (dmesg still has them).
echo 1 > /proc/sys/kernel/printk
exec </dev/ttyS0 >/dev/ttyS0 2>&1
stty -echo -onlcr
echo "TINY-GUEST-READY $(uname -r)"
# An interactive shell with job control (so the host can interrupt a stuck command with ^C) and no
# prompt; with echo off, busybox's shell reads plain lines. If it ever exits, start another.
export PS1='' PS2=''
while true; do
  setsid cttyhack sh
  echo "TINY-GUEST-SHELL-EXITED"
done
EOF
} >"$ROOTFS/init"
chmod 755 "$ROOTFS/init"

# --- pack ---
mkdir -p "$OUT_DIR"
log "packing $OUT_DIR/initrd.img (cpio newc, gzip)"
(cd "$ROOTFS" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --quiet) |
  gzip -9 >"$OUT_DIR/initrd.img.tmp.$$"
cp "$VMLINUZ" "$OUT_DIR/vmlinuz.tmp.$$"
# Renames, so that a concurrent build or a booting guest never sees a half-written file.
mv "$OUT_DIR/vmlinuz.tmp.$$" "$OUT_DIR/vmlinuz"
mv "$OUT_DIR/initrd.img.tmp.$$" "$OUT_DIR/initrd.img"
printf '%s\n' "$KREL" >"$OUT_DIR/kernel-release"
printf '%s\n' "$STAMP" >"$OUT_DIR/stamp.tmp.$$"
mv "$OUT_DIR/stamp.tmp.$$" "$OUT_DIR/stamp"
log "done: $OUT_DIR/vmlinuz ($(du -h "$OUT_DIR/vmlinuz" | cut -f1)), $OUT_DIR/initrd.img ($(du -h "$OUT_DIR/initrd.img" | cut -f1)), kernel $KREL"
