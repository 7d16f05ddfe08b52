#!/usr/bin/env bash
# Regenerates the eBPF objects (every //go:generate line of the module: the product's
# in probe/, the benchmarks' in probe/internal/benchprog/) when clang-19 is present and
# fails if the result differs from the objects in the tree, so bpf/'s sources and the
# committed objects never drift.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-19 >/dev/null; then
  echo "check-generate: clang-19 not installed; skipping the regeneration check (make setup installs it)"
  exit 0
fi
gen() { find . -path ./.git -prune -o -name '*_bpfel.*' -print | sort | xargs -r sha256sum; }
before=$(gen)
go generate ./...
after=$(gen)
if [ "$before" != "$after" ]; then
  diff <(echo "$before") <(echo "$after") || true
  echo "check-generate: the eBPF objects are stale against bpf/: run make generate and commit the result" >&2
  exit 1
fi
if [ -n "$(git status --porcelain -- '*_bpfel.*' 2>/dev/null)" ]; then
  git status --short -- '*_bpfel.*'
  echo "check-generate: regenerated eBPF objects are not committed: run make generate and commit the result" >&2
  exit 1
fi
echo "check-generate: eBPF objects match bpf/"
