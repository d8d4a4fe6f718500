#!/usr/bin/env bash
# Starts or stops a throw-away PostgreSQL cluster for the node/source tests.
#
#   scripts/postgres-test.sh start   # prints export FEDSCORE_PG_DSN=...
#   scripts/postgres-test.sh stop
#
# The cluster lives in a temporary directory owned by the postgres system
# user (PostgreSQL refuses to run as root), listens on 127.0.0.1 only, on a
# free port, with password authentication and a database "fedscore_test".
# Requires Debian's postgresql package (apt-get install -y postgresql).
# The state file (default /tmp/fedscore-pg-test.env) records where the
# cluster is; PG_TEST_STATE overrides it.
set -euo pipefail

STATE=${PG_TEST_STATE:-/tmp/fedscore-pg-test.env}

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "postgres-test: no PostgreSQL server found; install Debian's postgresql package" >&2
    exit 1
  fi
  echo "$d"
}

# shellcheck source=scripts/test-server-lib.sh
. "$(dirname "$0")/test-server-lib.sh"

# as_pg runs a command as the postgres user when we are root.
as_pg() { as_user postgres "$@"; }

start() {
  if [ -f "$STATE" ]; then
    # shellcheck disable=SC1090
    . "$STATE"
    if as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
      echo "export FEDSCORE_PG_DSN='$DSN'"
      return
    fi
    rm -f "$STATE"
  fi
  local bin dir port password pwfile
  bin=$(bindir)
  dir=$(mktemp -d /tmp/fedscore-pg.XXXXXX)
  chmod 755 "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi
  port=$(free_port postgres-test)
  password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  pwfile="$dir/pwfile"
  as_pg sh -c "umask 077; printf '%s\n' '$password' > '$pwfile'"
  as_pg "$bin/initdb" -D "$dir/data" -U fedscore --pwfile="$pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  mkdir -p "$dir/sock"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir/sock"; fi
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -h 127.0.0.1 -k $dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  PGPASSWORD=$password "$bin/createdb" -h 127.0.0.1 -p "$port" -U fedscore fedscore_test
  local dsn="postgres://fedscore:$password@127.0.0.1:$port/fedscore_test?sslmode=disable"
  umask 077
  cat >"$STATE" <<STATE_EOF
BIN='$bin'
PGDATA_DIR='$dir/data'
CLUSTER_DIR='$dir'
DSN='$dsn'
STATE_EOF
  echo "export FEDSCORE_PG_DSN='$dsn'"
}

stop() {
  if [ ! -f "$STATE" ]; then
    echo "postgres-test: no cluster recorded in $STATE" >&2
    return
  fi
  # shellcheck disable=SC1090
  . "$STATE"
  as_pg "$BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$CLUSTER_DIR" "$STATE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
