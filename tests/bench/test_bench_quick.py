"""Proves the benchmark suite runs end to end (`make bench-quick`). No speed assertions: speed is
read from BENCHMARKS.md runs against a same-run baseline, never asserted here."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from config import settings

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    *(f"storage/{name}" for name in (
        "redis_write_one_by_one", "redis_write_bulk", "redis_top_raw", "redis_top_deserialised",
        "postgresql_write_one_commit_each", "postgresql_write_batched", "postgresql_top_cold",
        "postgresql_top_warm", "sqlite_write_one_commit_each", "sqlite_write_batched",
        "sqlite_top_cold", "sqlite_top_warm",
    )),
    *(f"http/{scenario}_c{c}" for scenario in ("baseline", "front_page", "petition_page", "api_list", "api_count")
      for c in (50, 350)),
    *(f"http/{scenario}_c350" for scenario in ("endpoint_new", "endpoint_new_watched", "endpoint_dup20",
                                                "endpoint_reference", "form_cold", "endpoint_new_2x",
                                                "endpoint_new_2x_ack")),
    "durable/persister_batch1000", "durable/persister_batch5000", "durable/rebuild",
    "durable/redis_memory_one_petition", "durable/redis_memory_spread",
    "fanout/fanout_nchan", "fanout/fanout_asgi",
}


def _bench_db(url):
    """The test database's name with a suffix: the suite drops and re-migrates it."""
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_bench").render_as_string(hide_password=False)


@pytest.mark.timeout(420)
def test_quick_suite_produces_every_scenario():
    config = settings.TestConfig()
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": _bench_db(config.SQLALCHEMY_DATABASE_URI),
        "BENCH_USERS_DATABASE_URL": _bench_db(config.SQLALCHEMY_BINDS["users"]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    path = Path(re.search(r"results: (\S+\.json)", done.stdout).group(1))
    payload = json.loads(path.read_text())
    path.unlink()
    rows = {f"{row['group']}/{row['name']}": row for row in payload["results"]}
    assert EXPECTED <= set(rows), sorted(EXPECTED - set(rows))
    for name in EXPECTED:
        figures = {k: v for k, v in rows[name].items() if k not in ("group", "name")}
        assert figures and all(v is not None for v in figures.values()), name
    for name, row in rows.items():
        assert row.get("failed") is not True, (name, row)  # no 5xx, no unexpected answer, nothing lost
        if name.startswith(("http/endpoint_", "http/form_cold")):
            assert row["new_per_s"] > 0 and row["errors"] == 0, (name, row)
    acked = rows["http/endpoint_new_2x_ack_c350"]  # two instances, the replica confirming each signature
    assert acked["ratio_to_unacknowledged"] > 0 and acked["lost"] == 0, acked
    watched = rows["http/endpoint_new_watched_c350"]  # every stream subscriber had the final count in time
    assert watched["saw_final"] == watched["watchers"] > 0 and watched["final_within_2s"], watched
    assert watched["watcher_failures"] == 0 and watched["ratio_to_unwatched"] > 0, watched
    for engine in ("nchan", "asgi"):  # both fan-out engines delivered the last count to every watcher
        row = rows[f"fanout/fanout_{engine}"]
        assert row["saw_last"] == row["connected"] == row["watchers"] > 0 and row["failures"] == 0, row
    assert payload["form_cold_profile"] and payload["endpoint_new_profile"], "both signing paths are profiled"
    rebuild = rows["durable/rebuild"]
    assert rebuild["signatures"] == rebuild["expected_signatures"]
