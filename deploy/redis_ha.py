"""Redis processes of our own on this machine: a single server, or the high-availability shape
(a primary, one replica and three sentinels). The failure tests and the benchmark start them;
`python -m deploy.stack --replicated` serves the site on them. Each process is started here,
remembered by PID and stopped by PID.

`pick_port` is a callable that returns a free port (the tests pick at random in their range,
deploy.stack.free_port counts up in its own).
"""
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import redis

from app.repositories.redis_client import sentinel_url



def wait_until(predicate, timeout=15.0, interval=0.02, what="condition"):
    """Polls a real process's state (a port, a log line); fails loudly after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def _launch(args, port, what):
    """Starts `args` and waits until the server answers a PING on `port`."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answers():
        try:
            return redis.Redis(port=port, socket_timeout=0.2).ping()
        except redis.exceptions.RedisError:
            return False

    wait_until(answers, what=f"{what} on {port}")
    return process


class RedisServer:
    """A redis-server of our own on a free port, its data in `directory`; with `replica_of` (a
    port), a replica of that server."""

    def __init__(self, directory, pick_port, appendonly=True, appendfsync="always", replica_of=None, extra_args=()):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.replica_of = replica_of
        self.extra_args = list(extra_args)
        self.port = pick_port()
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
        self.process = _launch(args, self.port, "redis")
        return self

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

    def __init__(self, directory, pick_port, primary_port, down_after_ms=1000):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.primary_port = primary_port
        self.down_after_ms = down_after_ms
        self.port = pick_port()
        self.process = None

    def start(self):
        conf = self.directory / "sentinel.conf"  # Sentinel rewrites it as it learns the topology
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.directory}\nlogfile {self.directory / 'sentinel.log'}\n"
            f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {SENTINEL_SERVICE} {self.down_after_ms}\n"
            f"sentinel failover-timeout {SENTINEL_SERVICE} 10000\n"
        )
        self.process = _launch(["redis-server", str(conf), "--sentinel"], self.port, "sentinel")
        return self

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

    def __init__(self, directory, pick_port, appendfsync="everysec"):
        self.directory = Path(directory)
        self.pick_port = pick_port
        self.primary = RedisServer(self.directory / "primary", pick_port, appendfsync=appendfsync,
                                   extra_args=self.NODE_ARGS)
        self.replica = None
        self.sentinels = []
        self.appendfsync = appendfsync

    def start(self):
        self.primary.start()
        self.replica = RedisServer(self.directory / "replica", self.pick_port, appendfsync=self.appendfsync,
                                   replica_of=self.primary.port, extra_args=self.NODE_ARGS).start()
        wait_until(lambda: self.replicas_online(self.primary) == 1, what="the replica in sync")
        self.sentinels = [Sentinel(self.directory / f"sentinel-{n}", self.pick_port, self.primary.port).start() for n in range(3)]
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

    def settings(self):
        """REDIS_SENTINELS and REDIS_SENTINEL_SERVICE, as an operator sets them."""
        return {"REDIS_SENTINELS": ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels),
                "REDIS_SENTINEL_SERVICE": SENTINEL_SERVICE}

    @property
    def url(self):
        settings = self.settings()
        return sentinel_url(settings["REDIS_SENTINELS"], settings["REDIS_SENTINEL_SERVICE"])

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


@contextmanager
def replicated_redis(pick_port):
    """A ReplicatedRedis in a temporary directory, stopped and removed at the end."""
    with tempfile.TemporaryDirectory(prefix="petitions-redis-ha-") as directory:
        group = ReplicatedRedis(directory, pick_port)
        try:
            yield group.start()
        finally:
            group.stop()
