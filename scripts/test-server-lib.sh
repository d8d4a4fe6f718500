# Shell functions the throw-away test server scripts share
# (postgres-test.sh, mariadb-test.sh). Source it; it runs nothing.

# as_user USER CMD...: runs CMD as the system user USER when we are root
# (database servers refuse to run as root), as ourselves otherwise.
as_user() {
  local user=$1
  shift
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}

# free_port NAME prints a loopback port nothing listens on; NAME prefixes
# the error.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "$1: no free port found" >&2
  exit 1
}
