#!/usr/bin/env bash
# The whole test suite on a new machine: installs what the tests need, then runs cargo test.
# The NATS tests start their own nats-server (Debian package) on a free 127.0.0.1 port.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nats-server >/dev/null 2>&1 && ! [ -x /usr/sbin/nats-server ]; then
  echo "installing nats-server (Debian package) for the NATS tests"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server
fi
export PATH="$PATH:/usr/sbin"
exec cargo test --workspace "$@"
