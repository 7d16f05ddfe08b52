#!/usr/bin/env bash
# Runs golangci-lint at the version netctl pins, first installing that version from the
# Go module proxy (go install) when it is missing. Needs Go only: no root, no apt.
#
#   scripts/golangci-lint.sh run ./...     what `make lint` does
set -euo pipefail
GOLANGCI_VERSION=v2.15.0
gobin=$(go env GOBIN)
gobin=${gobin:-$(go env GOPATH)/bin}
if ! "$gobin/golangci-lint" version 2>/dev/null | grep -q "${GOLANGCI_VERSION#v}"; then
  echo "golangci-lint: installing $GOLANGCI_VERSION into $gobin" >&2
  go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_VERSION"
fi
exec "$gobin/golangci-lint" "$@"
