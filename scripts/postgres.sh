#!/usr/bin/env bash
# A throwaway PostgreSQL server for the fleet service's tests and load benchmark, on 127.0.0.1 and a free port.
#
#   eval "$(scripts/postgres.sh start)"   # installs Debian's server if missing, starts it, prints `export ...=URL`
#   scripts/postgres.sh url               # the URL of the running server (exit 1 if it is not running)
#   scripts/postgres.sh stop              # fast shutdown; the cluster files stay for the next start
#   scripts/postgres.sh destroy           # stop and delete the cluster
#
# Idempotent: `start` on a running cluster only prints its URL again. The cluster lives under the cargo target
# directory ($CARGO_TARGET_DIR/postgres), except as root: the server refuses to run as root, and the `postgres` user
# cannot enter a target directory under /root, so the data goes to /tmp/facecheck-postgres-<uid> (owned by
# `postgres`) and only the URL and log path are kept under the target directory. Authentication is `trust` on the
# loopback address only: a test cluster, nothing secret in it. Durability settings are PostgreSQL's defaults
# (fsync and synchronous_commit on), so the benchmark measures what a real deployment would pay.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-$PWD/target}"
state="$target/postgres"
mkdir -p "$state"
if [ "$(id -u)" = 0 ]; then
  base="/tmp/facecheck-postgres-$(id -u)"
else
  base="$state"
fi
data="$base/data"
log="$base/server.log"
urlfile="$state/url"
db="facecheck"

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
    echo "$dir"
  fi
}

install_server() {
  if [ -n "$(find_bin)" ] && command -v psql >/dev/null 2>&1; then
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL server is not installed and this is not root: apt-get install postgresql"
    exit 1
  fi
  log "installing Debian's PostgreSQL server"
  export DEBIAN_FRONTEND=noninteractive
  # Debian's package makes and starts its own "main" cluster on 5432; this script does not use it.
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql postgresql-client >&2
}

# As root, run the server's programs as the `postgres` user (the Debian package creates it).
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

is_running() {
  local bin="$1"
  [ -f "$data/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local p
  for p in $(seq 55432 55632); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  log "no free port in 55432..55632"
  exit 1
}

current_port() {
  # postmaster.pid line 4 is the port the running server listens on.
  sed -n 4p "$data/postmaster.pid"
}

print_url() {
  local url="postgres://postgres@127.0.0.1:$(current_port)/$db"
  echo "$url" >"$urlfile"
  echo "export FACECHECK_TEST_POSTGRES_URL=$url"
}

start() {
  install_server
  local bin
  bin="$(find_bin)"
  [ -n "$bin" ] || { log "PostgreSQL binaries not found under /usr/lib/postgresql"; exit 1; }
  if is_running "$bin"; then
    print_url
    return
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising a cluster in $data"
    rm -rf "$data"
    mkdir -p "$base"
    [ "$(id -u)" = 0 ] && chown postgres: "$base"
    as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    # Loopback only, no Unix socket outside the cluster directory; enough connections for two replicas' pools,
    # the tests running in parallel and the load benchmark.
    cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
max_connections = 300
shared_buffers = 256MB
log_min_messages = warning
EOF
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$data/pg_hba.conf"
    [ "$(id -u)" = 0 ] && chown postgres: "$data/postgresql.conf" "$data/pg_hba.conf"
  fi
  local port
  port="$(free_port)"
  [ "$(id -u)" = 0 ] && { touch "$log"; chown postgres: "$log"; }
  as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $port" start >/dev/null
  if ! psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" |
    grep -q 1; then
    psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null
  fi
  echo "$log" >"$state/log"
  log "running on 127.0.0.1:$port (log: $log)"
  print_url
}

stop() {
  local bin
  bin="$(find_bin)"
  if [ -n "$bin" ] && is_running "$bin"; then
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    log "stopped"
  fi
  rm -f "$urlfile"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  url)
    bin="$(find_bin)"
    if [ -n "$bin" ] && is_running "$bin"; then print_url | sed 's/^export FACECHECK_TEST_POSTGRES_URL=//'; else exit 1; fi
    ;;
  destroy)
    stop
    rm -rf "$data"
    ;;
  *)
    echo "usage: $0 [start|stop|url|destroy]" >&2
    exit 2
    ;;
esac
