#!/usr/bin/env bash
# Runs the privileged tests of probe, netctl and cmd/netctl, and a smoke run of the static
# netctl, on Debian 12's Linux 6.1 (no TCX: netctl takes its tc clsact path) under qemu.
#
#   scripts/test-kernels.sh                  all of it (make test-kernels)
#   RUN='TestAttach' scripts/test-kernels.sh only matching tests, no smoke run
#   VM_BOUND=1800 scripts/test-kernels.sh    seconds before the VM is given up (default 1500)
#
# The kernel package is extracted (never installed) under .cache/kernels/ by
# `scripts/setup.sh --kernels`; the initramfs is busybox, the kernel's modules for veth,
# bridge, clsact and cls_bpf with their dependencies, the test binaries (CGO_ENABLED=0,
# static) and the host tools the tests call (copied with their shared libraries). Results
# come back over the serial console; every line is printed prefixed with the kernel
# release, verbose test output reduced to go test's: failures in full, skips with their
# reason, one ok/FAIL line per package. Exits non-zero on a failure or a VM that does not
# finish within the bound.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
TEST_TIMEOUT=${TEST_TIMEOUT:-15m}
VM_BOUND=${VM_BOUND:-1500}
RUN=${RUN:-}
# import path suffix -> binary name, in run order.
PKGS=(probe netctl cmd/netctl)
# What the tests and the smoke run call; absent ones make their tests skip with the reason.
# tmux is left out: its test builds netctl with go, and the VM has no Go toolchain.
HOST_TOOLS=(ip tc ping bpftool iperf3 prometheus promtool nsenter setpriv)

log() { printf 'test-kernels: %s\n' "$*" >&2; }

# kvm_works VMLINUZ: /dev/kvm is usable and a KVM guest reaches the kernel's first panic
# within seconds. Some virtual machines offer a /dev/kvm whose guests hang or abort.
kvm_works() {
  [ -r /dev/kvm ] && [ -w /dev/kvm ] || { log "no usable /dev/kvm: TCG (slower)"; return 1; }
  if timeout 15 qemu-system-x86_64 -enable-kvm -cpu host -m 256 -display none -monitor none \
    -serial stdio -no-reboot -nic none -kernel "$1" -append "console=ttyS0 panic=-1 rdinit=/none" \
    </dev/null 2>&1 | grep -q -m1 'Kernel panic'; then
    return 0
  fi
  log "/dev/kvm is there but a KVM guest does not boot on this machine: TCG (slower)"
  return 1
}

if [ "$(id -u)" -ne 0 ]; then
  log "needs root (installs packages; the VM's tests are privileged)"
  exit 1
fi
scripts/setup.sh --kernels >&2

work=$root/.cache/kernels/work
rm -rf "$work"
mkdir -p "$work/bin"
module=$($GO list -m)

log "building static test binaries and bin/netctl"
for p in "${PKGS[@]}"; do
  CGO_ENABLED=0 $GO test -c -trimpath -o "$work/bin/${p//\//-}.test" "./$p"
done
make --no-print-directory build >/dev/null

status=0 passed=0 failed=0 skipped=0
for kdir in .cache/kernels/linux-image-*/; do
  vmlinuz=$(ls "$kdir"boot/vmlinuz-* | head -n1)
  kver=${vmlinuz##*/vmlinuz-}
  init=$work/initramfs-$kver
  rm -rf "$init"
  mkdir -p "$init"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,vm/bin,vm/modules.d,src}
  mkdir -p "$init"/var
  ln -s /run "$init/var/run"

  # busybox: a copy of the static binary, applets as links to it (never to themselves).
  cp /bin/busybox "$init/bin/busybox"
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$init/bin/$a"
  done
  cp scripts/kernels/init "$init/init"
  chmod 755 "$init/init"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$init/etc/hosts"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$init/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$init/etc/group"

  # Host tools with their shared libraries (same paths as here).
  for t in "${HOST_TOOLS[@]}"; do
    p=$(command -v "$t" || true)
    if [ -z "$p" ]; then
      log "$t not found on this host: the tests that need it will skip"
      continue
    fi
    p=$(readlink -f "$p")
    cp "$p" "$init/usr/bin/$t"
    for lib in $(ldd "$p" 2>/dev/null | grep -o '/[^ ]*' || true); do
      cp -L --parents "$lib" "$init" 2>/dev/null || true
    done
  done

  # Modules, with their dependencies, in load order. xfrm_user and nfnetlink are left
  # out on purpose: netctl must need rtnetlink only.
  modprobe -d "$root/$kdir" -S "$kver" -a --show-depends veth bridge sch_ingress cls_bpf cls_u32 |
    awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' |
    while read -r ko; do
      cp "$ko" "$init/vm/modules.d/"
      echo "/vm/modules.d/${ko##*/}" >>"$init/vm/modules"
    done

  # Test binaries, run from their package folder in a copy of the repository's files
  # (test data, and Go sources for the tests that read them).
  cp "$work"/bin/*.test "$init/vm/bin/"
  cp bin/netctl "$init/usr/bin/netctl"
  git ls-files -z | cpio -0pdm --quiet "$init/src"
  for p in "${PKGS[@]}"; do
    mkdir -p "$init/src/$p"
    echo "$module/$p ${p//\//-}.test $p" >>"$init/vm/tests"
  done

  img=$work/initramfs-$kver.cpio
  (cd "$init" && find . | cpio -o -H newc --quiet) >"$img"

  accel=(-accel tcg,thread=multi -cpu max) how=TCG
  if kvm_works "$vmlinuz"; then accel=(-enable-kvm -cpu host) how=KVM; fi
  log "booting $kver ($how, initramfs $(du -m "$img" | cut -f1) MiB, bound ${VM_BOUND}s)"
  raw=$work/$kver.log
  start=$(date +%s)
  set +e
  timeout -k 10 "$VM_BOUND" qemu-system-x86_64 "${accel[@]}" -m 2048 -smp 2 \
    -display none -monitor none -serial stdio -no-reboot -nic none \
    -kernel "$vmlinuz" -initrd "$img" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init netctl.timeout=$TEST_TIMEOUT${RUN:+ netctl.run=$RUN}" \
    </dev/null 2>&1 | tr -d '\r' | tee "$raw" |
    awk -v k="[$kver] " -v stats="$work/$kver.stats" -f scripts/kernels/summarize.awk
  rc=("${PIPESTATUS[@]}")
  set -e
  took=$(($(date +%s) - start))
  vm_rc=${rc[0]} sum_rc=${rc[3]}
  read -r mode p f s <"$work/$kver.stats" || mode=- p=0 f=1 s=0
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  if [ "$vm_rc" = 124 ] || [ "$vm_rc" = 137 ]; then
    log "$kver: the VM did not finish within ${VM_BOUND}s (full log: ${raw#"$root"/})"
    status=1
  elif [ "$sum_rc" != 0 ]; then
    log "$kver: FAIL after ${took}s (full log: ${raw#"$root"/})"
    status=1
  else
    log "$kver: ok after ${took}s (attach mode: $mode)"
  fi
done
# The closing line, counting tests and subtests in every kernel's VM.
echo "test-kernels: $passed passed, $failed failed, $skipped skipped"
exit $status
