#!/usr/bin/env bash
# Regenerates the eBPF objects when clang-19 is present and fails if the result differs
# from the objects in the tree, so bpf/'s sources and the committed objects never drift.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-19 >/dev/null; then
  echo "check-generate: clang-19 not installed; skipping the regeneration check (make setup installs it)"
  exit 0
fi
gen() { ls probe/*_bpfel.go probe/*_bpfel.o 2>/dev/null | sort | xargs -r sha256sum; }
before=$(gen)
go generate ./probe
after=$(gen)
if [ "$before" != "$after" ]; then
  diff <(echo "$before") <(echo "$after") || true
  echo "check-generate: the eBPF objects in probe/ are stale against bpf/: run make generate and commit the result" >&2
  exit 1
fi
if [ -n "$(git status --porcelain -- 'probe/*_bpfel.*' 2>/dev/null)" ]; then
  git status --short -- 'probe/*_bpfel.*'
  echo "check-generate: regenerated eBPF objects are not committed: run make generate and commit the result" >&2
  exit 1
fi
echo "check-generate: eBPF objects in probe/ match bpf/"
