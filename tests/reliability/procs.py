"""Real processes for the failure tests: gunicorn serving wsgi:app and `flask` commands (Redis
servers and sentinels come from deploy/redis_ha.py).

Every process is started here, remembered by PID and stopped by PID; nothing is killed by name.
Ports come from RELIABILITY_PORTS (default 5500-5599) so parallel engineers do not collide.
"""
import os
import random
import runpy
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from deploy.redis_ha import wait_until  # noqa: F401 (the tests import it from here)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET_KEY = "reliability-tests-secret-key-0123456789abcdef"
_PRODUCTION = runpy.run_path(str(ROOT / "gunicorn.conf.py"))  # production's worker and parser
WORKER_CLASS, HTTP_PARSER = _PRODUCTION["worker_class"], _PRODUCTION["http_parser"]


def _port_range():
    low, _, high = os.environ.get("RELIABILITY_PORTS", "5500-5599").partition("-")
    return int(low), int(high)


def reliability_ports():
    """The range as [start, end) for deploy.stack."""
    low, high = _port_range()
    return low, high + 1


def free_port():
    """A free port in the range, tried in random order so a test rarely reuses the port of the
    one before it (a straggling client of that test must not reach this one's server)."""
    low, high = _port_range()
    for port in random.sample(range(low, high + 1), high - low + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


def app_env(redis_url, **overrides):
    """The environment production runs with, pointed at the test databases and our Redis.
    Production behind a TLS proxy: clients send X-Forwarded-Proto https (see Client)."""
    env = dict(os.environ)
    env.update(
        APP_ENV="production",
        SECRET_KEY=SECRET_KEY,
        REDIS_URL=redis_url,
        REDIS_SENTINELS="",
        DATABASE_URL=os.environ.get(
            "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_test"
        ),
        USERS_DATABASE_URL=os.environ.get(
            "TEST_USERS_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_users_test"
        ),
        LOG_LEVEL="INFO",
        # Confirmation mail as files, read back by tests/helpers.confirmation_path.
        MAIL_DIR=tempfile.mkdtemp(prefix="petitions-mail-"),
        SITE_ORIGIN="https://petitions.test",
        REGISTER_RATE_LIMIT_IP="1000000 per hour",
        REGISTER_RATE_LIMIT_DOMAIN="1000000 per hour",
        # The load drivers sign far faster than any person; the limits are proven elsewhere.
        SIGN_RATE_LIMIT_USER="1000000 per minute",
        SIGN_RATE_LIMIT_IP="1000000 per minute",
        PYTHONUNBUFFERED="1",
    )
    if redis_url.startswith("redis+sentinel://"):  # as an operator names them
        from app.repositories.redis_client import parse_sentinel_url

        hosts, service = parse_sentinel_url(redis_url)
        env.update(REDIS_URL="", REDIS_SENTINELS=",".join(f"{h}:{p}" for h, p in hosts), REDIS_SENTINEL_SERVICE=service)
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Gunicorn:
    """gunicorn wsgi:app with production's worker class; the access log, when asked for, names each request's worker PID."""

    def __init__(self, log_path, env, workers=2, timeout=10, access_log=False):
        self.log_path = Path(log_path)
        self.access_log = access_log
        self.env = env
        self.workers = workers
        self.timeout = timeout
        self.port = free_port()
        self.ready_dir = self.log_path.with_suffix(".ready")
        self.process = None

    def start(self):
        self.ready_dir.mkdir()
        args = [
            str(BIN / "gunicorn"), "--config", str(ROOT / "tests/reliability/gunicorn_ready.py"),
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers), "--worker-class", WORKER_CLASS, "--http-parser", HTTP_PARSER,
            "--timeout", str(self.timeout), "--graceful-timeout", "10",
            "wsgi:app",
        ]
        if self.access_log:
            args[-1:-1] = ["--access-logfile", "-", "--access-logformat", "access pid=%(p)s status=%(s)s %(m)s %(U)s"]
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=dict(self.env, GUNICORN_READY_DIR=str(self.ready_dir)),
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.wait_for_workers(self.workers)
        return self

    def ready_workers(self):
        """PIDs of every worker that has loaded the app so far (old ones included)."""
        return {int(path.name) for path in self.ready_dir.iterdir()}

    def wait_for_workers(self, count):
        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.log()}")
            return len(self.ready_workers()) >= count

        wait_until(ready, timeout=60, what=f"{count} gunicorn workers on {self.port}")

    def log(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def reload(self):
        self.process.send_signal(signal.SIGHUP)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self._log.close()


class Command:
    """A `flask` command or Python module run as its own process (the persister, a crashing child)."""

    def __init__(self, args, env, log_path):
        self.args = args
        self.env = env
        self.log_path = Path(log_path)
        self.process = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        return self

    def wait(self, timeout=60):
        return self.process.wait(timeout=timeout)

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def log(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process:
            self._log.close()


def kill9_with_children(process):
    """kill -9 of a process and its children (a gunicorn master and its workers) at once, as a
    machine's crash would; by PID, from /proc."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    for pid in [process.pid, *map(int, children)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def flask_command(*args):
    return [str(BIN / "flask"), "--app", "wsgi", *args]
