"""`python -m bench [--quick] [--only storage,http,durable,fanout]`: runs the suite, prints a summary
table and writes bench/results/<time>-<mode>.json.

Servers: its own redis-server processes (AOF on) on BENCH_REDIS_PORTS, nginx in front of
gunicorn (deploy/stack.py) on BENCH_HTTP_PORTS, and the PostgreSQL databases BENCH_DATABASE_URL /
BENCH_USERS_DATABASE_URL, which are dropped and re-migrated on every run.
"""
import argparse
import os
import sys
import tempfile
import time

from bench import durable, fanout, http, storage
from bench.appctx import bench_app
from bench.report import Results, stamp
from bench.services import redis_server

FULL = {
    "redis_petitions": 100_000,
    "sql_petitions": 100_000,
    "sql_one_commit": 2000,  # one commit each is slow on a shared server: extrapolated
    "sql_batch": 1000,
    "top": 500,
    "read_repeats": 50,
    "http_petitions": 1000,
    "signers": 16_000,  # registered over HTTP; each signing-endpoint run signs with all of them
    "form_signers": 4000,  # the first of them sign each form run
    "concurrency": (50, 350),
    "sign_concurrency": 350,
    "http_seconds": 5,
    "sign_timeout": 60,  # a signing run ends when every signer has an answer, or after this
    "watchers": 10_000,  # stream subscribers to the petition endpoint_new_watched signs, and in each fanout run
    "fanout_seconds": 10,  # a count published once a second this long to each fan-out engine's watchers
    "reads": 1,  # 0 skips the read runs (e.g. when comparing workers on signing alone)
    "signing": 1,  # 0 skips the signing runs (e.g. when comparing gunicorn settings)
    "replicated": 1,  # 0 skips the runs on the replicated Redis (two instances, with and without replica acknowledgement)
    "repeats": 3,
    "persister_petitions": 100,
    "persister_signatures": 200_000,
    "persister_batches": (1000, 5000),
    "memory_signatures": 1_000_000,
    "memory_petitions": 10_000,
    "rebuild_petitions": 10_000,
    "rebuild_signatures": 1_000_000,
}
QUICK = {
    **FULL,
    "redis_petitions": 1000,
    "sql_petitions": 1000,
    "sql_one_commit": 100,
    "read_repeats": 5,
    "http_petitions": 50,
    "signers": 400,  # registration (argon2id each) is most of a quick run's time
    "form_signers": 200,
    "watchers": 200,
    "fanout_seconds": 2,
    "http_seconds": 1,  # a smoke test: every scenario answers, no figure is read from it
    "repeats": 1,
    "persister_petitions": 10,
    "persister_signatures": 2000,
    "memory_signatures": 10_000,
    "memory_petitions": 100,
    "rebuild_petitions": 100,
    "rebuild_signatures": 10_000,
}
GROUPS = ("storage", "http", "durable", "fanout")


def _ports(name, default):
    start, end = os.environ.get(name, default).split("-")
    return int(start), int(end) + 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every scenario at a tiny size")
    parser.add_argument("--only", default=",".join(GROUPS), help="comma-separated: " + ", ".join(GROUPS))
    parser.add_argument("--set", action="append", default=[], metavar="SIZE=VALUE",
                        help="override one size, e.g. --set http_seconds=5 (see FULL)")
    args = parser.parse_args(argv)
    groups = [g for g in args.only.split(",") if g]
    if unknown := set(groups) - set(GROUPS):
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    sizes = dict(QUICK if args.quick else FULL)
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in sizes:
            parser.error(f"unknown size {name!r}")
        sizes[name] = tuple(int(v) for v in value.split(",")) if isinstance(sizes[name], tuple) else int(value)
    redis_ports = _ports("BENCH_REDIS_PORTS", "5400-5449")
    http_ports = _ports("BENCH_HTTP_PORTS", "5450-5499")
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_bench")
    users_url = os.environ.get("BENCH_USERS_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_users_bench")
    results = Results("quick" if args.quick else "full")
    started = time.monotonic()
    with redis_server(redis_ports) as redis_url, bench_app(redis_url, database_url, users_url) as (app, env):
        if "storage" in groups:
            print(f"{stamp()} storage", file=sys.stderr)
            storage.run(app, redis_url, sizes, results)
        if "http" in groups:
            print(f"{stamp()} http", file=sys.stderr)
            http.run(app, env, sizes, results, http_ports)
        if "durable" in groups:
            print(f"{stamp()} durable", file=sys.stderr)
            with app.app_context():
                durable.persister(sizes, results)
                durable.rebuild(sizes, results)
            durable.memory(sizes, redis_ports, results)
        if "fanout" in groups:
            print(f"{stamp()} fanout", file=sys.stderr)
            with tempfile.TemporaryDirectory(prefix="bench-fanout-") as workdir:
                fanout.run(env, redis_url, sizes, results, http_ports, workdir)
    meta = {"sizes": sizes, "groups": groups, "argv": sys.argv[1:], "seconds": time.monotonic() - started,
            "gunicorn": {k: os.environ.get(k) for k in ("WEB_CONCURRENCY", "GUNICORN_WORKER_CLASS", "GUNICORN_THREADS")}}
    path = results.write(meta)
    print(results.table())
    print(f"\nresults: {path}")
    if failed := [row["name"] for row in results.rows if row.get("failed")]:
        sys.exit(f"failed (a 5xx, an unexpected answer or a lost signature): {', '.join(failed)}")


if __name__ == "__main__":
    main()
