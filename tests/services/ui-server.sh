#!/usr/bin/env bash
# Temporal's Web UI server (`ui-server`, Go, the UI's assets embedded) for
# the Web UI test (tests/tests/web_ui.rs), built from the Go module proxy
# with the machine's Go: no release tarball is downloaded.
#
#   tests/services/ui-server.sh      build it once (or find it built) and print its path
#   temper server start-dev --ui-server "$(tests/services/ui-server.sh)"
#
# The binary lands in $TEMPER_SERVICES_DIR/ui-server/v<version>/bin/
# temporal-ui-server (default: target/services in the repository), one
# folder per version, so a changed UI_SERVER_VERSION builds beside the old
# one. `go install` names it `server`, after its package; it is renamed to
# the name Temper looks for on the PATH. The module sources and the build
# cache stay where Go keeps them by default (GOMODCACHE, GOCACHE: ~/go/pkg/mod
# and ~/.cache/go-build), outside the repository, so a clean clone on the
# same machine (CI) builds again in seconds from the cache; the first build
# on a machine fetches the modules and takes a few minutes on two cores.
#
# Several tests may call this at once: one builds, the others wait on the
# lock and then find the binary.
set -euo pipefail

NAME=ui-server.sh
VERSION="${UI_SERVER_VERSION:-2.53.1}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HOME_DIR="${TEMPER_SERVICES_DIR:-$REPO/target/services}/ui-server"
BIN_DIR="$HOME_DIR/v$VERSION/bin"
UI_SERVER="$BIN_DIR/temporal-ui-server"

built() {
  # urfave/cli prints "Temporal UI version 2.53.1".
  [[ -x "$UI_SERVER" ]] && "$UI_SERVER" --version 2>/dev/null | grep -q "version $VERSION\$"
}

build() {
  echo "$NAME: building ui-server v$VERSION with \`go install\` (once)" >&2
  mkdir -p "$BIN_DIR"
  # Installed into a folder of its own, then renamed: `go install` calls
  # the binary `server`. GOFLAGS cleared: a -mod setting from the
  # environment would refuse an install outside a module.
  STAGE="$(mktemp -d "$HOME_DIR/build.XXXXXX")"
  trap 'rm -rf "$STAGE"' EXIT
  GOBIN="$STAGE" GOFLAGS= CGO_ENABLED=0 go install \
    "github.com/temporalio/ui-server/v2/cmd/server@v$VERSION" >&2
  mv "$STAGE/server" "$UI_SERVER"
}

# shellcheck source=tests/services/common.sh
source "$(dirname "$0")/common.sh"
build_once "$HOME_DIR"
echo "$UI_SERVER"
