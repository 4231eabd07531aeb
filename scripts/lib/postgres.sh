# Shared by scripts/test (and by hand): a throwaway PostgreSQL server for the tests.
#   source scripts/lib/postgres.sh; start_postgres; ...; stop_postgres
# start_postgres installs PostgreSQL with apt-get when initdb/pg_ctl are missing, runs initdb
# into a temporary folder (as the unprivileged `postgres` user when run as root), starts it on a
# free port bound to 127.0.0.1, and exports MITMTAPE_TEST_PG (a trusted superuser URL) and
# MITMTAPE_TEST_PG_PASSWORD_URL (a user that must give its password). stop_postgres removes it;
# start_postgres sets it as the EXIT trap.
# shellcheck shell=bash

PG_TEST_PASSWORD_USER=mitmtape_pw
PG_TEST_PASSWORD=tape-test-password
PG_TEST_DIR=""

# Put Debian's versioned PostgreSQL folder on PATH; install the server when it is not there.
ensure_postgres_binaries() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && PATH="$dir:$PATH"
  done
  if ! command -v initdb >/dev/null 2>&1 || ! command -v pg_ctl >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "scripts: please install PostgreSQL (initdb and pg_ctl are missing)" >&2
      return 1
    fi
    echo "== apt-get install postgresql (initdb/pg_ctl missing)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    for dir in /usr/lib/postgresql/*/bin; do
      [ -x "$dir/initdb" ] && PATH="$dir:$PATH"
    done
  fi
  export PATH
}

_pg_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Run a server command as the folder's owner (the `postgres` user when we are root).
_pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_postgres() {
  ensure_postgres_binaries
  PG_TEST_DIR="$(mktemp -d /tmp/mitmtape-pg.XXXXXX)"
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_TEST_DIR"
  trap stop_postgres EXIT
  local port data="$PG_TEST_DIR/data"
  port="$(_pg_free_port)"
  _pg_as_owner initdb --no-sync -D "$data" -U postgres -E UTF8 --locale=C -A trust >/dev/null
  cat >"$data/pg_hba.conf" <<EOF
local all all trust
host all $PG_TEST_PASSWORD_USER 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
EOF
  _pg_as_owner pg_ctl -D "$data" -l "$PG_TEST_DIR/server.log" -w -t 60 start \
    -o "-k $PG_TEST_DIR -h 127.0.0.1 -p $port -c fsync=off -c max_connections=200" >/dev/null
  _pg_as_owner psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE ROLE $PG_TEST_PASSWORD_USER LOGIN SUPERUSER PASSWORD '$PG_TEST_PASSWORD'"
  export MITMTAPE_TEST_PG="postgresql://postgres@127.0.0.1:$port/postgres"
  export MITMTAPE_TEST_PG_PASSWORD_URL="postgresql://$PG_TEST_PASSWORD_USER:$PG_TEST_PASSWORD@127.0.0.1:$port/postgres"
  echo "== PostgreSQL $(_pg_as_owner pg_ctl --version | awk '{print $3}') on 127.0.0.1:$port ($PG_TEST_DIR)"
}

stop_postgres() {
  [ -n "$PG_TEST_DIR" ] || return 0
  _pg_as_owner pg_ctl -D "$PG_TEST_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TEST_DIR"
  PG_TEST_DIR=""
}
