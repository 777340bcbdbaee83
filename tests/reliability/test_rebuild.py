"""Failure test 6: Redis starts empty and four gunicorn workers boot at once. Each worker checks
the open index on its first request; exactly one rebuilds it from SQL while the others wait, and
the result equals SQL."""
import re
import threading
from datetime import timedelta

import orjson
from sqlalchemy import insert

from app.domain.petitions import utcnow
from app.web.extensions import db
from app.repositories import redis_keys as keys
from app.repositories.models import Petition, Signature
from tests.reliability.checks import redis_pairs, sql_rows
from tests.reliability.load import get_request, seed

WORKERS = 4


def _seed_sql_only(local):
    """Open petitions with signatures in SQL, plus a closed and a draft one the rebuild must skip."""
    user_ids, petition_ids = seed(local, users=500, petitions=40, open_in_redis=False)
    now = utcnow()
    with local.app_context():
        db.session.execute(insert(Signature), [
            {"petition_id": pid, "user_id": uid, "signed_at": now}
            for n, pid in enumerate(petition_ids) for uid in user_ids[: 10 * n + 1]
        ])
        db.session.execute(insert(Petition), [
            {"owner_id": 1, "owner_name": "Load 0", "title": f"Not open petition {state}", "body": "x",
             "duration_days": 30, "state": state, "launched_at": now - timedelta(days=40),
             "closes_at": now - timedelta(days=10)}
            for state in ("closed", "draft")
        ])
        db.session.commit()
    return petition_ids


def test_four_workers_booting_on_empty_redis_rebuild_once(start_redis, start_gunicorn, local_app):
    redis_server = start_redis()
    local = local_app(redis_server)
    petition_ids = _seed_sql_only(local)
    client = redis_server.client()
    assert client.dbsize() == 0

    web = start_gunicorn(redis_server, workers=WORKERS, access_log=True)
    statuses = []
    start = threading.Barrier(4 * WORKERS)

    def browse():
        start.wait()  # every worker is up; their first requests arrive together
        for _ in range(5):
            statuses.append(get_request(web.port, "/api/petitions")[0])

    threads = [threading.Thread(target=browse) for _ in range(4 * WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    log = web.log()
    assert statuses == [200] * len(threads) * 5
    served_by = set(re.findall(r"access pid=<(\d+)> status=200", log))
    assert len(served_by) == WORKERS, "every worker must have run its first-request check"
    assert len(re.findall(r"rebuilt Redis open index", log)) == 1, log[-3000:]

    rows = sql_rows(local)
    assert redis_pairs(client, petition_ids) == set(rows)
    print(f"rebuild: {len(served_by)} workers served, 1 rebuild of {len(petition_ids)} petitions and "
          f"{len(rows)} signatures")
    assert {int(pid) for pid in client.zrange(keys.OPEN_BY_CLOSING, 0, -1)} == set(petition_ids)
    counts = dict(client.zrange(keys.OPEN_BY_SIGNATURES, 0, -1, withscores=True))
    for n, pid in enumerate(petition_ids):
        assert counts[str(pid).encode()] == 10 * n + 1
        assert orjson.loads(client.hget(keys.OPEN_SUMMARIES, pid))["state"] == "open"
        assert orjson.loads(client.get(keys.petition_doc(pid)))["owner_name"] == "Load 0"
