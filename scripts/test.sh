#!/usr/bin/env bash
# The whole test suite on a new machine: installs what the tests need, then runs cargo test.
# The NATS tests start their own nats-server (Debian package) on a free 127.0.0.1 port; the
# web UI tests read every page in headless Chromium (Debian package `chromium`); the official
# W3C Trace Context suite (vendored in third_party/) runs on Python 3 with aiohttp
# (Debian package `python3-aiohttp`); the PromQL engine is compared with real Prometheus through
# `promtool test rules` (Debian package `prometheus`).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
if ! command -v nats-server >/dev/null 2>&1 && ! [ -x /usr/sbin/nats-server ]; then
  missing+=(nats-server)
fi
if ! command -v chromium >/dev/null 2>&1; then
  missing+=(chromium)
fi
# Debian's own interpreter: python3-aiohttp is installed for it (a pyenv python3 on PATH would not
# see it).
if ! /usr/bin/python3 -c 'import aiohttp' >/dev/null 2>&1; then
  missing+=(python3-aiohttp)
fi
if ! command -v promtool >/dev/null 2>&1; then
  missing+=(prometheus)
fi
extra=()
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages) for the NATS, browser, W3C suite and PromQL tests"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if ! { command -v apt-get >/dev/null 2>&1 \
         && { [ -z "$SUDO" ] || command -v sudo >/dev/null 2>&1; } \
         && $SUDO apt-get update -qq \
         && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; }; then
    if [ -n "${CI:-}" ]; then
      echo "error: cannot install ${missing[*]}, which CI needs" >&2
      exit 1
    fi
    echo "warning: could not install ${missing[*]} (no apt-get, root or sudo?)." >&2
    echo "         Install them yourself: sudo apt-get install -y ${missing[*]}" >&2
    echo "         Running every test anyway: the ones that need them fail and say so." >&2
    extra=(--no-fail-fast)
  fi
fi
export PATH="$PATH:/usr/sbin"
exec cargo test --workspace "${extra[@]}" "$@"
