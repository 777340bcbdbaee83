"""The pushed counts' fan-out engines compared, on the same watchers and the same messages:

- `fanout_nchan`: nginx's pub/sub module (the one production uses), fed by the count
  publisher's own client (count_push.NchanChannels) on nginx's local publisher listener;
- `fanout_asgi`: the small ASGI service of bench/sse_asgi.py (Starlette on uvicorn with uvloop
  and httptools, as many worker processes as nginx has), fed by Redis pub/sub, one subscription
  per process.

Each holds `watchers` streams to one petition while a new count is published once a second for
`fanout_seconds`. Figures: the engine's CPU over that time (master and workers, percent of one
core, and the kernel's part of it), its memory per watcher, and how long after the last publish every watcher had it. The
watchers' client (bench/watchers.py) is the same for both.
"""
import os
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from app.repositories.redis_client import make_redis
from app.services.count_push import NchanChannels
from bench.sse_asgi import RedisChannels
from bench.watchers import Crowd, children, tree_rss_bytes
from deploy.stack import free_port, local_env, running, stop, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PETITION_ID = 9_999_999  # no petition: no count publisher writes to its channel
TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid):
    """(user, system) CPU of `pid` and its children, in seconds."""
    user = system = 0
    for p in (pid, *children(pid)):
        try:
            text = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / TICKS, system / TICKS


def _raise_nofile():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one descriptor per watcher


@contextmanager
def asgi_service(redis_url, ports, workers):
    port = free_port(*ports)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.sse_asgi:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--backlog", "4096",
         "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "REDIS_URL": redis_url}, preexec_fn=_raise_nofile)
    try:
        wait_for_port(port, process=process)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def measure(pid, stream_url, publish, sizes, workdir):
    """`sizes["watchers"]` watchers on `stream_url` while `publish(n)` runs once a second."""
    before = tree_rss_bytes(pid)
    with Crowd(stream_url, sizes["watchers"], workdir) as crowd:
        held = tree_rss_bytes(pid)
        cpu_before, started = tree_cpu_seconds(pid), time.monotonic()
        for n in range(1, sizes["fanout_seconds"] + 1):
            published = time.time()
            publish(n)
            time.sleep(max(0.0, started + n - time.monotonic()))
        (user, system), seconds = tree_cpu_seconds(pid), time.monotonic() - started
        user, system = (user - cpu_before[0]) / seconds, (system - cpu_before[1]) / seconds
        out = crowd.finish(sizes["fanout_seconds"], timeout=5.0)
    delays = sorted(at - published for count, at in out["streams"] if count == sizes["fanout_seconds"])
    return {
        "watchers": sizes["watchers"], "connected": out["connected"], "saw_last": len(delays),
        "failures": out["failed"] + out["closed_early"],
        "cpu_percent": round(100 * (user + system), 1),
        "system_percent": round(100 * system, 1),  # the kernel's share: sockets, and on loopback the receiving side too
        "bytes_per_watcher": round((held - before) / sizes["watchers"]),
        "last_delay_max_s": delays[-1] if delays else None,
        "connect_s": out["connect_seconds"], "events": out["events"],
    }


def run(env, redis_url, sizes, results, ports, workdir):
    with running(local_env(env), ports, target="bench.baseline:app") as site:
        nginx = site.processes["nginx"].pid
        channels = NchanChannels(site.publish_url)
        nchan = measure(nginx, f"{site.url}/api/petitions/{PETITION_ID}/count/stream",
                        lambda n: channels.publish(PETITION_ID, {"signature_count": n}), sizes, workdir)
    channels = RedisChannels(make_redis(redis_url))
    workers = os.cpu_count()  # as many as nginx's `worker_processes auto`
    with asgi_service(redis_url, ports, workers) as (process, url):
        asgi = measure(process.pid, f"{url}/api/petitions/{PETITION_ID}/count/stream",
                       lambda n: channels.publish(PETITION_ID, {"signature_count": n}), sizes, workdir)
    results.add("fanout", "fanout_nchan", **nchan, failed=_failed(nchan))
    # over nchan's, where nchan's is measurable (a quick run's is often 0)
    ratios = {f"{figure}_to_nchan": asgi[figure] / nchan[figure]
              for figure in ("cpu_percent", "bytes_per_watcher") if nchan[figure] > 0}
    results.add("fanout", "fanout_asgi", **asgi, workers=workers, failed=_failed(asgi), **ratios)


def _failed(row):
    return row["failures"] > 0 or row["saw_last"] < row["watchers"]
