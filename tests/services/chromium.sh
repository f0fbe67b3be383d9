#!/usr/bin/env bash
# A headless Chromium for the Web UI test (tests/tests/web_ui.rs, which
# drives it with playwright-core): Debian's `chromium` package, installed
# with apt-get when missing. No browser build of Playwright's own is
# downloaded (`npx playwright install` is never run).
#
#   tests/services/chromium.sh       install it once (or find it) and print its path
#
# As root (CI, the developers' machines) a missing package is installed
# (`apt-get install --no-install-recommends chromium`, after an `apt-get
# update` if apt knows no such package yet); as another user the script
# fails, saying to install the package. When the browser is there it only
# prints its path. Several tests may call this at once: one installs, the
# others wait on the lock (apt's own lock would make them fail instead) and
# then find the browser.
set -euo pipefail

NAME=chromium.sh
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HOME_DIR="${TEMPER_SERVICES_DIR:-$REPO/target/services}/chromium"
CHROMIUM=/usr/bin/chromium

installed() {
  [[ -x "$CHROMIUM" ]]
}

if ! installed; then
  if [[ "$(id -u)" != 0 ]]; then
    echo "$NAME: no $CHROMIUM; install Debian's \`chromium\` package (as root: apt-get install --no-install-recommends chromium)" >&2
    exit 2
  fi
  # One install at a time (file descriptor 8, held until the script ends);
  # whoever waited finds the browser installed.
  mkdir -p "$HOME_DIR"
  exec 8>"$HOME_DIR/install.lock"
  flock 8
  if ! installed; then
    echo "$NAME: installing Debian's chromium package (once)" >&2
    export DEBIAN_FRONTEND=noninteractive
    # A machine whose package lists were never fetched knows no candidate.
    # (Read whole before grep: with pipefail, grep -q closing the pipe early
    # would fail the pipeline.)
    policy="$(apt-cache policy chromium 2>/dev/null || true)"
    if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
      apt-get update -qq >&2
    fi
    apt-get install -y -qq --no-install-recommends chromium >&2
    installed || { echo "$NAME: no $CHROMIUM after installing the chromium package" >&2; exit 1; }
  fi
fi
echo "$CHROMIUM"
