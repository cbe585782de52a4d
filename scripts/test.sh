#!/usr/bin/env bash
# The whole test suite: installs the system packages the end-to-end tests need when they
# are missing (Debian, as root), then runs lint and pytest. Services (MariaDB, Redis) are
# used when they answer on their usual ports; the fixtures start private ones otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

need_pkgs=()
for pkg in kamailio kamailio-mysql-modules kamailio-extra-modules sip-tester redis-server mariadb-server mariadb-client \
           etcd-server chromium chromium-driver; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing system packages: ${need_pkgs[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "error: need root to apt-get install ${need_pkgs[*]}" >&2; exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

lint_dirs=()
for d in src tests bench; do [ -d "$d" ] && lint_dirs+=("$d"); done
$BIN/ruff check "${lint_dirs[@]}"
$BIN/mypy --strict src
$BIN/pytest -p no:cacheprovider "$@"
