#!/usr/bin/env bash
# Prints the path of a promtool binary (Prometheus' checker, for
# `promtool check metrics < exposition.txt`), installing one first if there
# is none.
#
#   bin="$(tests/services/promtool.sh)" && "$bin" check metrics < metrics.txt
#
# Where it comes from, the first that applies:
#   1. a promtool on PATH, whatever its version;
#   2. one this script built before (see 4);
#   3. as root, where apt-get is: Debian's prometheus package (promtool 2.42
#      on Debian 12; about 10 s; the Prometheus server comes with it but is
#      not started, and `apt-get update` runs first only if the install
#      fails without it);
#   4. otherwise, with Go: `go install` of github.com/prometheus/prometheus/
#      cmd/promtool at PROMTOOL_GO_VERSION (default v0.316.0, the module's
#      tag for Prometheus 3.16) into $TEMPER_SERVICES_DIR/promtool/<that
#      version>/bin (default: target/services in the repository), Go's
#      module and build caches left at Go's defaults in the home directory.
#      The first such build on a machine downloads and compiles a few hundred
#      modules: about 6 minutes on two cores; from warm caches, 10 s.
#      PROMTOOL_VIA=go takes this way even as root.
# Fails, saying why, when none applies. Messages go to stderr, so standard
# output holds only the path.
#
# `promtool check metrics` exits 0 when the exposition is valid and clean,
# 1 when it does not parse, 3 when it parses but breaks a naming convention
# (e.g. a counter without the _total suffix), printing the problems.
set -euo pipefail

NAME=promtool.sh
GO_VERSION="${PROMTOOL_GO_VERSION:-v0.316.0}"
VIA="${PROMTOOL_VIA:-}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HOME_DIR="${TEMPER_SERVICES_DIR:-$REPO/target/services}/promtool"
GO_BIN="$HOME_DIR/$GO_VERSION/bin/promtool"

found() {
  if [[ "$VIA" != go ]] && command -v promtool >/dev/null; then
    command -v promtool
  elif [[ -x "$GO_BIN" ]]; then
    echo "$GO_BIN"
  else
    return 1
  fi
}

install_with_apt() {
  echo "$NAME: installing Debian's prometheus package for its promtool" >&2
  export DEBIAN_FRONTEND=noninteractive
  local install=(apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 prometheus)
  if ! "${install[@]}" >"$HOME_DIR/install.log" 2>&1; then
    apt-get update >>"$HOME_DIR/install.log" 2>&1 || true
    if ! "${install[@]}" >>"$HOME_DIR/install.log" 2>&1; then
      echo "$NAME: apt-get install prometheus failed; the end of $HOME_DIR/install.log:" >&2
      tail -n 20 "$HOME_DIR/install.log" >&2
      exit 1
    fi
  fi
}

install_with_go() {
  echo "$NAME: building promtool $GO_VERSION with go install (minutes the first time)" >&2
  # GOFLAGS cleared: a -mod setting from the environment would refuse an
  # install outside a module.
  if ! GOBIN="$(dirname "$GO_BIN")" GOFLAGS= nice go install \
      "github.com/prometheus/prometheus/cmd/promtool@$GO_VERSION" >"$HOME_DIR/install.log" 2>&1; then
    echo "$NAME: go install of promtool $GO_VERSION failed; the end of $HOME_DIR/install.log:" >&2
    tail -n 20 "$HOME_DIR/install.log" >&2
    exit 1
  fi
}

found && exit 0
mkdir -p "$HOME_DIR"
# One install at a time; who waited finds the other's.
exec 9>"$HOME_DIR/install.lock"
flock 9
found && exit 0
if [[ "$VIA" != go && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  install_with_apt
elif command -v go >/dev/null; then
  install_with_go
else
  echo "$NAME: no promtool on PATH, and no way to install one: as root this script" \
    "installs Debian's prometheus package (apt-get install prometheus), otherwise it" \
    "builds promtool with Go, which is not on PATH either" >&2
  exit 2
fi
found || { echo "$NAME: installed, but still no promtool found" >&2; exit 1; }
