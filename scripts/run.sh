#!/usr/bin/env bash
# Runs the whole platform on this machine: PostgreSQL and RabbitMQ as local processes (data in .local/run),
# the six services under the Aspire AppHost (deploy/local/Platform.AppHost) with its dashboard.
# Ctrl-C or SIGTERM stops everything this script started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$repo_root"

configuration="${CONFIGURATION:-Release}"
work="$repo_root/.local/run"
gateway_url="${PLATFORM_GATEWAY_URL:-http://localhost:5080/}"
dashboard_url="${PLATFORM_DASHBOARD_URL:-http://localhost:18888}"
apphost_pid=""
turn_pid=""
turn_ip="${PLATFORM_TURN_IP:-127.0.0.1}"
turn_port="${TURN_PORT:-3478}"
services=(gateway:5080 identity:5081 messaging:5082 presence:5083 notifications:5084 media:5085)

our_processes() {
  # Services started by the AppHost run from our build folders; DCP (Aspire's orchestrator) from the NuGet cache.
  pgrep -f "$repo_root/(services|deploy)/|aspire.hosting.orchestration.*/dcp" || true
}

stop_everything() {
  trap - INT TERM EXIT
  say ""
  say "platform: stopping"
  if [ -n "$apphost_pid" ] && kill -0 "$apphost_pid" 2>/dev/null; then
    kill -TERM "$apphost_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$apphost_pid" 2>/dev/null || break; sleep 0.5; done
  fi
  # The orchestrator stops the services after the AppHost exits; give it time, then make sure.
  for _ in $(seq 1 40); do [ -z "$(our_processes)" ] && break; sleep 0.5; done
  local left; left="$(our_processes)"
  if [ -n "$left" ]; then kill -TERM $left 2>/dev/null || true; sleep 2; left="$(our_processes)"; [ -z "$left" ] || kill -KILL $left 2>/dev/null || true; fi
  if [ -n "$turn_pid" ] && kill -0 "$turn_pid" 2>/dev/null; then kill -TERM "$turn_pid" 2>/dev/null || true; fi
  "$repo_root/scripts/infra.sh" stop "$work" || true
  say "platform: stopped"
}
trap 'stop_everything; exit 130' INT
trap 'stop_everything; exit 143' TERM
trap 'stop_everything' EXIT

ensure_dotnet
ensure_ffmpeg
"$repo_root/scripts/infra.sh" install
PG_PORT="${PG_PORT:-55432}" AMQP_PORT="${AMQP_PORT:-55672}" RABBITMQ_MANAGEMENT_PORT="${RABBITMQ_MANAGEMENT_PORT:-55673}" \
  "$repo_root/scripts/infra.sh" start "$work" >/dev/null
source "$work/infra.env"
postgres="Host=127.0.0.1;Port=$PLATFORM_POSTGRES_PORT;Username=platform;Password=platform;Database=platform"
PGPASSWORD=platform psql -h 127.0.0.1 -p "$PLATFORM_POSTGRES_PORT" -U platform -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = 'platform'" | grep -q 1 \
  || PGPASSWORD=platform psql -h 127.0.0.1 -p "$PLATFORM_POSTGRES_PORT" -U platform -d postgres -qc "CREATE DATABASE platform"
say "platform: PostgreSQL on 127.0.0.1:$PLATFORM_POSTGRES_PORT, RabbitMQ on 127.0.0.1:$PLATFORM_RABBITMQ_PORT (management :$PLATFORM_RABBITMQ_MANAGEMENT_PORT)"

# coturn, the TURN server for calls, with the TURN REST API secret Messaging signs its credentials with. The secret
# is made once per machine and kept (git-ignored) with the other local data.
[ -s "$work/turn-secret" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$work/turn-secret")
turn_secret="$(cat "$work/turn-secret")"
# The client secrets of the services that read Messaging's conversation log (client credentials at Identity), one per
# service, made once per machine the same way: Identity registers each client with it, the service signs in with it.
for client in media notifications presence; do
  [ -s "$work/client-secret-$client" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$work/client-secret-$client")
done
# Media's key for signing download URLs (HMAC-SHA256, base64 of 32 random bytes), made once per machine the same way.
[ -s "$work/media-signing-key" ] || (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n' >"$work/media-signing-key")
# A coturn of an earlier run that was not stopped (kill -9 of this script) holds the port: stop that one.
if [ -s "$work/turn.pid" ] && [ "$(ps -p "$(cat "$work/turn.pid")" -o comm= 2>/dev/null)" = turnserver ]; then
  kill -TERM "$(cat "$work/turn.pid")" 2>/dev/null || true; sleep 0.5
fi
# The peers it may relay to: never private networks, CGNAT, link-local or "this network"; loopback only while it relays
# on loopback (scripts/turn-peer-policy.sh, which the tests check against a running coturn).
mapfile -t peer_policy < <(scripts/turn-peer-policy.sh "$turn_ip")
turnserver -n --listening-ip="$turn_ip" --relay-ip="$turn_ip" --listening-port="$turn_port" \
  --min-port="${TURN_MIN_PORT:-49160}" --max-port="${TURN_MAX_PORT:-49260}" \
  --use-auth-secret --static-auth-secret="$turn_secret" --realm=platform.local --fingerprint \
  --no-tls --no-dtls --no-cli --no-tcp-relay "${peer_policy[@]}" \
  --pidfile="$work/turn.pid" --log-file="$work/turn.log" --simple-log --no-stdout-log >/dev/null 2>&1 &
turn_pid=$!
sleep 0.5
if kill -0 "$turn_pid" 2>/dev/null; then
  say "platform: TURN (coturn) on $turn_ip:$turn_port (udp, tcp), relay ports ${TURN_MIN_PORT:-49160}-${TURN_MAX_PORT:-49260}"
else
  say "warning: coturn did not start (port $turn_port taken? see $work/turn.log); calls work without TURN on this machine only" >&2
fi

# The web app the Gateway serves at its URL (clients/web/dist): built on the TypeScript SDK, from the locked packages.
ensure_node
if node_builds_web_app; then
  say "platform: building the web app (clients/web)"
  npm ci --prefix clients/typescript --silent --no-audit --no-fund
  npm run --prefix clients/typescript --silent build
  npm ci --prefix clients/web --silent --no-audit --no-fund
  npm run --prefix clients/web --silent build >/dev/null
else
  say "warning: the web app needs Node.js 20.19+ to build (this is $(node --version)); the Gateway serves the last build in clients/web/dist, if any" >&2
fi

say "platform: building ($configuration)"
dotnet build deploy/local/Platform.AppHost -c "$configuration" -nologo -clp:"ErrorsOnly;NoSummary" -v:quiet

say "platform: starting the services (log: $work/apphost.log)"
ASPNETCORE_ENVIRONMENT=Development DOTNET_ENVIRONMENT=Development \
ASPIRE_ALLOW_UNSECURED_TRANSPORT=true \
ASPNETCORE_URLS="$dashboard_url" \
ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL="${PLATFORM_OTLP_URL:-http://localhost:18890}" \
ConnectionStrings__Postgres="$postgres" \
ConnectionStrings__RabbitMq="$PLATFORM_RABBITMQ_URI" \
Platform__GatewayUrl="$gateway_url" \
Platform__TraceSampleRatio="${PLATFORM_TRACE_SAMPLE_RATIO:-1}" \
Platform__TracesPerSecond="${PLATFORM_TRACES_PER_SECOND:-5}" \
Platform__MetricExportIntervalMs="${PLATFORM_METRIC_EXPORT_INTERVAL_MS:-5000}" \
Platform__TurnAddress="$turn_ip:$turn_port" \
Parameters__turnsecret="$turn_secret" \
Parameters__mediaclientsecret="$(cat "$work/client-secret-media")" \
Parameters__notificationsclientsecret="$(cat "$work/client-secret-notifications")" \
Parameters__presenceclientsecret="$(cat "$work/client-secret-presence")" \
Parameters__mediasigningkey="$(cat "$work/media-signing-key")" \
  "deploy/local/Platform.AppHost/bin/$configuration/net10.0/Platform.AppHost" >"$work/apphost.log" 2>&1 &
apphost_pid=$!

deadline=$(( $(date +%s) + 180 ))
for entry in "${services[@]}"; do
  name="${entry%%:*}"; port="${entry##*:}"
  until curl -fsS -m 2 "http://localhost:$port/health/ready" >/dev/null 2>&1; do
    if ! kill -0 "$apphost_pid" 2>/dev/null; then say "error: the AppHost exited; see $work/apphost.log" >&2; tail -20 "$work/apphost.log" >&2; exit 1; fi
    if [ "$(date +%s)" -gt "$deadline" ]; then say "error: $name did not become ready on :$port within 180 s; see $work/apphost.log" >&2; exit 1; fi
    sleep 0.5
  done
done

say ""
for entry in "${services[@]}"; do
  name="${entry%%:*}"; port="${entry##*:}"
  printf '  %-14s http://localhost:%-6s %s\n' "$name" "$port" \
    "$(curl -fsS -m 2 "http://localhost:$port/health/ready" | sed -E 's/^\{"status":"([A-Za-z]+)".*/\1/' | head -c 20)"
done
login="$(grep -Eo 'http://[^ ]+/login\?t=[0-9a-f]+' "$work/apphost.log" | tail -1 || true)"
say ""
say "Web app:   $gateway_url (sign in, or create an account there)"
say "Gateway:   $gateway_url"
say "Dashboard: ${login:-$dashboard_url} (traces, metrics, logs)"
say "Press Ctrl-C to stop."
wait "$apphost_pid" || true
