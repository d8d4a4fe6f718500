#!/usr/bin/env bash
# Starts or stops a throw-away MariaDB server for the node/source tests of
# the MySQL-protocol source.
#
#   scripts/mariadb-test.sh start   # prints export FEDSCORE_MYSQL_DSN=...
#   scripts/mariadb-test.sh stop
#
# The server lives in a temporary directory owned by the mysql system user
# (the server is not run as root), listens on 127.0.0.1 only, on a free
# port, and has a database "fedscore_test" and a user "fedscore" with a
# random password (mysql_native_password over TCP). Its administrator is
# reachable only through the server's Unix socket in that directory.
# Requires Debian's mariadb-server package (apt-get install -y mariadb-server).
# The state file (default /tmp/fedscore-mariadb-test.env) records where the
# server is; MARIADB_TEST_STATE overrides it.
set -euo pipefail

STATE=${MARIADB_TEST_STATE:-/tmp/fedscore-mariadb-test.env}

need() {
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    echo "mariadb-test: no MariaDB server found; install Debian's mariadb-server package" >&2
    exit 1
  fi
}

# shellcheck source=scripts/test-server-lib.sh
. "$(dirname "$0")/test-server-lib.sh"

# as_db runs a command as the mysql user when we are root.
as_db() { as_user mysql "$@"; }

# admin runs SQL as the server's administrator over its socket.
admin() {
  mariadb --no-defaults --protocol=socket --socket="$1/sock" -u "$ADMIN" -e "$2"
}

alive() {
  mariadb-admin --no-defaults --protocol=socket --socket="$1/sock" -u "$ADMIN" ping >/dev/null 2>&1
}

if [ "$(id -u)" -eq 0 ]; then ADMIN=root; else ADMIN=$(id -un); fi

start() {
  need
  if [ -f "$STATE" ]; then
    # shellcheck disable=SC1090
    . "$STATE"
    if alive "$SERVER_DIR"; then
      echo "export FEDSCORE_MYSQL_DSN='$DSN'"
      return
    fi
    rm -f "$STATE"
  fi
  local dir port password user
  dir=$(mktemp -d /tmp/fedscore-mariadb.XXXXXX)
  chmod 755 "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    user=mysql
    chown mysql:mysql "$dir"
  else
    user=$(id -un)
  fi
  port=$(free_port mariadb-test)
  password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  as_db mariadb-install-db --no-defaults --user="$user" --datadir="$dir/data" \
    --auth-root-authentication-method=socket --auth-root-socket-user="$ADMIN" \
    --skip-test-db >"$dir/install.log" 2>&1 \
    || { cat "$dir/install.log" >&2; exit 1; }
  # mariadbd does not detach; setsid keeps it out of the caller's job.
  as_db setsid /usr/sbin/mariadbd --no-defaults --user="$user" --datadir="$dir/data" \
    --socket="$dir/sock" --pid-file="$dir/mariadbd.pid" --log-error="$dir/server.log" \
    --bind-address=127.0.0.1 --port="$port" --skip-name-resolve --skip-log-bin \
    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 120); do
    if alive "$dir"; then break; fi
    sleep 0.5
  done
  if ! alive "$dir"; then
    cat "$dir/server.log" >&2
    exit 1
  fi
  admin "$dir" "CREATE DATABASE fedscore_test CHARACTER SET utf8mb4;
CREATE USER 'fedscore'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL ON fedscore_test.* TO 'fedscore'@'127.0.0.1';"
  local dsn="mysql://fedscore:$password@127.0.0.1:$port/fedscore_test"
  umask 077
  cat >"$STATE" <<STATE_EOF
SERVER_DIR='$dir'
DSN='$dsn'
STATE_EOF
  echo "export FEDSCORE_MYSQL_DSN='$dsn'"
}

stop() {
  if [ ! -f "$STATE" ]; then
    echo "mariadb-test: no server recorded in $STATE" >&2
    return
  fi
  # shellcheck disable=SC1090
  . "$STATE"
  mariadb-admin --no-defaults --protocol=socket --socket="$SERVER_DIR/sock" -u "$ADMIN" shutdown >/dev/null 2>&1 || true
  for _ in $(seq 60); do
    [ -e "$SERVER_DIR/mariadbd.pid" ] || break
    sleep 0.5
  done
  rm -rf "$SERVER_DIR" "$STATE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
