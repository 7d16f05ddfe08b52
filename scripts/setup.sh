#!/usr/bin/env bash
# Installs what netctl's build, tests, demo and benchmarks need on a fresh Debian machine,
# and mounts bpffs. Idempotent: when everything is present it prints one line and exits.
#
#   scripts/setup.sh          packages + bpffs
#   scripts/setup.sh --lint   also golangci-lint (Go module proxy), for `make lint`
#   scripts/setup.sh --kernels   also qemu and Debian 12's 6.1 cloud kernel, extracted (not
#                                installed) under .cache/kernels/, for `make test-kernels`
set -euo pipefail

lint=0 kernels=0
for a in "$@"; do
  case $a in
    --lint) lint=1 ;;
    --kernels) kernels=1 ;;
    *) printf 'setup: unknown option %s\n' "$a" >&2; exit 2 ;;
  esac
done

# Debian package -> a file it installs (checked before asking apt).
declare -A PKGS=(
  [clang-19]=/usr/bin/clang-19
  [llvm-19]=/usr/bin/llvm-strip-19
  [libbpf-dev]=/usr/include/bpf/bpf_helpers.h
  [bpftool]=/usr/sbin/bpftool
  [iproute2]=/usr/sbin/ip
  [iputils-ping]=/usr/bin/ping
  [iperf3]=/usr/bin/iperf3
  [curl]=/usr/bin/curl
  [prometheus]=/usr/bin/prometheus
  [busybox-static]=/bin/busybox
  [tmux]=/usr/bin/tmux
  [linux-libc-dev]=/usr/include/linux/bpf.h
)
if [ $kernels = 1 ]; then
  PKGS+=(
    [qemu-system-x86]=/usr/bin/qemu-system-x86_64
    [kmod]=/usr/sbin/modprobe
    [cpio]=/usr/bin/cpio
  )
fi

log() { printf 'setup: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  log "not root: cannot install packages or mount bpffs; run 'sudo make setup'" >&2
  exit 1
fi

missing=()
for p in "${!PKGS[@]}"; do
  [ -e "${PKGS[$p]}" ] || missing+=("$p")
done
# busybox-static and busybox conflict on /bin/busybox; make sure it is the static one.
if [ -e /bin/busybox ] && ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
  missing+=(busybox-static)
fi

if [ ${#missing[@]} -gt 0 ]; then
  IFS=$'\n' sorted=($(sort -u <<<"${missing[*]}")); unset IFS
  log "installing ${sorted[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # The Debian prometheus package starts a server on :9090 through its postinst; we only
  # want the binaries, so keep services from starting during the install.
  # (An existing policy-rc.d is the machine's: leave it alone.)
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${sorted[@]}" >/dev/null
  if [ $own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
fi

# bpffs: pinned maps and links live here.
if ! mount -t bpf | grep -q ' /sys/fs/bpf '; then
  mount -t bpf bpf /sys/fs/bpf
  log "mounted bpffs at /sys/fs/bpf"
fi

if [ $lint = 1 ]; then
  "$(dirname "$0")/golangci-lint.sh" version # installs the pinned version when missing
fi

if [ $kernels = 1 ]; then
  "$(dirname "$0")/kernels/fetch.sh"
fi

[ ${#missing[@]} -eq 0 ] && log "everything present" || log "done"
