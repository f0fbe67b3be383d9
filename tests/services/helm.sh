#!/usr/bin/env bash
# Helm 3 for the chart's tests (helm/temper), built from the Go module proxy
# with the machine's Go: no release tarball is downloaded.
#
#   tests/services/helm.sh           build it once (or find it built) and print its path
#   "$(tests/services/helm.sh)" lint helm/temper
#
# The binary lands in $TEMPER_SERVICES_DIR/helm/v<version>/bin/helm (default:
# target/services in the repository), one folder per version, so a changed
# HELM_VERSION builds beside the old one. The module sources and the build
# cache stay where Go keeps them by default (GOMODCACHE, GOCACHE: ~/go/pkg/mod
# and ~/.cache/go-build), outside the repository, so a clean clone on the same
# machine (CI) builds again in seconds from the cache; the first build on a
# machine fetches helm's modules and takes a few minutes on two cores.
#
# Only `helm lint` and `helm template` are used: both work offline, with no
# Kubernetes cluster. Several tests may call this at once: one builds, the
# others wait on the lock and then find the binary.
set -euo pipefail

NAME=helm.sh
VERSION="${HELM_VERSION:-3.21.4}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HOME_DIR="${TEMPER_SERVICES_DIR:-$REPO/target/services}/helm"
BIN_DIR="$HOME_DIR/v$VERSION/bin"
HELM="$BIN_DIR/helm"

built() {
  [[ -x "$HELM" ]] && "$HELM" version --short 2>/dev/null | grep -q "^v$VERSION"
}

build() {
  echo "$NAME: building helm v$VERSION with \`go install\` (once)" >&2
  mkdir -p "$BIN_DIR"
  # GOFLAGS cleared: a -mod setting from the environment would refuse an
  # install outside a module. The version is stamped as helm's own release
  # build does (without it `helm version` says only v3.21).
  GOBIN="$BIN_DIR" GOFLAGS= CGO_ENABLED=0 go install \
    -ldflags "-X helm.sh/helm/v3/internal/version.version=v$VERSION" \
    "helm.sh/helm/v3/cmd/helm@v$VERSION" >&2
}

# shellcheck source=tests/services/common.sh
source "$(dirname "$0")/common.sh"
build_once "$HOME_DIR"
echo "$HELM"
