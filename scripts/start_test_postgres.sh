#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1 for the tests (Debian's `postgresql`
# package) and print the URL the tests read from COSTOPT_TEST_PG_URL:
#   export COSTOPT_TEST_PG_URL="$(scripts/start_test_postgres.sh)"
# The cluster lives in a temp directory owned by the `postgres` user (initdb refuses root);
# the role `costopt` may create databases (each test makes its own and drops it after).
set -euo pipefail
port="${COSTOPT_TEST_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
dir="$(mktemp -d /tmp/costopt-pg.XXXXXX)"
password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$password" >"$dir/pwfile"
chown -R postgres "$dir"
as_pg() { if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg "$bin/initdb" -D "$dir/data" -A scram-sha-256 -U postgres \
  --pwfile="$dir/pwfile" >"$dir/initdb.log" 2>&1
rm -f "$dir/pwfile"
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" \
  start >/dev/null
PGPASSWORD="$password" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
  -c "CREATE ROLE costopt LOGIN CREATEDB PASSWORD '$password'" >/dev/null
echo "postgresql://costopt:$password@127.0.0.1:$port/postgres"
