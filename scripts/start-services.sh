#!/usr/bin/env bash
# Start the PostgreSQL and Redis the tests use, unless they already answer.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }

if ! pg_up; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "starting PostgreSQL on 127.0.0.1:5432"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
    fi
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
    pg_up || { echo "PostgreSQL is not reachable on 127.0.0.1:5432; set MOVIEMETRIC_TEST_DATABASE_URL" >&2; exit 1; }
fi

if ! redis_up; then
    echo "starting Redis on 127.0.0.1:6379"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
    redis_up || { echo "Redis is not reachable on 127.0.0.1:6379; set MOVIEMETRIC_TEST_REDIS_URL" >&2; exit 1; }
fi
echo "PostgreSQL and Redis are up"
