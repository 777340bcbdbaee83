"""The production request path on one machine: nginx (deploy/nginx.conf.template) in front of
gunicorn (gunicorn.conf.py) serving wsgi:app, against real Redis and PostgreSQL.

    python -m deploy.stack [--port 8080] [--instances 1] [--persisters 1] [--replicated]        (make serve)

--replicated runs the site on a Redis primary, a replica and three sentinels of its own
(deploy/redis_ha.py), through Sentinel, with REDIS_MIN_REPLICAS_ACK=1.

The benchmark and the integration tests start it with `running(env)`. Each process is started
here, remembered by PID and stopped by PID.
"""
import argparse
import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from deploy.redis_ha import replicated_redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMPLATE_NAMES = ("NGINX_USER", "NGINX_LISTEN", "NGINX_UPSTREAM_SERVERS", "NGINX_STATIC_ROOT",
                  "NGINX_STATE_DIR", "NGINX_LOG_DIR", "NGINX_FORWARDED_PROTO", "NGINX_NCHAN_MODULE",
                  "NGINX_PUBLISH_LISTEN")
SQL_CONNECTION_BUDGET = 80  # of PostgreSQL's default max_connections = 100, for every instance together
# Debian's libnginx-mod-nchan (scripts/ensure-services.sh installs it).
NCHAN_MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")


def render_nginx_conf(values):
    """The template with exactly TEMPLATE_NAMES replaced, as `envsubst` with that list does."""
    if missing := set(TEMPLATE_NAMES) - set(values):
        raise ValueError(f"missing template values: {', '.join(sorted(missing))}")
    text = TEMPLATE.read_text()
    for name in TEMPLATE_NAMES:
        text = text.replace("${" + name + "}", values[name])
    if leftover := re.findall(r"\$\{(\w+)\}", text):
        raise ValueError(f"unknown template names: {', '.join(sorted(set(leftover)))}")
    return text


# -- processes --------------------------------------------------------------------------------
def free_port(start, end, taken=()):
    """The first port in [start, end) nobody listens on (ports are shared with other people),
    other than those in `taken` (chosen already, not yet listened on)."""
    for port in range(start, end):
        if port in taken:
            continue
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


def stop(process, timeout=15.0, sig=signal.SIGTERM):
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ensure_database(url):
    """Creates the PostgreSQL database `url` names if it does not exist (the name is checked
    because it is quoted into the statement)."""
    url = make_url(url)
    if not re.fullmatch(r"[A-Za-z0-9_]+", url.database or ""):
        raise ValueError(f"unexpected database name {url.database!r}")
    admin = f"host={url.host} port={url.port or 5432} user={url.username} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{url.database}"')


# -- the stack --------------------------------------------------------------------------------
@dataclass
class Stack:
    url: str  # nginx
    app_urls: list  # each gunicorn instance, behind nginx
    state_dir: Path
    processes: dict = field(default_factory=dict)  # name -> Popen
    publish_url: str = ""  # nginx's local-only nchan publisher (COUNT_PUBLISH_URL)

    def log(self, name):
        path = self.state_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def gunicorn(target, env, port, log_path, extra_args=()):
    """gunicorn with the repository's gunicorn.conf.py, serving `target` on 127.0.0.1:`port`."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}",
             *extra_args, target],
            cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, timeout=60, process=process)
        yield process
    finally:
        stop(process)


@contextmanager
def nginx(listen_port, upstream_ports, state_dir, publish_port, forwarded_proto="$scheme"):
    """nginx in the foreground with the rendered template, its state under `state_dir`; its
    nchan publisher on 127.0.0.1:`publish_port`."""
    if not NCHAN_MODULE.exists():
        raise RuntimeError(f"{NCHAN_MODULE} is missing: install Debian's libnginx-mod-nchan (make services does)")
    logs = state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    conf = state_dir / "nginx.conf"
    conf.write_text(render_nginx_conf({
        "NGINX_USER": getpass.getuser(),
        "NGINX_LISTEN": f"127.0.0.1:{listen_port}",
        "NGINX_UPSTREAM_SERVERS": " ".join(f"server 127.0.0.1:{p};" for p in upstream_ports),
        "NGINX_STATIC_ROOT": str(ROOT / "app" / "static"),
        "NGINX_STATE_DIR": str(state_dir),
        "NGINX_LOG_DIR": str(logs),
        "NGINX_FORWARDED_PROTO": forwarded_proto,
        "NGINX_NCHAN_MODULE": str(NCHAN_MODULE),
        "NGINX_PUBLISH_LISTEN": f"127.0.0.1:{publish_port}",
    }))
    command = [NGINX, "-p", str(state_dir), "-e", str(logs / "error.log"), "-c", str(conf)]
    check = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"nginx refused its config: {check.stderr}")
    process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(listen_port, process=process)
        yield process
    finally:
        stop(process, sig=signal.SIGQUIT)  # graceful: finish the requests in hand


@contextmanager
def flask_command(env, *command, **popen_args):
    """A long-running `flask` command with `env` added to this process's."""
    process = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", *command],
                               cwd=ROOT, env={**os.environ, **env}, **popen_args)
    try:
        yield process
    finally:
        stop(process)


def persister(env, **popen_args):
    """`flask signatures persist` (the outbox into SQL)."""
    return flask_command(env, "signatures", "persist", **popen_args)


def local_env(env):
    """Production settings for plain HTTP on this machine: nginx listens without TLS here, so
    cookies cannot be Secure and HTTP is not redirected (production terminates TLS in front)."""
    return {"APP_ENV": "production", "FORCE_HTTPS": "false", "SESSION_COOKIE_SECURE": "false", **env}


@contextmanager
def running(env, ports=(5450, 5500), instances=1, target="wsgi:app", gunicorn_args=(), listen_port=None,
            publish_counts=False):
    """nginx on `listen_port` (default: a free port in `ports`) in front of `instances` gunicorn
    processes, each on another free port, with `env` added to this process's environment.
    `publish_counts`: pages subscribe to pushed counts, and `flask counts publish` runs."""
    with ExitStack() as stack:
        state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="petitions-stack-")))
        (state_dir / "logs").mkdir()
        os.chmod(state_dir, 0o755)  # nginx's workers may run as another user
        processes, app_ports = {}, []
        listen = listen_port or free_port(*ports)
        publish_port = free_port(*ports, taken=(listen,))
        publish_url = f"http://127.0.0.1:{publish_port}"
        # Links the site mails (email confirmation) name the site as this stack serves it.
        env = {"SITE_ORIGIN": f"http://127.0.0.1:{listen}", **env}
        if instances > 1 and "SQL_MAX_CONNECTIONS" not in env:
            # The instances share the database servers' connection limit (config.sql_pool_options).
            env["SQL_MAX_CONNECTIONS"] = str(SQL_CONNECTION_BUDGET // instances)
        if publish_counts:
            env["COUNT_PUBLISH_URL"] = publish_url
        for n in range(instances):
            port = free_port(*ports, taken=(listen, publish_port))
            processes[f"gunicorn-{n}"] = stack.enter_context(
                gunicorn(target, env, port, state_dir / "logs" / f"gunicorn-{n}.log", gunicorn_args))
            app_ports.append(port)
        processes["nginx"] = stack.enter_context(nginx(listen, app_ports, state_dir, publish_port))
        if publish_counts:
            with open(state_dir / "logs" / "count-publisher.log", "ab") as log:
                processes["count-publisher"] = stack.enter_context(
                    flask_command(env, "counts", "publish", stdout=log, stderr=subprocess.STDOUT))
        yield Stack(f"http://127.0.0.1:{listen}", [f"http://127.0.0.1:{p}" for p in app_ports], state_dir, processes,
                    publish_url)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    parser.add_argument("--instances", type=int, default=1, help="gunicorn instances behind nginx")
    parser.add_argument("--persisters", type=int, default=1, help="persisters on the outbox's one consumer group")
    parser.add_argument("--replicated", action="store_true",
                        help="a Redis primary, replica and three sentinels of its own; signatures wait for the replica")
    args = parser.parse_args(argv)
    env = local_env({
        "MAIL_DIR": os.environ.get("MAIL_DIR") or str(ROOT / "instance" / "mail"),
        "SITE_ORIGIN": os.environ.get("SITE_ORIGIN") or f"http://127.0.0.1:{args.port}",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "local-stack-secret-key-not-for-production-0123",
        # REDIS_SENTINELS and REDIS_SENTINEL_SERVICE, when set, are read from the environment instead.
        "REDIS_URL": os.environ.get("REDIS_URL") or ("" if os.environ.get("REDIS_SENTINELS") else "redis://127.0.0.1:6379/0"),
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/petitions"),
        "USERS_DATABASE_URL": os.environ.get(
            "USERS_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_users"),
    })
    for url in (env["DATABASE_URL"], env["USERS_DATABASE_URL"]):
        ensure_database(url)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as Ctrl+C does
    try:
        with ExitStack() as processes:
            if args.replicated:
                group = processes.enter_context(replicated_redis(lambda: free_port(args.port + 100, args.port + 200)))
                env.update(REDIS_URL="", REDIS_MIN_REPLICAS_ACK="1", **group.settings())
                print(f"Redis primary on {group.primary.port}, replica on {group.replica.port}, sentinels on "
                      f"{', '.join(str(s.port) for s in group.sentinels)}", flush=True)
            subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                           env={**os.environ, **env}, check=True)
            for _ in range(args.persisters):
                processes.enter_context(persister(env))
            stack = processes.enter_context(running(
                env, ports=(args.port + 1, args.port + 100), instances=args.instances, listen_port=args.port,
                publish_counts=True))
            print(f"app instances: {', '.join(stack.app_urls)}; logs in {stack.state_dir / 'logs'}")
            print(f"serving on {stack.url} (Ctrl+C to stop)", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
