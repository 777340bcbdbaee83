"""Fixtures for the failure tests: our own redis-server and gunicorn processes, stopped by PID."""
import pytest

from app.web.extensions import db
from app.web.factory import create_app
from config import TestConfig
from deploy.redis_ha import RedisServer, ReplicatedRedis
from tests.reliability.procs import SECRET_KEY, Command, Gunicorn, app_env, free_port


@pytest.fixture
def processes():
    """Everything a test starts is registered here and stopped afterwards, newest first."""
    started = []
    yield started
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def start_redis(processes, tmp_path):
    def start(appendonly=True, appendfsync="always", name="redis"):
        server = RedisServer(tmp_path / name, free_port, appendonly=appendonly, appendfsync=appendfsync)
        processes.append(server)
        return server.start()

    return start


@pytest.fixture
def start_replicated_redis(processes, tmp_path):
    """A primary, a replica and three sentinels (ReplicatedRedis)."""
    def start(name="replicated"):
        group = ReplicatedRedis(tmp_path / name, free_port)
        processes.append(group)
        return group.start()

    return start


@pytest.fixture
def start_gunicorn(processes, tmp_path):
    def start(redis_server, workers=2, timeout=10, access_log=False, **env):
        server = Gunicorn(
            tmp_path / f"gunicorn-{len(processes)}.log", app_env(redis_server.url, **env),
            workers=workers, timeout=timeout, access_log=access_log,
        )
        processes.append(server)
        return server.start()

    return start


@pytest.fixture
def start_command(processes, tmp_path):
    """Runs `args` with production's environment against `redis_server`."""
    def start(args, redis_server, **env):
        command = Command(args, app_env(redis_server.url, **env), tmp_path / f"command-{len(processes)}.log")
        processes.append(command)
        return command.start()

    return start


@pytest.fixture
def local_app(app):
    """An in-process app on the same databases (cleaned by the `app` fixture) whose Redis is set
    per test with `local_app(redis_server)`: used to seed, to run the persister and to check."""
    built = []

    def build(redis_server, **settings):
        config = TestConfig()
        config.SECRET_KEY = SECRET_KEY
        config.REDIS_URL = config.RATELIMIT_STORAGE_URI = redis_server.url
        for name, value in settings.items():
            setattr(config, name, value)
        local = create_app(config)
        built.append(local)
        return local

    yield build
    for local in built:
        with local.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        local.extensions["redis"].connection_pool.disconnect()


@pytest.fixture
def start_stack():
    """nginx in front of gunicorn (deploy/stack.py) with production's settings against
    `redis_server`; the stack is stopped when the test ends."""
    from contextlib import ExitStack

    from deploy.stack import local_env, running
    from tests.reliability.procs import reliability_ports

    with ExitStack() as stacks:
        def start(redis_server, publish_counts=False, instances=1, **env):
            settings = local_env(app_env(redis_server.url, **env))
            return stacks.enter_context(running(settings, ports=reliability_ports(), instances=instances,
                                                publish_counts=publish_counts))

        yield start
