"""`[PROFILE_GIL=1] python -m bench.profile_worker count|sign [seconds]`: py-spy on one gunicorn worker
(production config, WEB_CONCURRENCY=1) while wrk drives the count endpoint or signing at 8
connections; prints the functions with the most inclusive samples (what a request costs).
Uses the bench's servers and databases (reset, like `python -m bench`)."""
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import http
from bench.__main__ import FULL, _ports
from bench.appctx import bench_app
from bench.services import BIN, gunicorn, redis_server

DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_bench"
USERS_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_users_bench"


def worker_pid(master_port):
    out = subprocess.run(["pgrep", "-f", f"127.0.0.1:{master_port}"], capture_output=True, text=True).stdout.split()
    pids = sorted(int(p) for p in out)
    return pids[-1]  # the single worker forks after the master, so its pid is the higher


def summarise(raw_file, top=int(os.environ.get("PROFILE_TOP", "110"))):
    inclusive, total = collections.Counter(), 0
    for line in Path(raw_file).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        count = int(count)
        total += count
        seen = set()
        for frame in stack.split(";"):
            func, _, where = frame.partition(" (")
            name = f"{func} {where.rsplit('/', 1)[-1].rsplit(':', 1)[0]}"
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
    for name, count in inclusive.most_common(top):
        print(f"{100 * count / total:5.1f}%  {name}")


def main():
    what = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    sizes = {**FULL, "http_petitions": 20, "signers": 20000}
    db = os.environ.get("BENCH_DATABASE_URL", DATABASE_URL)
    users = os.environ.get("BENCH_USERS_DATABASE_URL", USERS_DATABASE_URL)
    with tempfile.TemporaryDirectory() as work, redis_server(_ports("BENCH_REDIS_PORTS", "5400-5449")) as redis_url, \
            bench_app(redis_url, db, users) as (app, env), app.app_context():
        ids, sessions_file, signers = http.seed(app, sizes, work)
        for s in signers:
            app.extensions["user_cache"].put(s)
        env = {**env, "WEB_CONCURRENCY": "1"}
        with gunicorn("wsgi:app", env, _ports("BENCH_HTTP_PORTS", "5450-5499")) as site:
            port = site.rsplit(":", 1)[1]
            url = f"{site}/api/petitions/{ids[0]}/count" if what == "count" else f"{site}/petitions/{ids[1]}/sign"
            subprocess.run(["ab", "-q", "-n", "50", "-c", "2", f"{site}/api/petitions/{ids[0]}/count"], capture_output=True)
            pid = worker_pid(port)
            raw = os.path.join(work, "raw.txt")
            # PROFILE_GIL=1: only samples holding the GIL, i.e. leave out waits on sockets.
            gil = ["--gil"] if os.environ.get("PROFILE_GIL") == "1" else []
            spy = subprocess.Popen([str(BIN / "py-spy"), "record", "--pid", str(pid), "--format", "raw", "-o", raw,
                                    "-d", str(seconds), "-r", "250", "--nonblocking", *gil],
                                   stdout=subprocess.DEVNULL)
            args = (http.SIGN_LUA, (ids[1], sessions_file, 0.0, 2)) if what == "sign" else (None, ())
            figures = http.run_wrk(url, 8, seconds, *args)
            spy.wait()
            print(figures)
            if spy.returncode != 0 or not os.path.exists(raw):
                sys.exit(f"py-spy recorded nothing (exit {spy.returncode}); its message is above")
            summarise(raw)


if __name__ == "__main__":
    main()
