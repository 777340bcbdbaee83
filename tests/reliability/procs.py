"""Real processes for the failure tests: a private redis-server and gunicorn serving wsgi:app.

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
import time
from pathlib import Path

import redis

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


def wait_until(predicate, timeout=15.0, interval=0.02, what="condition"):
    """Polls a real process's state (a port, a log line); fails loudly after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


class RedisServer:
    """A redis-server of our own on a free port, its data in `directory`; with `replica_of` (a
    port), a replica of that server."""

    def __init__(self, directory, appendonly=True, appendfsync="always", replica_of=None, extra_args=()):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.replica_of = replica_of
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        args = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--logfile", str(self.directory / "redis.log"),
        ]
        if self.replica_of:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        args += self.extra_args
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, what=f"redis on {self.port}")
        return self

    def _answers(self):
        try:
            return redis.Redis(port=self.port, socket_timeout=0.2).ping()
        except redis.exceptions.RedisError:
            return False

    def client(self):
        return redis.Redis(port=self.port, socket_timeout=5)

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def pause(self):
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()


SENTINEL_SERVICE = "petitions"


class Sentinel:
    """A redis-sentinel (redis-server --sentinel) of our own watching the primary on
    `primary_port`: it calls the primary down after `down_after_ms` without an answer, and a
    quorum of two agrees to fail over."""

    def __init__(self, directory, primary_port, down_after_ms=1000):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.primary_port = primary_port
        self.down_after_ms = down_after_ms
        self.port = free_port()
        self.process = None

    def start(self):
        conf = self.directory / "sentinel.conf"  # Sentinel rewrites it as it learns the topology
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.directory}\nlogfile {self.directory / 'sentinel.log'}\n"
            f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {SENTINEL_SERVICE} {self.down_after_ms}\n"
            f"sentinel failover-timeout {SENTINEL_SERVICE} 10000\n"
        )
        self.process = subprocess.Popen(["redis-server", str(conf), "--sentinel"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, what=f"sentinel on {self.port}")
        return self

    def _answers(self):
        try:
            return redis.Redis(port=self.port, socket_timeout=0.2).ping()
        except redis.exceptions.RedisError:
            return False

    def primary_port_now(self):
        """The port this sentinel names as the primary now."""
        _, port = redis.Redis(port=self.port, socket_timeout=1).sentinel_get_master_addr_by_name(SENTINEL_SERVICE)
        return int(port)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class ReplicatedRedis:
    """A primary, one replica of it and three sentinels, each a process of our own, AOF on every
    data node. Passed where a RedisServer goes: its `url` names the sentinels, and app_env turns
    it into REDIS_SENTINELS and REDIS_SENTINEL_SERVICE."""

    # A replica that joins is sent its first copy at once, not after Redis's default 5 s wait for
    # others to share the transfer: with one replica, signing waits on that copy after a failover.
    NODE_ARGS = ("--repl-diskless-sync-delay", "0")

    def __init__(self, directory, appendfsync="everysec"):
        self.directory = Path(directory)
        self.primary = RedisServer(self.directory / "primary", appendfsync=appendfsync, extra_args=self.NODE_ARGS)
        self.replica = None
        self.sentinels = []
        self.appendfsync = appendfsync

    def start(self):
        self.primary.start()
        self.replica = RedisServer(self.directory / "replica", appendfsync=self.appendfsync,
                                   replica_of=self.primary.port, extra_args=self.NODE_ARGS).start()
        wait_until(lambda: self.replicas_online(self.primary) == 1, what="the replica in sync")
        self.sentinels = [Sentinel(self.directory / f"sentinel-{n}", self.primary.port).start() for n in range(3)]
        # Sentinel learns the replica and the other sentinels from the primary within seconds.
        wait_until(self._sentinels_know_everyone, timeout=30, interval=0.2, what="the sentinels to see the replica")
        return self

    def _sentinels_know_everyone(self):
        for sentinel in self.sentinels:
            watcher = redis.Redis(port=sentinel.port, socket_timeout=1)
            if len(watcher.sentinel_slaves(SENTINEL_SERVICE)) != 1 or len(watcher.sentinel_sentinels(SENTINEL_SERVICE)) != 2:
                return False
        return True

    @staticmethod
    def replicas_online(server):
        info = server.client().info("replication")
        return sum(1 for key, value in info.items() if key.startswith("slave") and value.get("state") == "online")

    @property
    def url(self):
        from app.repositories.redis_client import sentinel_url

        return sentinel_url(",".join(f"127.0.0.1:{s.port}" for s in self.sentinels), SENTINEL_SERVICE)

    def current_primary(self):
        """The data node the sentinels name as the primary now."""
        port = self.sentinels[0].primary_port_now()
        return next(server for server in (self.primary, self.replica) if server.port == port)

    def wait_for_failover(self, old, timeout=30):
        """Waits until every sentinel names another node than `old` as the primary; returns it."""
        wait_until(lambda: all(s.primary_port_now() != old.port for s in self.sentinels),
                   timeout=timeout, interval=0.05, what="Sentinel to promote the replica")
        return self.current_primary()

    def client(self):
        return self.current_primary().client()

    def cut_off_replica(self):
        """The replica stops hearing from the primary, as across a network partition: it is
        stopped and the primary drops its link (what was already on the wire stays in the kernel's
        buffers and reaches it later; nothing written after this does, until it is resumed and
        resyncs)."""
        self.replica.pause()
        self.primary.client().client_kill_filter(_type="replica")

    def stop(self):
        for process in (*self.sentinels, self.replica, self.primary):
            if process:
                process.stop()


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
