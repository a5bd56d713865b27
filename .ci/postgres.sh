#!/usr/bin/env bash
# Start a local PostgreSQL for the desk's PostgreSQL tests and export its DSN.
#
# Usage (as root on Debian 12):   source .ci/postgres.sh     # exports CHIRPDESK_TEST_PG_DSN
#                            or:   bash .ci/postgres.sh       # prints the DSN on the last line
#
# Idempotent: installs postgresql only when missing, creates the cluster only when absent,
# starts it only when down, and creates the role/database only when they do not exist.
# Everything runs inside a function and never calls `exit` or `set -e`, so sourcing it cannot
# kill or reconfigure the caller's shell; failure is reported through the return status.

_chirpdesk_pg_setup() {
    local user=chirpdesk password=chirpdesk db=chirpdesk_test port=5432 host=127.0.0.1
    local ver

    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
        echo "postgres.sh: installing postgresql via apt-get" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 || return 1
        apt-get install -y -qq postgresql >&2 || return 1
    fi
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    if [ -z "$ver" ]; then
        echo "postgres.sh: no PostgreSQL version found under /usr/lib/postgresql" >&2
        return 1
    fi

    # Debian's postgresql-common wrappers (pg_createcluster/pg_ctlcluster) handle the data
    # directory, ownership and the postgres OS user for us.
    if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$ver main"; then
        pg_createcluster "$ver" main --port "$port" >&2 || return 1
    fi
    # Settings go in a drop-in file (Debian's postgresql.conf includes conf.d/), so re-running
    # rewrites the same file instead of editing the main config. Only loopback: the tests never
    # need anything else. The test cluster is throwaway, so fsync is off for speed (the desk's
    # own durability test runs against SQLite, where fsync is on).
    local confd="/etc/postgresql/$ver/main/conf.d"
    mkdir -p "$confd"
    printf "%s\n" "listen_addresses = '$host'" "port = $port" "max_connections = 200" \
        "fsync = off" "synchronous_commit = off" > "$confd/chirpdesk.conf"
    chown -R postgres:postgres "$confd" 2>/dev/null || true

    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1==v && $2=="main" {print $4}' | grep -q online; then
        pg_ctlcluster "$ver" main start >&2 || return 1
    fi

    local i
    for i in $(seq 1 30); do
        if runuser -u postgres -- psql -qtAc "select 1" >/dev/null 2>&1; then break; fi
        sleep 1
    done

    local psql=(runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA)
    if [ "$("${psql[@]}" -c "select 1 from pg_roles where rolname='$user'")" != "1" ]; then
        "${psql[@]}" -c "create role $user login password '$password'" >&2 || return 1
    fi
    if [ "$("${psql[@]}" -c "select 1 from pg_database where datname='$db'")" != "1" ]; then
        "${psql[@]}" -c "create database $db owner $user" >&2 || return 1
    fi

    export CHIRPDESK_TEST_PG_DSN="postgresql://$user:$password@$host:$port/$db"
    echo "$CHIRPDESK_TEST_PG_DSN"
}

_chirpdesk_pg_setup
_chirpdesk_pg_status=$?
unset -f _chirpdesk_pg_setup
if [ "$_chirpdesk_pg_status" -ne 0 ]; then
    echo "postgres.sh: PostgreSQL setup failed (status $_chirpdesk_pg_status)" >&2
fi
# `return` works when sourced; when executed, fall back to `exit` with the same status.
return "$_chirpdesk_pg_status" 2>/dev/null || exit "$_chirpdesk_pg_status"

