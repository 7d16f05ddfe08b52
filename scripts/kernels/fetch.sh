#!/usr/bin/env bash
# Downloads Debian 12's 6.1 cloud kernel package and extracts it under .cache/kernels/
# (vmlinuz + modules for the test VM). It is never installed as this machine's kernel.
# Idempotent: an already extracted package is kept. Called by `scripts/setup.sh --kernels`.
#
#   KERNEL_PKG=linux-image-6.1.0-57-cloud-amd64 scripts/kernels/fetch.sh   pin a package
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cache=$root/.cache/kernels
log() { printf 'setup: %s\n' "$*"; }

# The metapackage names the current ABI's package (it moves with security updates).
resolve() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-6\.1\.[0-9.-]*-cloud-amd64\)$/\1/p' | head -n1
}

pkg=${KERNEL_PKG:-$(resolve)}
if [ -z "$pkg" ]; then
  apt-get update -qq >/dev/null
  pkg=$(resolve)
fi
[ -n "$pkg" ] || { log "cannot resolve linux-image-cloud-amd64 to a 6.1 kernel package" >&2; exit 1; }

dir=$cache/$pkg
if compgen -G "$dir/boot/vmlinuz-*" >/dev/null && compgen -G "$dir/lib/modules/*/modules.dep" >/dev/null; then
  exit 0
fi

log "downloading $pkg (extracted under ${dir#"$root"/}, not installed)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null 2>&1); then
  apt-get update -qq >/dev/null
  (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null)
fi
rm -rf "$dir.part"
mkdir -p "$dir.part"
dpkg-deb -x "$tmp"/"$pkg"_*.deb "$dir.part"
# The package ships no modules.dep (its postinst makes it): build it for modprobe -d.
for m in "$dir.part"/lib/modules/*; do
  depmod -b "$dir.part" "${m##*/}"
done
mv "$dir.part" "$dir"
# Keep only the current package: an old ABI's kernel is no longer what Debian ships.
for d in "$cache"/linux-image-*; do
  [ "$d" = "$dir" ] || rm -rf "$d"
done
