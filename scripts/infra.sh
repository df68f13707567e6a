#!/usr/bin/env bash
# Private PostgreSQL and RabbitMQ servers as plain local processes, with all their data inside
# one folder, so that several copies (a running platform, a test run) can coexist on different
# ports without Docker, systemd or the distribution's own service configuration.
#
#   scripts/infra.sh install                 install missing packages (idempotent, quiet; also coturn, the TURN server)
#   scripts/infra.sh start DIR               start both (or reuse running ones), write DIR/infra.env
#   scripts/infra.sh stop DIR                stop both; succeeds quietly if nothing runs
#   scripts/infra.sh restart-rabbitmq DIR    stop and start only RabbitMQ, same ports and data
#   scripts/infra.sh stop-postgres DIR       stop only PostgreSQL (pg_ctl -m fast); `start DIR` starts it again on its port
#   scripts/infra.sh status DIR              one line per server; exit 0 only if both run
#
# Environment for start:
#   PG_PORT, AMQP_PORT, RABBITMQ_MANAGEMENT_PORT   unset or 0: a free port on 127.0.0.1
#   PG_FAST=1   fsync, synchronous_commit and full_page_writes off (test clusters only;
#               the platform and benchmarks keep durability)
#
# DIR/infra.env (sourceable) exports PLATFORM_POSTGRES_PORT, PLATFORM_POSTGRES_CONNECTION,
# PLATFORM_RABBITMQ_PORT, PLATFORM_RABBITMQ_MANAGEMENT_PORT, PLATFORM_RABBITMQ_URI and
# PLATFORM_RABBITMQ_MANAGEMENT_URI. User and password are platform/platform for both servers.
set -euo pipefail
umask 022

readonly PG_OS_USER=platformpg
readonly RMQ_BIN=/usr/lib/rabbitmq/bin
readonly READY_TIMEOUT=60
# Random ports stay below the kernel's default ephemeral range (32768+), so an outgoing
# connection cannot grab a port between our check and the server's bind.
readonly PORT_MIN=20000 PORT_SPAN=12000

log() { printf 'infra: %s\n' "$*"; }
warn() { printf 'infra: warning: %s\n' "$*" >&2; }
die() { printf 'infra: error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
elapsed() { local ms=$(($(now_ms) - $1)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }

as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "not root and sudo is missing: cannot run '$*'"
    fi
}

pg_newest_bindir() {
    local d found=()
    for d in /usr/lib/postgresql/*/bin; do [[ -x $d/initdb ]] && found+=("$d"); done
    ((${#found[@]})) || return 1
    printf '%s\n' "${found[@]}" | sort -V | tail -n 1
}

missing_packages() {
    [[ -x $RMQ_BIN/rabbitmq-server ]] || echo rabbitmq-server
    pg_newest_bindir >/dev/null || echo postgresql
    command -v curl >/dev/null 2>&1 || echo curl
    command -v ss >/dev/null 2>&1 || echo iproute2
    command -v ps >/dev/null 2>&1 || echo procps
    command -v turnserver >/dev/null 2>&1 || echo coturn
    command -v jq >/dev/null 2>&1 || echo jq
    return 0
}

cmd_install() {
    local pkgs out
    pkgs=$(missing_packages)
    [[ -n $pkgs ]] || return 0
    # Parallel starts (platform and tests) on a fresh machine would otherwise race for the dpkg lock.
    local lock=${TMPDIR:-/tmp}/platform-infra-install.lock
    [[ -e $lock ]] || (umask 000 && : >"$lock") 2>/dev/null || true
    [[ -r $lock ]] && exec 9<"$lock" && flock 9
    pkgs=$(missing_packages)
    if [[ -n $pkgs ]]; then
        log "installing $(echo $pkgs) ..."
        out=$(mktemp)
        # A distribution may start a system rabbitmq/epmd/postgres on install; harmless, because
        # our servers use their own ports, their own epmd port and their own cookie.
        if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get -q update &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=120 \
                install --no-install-recommends $pkgs; } >"$out" 2>&1; then
            tail -n 20 "$out" >&2
            rm -f "$out"
            die "package installation failed"
        fi
        rm -f "$out"
        pkgs=$(missing_packages)
        [[ -z $pkgs ]] || die "still missing after install: $(echo $pkgs)"
    fi
    exec 9<&-
}

# ---------------------------------------------------------------- folder layout and state

set_dir() { # DIR [create]
    [[ -n ${1:-} ]] || die "usage: $0 $CMD DIR"
    [[ ${2:-} == create ]] && mkdir -p "$1"
    [[ -d $1 ]] || return 1
    DIR=$(cd "$1" && pwd -P)
    # The paths end up in server configuration and command lines; keep them unambiguous.
    [[ $DIR =~ [[:space:]\'\"\\] ]] && die "DIR must not contain spaces, quotes or backslashes: $DIR"
    STATE=$DIR/infra.state
    ENV_FILE=$DIR/infra.env
    PGROOT=$DIR/postgres
    PGDATA=$PGROOT/data
    PGLOG=$PGROOT/postgres.log
    RMQ=$DIR/rabbitmq
    RMQ_HOME=$RMQ/home
    RMQ_PIDFILE=$RMQ/rabbitmq.pid
    RMQ_OUT=$RMQ/server.log
    # One node name per folder, independent of ports: the Mnesia data lives under the node
    # name, so a later start on other ports keeps users, vhosts and durable queues.
    RMQ_NODE="platform-$(printf '%s' "$DIR" | cksum | cut -d ' ' -f 1)@localhost"
    pg_port='' amqp_port='' mgmt_port='' dist_port='' epmd_port=''
    return 0
}

load_state() {
    [[ -f $STATE ]] || return 1
    # shellcheck disable=SC1090
    source "$STATE"
}

write_state() {
    {
        echo "# written by infra.sh: ports of the servers in this folder"
        printf 'pg_port=%s\namqp_port=%s\nmgmt_port=%s\ndist_port=%s\nepmd_port=%s\n' \
            "$pg_port" "$amqp_port" "$mgmt_port" "$dist_port" "$epmd_port"
    } >"$STATE.tmp"
    mv "$STATE.tmp" "$STATE"
}

write_env() {
    {
        echo "export PLATFORM_POSTGRES_PORT=$pg_port"
        echo "export PLATFORM_POSTGRES_CONNECTION=\"Host=127.0.0.1;Port=$pg_port;Username=platform;Password=platform;Database=postgres\""
        echo "export PLATFORM_RABBITMQ_PORT=$amqp_port"
        echo "export PLATFORM_RABBITMQ_MANAGEMENT_PORT=$mgmt_port"
        echo "export PLATFORM_RABBITMQ_URI=\"amqp://platform:platform@127.0.0.1:$amqp_port/\""
        echo "export PLATFORM_RABBITMQ_MANAGEMENT_URI=\"http://platform:platform@127.0.0.1:$mgmt_port/\""
    } >"$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# grep -q could leave locale -a with SIGPIPE, which pipefail turns into a false "no".
has_c_utf8() { locale -a 2>/dev/null | grep -iE '^c\.utf-?8$' >/dev/null; }

# ---------------------------------------------------------------- ports

TAKEN=' '
port_in_use() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

valid_port() { [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0 && $1 < 65536)); }

reserve_port() { # NAME PORT: a port the caller asked for explicitly
    valid_port "$2" || die "$1=$2 is not a valid port"
    [[ $TAKEN == *" $2 "* ]] && die "$1=$2 is requested twice"
    port_in_use "$2" && die "$1=$2: port already in use on this machine"
    TAKEN+="$2 "
}

pick_port() { # VAR REQUESTED PREVIOUS
    local var=$1 want=${2:-0} prev=${3:-} p i
    if [[ $want != 0 ]]; then
        printf -v "$var" '%s' "$want" # checked by reserve_port
        return
    fi
    # Keeping the previous port of this folder keeps URLs stable across stop/start.
    if [[ -n $prev ]] && valid_port "$prev" && [[ $TAKEN != *" $prev "* ]] && ! port_in_use "$prev"; then
        TAKEN+="$prev "
        printf -v "$var" '%s' "$prev"
        return
    fi
    for ((i = 0; i < 200; i++)); do
        p=$((PORT_MIN + RANDOM % PORT_SPAN))
        [[ $TAKEN == *" $p "* ]] && continue
        port_in_use "$p" && continue
        TAKEN+="$p "
        printf -v "$var" '%s' "$p"
        return
    done
    die "no free TCP port found in $PORT_MIN-$((PORT_MIN + PORT_SPAN))"
}

# ---------------------------------------------------------------- processes

cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null; }

# Pid files, process groups and ports outlive processes and get reused, possibly by the servers
# of another folder. Every process we start carries PLATFORM_INFRA_DIR=DIR in its environment
# (inherited by postgres backends, beam helpers and any epmd the RabbitMQ CLI spawns), so only
# a live process with that marker, or with DIR in its command line, is treated as ours.
pid_is_ours() {
    [[ ${1:-} =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
    [[ $(cmdline "$1") == *"$DIR/"* ]] && return 0
    local environ
    environ=$({ tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null) || return 1
    [[ $'\n'$environ$'\n' == *$'\n'"PLATFORM_INFRA_DIR=$DIR"$'\n'* ]]
}

# Zombies count as gone: orphans are reaped by PID 1, which may take its time.
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }

wait_gone() { # SECONDS PID...
    local deadline=$((SECONDS + $1)) p alive
    shift
    while :; do
        alive=0
        for p; do alive "$p" && alive=1; done
        ((alive)) || return 0
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

our_processes() { # [COMM...]: servers and helpers of this folder still alive
    local pid comm names=" ${*:-beam.smp epmd postgres erl_child_setup inet_gethost rabbitmq-server erl} "
    ps -eo pid=,comm= | while read -r pid comm; do
        [[ $names == *" $comm "* ]] && pid_is_ours "$pid" && echo "$pid"
    done
    return 0
}

# ---------------------------------------------------------------- PostgreSQL

pg_bin_for_data() {
    local ver
    if [[ -f $PGDATA/PG_VERSION ]]; then
        ver=$(<"$PGDATA/PG_VERSION")
        [[ -x /usr/lib/postgresql/$ver/bin/postgres ]] ||
            die "$PGDATA was created by PostgreSQL $ver, whose binaries are not installed; remove $PGROOT"
        PG_BIN=/usr/lib/postgresql/$ver/bin
    else
        PG_BIN=$(pg_newest_bindir) || die "no PostgreSQL server binaries; run: $0 install"
    fi
}

# The PostgreSQL binaries refuse to run as root, so root runs them as a dedicated unprivileged
# user; anyone else runs them as themselves.
as_pg() {
    if ((EUID == 0)); then
        (cd "$PGROOT" && runuser -u "$PG_OS_USER" -- env PLATFORM_INFRA_DIR="$DIR" "$@")
    else
        (cd "$PGROOT" && env PLATFORM_INFRA_DIR="$DIR" "$@")
    fi
}

pg_running() {
    [[ -f $PGDATA/postmaster.pid ]] || return 1
    pid_is_ours "$(head -n 1 "$PGDATA/postmaster.pid")"
}

pg_sockdir() {
    # Unix socket paths are limited to 107 bytes; a deep DIR falls back to a per-folder dir in /tmp.
    if ((${#PGROOT} + 24 <= 107)); then
        echo "$PGROOT"
    else
        echo "/tmp/platformpg-$(printf '%s' "$DIR" | cksum | cut -d ' ' -f 1)"
    fi
}

ensure_pg_user() {
    id -u "$PG_OS_USER" >/dev/null 2>&1 && return
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_OS_USER" 2>/dev/null ||
        id -u "$PG_OS_USER" >/dev/null 2>&1 || die "could not create OS user $PG_OS_USER"
}

# The postgres processes run as $PG_OS_USER and must reach DIR/postgres. A repository under
# /root or under a 0700 home directory is not traversable by other users. Rather than keeping
# the data outside DIR, grant that user search (x, not read) permission on each blocking
# directory of DIR's path: an ACL entry when setfacl works (affects nobody else), else o+x
# (others may traverse but still not list). Nothing is made readable or writable.
ensure_pg_can_reach_dir() {
    ((EUID == 0)) || return 0
    runuser -u "$PG_OS_USER" -- test -x "$DIR" && return 0
    local p='' part parts
    IFS=/ read -ra parts <<<"${DIR#/}"
    for part in "${parts[@]}"; do
        p+="/$part"
        runuser -u "$PG_OS_USER" -- test -x "$p" && continue
        if command -v setfacl >/dev/null 2>&1 && setfacl -m "u:$PG_OS_USER:x" "$p" 2>/dev/null; then
            log "granted $PG_OS_USER search permission on $p (ACL) so postgres can reach its data"
        else
            chmod o+x "$p"
            log "made $p traversable (o+x) so postgres, running as $PG_OS_USER, can reach its data"
        fi
    done
    runuser -u "$PG_OS_USER" -- test -x "$DIR" || die "$PG_OS_USER still cannot reach $DIR"
}

pg_prepare_dirs() {
    local sockdir
    sockdir=$(pg_sockdir)
    mkdir -p "$PGROOT" "$sockdir"
    if ((EUID == 0)); then
        ensure_pg_user
        ensure_pg_can_reach_dir
        [[ $(stat -c %U "$PGROOT") == "$PG_OS_USER" ]] || chown -R "$PG_OS_USER:" "$PGROOT"
        [[ $(stat -c %U "$sockdir") == "$PG_OS_USER" ]] || chown "$PG_OS_USER:" "$sockdir"
    fi
    chmod 700 "$PGROOT" "$sockdir"
}

pg_initdb() {
    local locale=C
    has_c_utf8 && locale=C.UTF-8
    # A data folder without our marker is the remains of an interrupted initdb.
    [[ -f $PGROOT/initialized ]] || rm -rf "$PGDATA"
    [[ -d $PGDATA ]] && return 0
    printf 'platform\n' >"$PGROOT/pwfile"
    ((EUID == 0)) && chown "$PG_OS_USER:" "$PGROOT/pwfile"
    chmod 600 "$PGROOT/pwfile"
    if ! as_pg "$PG_BIN/initdb" -D "$PGDATA" -U platform --pwfile="$PGROOT/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale="$locale" \
        $( ((PG_FAST_ON)) && echo --no-sync) >"$PGROOT/initdb.log" 2>&1; then
        rm -f "$PGROOT/pwfile"
        tail -n 20 "$PGROOT/initdb.log" >&2
        return 1
    fi
    rm -f "$PGROOT/pwfile"
    # Settings that change per start (port, durability) go to an included file rewritten on each start.
    echo "include 'platform-infra.conf'" >>"$PGDATA/postgresql.conf"
    touch "$PGROOT/initialized"
}

pg_write_conf() {
    local durable=on
    ((PG_FAST_ON)) && durable=off
    cat >"$PGDATA/platform-infra.conf" <<EOF
# written by infra.sh on every start
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$(pg_sockdir)'
max_connections = 300
fsync = $durable
synchronous_commit = $durable
full_page_writes = $durable
EOF
    ((EUID == 0)) && chown "$PG_OS_USER:" "$PGDATA/platform-infra.conf"
    return 0
}

pg_start() {
    local t0
    t0=$(now_ms)
    pg_bin_for_data
    pg_prepare_dirs
    pg_initdb || { warn "initdb failed (log: $PGROOT/initdb.log)"; return 1; }
    pg_write_conf
    # Stop then start, never pg_ctl restart: restart would reuse the previous start's options.
    if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t "$READY_TIMEOUT" -s start >/dev/null 2>&1; then
        warn "postgres did not become ready within ${READY_TIMEOUT} s; end of $PGLOG:"
        tail -n 20 "$PGLOG" >&2 || true
        return 1
    fi
    log "postgres ready on 127.0.0.1:$pg_port ($(elapsed "$t0"))"
}

pg_stop() {
    local pid
    [[ -f $PGDATA/postmaster.pid ]] || return 0
    pid=$(head -n 1 "$PGDATA/postmaster.pid")
    pid_is_ours "$pid" || return 0
    pg_bin_for_data
    if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 20 -s stop >/dev/null 2>&1; then
        warn "postgres did not stop within 20 s; killing it"
        as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 10 -s stop >/dev/null 2>&1 ||
            kill -KILL "$pid" 2>/dev/null || true
        wait_gone 10 "$pid" || true
    fi
    [[ $(pg_sockdir) == "$PGROOT" ]] || rmdir "$(pg_sockdir)" 2>/dev/null || true
    log "postgres stopped"
}

# ---------------------------------------------------------------- RabbitMQ

epmd_bin() {
    local e
    command -v epmd 2>/dev/null && return
    for e in /usr/lib/erlang/erts-*/bin/epmd; do [[ -x $e ]] && { echo "$e"; return; }; done
    die "epmd not found (is erlang installed?)"
}

# Server and CLI need the same environment: HOME for the cookie, the private epmd port, and
# our own files in place of everything under /etc/rabbitmq.
rmq_env_vars() {
    local lc=C
    has_c_utf8 && lc=C.UTF-8
    RMQ_ENV=(PLATFORM_INFRA_DIR="$DIR" HOME="$RMQ_HOME" LANG="$lc" LC_ALL="$lc"
        ERL_EPMD_PORT="$epmd_port" ERL_EPMD_ADDRESS=127.0.0.1 ERL_CRASH_DUMP="$RMQ/erl_crash.dump"
        RABBITMQ_NODENAME="$RMQ_NODE" RABBITMQ_USE_LONGNAME=false
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$amqp_port" RABBITMQ_DIST_PORT="$dist_port"
        RABBITMQ_CONF_ENV_FILE="$RMQ/rabbitmq-env.conf" RABBITMQ_CONFIG_FILE="$RMQ/rabbitmq.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ/advanced.config"
        RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ/enabled_plugins"
        RABBITMQ_MNESIA_BASE="$RMQ/mnesia" RABBITMQ_LOG_BASE="$RMQ/log" RABBITMQ_PID_FILE="$RMQ_PIDFILE"
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
}

rmq_env() {
    rmq_env_vars
    env "${RMQ_ENV[@]}" "$@"
}

rmq_ctl() { rmq_env "$RMQ_BIN/rabbitmqctl" -q -n "$RMQ_NODE" "$@"; }

rmq_running() { [[ -f $RMQ_PIDFILE ]] && pid_is_ours "$(<"$RMQ_PIDFILE")"; }

rmq_write_config() {
    mkdir -p "$RMQ_HOME" "$RMQ/mnesia" "$RMQ/log"
    if [[ ! -s $RMQ_HOME/.erlang.cookie ]]; then
        (umask 077 && od -An -N 20 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F >"$RMQ_HOME/.erlang.cookie")
    fi
    # Erlang rejects a cookie readable by others; the node then exits after a few seconds with status 0.
    chmod 400 "$RMQ_HOME/.erlang.cookie"
    : >"$RMQ/rabbitmq-env.conf"
    # The shovel moves parked messages back to their queue (scripts/bus.sh replay).
    echo '[rabbitmq_management,rabbitmq_shovel,rabbitmq_shovel_management].' >"$RMQ/enabled_plugins"
    cat >"$RMQ/rabbitmq.conf" <<EOF
# written by infra.sh on every start
loopback_users = none
default_user = platform
default_pass = platform
default_vhost = /
listeners.tcp.default = 127.0.0.1:$amqp_port
management.tcp.ip = 127.0.0.1
management.tcp.port = $mgmt_port
disk_free_limit.absolute = 50MB
# the file log is enough; stdout (server.log) keeps only early boot output and crashes
log.console = false
EOF
}

rmq_launch() {
    local epmd epmd_pid i
    rmq_write_config
    rm -f "$RMQ_PIDFILE"
    # A private epmd on its own port, started by us (not by the node) so that its pid is known,
    # it listens on 127.0.0.1 only, and nodes of other folders or a system RabbitMQ never meet it.
    epmd=$(epmd_bin)
    PLATFORM_INFRA_DIR=$DIR ERL_EPMD_PORT=$epmd_port setsid "$epmd" -port "$epmd_port" -address 127.0.0.1 \
        >>"$RMQ/epmd.log" 2>&1 </dev/null &
    epmd_pid=$!
    # If the node came first it would spawn its own epmd, which ours could not replace.
    for ((i = 0; i < 50; i++)); do
        port_in_use "$epmd_port" && break
        kill -0 "$epmd_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$epmd_pid" 2>/dev/null || ! port_in_use "$epmd_port"; then
        warn "epmd did not start on port $epmd_port"
        tail -n 5 "$RMQ/epmd.log" >&2
        return 1
    fi
    # Detached in its own session and process group, so it survives this script and the
    # group can be killed as a whole if a clean stop fails.
    # A simple command (no function, no subshell): env and setsid exec in place, and setsid
    # needs no fork as a background job is no group leader, so $! becomes the new group's id.
    rmq_env_vars
    cd "$RMQ"
    env "${RMQ_ENV[@]}" setsid "$RMQ_BIN/rabbitmq-server" >>"$RMQ_OUT" 2>&1 </dev/null &
    echo $! >"$RMQ/server.pgid"
    cd - >/dev/null
    RMQ_T0=$(now_ms)
}

rmq_fail_logs() {
    local f
    for f in "$RMQ_OUT" "$RMQ/log/$RMQ_NODE.log"; do
        [[ -s $f ]] || continue
        printf 'infra: --- end of %s\n' "$f" >&2
        tail -n 20 "$f" >&2
    done
}

rmq_group_alive() {
    local pgid pid pg
    [[ -s $RMQ/server.pgid ]] || return 1
    pgid=$(<"$RMQ/server.pgid")
    while read -r pid pg; do
        [[ $pg == "$pgid" ]] && pid_is_ours "$pid" && return 0
    done < <(ps -eo pid=,pgid=)
    return 1
}

rmq_wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT))
    # rabbitmqctl wait would sit out its whole timeout if the node dies before writing its pid file.
    until [[ -s $RMQ_PIDFILE ]]; do
        if ! rmq_group_alive || ((SECONDS >= deadline)); then
            warn "rabbitmq exited during startup or did not write its pid file within ${READY_TIMEOUT} s"
            rmq_fail_logs
            return 1
        fi
        sleep 0.1
    done
    if ! rmq_ctl wait --timeout $((deadline - SECONDS > 1 ? deadline - SECONDS : 1)) "$RMQ_PIDFILE" >>"$RMQ/ctl.log" 2>&1; then
        if rmq_group_alive; then
            warn "rabbitmq did not become ready within ${READY_TIMEOUT} s"
        else
            warn "rabbitmq exited during startup"
        fi
        rmq_fail_logs
        return 1
    fi
    until curl -fsS -o /dev/null -u platform:platform "http://127.0.0.1:$mgmt_port/api/overview" 2>/dev/null; do
        if ! rmq_running || ((SECONDS >= deadline)); then
            warn "rabbitmq management API did not answer on 127.0.0.1:$mgmt_port within ${READY_TIMEOUT} s"
            rmq_fail_logs
            return 1
        fi
        sleep 0.2
    done
    log "rabbitmq ready on 127.0.0.1:$amqp_port, management on 127.0.0.1:$mgmt_port ($(elapsed "$RMQ_T0"))"
}

rmq_stop() {
    local did=0 pgid pid pids i
    if rmq_running; then
        did=1
        pid=$(<"$RMQ_PIDFILE")
        rmq_env timeout 20 "$RMQ_BIN/rabbitmqctl" -q -n "$RMQ_NODE" stop "$RMQ_PIDFILE" >>"$RMQ/ctl.log" 2>&1 || true
        pid_is_ours "$pid" && warn "rabbitmq did not stop within 20 s; killing its process group"
    fi
    if rmq_group_alive; then
        did=1
        pgid=$(<"$RMQ/server.pgid")
        [[ $pgid != "$(ps -o pgid= -p $$ | tr -d ' ')" ]] || die "refusing to kill our own process group"
        kill -TERM -- "-$pgid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do rmq_group_alive || break; sleep 0.2; done
        rmq_group_alive && kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
    # epmd outlives the node, and the CLI above may even have spawned a fresh one on our port.
    # Its port alone proves nothing (another folder may use it by now): only ask if it is ours.
    pids=$(our_processes epmd)
    if [[ -n $pids ]]; then
        did=1
        [[ -n $epmd_port ]] && ERL_EPMD_PORT=$epmd_port "$(epmd_bin)" -port "$epmd_port" -kill >/dev/null 2>&1 || true
        pids=$(our_processes epmd)
        if [[ -n $pids ]]; then
            # shellcheck disable=SC2086
            kill -TERM $pids 2>/dev/null || true
            # shellcheck disable=SC2086
            wait_gone 5 $pids || kill -KILL $pids 2>/dev/null || true
        fi
    fi
    rm -f "$RMQ_PIDFILE" "$RMQ/server.pgid"
    ((did)) && log "rabbitmq stopped"
    return 0
}

# ---------------------------------------------------------------- commands

STARTED_PG=0 STARTED_RMQ=0
on_start_exit() {
    local rc=$?
    ((rc == 0)) && return
    ((STARTED_RMQ || STARTED_PG)) && warn "stopping what this start launched"
    ((STARTED_RMQ)) && rmq_stop >/dev/null 2>&1
    ((STARTED_PG)) && pg_stop >/dev/null 2>&1
    exit "$rc"
}

cmd_start() {
    local t0 pg_up=0 rmq_up=0 prev_pg='' prev_amqp='' prev_mgmt='' prev_dist='' prev_epmd=''
    t0=$(now_ms)
    set_dir "${1:-}" create
    cmd_install
    if load_state; then
        prev_pg=$pg_port prev_amqp=$amqp_port prev_mgmt=$mgmt_port prev_dist=$dist_port prev_epmd=$epmd_port
    fi
    pg_running && pg_up=1
    rmq_running && rmq_up=1

    TAKEN=' '
    if ((pg_up)); then
        [[ -n $pg_port ]] || pg_port=$(sed -n 4p "$PGDATA/postmaster.pid")
        log "postgres already running on 127.0.0.1:$pg_port; reusing it"
        [[ ${PG_PORT:-0} == 0 || ${PG_PORT} == "$pg_port" ]] ||
            warn "PG_PORT=$PG_PORT ignored: stop $DIR first to change the port"
        TAKEN+="$pg_port "
    else
        pg_port=''
        [[ ${PG_PORT:-0} == 0 ]] || reserve_port PG_PORT "$PG_PORT"
    fi
    if ((rmq_up)); then
        log "rabbitmq already running on 127.0.0.1:$amqp_port; reusing it"
        [[ ${AMQP_PORT:-0} == 0 || ${AMQP_PORT} == "$amqp_port" ]] ||
            warn "AMQP_PORT=$AMQP_PORT ignored: stop $DIR first to change the port"
        [[ ${RABBITMQ_MANAGEMENT_PORT:-0} == 0 || ${RABBITMQ_MANAGEMENT_PORT} == "$mgmt_port" ]] ||
            warn "RABBITMQ_MANAGEMENT_PORT=$RABBITMQ_MANAGEMENT_PORT ignored: stop $DIR first to change the port"
        TAKEN+="$amqp_port $mgmt_port $dist_port $epmd_port "
    else
        rmq_stop >/dev/null # leftovers of a crashed node (its epmd, helpers) would hold our ports
        amqp_port='' mgmt_port='' dist_port='' epmd_port=''
        [[ ${AMQP_PORT:-0} == 0 ]] || reserve_port AMQP_PORT "$AMQP_PORT"
        [[ ${RABBITMQ_MANAGEMENT_PORT:-0} == 0 ]] || reserve_port RABBITMQ_MANAGEMENT_PORT "$RABBITMQ_MANAGEMENT_PORT"
    fi
    ((pg_up)) || pick_port pg_port "${PG_PORT:-0}" "$prev_pg"
    if ((!rmq_up)); then
        pick_port amqp_port "${AMQP_PORT:-0}" "$prev_amqp"
        pick_port mgmt_port "${RABBITMQ_MANAGEMENT_PORT:-0}" "$prev_mgmt"
        # The default dist port is AMQP port + 20000, which overflows for high ports.
        pick_port dist_port 0 "$prev_dist"
        pick_port epmd_port 0 "$prev_epmd"
    fi
    write_state

    PG_FAST_ON=0
    [[ ${PG_FAST:-0} == 1 ]] && PG_FAST_ON=1
    trap on_start_exit EXIT
    # RabbitMQ boots for several seconds: launch it first and set up PostgreSQL meanwhile.
    if ((!rmq_up)); then
        STARTED_RMQ=1
        rmq_launch
    fi
    if ((!pg_up)); then
        STARTED_PG=1
        pg_start
    fi
    ((rmq_up)) || rmq_wait_ready
    trap - EXIT

    write_env
    log "all ready in $(elapsed "$t0"); $ENV_FILE:"
    cat "$ENV_FILE"
}

cmd_stop() {
    local left
    set_dir "${1:-}" || return 0
    load_state || true
    rmq_stop
    pg_stop
    left=$(our_processes | tr '\n' ' ')
    if [[ -n ${left// /} ]]; then
        warn "killing leftover processes: $left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
    fi
    [[ -z $(our_processes) ]] || die "processes still running: $(our_processes | tr '\n' ' ')"
    return 0
}

cmd_restart_rabbitmq() {
    local t0 p
    t0=$(now_ms)
    set_dir "${1:-}" && load_state && [[ -n $amqp_port ]] || die "no earlier start in ${1:-}; run: $0 start DIR"
    rmq_stop
    for p in "$amqp_port" "$mgmt_port" "$dist_port" "$epmd_port"; do
        port_in_use "$p" && die "port $p is in use by another process; cannot restart rabbitmq on it"
    done
    STARTED_RMQ=1
    trap on_start_exit EXIT
    rmq_launch
    rmq_wait_ready
    trap - EXIT
    log "rabbitmq restarted in $(elapsed "$t0")"
}

cmd_stop_postgres() {
    set_dir "${1:-}" && load_state && [[ -n $pg_port ]] || die "no earlier start in ${1:-}; run: $0 start DIR"
    pg_stop
}

cmd_status() {
    local rc=0
    if ! set_dir "${1:-}"; then
        log "postgres stopped"
        log "rabbitmq stopped"
        return 3
    fi
    load_state || true
    if pg_running; then
        log "postgres running on 127.0.0.1:$pg_port (pid $(head -n 1 "$PGDATA/postmaster.pid"))"
    else
        log "postgres stopped${pg_port:+ (port $pg_port)}"
        rc=3
    fi
    if rmq_running; then
        log "rabbitmq running on 127.0.0.1:$amqp_port, management 127.0.0.1:$mgmt_port (pid $(<"$RMQ_PIDFILE"))"
    else
        log "rabbitmq stopped${amqp_port:+ (port $amqp_port)}"
        rc=3
    fi
    return "$rc"
}

CMD=${1:-}
shift || true
case $CMD in
    install) cmd_install ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    restart-rabbitmq) cmd_restart_rabbitmq "$@" ;;
    stop-postgres) cmd_stop_postgres "$@" ;;
    status) cmd_status "$@" ;;
    *)
        sed -n '2,20s/^# \{0,1\}//p' "$0" >&2
        exit 2
        ;;
esac
