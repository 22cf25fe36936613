#!/usr/bin/env bash
# tests/web/run_dashboard_test.sh - the dashboard page test (test_dashboard.mjs) in headless Chromium.
#
#   run_dashboard_test.sh [--url BASE_URL] [test_dashboard.mjs options...]
#
# Installs chromium and playwright-core when missing (scripts/web-test-deps),
# then runs test_dashboard.mjs against BASE_URL (e.g. a `runnel run --http`
# already running), or, without --url, against the fixture server
# (fixture_server.py), which it starts and stops.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
RUNNEL_WEB_MODULES=$("$root/scripts/web-test-deps")
export RUNNEL_WEB_MODULES
command -v node >/dev/null || { echo "run_dashboard_test: error: node not found" >&2; exit 1; }
if [ "${1:-}" = "--url" ]; then
    url=$2
    shift 2
    exec node "$here/test_dashboard.mjs" "$url" "$@"
fi
exec python3 "$here/fixture_server.py" -- node "$here/test_dashboard.mjs" '{url}' "$@"
