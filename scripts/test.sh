#!/usr/bin/env bash
# Install what the tests need, then run the whole suite.
#   Debian packages: chromium (+ driver) for browser tests, fonts-noto-cjk so Chinese renders.
#   Python packages: requirements-dev.txt.
#   PostgreSQL / Redis: used when reachable (GC_TEST_PG_URL, GC_TEST_REDIS_URL); those tests skip, saying why, if not —
#   except under CI=true, where an unreachable service fails the run (here, and each such test in tests/conftest.py).
#   Then ruff and mypy (configured in pyproject.toml), then pytest.
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
# Under CI (CI set, not 0/false) a server that cannot be started or reached stops the run here, loudly;
# on a developer's box it is a warning and those tests skip, saying why (tests/conftest.py fails them under CI).
case "${CI:-}" in ""|0|false|no) IN_CI="" ;; *) IN_CI=1 ;; esac
service_problem() {
  if [ -n "$IN_CI" ]; then
    echo "scripts/test.sh: CI=${CI}: $*" >&2
    exit 1
  fi
  echo "scripts/test.sh: warning: $* (its tests will skip)" >&2
}
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432 && command -v pg_ctlcluster >/dev/null 2>&1; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start \
    || service_problem "could not start the machine's PostgreSQL (pg_ctlcluster failed)"
fi
if command -v redis-server >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log \
    || service_problem "could not start the machine's Redis (redis-server failed)"
fi

PY=${PYTHON:-python3}
$PY -m pip install -q --disable-pip-version-check -r requirements-dev.txt

# Reach the very URLs the tests use (GC_TEST_PG_URL, GC_TEST_REDIS_URL); a server may take a moment to accept.
for _ in $(seq 1 20); do
  problems=$($PY -c "from tests.conftest import pg_available, redis_available
print('; '.join(w for w in (pg_available(), redis_available()) if w))")
  [ -z "$problems" ] && break
  sleep 0.5
done
[ -z "$problems" ] || service_problem "$problems"

# Lint and type checks first: a syntax slip or an unused import fails in seconds, not after the suite.
$PY -m ruff check .
$PY -m mypy

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

# pytest in two parts; the suite is kept under 20 minutes (the README, under its first commands, says how long it takes):
#   1. every test not marked serial on GC_TEST_WORKERS processes (pytest-xdist), a test file whole on one worker
#      (module fixtures such as a live street or a security world are built once); browser and live-server
#      tests mostly wait on a server, a page or a clock, so workers overlap the waits;
#   2. then the serial ones alone: they restart PostgreSQL/Redis (destructive) or bound a latency that the
#      parallel part's load would skew.
# Both parts always run; the script fails if either fails (a part that selects nothing, exit 5, is not a failure
# unless neither ran a test). Each prints its slowest tests.
WORKERS=${GC_TEST_WORKERS:-3}
rc_parallel=0
$PY -m pytest -q --durations=25 -n "$WORKERS" --dist loadfile -m "not serial" "$@" || rc_parallel=$?
rc_serial=0
$PY -m pytest -q --durations=10 -m serial "$@" || rc_serial=$?
if [ "$rc_parallel" -eq 5 ] && [ "$rc_serial" -eq 5 ]; then exit 5; fi
for rc in "$rc_parallel" "$rc_serial"; do
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
done
exit 0
