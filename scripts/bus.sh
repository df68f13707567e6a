#!/usr/bin/env bash
# Broker chores for an SRE, through RabbitMQ's management API (the shovel plugins must be enabled; ./platform run and
# deploy/k8s enable them):
#   scripts/bus.sh parked               the _error queues that hold messages a consumer gave up on, with their counts (a few seconds behind)
#   scripts/bus.sh replay QUEUE         moves every message parked in QUEUE_error back to QUEUE, in order (consumers are
#                                       idempotent, so a message that did get through before is not applied twice)
#   scripts/bus.sh legacy               the queues of releases before queue names carried their service, with counts
#   scripts/bus.sh migrate-legacy       moves what waits in those queues to their new owner's queue, then deletes them
# Where: RABBITMQ_MANAGEMENT_URL (default: the one ./platform run starts, http://platform:platform@127.0.0.1:55673/),
# RABBITMQ_VHOST (default /). On Kubernetes: kubectl -n platform port-forward svc/platform-rabbitmq 15672 and set
# RABBITMQ_MANAGEMENT_URL=http://USER:PASSWORD@127.0.0.1:15672/ (from secret platform-rabbitmq-default-user).
set -euo pipefail
url="${RABBITMQ_MANAGEMENT_URL:-http://platform:platform@127.0.0.1:${RABBITMQ_MANAGEMENT_PORT:-55673}/}"
url="${url%/}"
vhost="$(printf '%s' "${RABBITMQ_VHOST:-/}" | jq -sRr @uri)"

api() { curl -fsS -H 'content-type: application/json' "$@"; }

# Queues of the releases before names carried the service, and the queue that now holds what each was for.
# conversation-event was shared by Media and Notifications (each message reached only one of them): its leftovers are
# not moved but dropped; both services rebuild what they derive from Messaging's log (backfill) instead.
declare -A legacy=(
  [connection]=presence-connection [activity]=presence-activity
  [state]=notifications-state [invite]=notifications-invite
  [user-directory]=messaging-user-directory [link-preview]=messaging-link-preview
  [conversation-event]=""
)

count() { api "$url/api/queues/$vhost/$(printf '%s' "$1" | jq -sRr @uri)?columns=messages" 2>/dev/null | jq -r '.messages // 0'; }

move() { # move SOURCE DESTINATION: a dynamic shovel that takes what SOURCE holds now, then deletes itself
  local source="$1" destination="$2" name="replay-$1-$$"
  local waiting; waiting="$(count "$source")"
  if [ "${waiting:-0}" -eq 0 ]; then echo "$source: nothing to move"; return 0; fi
  # amqp:///VHOST: this node, this virtual host (a bare amqp:// would be the default virtual host).
  api -X PUT "$url/api/parameters/shovel/$vhost/$name" -d "$(jq -n --arg s "$source" --arg d "$destination" --arg u "amqp:///$vhost" \
    '{value: {"src-protocol": "amqp091", "src-uri": $u, "src-queue": $s, "src-delete-after": "queue-length",
              "dest-protocol": "amqp091", "dest-uri": $u, "dest-queue": $d, "ack-mode": "on-confirm"}}')" >/dev/null
  for _ in $(seq 1 600); do
    if ! api "$url/api/parameters/shovel/$vhost/$name" >/dev/null 2>&1; then
      echo "$source -> $destination: moved $waiting"
      return 0
    fi
    sleep 0.5
  done
  echo "$source -> $destination: the shovel $name is still running; see the management UI" >&2; return 1
}

case "${1:-}" in
  parked)
    api "$url/api/queues/$vhost?columns=name,messages" | jq -r '.[] | select((.name | endswith("_error")) and (.messages // 0) > 0) | "\(.messages)\t\(.name)"'
    ;;
  replay)
    queue="${2:?usage: scripts/bus.sh replay QUEUE (the consumer queue, e.g. notifications-conversation-event)}"
    queue="${queue%_error}"
    move "${queue}_error" "$queue"
    ;;
  legacy)
    for queue in "${!legacy[@]}"; do
      api "$url/api/queues/$vhost/$queue?columns=messages" >/dev/null 2>&1 && printf '%s\t%s\n' "$(count "$queue")" "$queue"
    done
    true
    ;;
  migrate-legacy)
    for queue in "${!legacy[@]}"; do
      for suffix in "" "_error"; do
        old="$queue$suffix"
        api "$url/api/queues/$vhost/$old?columns=messages" >/dev/null 2>&1 || continue
        if [ -n "${legacy[$queue]}" ]; then
          new="${legacy[$queue]}$suffix"
          api "$url/api/queues/$vhost/${legacy[$queue]}?columns=messages" >/dev/null 2>&1 \
            || { echo "$new does not exist yet: start the new release of its service first" >&2; exit 1; }
          move "$old" "$new"
        else
          echo "$old: $(count "$old") message(s) dropped; Media and Notifications rebuild from Messaging's log"
        fi
        api -X DELETE "$url/api/queues/$vhost/$old" >/dev/null && echo "$old: deleted"
      done
    done
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
