"""HTTP scenarios with ab and wrk against gunicorn (production config), each beside the
constant-response baseline measured in the same run."""
import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path

from flask import g, session
from flask_login import login_user
from flask_wtf.csrf import generate_csrf
from tqdm import tqdm

from app.web import wiring
from app.web.auth_session import CurrentUser
from app.domain.petitions import utcnow
from app.web.extensions import db
from app.repositories.outbox import Outbox
from app.repositories.petitions_sql import PetitionRepository, SignatureRepository
from app.services.rebuild import rebuild_open_index
from bench import data
from bench.appctx import truncate_all
from bench.services import BIN, ROOT, gunicorn, stop

SIGN_LUA = Path(__file__).resolve().parent / "wrk" / "sign.lua"
WRK_THREADS = 2
USER_AGENT = "bench"
# As behind production's TLS proxy; the user agent is part of Flask-Login's session check.
HEADERS = {"X-Forwarded-Proto": "https", "User-Agent": USER_AGENT}
READ_SCENARIOS = ("baseline", "front_page", "api_list", "api_count")
# Signing runs: new signers, 20% repeats, and the same requests against bench.baseline's
# signing_reference (nothing checked or stored).
SIGN_SCENARIOS = {"sign_new": 0.0, "sign_dup20": 0.2, "sign_reference": 0.0}


# -- running the load generators ----------------------------------------------------------------
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    done = re.search(r"(\d+) requests in (\S+),", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": _ms(re.search(r"\n\s+50%\s+(\S+)", out).group(1)),
        "p99_ms": _ms(re.search(r"\n\s+99%\s+(\S+)", out).group(1)),
        "requests": int(done.group(1)),
        "seconds": _ms(done.group(2)) / 1000,
        "errors": (sum(map(int, socket.groups())) if socket else 0) + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def parse_ab(out):
    non_2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    return {
        "rps": float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1)),
        "p50_ms": float(re.search(r"\n\s+50%\s+(\d+)", out).group(1)),
        "p99_ms": float(re.search(r"\n\s+99%\s+(\d+)", out).group(1)),
        "requests": int(re.search(r"Complete requests:\s+(\d+)", out).group(1)),
        # -l: responses of differing length are not failures (pages carry live counts).
        "errors": int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
        + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def run_wrk(url, concurrency, seconds, script=None, script_args=()):
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{concurrency}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in HEADERS.items():
        cmd += ["-H", f"{name}: {value}"]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    if script_args:
        cmd += ["--", *map(str, script_args)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = parse_wrk(out)
    if match := re.search(r"BENCH acked=(\d+) new_sent=(\d+) wrapped=(\d+)", out):
        result.update(acked=int(match[1]), new_sent=int(match[2]), wrapped=int(match[3]))
    return result


def run_ab(url, concurrency, seconds):
    cmd = ["ab", "-q", "-r", "-l", "-s", "10", "-t", str(seconds), "-n", "10000000", "-c", str(concurrency)]
    for name, value in HEADERS.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if re.search(r"Complete requests:\s+0\n", done.stdout):
        # Nothing answered within the run (an overloaded machine): every request took longer.
        return {"rps": 0.0, "p50_ms": seconds * 1000.0, "p99_ms": seconds * 1000.0, "requests": 0,
                "errors": concurrency, "incomplete": True}
    if "Requests per second" not in done.stdout:
        raise RuntimeError(f"ab failed on {url}: {done.stdout[-1500:]} {done.stderr[-1000:]}")
    return parse_ab(done.stdout)


# -- seeding ------------------------------------------------------------------------------------
def seed(app, sizes, workdir):
    """Open petitions and users in SQL, Redis rebuilt from SQL (the production start-up path),
    and a file of signed-in sessions minted with the app's own session and CSRF machinery."""
    truncate_all()
    petitions = PetitionRepository(db.session)
    rows = data.open_petitions(sizes["http_petitions"])
    for start in range(0, len(rows), 1000):
        petitions.add_many(rows[start : start + 1000])
    db.session.commit()
    signers = []
    for start in tqdm(range(0, sizes["signers"], 5000), desc="http: users", leave=False):
        batch = data.users(min(5000, sizes["signers"] - start), start=start + 1)
        db.session.add_all(batch)
        db.session.flush()
        signers += [CurrentUser(user) for user in batch]
    db.session.commit()
    rebuild_open_index(wiring.open_store(), petitions, SignatureRepository(db.session), utcnow)
    sessions_file = Path(workdir) / "sessions.txt"
    sessions_file.write_text("".join(f"{c} {t}\n" for c, t in mint_sessions(app, signers)))
    return [row.id for row in rows], sessions_file, signers


def mint_sessions(app, users):
    """(session cookie, CSRF form token) per user, as the app issues them after a login from
    127.0.0.1 with our user agent."""
    serializer = app.session_interface.get_signing_serializer(app)
    with app.test_request_context("/", headers=HEADERS, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        for user in tqdm(users, desc="http: sessions", leave=False):
            session.clear()
            g.pop("csrf_token", None)
            login_user(user)
            token = generate_csrf()
            yield serializer.dumps(dict(session)), token


# -- the suite ----------------------------------------------------------------------------------
class LagSampler(threading.Thread):
    """Samples the outbox lag while the persister runs beside signing: entries not yet in SQL,
    and how long the oldest of them has waited."""

    def __init__(self, outbox, every=0.2):
        super().__init__(daemon=True)
        self.outbox, self.every, self.max_lag, self.max_lag_s = outbox, every, 0, 0.0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(self.every):
            self.max_lag = max(self.max_lag, self.outbox.lag())
            self.max_lag_s = max(self.max_lag_s, self.outbox.lag_seconds())


def run(app, env, sizes, results, port_range):
    with tempfile.TemporaryDirectory(prefix="bench-http-") as workdir, app.app_context():
        petition_ids, sessions_file, signers = seed(app, sizes, workdir)
        results.extra["sign_reference_answer"] = thank_you_answer(app, petition_ids[-1], sessions_file)
        reference_env = {**env, "BENCH_SIGN_ANSWER": json.dumps(results.extra["sign_reference_answer"])}
        with gunicorn("bench.baseline:app", env, port_range) as base, gunicorn("wsgi:app", env, port_range) as site, \
                gunicorn("bench.baseline:signing_reference", reference_env, port_range) as reference:
            urls = {
                "baseline": f"{base}/",
                "front_page": f"{site}/",
                "api_list": f"{site}/api/petitions",
                "api_count": f"{site}/api/petitions/{petition_ids[0]}/count",
            }
            for url in urls.values():  # every worker's first request checks the index
                subprocess.run(["ab", "-q", "-n", "200", "-c", "8", url], capture_output=True, check=True)
            raw = _read_runs(urls, sizes)
            servers = {"site": site, "reference": reference}
            sign_raw = _signing_runs(app, servers, env, sizes, petition_ids[1:], sessions_file, signers) if sizes["signing"] else []
        _check_signatures(sign_raw)
    _summarise(raw + sign_raw, results)


def _read_runs(urls, sizes):
    raw = []
    runs = [(r, c, tool, s) for r in range(sizes["repeats"]) for c in sizes["concurrency"]
            for tool in ("ab", "wrk") for s in READ_SCENARIOS]
    for repeat, concurrency, tool, scenario in tqdm(runs, desc="http: read scenarios", leave=False):
        runner = run_ab if tool == "ab" else run_wrk
        figures = runner(urls[scenario], concurrency, sizes["http_seconds"])
        raw.append({"tool": tool, "scenario": scenario, "concurrency": concurrency, "repeat": repeat, **figures})
    return raw


def thank_you_answer(app, petition_id, sessions_file):
    """The headers (but Location and length) and body of the site's answer to a signature: one
    real signature by the first session, through Flask, as the bench's requests send it."""
    cookie, token = sessions_file.read_text().split("\n", 1)[0].split()
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    response = client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": token},
                           headers={**HEADERS, "Referer": f"https://localhost/petitions/{petition_id}"})
    if response.status_code != 303:
        raise RuntimeError(f"signing answered {response.status}, not the 303 the reference repeats")
    wiring.persister().drain()  # an outbox entry left waiting would read as lag in the signing runs
    headers = [(name, value) for name, value in response.headers if name.lower() not in ("location", "content-length")]
    return {"headers": headers, "body": response.get_data(as_text=True)}


def _signing_runs(app, servers, env, sizes, petition_ids, sessions_file, signers):
    """wrk only: ab repeats one identical request, so it cannot sign as a new user each time.
    The persister runs beside the signing, as in production, and its lag is sampled."""
    client = wiring.redis_client()
    persister = subprocess.Popen(
        [str(BIN / "flask"), "--app", "wsgi", "signatures", "persist"],
        cwd=ROOT, env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    sampler = LagSampler(Outbox(client))
    sampler.start()
    raw, ids = [], iter(petition_ids)
    runs = [(r, c, scenario) for r in range(sizes["repeats"]) for c in sizes["concurrency"] for scenario in SIGN_SCENARIOS]
    try:
        for repeat, concurrency, scenario in tqdm(runs, desc="http: signing", leave=False):
            pid = next(ids)
            if sizes["warm_user_cache"] and scenario != "sign_reference":
                # A browser signs from the petition page it has just loaded (the form and its
                # CSRF token are on it); that signed-in GET left the user's card in the cache.
                for signer in signers:
                    app.extensions["user_cache"].put(signer)
            server = servers["reference" if scenario == "sign_reference" else "site"]
            figures = run_wrk(f"{server}/petitions/{pid}/sign", concurrency, sizes["sign_seconds"],
                              SIGN_LUA, (pid, sessions_file, SIGN_SCENARIOS[scenario], WRK_THREADS))
            raw.append({"tool": "wrk", "scenario": scenario, "concurrency": concurrency,
                        "repeat": repeat, "petition_id": pid, **figures})
    finally:
        sampler.halt.set()
        sampler.join()
        stop(persister)
    for row in raw:
        row["max_outbox_lag"], row["max_outbox_lag_s"] = sampler.max_lag, sampler.max_lag_s
    return raw


def _check_signatures(sign_raw):
    """After the persister drains: every acknowledged new signature is in Redis and in SQL."""
    wiring.persister().drain()
    store, signatures = wiring.open_store(), SignatureRepository(db.session)
    for row in sign_raw:
        if row["scenario"] == "sign_reference":
            continue  # nothing was stored
        in_redis = store.count(row["petition_id"])
        in_sql = signatures.count_for(row["petition_id"])
        # In a run of new signers every 303 is a distinct signer Redis must hold.
        acked_distinct = row["acked"] if row["scenario"] == "sign_new" and not row["wrapped"] else 0
        row.update(in_redis=in_redis, in_sql=in_sql,
                   lost=max(0, acked_distinct - in_redis) + abs(in_redis - in_sql))


def _summarise(raw, results):
    """Median per (tool, scenario, concurrency) over repeats, and its ratio to the median
    baseline of the same tool at the same concurrency."""
    groups = {}
    for row in raw:
        groups.setdefault((row["tool"], row["scenario"], row["concurrency"]), []).append(row)
    baselines = {(t, c): statistics.median(r["rps"] for r in rows)
                 for (t, s, c), rows in groups.items() if s == "baseline"}
    for (tool, scenario, concurrency), rows in sorted(groups.items()):
        rps = statistics.median(r["rps"] for r in rows)
        figures = {
            "rps": rps,
            "ratio": rps / baselines[(tool, concurrency)],
            "p50_ms": statistics.median(r["p50_ms"] for r in rows),
            "p99_ms": statistics.median(r["p99_ms"] for r in rows),
            "errors": sum(r["errors"] for r in rows),
            "runs": len(rows),
        }
        if scenario.startswith("sign") and scenario != "sign_reference":
            figures["acked_per_s"] = statistics.median(r["acked"] / r["seconds"] for r in rows)
            figures["lost"] = sum(r["lost"] for r in rows)
            figures["max_outbox_lag"] = rows[0]["max_outbox_lag"]
            figures["max_outbox_lag_s"] = rows[0]["max_outbox_lag_s"]
        results.add("http", f"{scenario}_{tool}_c{concurrency}", **figures)
    results.extra["http_runs"] = raw
