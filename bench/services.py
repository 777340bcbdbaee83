"""Servers and databases the suite runs against: its own redis-server (AOF on, as in production)
and the bench databases, reset per run. nginx and gunicorn come from deploy/stack.py."""
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from deploy.stack import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789"


@contextmanager
def redis_server(port_range):
    """A dedicated redis-server with the durability production needs: appendonly, fsync every
    second. Its data directory is temporary and removed afterwards."""
    port = free_port(*port_range)
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--appendfsync", "everysec", "--dir", workdir,
         "--logfile", os.path.join(workdir, "redis.log")],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


class DatabaseBusy(RuntimeError):
    """Another session holds a lock the schema reset needs."""


def reset_schema(engine, lock_timeout_ms=15_000):
    """Drops and recreates the public schema of `engine`'s database. DROP SCHEMA waits for every
    other session's lock on the tables (a leftover server's open transaction, a psql left in a
    transaction): it waits at most `lock_timeout_ms`, then names those sessions rather than
    hanging without a word."""
    try:
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except OperationalError as exc:
        if not isinstance(exc.orig, psycopg.errors.LockNotAvailable):
            raise
        raise DatabaseBusy(_busy_message(engine)) from None


def _busy_message(engine):
    with engine.connect() as conn:
        sessions = conn.execute(text(
            "SELECT pid, application_name, client_addr, state, left(query, 60) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).all()
    listed = "\n".join(
        f"  pid {pid} {app or '-'} from {addr or 'local socket'}, {state}: {query!r}"
        for pid, app, addr, state, query in sessions
    )
    return (
        f"database {engine.url.database!r} is in use by another session, so its schema cannot be reset."
        f" Stop the process that holds it (or SELECT pg_terminate_backend(<pid>)) and run again."
        f" Sessions on it:\n{listed or '  (none left: it has just let go; run again)'}"
    )


def app_env(redis_url, database_url, users_database_url):
    """The environment of a production process pointed at the bench's servers. The sign limits
    are raised: every simulated signer comes from 127.0.0.1 (the per-IP one), and the quick
    suite's signers each sign more often than 30 times a minute on a fast machine (the
    per-user one). The signing script still counts both limits, so their cost is in every
    figure."""
    return {
        "APP_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "USERS_DATABASE_URL": users_database_url,
        "SIGN_RATE_LIMIT_IP": "100000000 per minute",
        "SIGN_RATE_LIMIT_USER": "100000000 per minute",
        # Every bench person registers from 127.0.0.1 at example.com, and confirms the address
        # by the link in the mail written to MAIL_DIR (bench/browsers.py).
        "REGISTER_RATE_LIMIT_IP": "100000000 per hour",
        "REGISTER_RATE_LIMIT_DOMAIN": "100000000 per hour",
        "MAIL_DIR": tempfile.mkdtemp(prefix="bench-mail-"),
        "SITE_ORIGIN": "https://petitions.bench",
        "LOG_LEVEL": "WARNING",
    }
