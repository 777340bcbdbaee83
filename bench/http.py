"""HTTP scenarios through nginx (deploy/nginx.conf.template) in front of gunicorn (gunicorn.conf.py),
made as people make them, each beside the constant app (bench/baseline.py) served through the same
nginx and gunicorn settings in the same run:

- anonymous reads of the micro-cached pages and APIs, gzip accepted as browsers do;
- signatures by people registered over HTTP (bench/browsers.py) who loaded the petition page signed
  in and signed after their user card had expired: through the signing endpoint as sign.js sends
  them (new signers, then 20% repeats), and through the form as a browser without JavaScript does;
- new signers again while `watchers` open pages (bench/watchers.py) hold that petition's pushed-count
  stream, each repeat beside the run without them: every watcher must see the final count within
  2 s of the last answer, and signing stay within 10 % of the unwatched run. The count publisher
  runs in every run, watched or not;
- new signers through nginx to two gunicorn instances on a Redis primary with a replica, found
  through three sentinels (deploy/redis_ha.py), with two persisters: once answering only what the
  replica confirmed (REDIS_MIN_REPLICAS_ACK=1) and once without, each against the other and the
  constant app.

A scenario fails on any 5xx, any answer but the expected ones, or any acknowledged signature not in
Redis and SQL once the persister has caught up; a watched one also on any watcher that failed to
connect or did not see the final count in time.
"""
import math
import re
import statistics
import subprocess
import signal
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests
from tqdm import tqdm

from app.domain.petitions import utcnow
from app.repositories import redis_keys
from app.repositories.outbox import Outbox
from app.repositories.open_petitions import OpenPetitionStore
from app.repositories.petitions_sql import PetitionRepository, SignatureRepository
from app.repositories.redis_client import make_redis
from app.services.persister import SignaturePersister
from app.services.rebuild import rebuild_open_index
from app.web import wiring
from app.web.extensions import db
from bench import browsers, data
from bench.appctx import truncate_all
from bench.cpu import CpuSampler
from bench.pg_connections import ConnectionSampler
from bench.profile import Profile
from bench.report import stamp
from bench.watchers import Crowd, tree_rss_bytes
from deploy.redis_ha import replicated_redis
from deploy.stack import free_port, local_env, persister, running

WRK = Path(__file__).resolve().parent / "wrk"
WRK_THREADS = 2
READS = {
    "baseline": "/baseline",  # the constant app; not a micro-cached path, so each one reaches gunicorn
    "front_page": "/",
    "petition_page": "/petitions/{id}",
    "api_list": "/api/petitions",
    "api_count": "/api/petitions/{id}/count",
}
# name -> (wrk sign.lua mode, duplicate rate, stack); "reference" sends the endpoint's requests to
# the constant app: the most signing could reach on this stack and load generator.
SIGNING = {
    "endpoint_new": ("endpoint", 0.0, "site"),
    "endpoint_new_watched": ("endpoint", 0.0, "site"),  # endpoint_new with `watchers` subscribers (WATCHED)
    "endpoint_dup20": ("endpoint", 0.2, "site"),
    "endpoint_reference": ("endpoint", 0.0, "baseline"),
    "form_cold": ("form", 0.0, "site"),
    "endpoint_new_2x": ("endpoint", 0.0, "two"),  # two instances, replicated Redis, no replica acknowledgement
    "endpoint_new_2x_ack": ("endpoint", 0.0, "two_ack"),  # the same, answering only what the replica has
}
WATCHED = {"endpoint_new_watched": "endpoint_new"}  # scenario -> the same run without watchers
REPLICA_ACKED = {"endpoint_new_2x_ack": "endpoint_new_2x"}  # scenario -> the same run without acknowledgement
REPLICATED_TARGETS = ("two", "two_ack")  # stacks on the replicated Redis
FINAL_WITHIN_S = 2.0  # every watcher has the final count this long after the last answer
TARGETS = {  # issue figures (BENCHMARKS.md); read off the 350-connection rows of a full run
    "read": {"ratio": 0.8, "p99_ms": 150},
    "endpoint": {"ratio": 0.4, "new_per_s": 3000, "p99_ms": 300},
    "watched": {"ratio_to_unwatched": 0.9},  # signing within 10 % of the unwatched run
}
AT_LEAST = ("ratio", "new_per_s", "ratio_to_unwatched")  # the other targets are maxima


# -- wrk ----------------------------------------------------------------------------------------
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(out):
    done = re.search(r"(\d+) requests in (\S+),", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    figures = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"\n\s+50%\s+(\S+)", out).group(1)),
        "p99_ms": _ms(re.search(r"\n\s+99%\s+(\S+)", out).group(1)),
        "requests": int(done.group(1)),
        "seconds": _ms(done.group(2)) / 1000,
        "socket_errors": sum(map(int, socket.groups())) if socket else 0,
    }
    counts = re.search(r"BENCH (.*)", out).group(1)
    figures.update({name: int(value) for name, value in re.findall(r"(\w+)=(\d+)", counts)})
    return figures


def run_wrk(url, concurrency, seconds, script, script_args=(), headers=(), until_done=None):
    """wrk for `seconds`; with `until_done` (a directory the script writes done-<thread> files
    into), the run ends as soon as every thread has written its file, and its figures cover that
    time only (wrk reports on SIGINT as at the end of its duration)."""
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{concurrency}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for header in (f"User-Agent: {browsers.USER_AGENT}", *headers):
        cmd += ["-H", header]
    cmd += ["-s", str(script), url]
    if script_args:
        cmd += ["--", *map(str, script_args)]
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if until_done is not None:
        while wrk.poll() is None and len(list(Path(until_done).glob("done-*"))) < WRK_THREADS:
            time.sleep(0.01)
        if wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)
    out, errors = wrk.communicate()
    if wrk.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed ({wrk.returncode}): {errors[-1000:]} {out[-1000:]}")
    return parse_wrk(out)


# -- seeding ------------------------------------------------------------------------------------
def seed_petitions(count):
    """Open petitions in SQL, and Redis rebuilt from SQL (the production start-up path)."""
    truncate_all()
    petitions = PetitionRepository(db.session)
    rows = data.open_petitions(count)
    for start in range(0, len(rows), 1000):
        petitions.add_many(rows[start : start + 1000])
    db.session.commit()
    rebuild_open_index(wiring.open_store(), petitions, SignatureRepository(db.session), utcnow)
    return [row.id for row in rows]


def expire_user_cards():
    """What minutes of reading do: every signer's cached user card has expired."""
    client = wiring.redis_client()
    cards = list(client.scan_iter(redis_keys.user_card("*"), count=10_000))
    for start in range(0, len(cards), 10_000):
        client.delete(*cards[start : start + 10_000])


def warm_up(urls):
    """Every worker's first request checks the index and opens its connections."""
    with requests.Session() as http:
        for url in urls:
            for _ in range(50):
                http.get(url, timeout=30)


# -- the suite ----------------------------------------------------------------------------------
class LagSampler(threading.Thread):
    """The outbox's lag while the persister runs beside signing: entries not yet in SQL, and how
    long the oldest of them has waited."""

    def __init__(self, outbox, every=0.2):
        super().__init__(daemon=True)
        self.outbox, self.every, self.max_lag, self.max_lag_s = outbox, every, 0, 0.0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(self.every):
            self.max_lag = max(self.max_lag, self.outbox.lag())
            self.max_lag_s = max(self.max_lag_s, self.outbox.lag_seconds())


@contextmanager
def persister_beside(env):
    """The persister beside the signing, as in production; yields the sampler of its lag."""
    sampler = LagSampler(Outbox(wiring.redis_client()))
    with persister(env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        sampler.start()
        try:
            yield sampler
        finally:
            sampler.halt.set()
            sampler.join()


def run(app, env, sizes, results, ports):
    site_env = local_env(env)
    with ExitStack() as stack, app.app_context():
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-http-")))
        petition_ids = seed_petitions(sizes["http_petitions"])
        stacks = {
            # the count publisher in every site run, so watched and unwatched ones compare fairly
            "site": stack.enter_context(running(site_env, ports, publish_counts=True)),
            "baseline": stack.enter_context(running(site_env, ports, target="bench.baseline:app")),
        }
        replicated_store = None
        if sizes["replicated"]:
            group = stack.enter_context(replicated_redis(lambda: free_port(*ports)))
            replicated_env = {**site_env, "REDIS_URL": "", **group.settings()}
            for _ in range(2):
                stack.enter_context(persister(replicated_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for name, acks in (("two", 0), ("two_ack", 1)):
                # Each boots on the petitions in SQL: the first request rebuilds the replicated Redis.
                stacks[name] = stack.enter_context(
                    running({**replicated_env, "REDIS_MIN_REPLICAS_ACK": str(acks)}, ports, instances=2))
            warm_up([f"{stacks[name].url}/api/petitions" for name in REPLICATED_TARGETS])
            replicated_store = OpenPetitionStore(make_redis(group.url, socket_timeout=30))
        read_urls = {name: stacks["baseline" if name == "baseline" else "site"].url + path.format(id=petition_ids[0])
                     for name, path in READS.items()}
        warm_up(read_urls.values())
        print(f"{stamp()} http: registering {sizes['signers']:,} signers over HTTP", file=sys.stderr)
        people = browsers.register_many(stacks["site"].url, sizes["signers"], env["MAIL_DIR"])
        print(f"{stamp()} http: reads", file=sys.stderr)
        raw = _read_runs(read_urls, sizes) if sizes["reads"] else []
        if sizes["signing"]:
            print(f"{stamp()} http: signing", file=sys.stderr)
            with persister_beside(site_env) as lag:
                raw += _signing_runs(stacks, people, sizes, iter(petition_ids[1:]), workdir, site_env)
                for mode, scenario, pid in (("endpoint", "endpoint_new", petition_ids[-2]),
                                            ("form", "form_cold", petition_ids[-1])):
                    results.extra[f"{scenario}_profile"] = _profile(stacks["site"], people, sizes, pid, workdir, mode)
            _check_signatures(raw, lag, replicated_store)
    _summarise(raw, results)


def _read_runs(urls, sizes):
    raw = []
    runs = [(r, c, s) for r in range(sizes["repeats"]) for c in sizes["concurrency"] for s in READS]
    for repeat, concurrency, scenario in tqdm(runs, desc="http: reads", leave=False):
        with CpuSampler() as cpu:
            figures = run_wrk(urls[scenario], concurrency, sizes["http_seconds"], WRK / "reads.lua",
                              headers=["Accept-Encoding: gzip"])
        errors = figures["socket_errors"] + figures["s5xx"] + figures["other"]
        raw.append({"kind": "read", "scenario": scenario, "concurrency": concurrency, "repeat": repeat,
                    "errors": errors, "cpu": cpu.shares, **figures})
    return raw


def _tokens_file(people, site, petition_id, workdir):
    """The people load the petition page signed in (bench/wrk/pages.lua), then read it until their
    user cards expire. Returns a file of "cookie signing-token CSRF-token" per person."""
    people_file = workdir / f"people-{len(people)}.txt"
    if not people_file.exists():
        people_file.write_text("".join(p.line() for p in people))
    out = Path(tempfile.mkdtemp(prefix="pages-", dir=workdir))
    figures = run_wrk(f"{site.url}/petitions/{petition_id}", 64, 600, WRK / "pages.lua",
                      (petition_id, people_file, WRK_THREADS, out), until_done=out)
    cookies = {str(p.number): p.session_cookie for p in people}
    lines = [line.split() for tokens in out.glob("tokens-*") for line in tokens.read_text().splitlines()]
    if figures["failed"] or len(lines) != len(people):
        raise RuntimeError(f"{len(lines)} of {len(people)} petition pages read, {figures['failed']} failed")
    expire_user_cards()
    path = workdir / f"tokens-{petition_id}.txt"
    path.write_text("".join(f"{(new or [cookies[n]])[0]} {bearer} {csrf}\n" for n, bearer, csrf, *new in lines))
    return path


def _sign(url, mode, petition_id, tokens, dup, sizes, workdir):
    """One signing run (bench/wrk/sign.lua) that ends when every person in `tokens` has signed."""
    done = Path(tempfile.mkdtemp(prefix="sign-", dir=workdir))
    path = f"/api/petitions/{petition_id}/signatures" if mode == "endpoint" else f"/petitions/{petition_id}/sign"
    return run_wrk(url + path, sizes["sign_concurrency"], sizes["sign_timeout"], WRK / "sign.lua",
                   (mode, petition_id, tokens, dup, WRK_THREADS, done), until_done=done)


def _signing_runs(stacks, people, sizes, petition_ids, workdir, env):
    raw, tokens, signers = [], None, 0
    runs = [(r, s) for r in range(sizes["repeats"]) for s, (_, _, target) in SIGNING.items()
            if (sizes["watchers"] or s not in WATCHED) and (sizes["replicated"] or target not in REPLICATED_TARGETS)]
    for repeat, scenario in tqdm(runs, desc="http: signing", leave=False):
        mode, dup, target = SIGNING[scenario]
        pid = next(petition_ids)
        if target != "baseline" or tokens is None:  # the constant app reads no token
            signers = sizes["form_signers"] if mode == "form" else sizes["signers"]
            tokens = _tokens_file(people[:signers], stacks["site"], pid, workdir)
        with ExitStack() as watching:
            crowd = watching.enter_context(_watchers(stacks["site"], pid, sizes["watchers"], workdir)) \
                if scenario in WATCHED else None
            with ConnectionSampler([env["DATABASE_URL"], env["USERS_DATABASE_URL"]]) as connections, CpuSampler() as cpu:
                figures = _sign(stacks[target].url, mode, pid, tokens, dup, sizes, workdir)
                t_last = time.time()  # every signer has had an answer
            if crowd:
                figures.update(_final_counts(crowd, pid, t_last))
        errors = figures["socket_errors"] + figures["s5xx"] + figures["other"]
        raw.append({"kind": "form" if mode == "form" else "endpoint", "scenario": scenario,
                    "concurrency": sizes["sign_concurrency"], "repeat": repeat,
                    "petition_id": None if target == "baseline" else pid, "people": signers,
                    "replicated": target in REPLICATED_TARGETS,
                    "errors": errors, "max_pg_connections": connections.most, "cpu": cpu.shares, **figures})
    return raw


def _watchers(site, petition_id, count, workdir):
    """`count` subscribers connected to the petition's stream (bench/watchers.py), with nginx's
    memory (master and workers) before and after they connected."""
    nginx = site.processes["nginx"].pid
    before = tree_rss_bytes(nginx)
    crowd = Crowd(f"{site.url}/api/petitions/{petition_id}/count/stream", count, workdir)
    watched = tree_rss_bytes(nginx)
    crowd.memory = {"nginx_rss_before": before, "nginx_rss_watched": watched,
                    "nginx_bytes_per_watcher": round((watched - before) / count), "watcher_rss": crowd.rss(),
                    "watchers_connect_s": crowd.ready["seconds"]}
    return crowd


def _final_counts(crowd, petition_id, t_last):
    """How soon after `t_last` each watcher had the petition's final count (the publisher sends
    it within a second): waits up to 5 s for all of them, then stops the watchers."""
    final = wiring.open_store().count(petition_id)
    out = crowd.finish(final, timeout=5.0)
    delays = sorted(max(0.0, at - t_last) for count, at in out["streams"] if count == final)
    return {
        **crowd.memory, "watchers": crowd.count, "final_count": final, "saw_final": len(delays),
        "final_delay_max_s": delays[-1] if delays else None,
        "final_delay_p99_s": delays[math.ceil(0.99 * len(delays)) - 1] if delays else None,
        "final_within_2s": len(delays) == crowd.count and delays[-1] <= FINAL_WITHIN_S,
        "watcher_failures": out["failed"] + out["closed_early"],
        "watcher_failure_reasons": {**out["failures"], "closed early": out["closed_early"]},
    }


def _profile(site, people, sizes, petition_id, workdir, mode):
    """One more cold run of `mode`, not measured, with py-spy over every worker."""
    signers = (sizes["form_signers"] if mode == "form" else sizes["signers"]) // 2
    tokens = _tokens_file(people[:signers], site, petition_id, workdir)
    seconds = max(2, signers // (400 if mode == "form" else 2000))
    with Profile(site.processes["gunicorn-0"].pid, seconds=seconds) as profile:
        _sign(site.url, mode, petition_id, tokens, 0.0, sizes, workdir)
    return profile.top()


def _check_signatures(raw, lag, replicated_store=None):
    """After the persisters drain: every acknowledged new signature is in its Redis (the bench's,
    or the replicated one) and in SQL, once."""
    signatures = SignatureRepository(db.session)
    wiring.persister().drain()
    if replicated_store is not None:
        SignaturePersister(Outbox(replicated_store.redis), signatures, db.session, consumer="bench-check").drain()
    for row in raw:
        if row["kind"] == "read" or row["petition_id"] is None:
            continue
        store = replicated_store if row["replicated"] else wiring.open_store()
        in_redis, in_sql = store.count(row["petition_id"]), signatures.count_for(row["petition_id"])
        row.update(in_redis=in_redis, in_sql=in_sql, lost=max(0, row["new"] - in_redis) + abs(in_redis - in_sql))
        if not row["replicated"]:  # the lag sampler watches the bench's own Redis
            row.update(max_outbox_lag=lag.max_lag, max_outbox_lag_s=lag.max_lag_s)


def _summarise(raw, results):
    """Median per (scenario, concurrency) over repeats, and its ratio to the median baseline at
    the same concurrency."""
    groups = {}
    for row in raw:
        groups.setdefault((row["scenario"], row["concurrency"]), []).append(row)
    baselines = {c: statistics.median(r["rps"] for r in rows) for (s, c), rows in groups.items() if s == "baseline"}
    for (scenario, concurrency), rows in groups.items():
        kind = rows[0]["kind"]
        figures = {
            "rps": statistics.median(r["rps"] for r in rows),
            "p50_ms": statistics.median(r["p50_ms"] for r in rows),
            "p99_ms": statistics.median(r["p99_ms"] for r in rows),
            "errors": sum(r["errors"] for r in rows),
            "s5xx": sum(r["s5xx"] for r in rows),
            "runs": len(rows),
            # percent of one core per kind of process (bench/cpu.py), medians over the runs
            "cpu": {g: statistics.median(r["cpu"].get(g, 0) for r in rows)
                    for g in sorted({g for r in rows for g in r["cpu"]})},
        }
        base = baselines.get(concurrency) or (baselines and baselines[max(baselines)])
        figures["ratio"] = figures["rps"] / base if base else None  # no baseline when reads=0
        if kind == "read":
            figures["cache_hits"] = sum(r["hits"] for r in rows) / max(1, sum(r["requests"] for r in rows))
        else:
            figures["new_per_s"] = _new_per_s(rows)
            figures["lost"] = sum(r.get("lost", 0) for r in rows)
            figures["max_pg_connections"] = max(r["max_pg_connections"] for r in rows)
            if "max_outbox_lag" in rows[0]:
                figures["max_outbox_lag"], figures["max_outbox_lag_s"] = rows[0]["max_outbox_lag"], rows[0]["max_outbox_lag_s"]
        if scenario in WATCHED:
            figures.update(_watched(rows, groups.get((WATCHED[scenario], concurrency), []), figures["new_per_s"]))
        if scenario in REPLICA_ACKED:
            unacked_rate = _new_per_s(groups.get((REPLICA_ACKED[scenario], concurrency), []))
            figures["ratio_to_unacknowledged"] = figures["new_per_s"] / unacked_rate if unacked_rate else None
        figures["failed"] = bool(figures["s5xx"] or figures["errors"] or figures.get("lost")
                                 or figures.get("watcher_failures") or figures.get("final_within_2s") is False)
        target = TARGETS["endpoint"] if scenario in ("endpoint_new", "endpoint_dup20") else \
            TARGETS["watched"] if scenario in WATCHED else \
            TARGETS["read"] if kind == "read" and scenario != "baseline" else None
        if target and all(figures.get(k) is not None for k in target) and \
                concurrency == max(c for (s, c) in groups if s == scenario):  # no ratio without a baseline
            figures["meets_target"] = all(
                figures[k] >= v if k in AT_LEAST else figures[k] <= v for k, v in target.items())
        results.add("http", f"{scenario}_c{concurrency}", **figures)
    results.extra["http_runs"] = raw


def _new_per_s(rows):
    """The median rate of new signatures over a scenario's runs; None without runs."""
    return statistics.median(r["new"] / r["seconds"] for r in rows) if rows else None


def _watched(rows, unwatched, new_per_s):
    """A watched scenario's watcher figures over its repeats (the worst run for the final count),
    and its signing rate over the same scenario's without watchers."""
    delays = [r["final_delay_max_s"] for r in rows]
    unwatched_rate = _new_per_s(unwatched)
    return {
        "watchers": rows[0]["watchers"],
        "saw_final": min(r["saw_final"] for r in rows),
        "final_within_2s": all(r["final_within_2s"] for r in rows),
        "final_delay_max_s": None if None in delays else max(delays),
        "final_delay_p99_s": max((r["final_delay_p99_s"] for r in rows if r["final_delay_p99_s"] is not None),
                                 default=None),
        # nginx keeps the memory it grew to for one repeat's watchers, so a later repeat's
        # watchers add almost nothing: the first (largest) is the figure
        "nginx_bytes_per_watcher": max(r["nginx_bytes_per_watcher"] for r in rows),
        "watcher_rss_mb": statistics.median(r["watcher_rss"] for r in rows) / 2**20,
        "watcher_failures": sum(r["watcher_failures"] for r in rows),
        "ratio_to_unwatched": new_per_s / unwatched_rate if unwatched_rate else None,
    }
