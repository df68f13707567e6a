#!/usr/bin/env bash
# Runs every test project against private PostgreSQL and RabbitMQ servers on free ports (so a running
# platform is left alone), prints a summary, and stops the servers whatever happens.
# Extra arguments go to `dotnet test` (e.g. --filter FullyQualifiedName~Gateway).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$repo_root"

configuration="${CONFIGURATION:-Release}"
work="$repo_root/.local/test-$$"
started=$(date +%s)

cleanup() {
  local status=$?
  "$repo_root/scripts/infra.sh" stop "$work" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_dotnet
ensure_node
ensure_chromium
ensure_kustomize
ensure_ffmpeg
# The official JavaScript SignalR client, for the tests that drive the hub as a web frontend does.
npm ci --prefix tests/js-client --silent --no-audit --no-fund
# A local S3-compatible server (s3rver), which Media's S3 blob store is tested against.
npm ci --prefix tests/s3-server --silent --no-audit --no-fund
# The TypeScript SDK: exactly the locked packages; its generated types must be what the checked-in OpenAPI documents
# generate (tests/Platform.Tests checks the documents against the running services); unit tests; the build that
# tests/Platform.Tests runs against the platform.
say "test: TypeScript SDK (clients/typescript)"
npm ci --prefix clients/typescript --silent --no-audit --no-fund
npm run --prefix clients/typescript --silent check-generated
npm run --prefix clients/typescript --silent build
mkdir -p "$repo_root/.local"
if ! npm test --prefix clients/typescript --silent > "$repo_root/.local/typescript-sdk-test.log" 2>&1; then
  grep -E '^not ok|error TS|^# (pass|fail)' "$repo_root/.local/typescript-sdk-test.log" || tail -40 "$repo_root/.local/typescript-sdk-test.log"
  say "test: the TypeScript SDK's unit tests failed (full output in .local/typescript-sdk-test.log)"
  exit 1
fi
say "test: TypeScript SDK: $(grep -E '^# pass' "$repo_root/.local/typescript-sdk-test.log" | sed 's/# pass /unit tests passed: /')"
# The web app (clients/web, on the SDK just built): type-checked and built into clients/web/dist, which the Gateways of
# tests/Platform.Tests serve; Playwright (playwright-core, driving the Debian Chromium) runs its browser tests.
say "test: web app (clients/web)"
if ! node_builds_web_app; then
  say "error: the web app (Vite 8) and its browser tests need Node.js 20.19+ or 22.12+; this is $(node --version). Install a newer Node.js (e.g. from NodeSource) and run again." >&2
  exit 1
fi
npm ci --prefix clients/web --silent --no-audit --no-fund
npm run --prefix clients/web --silent build >/dev/null
npm ci --prefix tests/browser --silent --no-audit --no-fund
"$repo_root/scripts/infra.sh" install
# Tests trade durability for speed; the run command and benchmarks keep fsync on.
PG_FAST=1 PG_PORT=0 AMQP_PORT=0 RABBITMQ_MANAGEMENT_PORT=0 "$repo_root/scripts/infra.sh" start "$work" >/dev/null
source "$work/infra.env"
export PLATFORM_TEST_INFRA=local
export PLATFORM_TEST_POSTGRES="$PLATFORM_POSTGRES_CONNECTION"
export PLATFORM_TEST_RABBITMQ="$PLATFORM_RABBITMQ_URI"
export PLATFORM_TEST_RABBITMQ_MANAGEMENT="$PLATFORM_RABBITMQ_MANAGEMENT_URI"
say "test: PostgreSQL on 127.0.0.1:$PLATFORM_POSTGRES_PORT, RabbitMQ on 127.0.0.1:$PLATFORM_RABBITMQ_PORT"

say "test: building ($configuration)"
dotnet build Platform.sln -c "$configuration" -nologo -clp:"ErrorsOnly;NoSummary" -v:quiet

say "test: formatting and analyzers (dotnet format --verify-no-changes)"
# The build above already failed on any analyzer warning (AnalysisMode=Recommended, warnings are errors); this checks
# the layout .editorconfig asks for. `dotnet format Platform.sln` fixes what it reports.
dotnet format Platform.sln --verify-no-changes --no-restore -v:quiet

say "test: running every test project"
results="$repo_root/.local/test-results"
rm -rf "$results"; mkdir -p "$results"
log="$results/dotnet-test.log"
set +e
dotnet test Platform.sln -c "$configuration" --no-build -nologo \
  --blame-hang-timeout 10m --results-directory "$results" "$@" 2>&1 | tee "$log" \
  | grep -E --line-buffered '^\s*(Failed|Skipped) [A-Za-z0-9_.]+ \[|error [A-Z]+[0-9]+|Failed!|Passed!|Test Run Aborted'
test_status=${PIPESTATUS[0]}
set -e

# "Passed!  - Failed:     0, Passed:     7, Skipped:     0, Total:     7, Duration: 3 s - X.dll (net10.0)"
read -r passed failed skipped projects < <(grep -E '^(Passed|Failed)!  - Failed:' "$log" | sed -E \
  's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' \
  | awk '{p+=$1; f+=$2; s+=$3; n++} END {printf "%d %d %d %d\n", p, f, s, n}')
expected=$(find tests -name '*.Tests.csproj' | wc -l)

say ""
say "test: $projects of $expected test projects reported, in $(( $(date +%s) - started )) s"
if [ "$test_status" -ne 0 ] || [ "$failed" -gt 0 ] || [ "$passed" -eq 0 ] || { [ $# -eq 0 ] && [ "$projects" -ne "$expected" ]; }; then
  grep -E '^\s*Failed [A-Za-z0-9_.]+ \[' "$log" | sed 's/^ */  /' || true
  # Why each failed, as CI shows only this script's output: each failure's message (up to its stack trace), cut at 60 lines.
  awk '/^[ \t]*Failed [A-Za-z0-9_.]+ \[/ { on = 1; n = 0; print ""; print; next }
       on && /^[ \t]*(Stack Trace:|Standard Output Messages:|Passed |Failed |Skipped )/ { on = 0 }
       on && ++n <= 60 { print } on && n == 61 { print "  [...]" }' "$log" || true
  say "test: full output in $log"
  say "Tests: $passed passed, $failed failed, $skipped skipped"
  exit 1
fi
say "Tests: $passed passed, $failed failed, $skipped skipped"
