#!/usr/bin/env bash
# Install what the tests need, then run the whole suite.
#   Debian packages: chromium (+ driver) for browser tests, fonts-noto-cjk so Chinese renders.
#   Python packages: requirements-dev.txt.
#   PostgreSQL / Redis: used when reachable (GC_TEST_PG_URL, GC_TEST_REDIS_URL); those tests skip, saying why, if not.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium chromium-driver)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need_apt+=(fonts-noto-cjk)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# PostgreSQL and Redis: start the machine's own servers if they are installed but stopped.
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432 && command -v pg_ctlcluster >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if command -v redis-server >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi

PY=${PYTHON:-python3}
$PY -m pip install -q --disable-pip-version-check -r requirements-dev.txt

# ---- browser JavaScript (issue 30 item 5): ESLint and node --test for dashboard/assets ----------------------------
# Node and npm from Debian's packages when the machine has no node; devDependencies pinned in package-lock.json.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
npm ci --no-audit --no-fund --loglevel=error
npx --no-install eslint
node --test tests/js/
# ---- end of the browser JavaScript block ---------------------------------------------------------------------------

exec $PY -m pytest -q "$@"
