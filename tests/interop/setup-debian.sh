#!/usr/bin/env sh
# What `make interop` needs from Debian: PostgreSQL and Redis for the Fides server (tests/interop).
# Installed once, as root; elsewhere it says what to install.
set -eu
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "make interop needs PostgreSQL and Redis: sudo apt-get install postgresql redis-server" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q postgresql redis-server >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q postgresql redis-server >/dev/null
}
