"""Processes and databases the suite runs against: its own redis-server (AOF on, as in
production), gunicorn with the production config, and the bench databases, reset per run."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789"


def free_port(start, end):
    """The first port in [start, end) nobody listens on (ports are shared with other people)."""
    for port in range(start, end):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{end - 1}")


def wait_for_port(port, timeout=20.0, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


def stop(process, timeout=10.0):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


@contextmanager
def gunicorn(target, env, port_range, extra_args=()):
    """gunicorn with the repository's gunicorn.conf.py, serving `target` on a free port."""
    port = free_port(*port_range)
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}",
         *extra_args, target],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, timeout=30, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        errors = process.stderr.read().decode(errors="replace")
        if process.returncode not in (0, -signal.SIGTERM) and errors:
            print(errors[-2000:], file=sys.stderr)


def ensure_database(url):
    """Creates the PostgreSQL database `url` names if it does not exist (the bench's and the
    test suite's own databases; the name is checked because it is quoted into the statement)."""
    url = make_url(url)
    if not re.fullmatch(r"[A-Za-z0-9_]+", url.database or ""):
        raise ValueError(f"unexpected database name {url.database!r}")
    admin = f"host={url.host} port={url.port or 5432} user={url.username} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{url.database}"')


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
    suite's 3,000 signers each sign more often than 30 times a minute on a fast machine (the
    per-user one). The signing script still counts both limits, so their cost is in every
    figure. HTTPS is on (requests say X-Forwarded-Proto: https, as behind the TLS proxy
    production runs behind)."""
    return {
        "APP_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "USERS_DATABASE_URL": users_database_url,
        "SIGN_RATE_LIMIT_IP": "100000000 per minute",
        "SIGN_RATE_LIMIT_USER": "100000000 per minute",
        "LOG_LEVEL": "WARNING",
    }
