"""Pushed counts through the real stack: nginx with nchan holding the Server-Sent Events streams,
`flask counts publish` publishing, our own redis-server. A subscriber gets the count after a
signature, keeps its stream through a Redis restart, and a closed petition's stream ends with
the final count; the page still counts without JavaScript; and a real browser watches it."""
import json
import re
import time

import pytest
from playwright.sync_api import expect

from app.repositories import redis_keys as keys
from app.services.assembly import Services
from app.web import wiring
from app.web.extensions import db
from tests.integration.support import make_open, make_user
from tests.e2e.test_browser_journey import browser  # noqa: F401  (the chromium fixture)
from tests.integration.test_nginx import get
from tests.reliability.procs import wait_until
from tests.reliability.sse import Subscriber

COUNT_RE = re.compile(r'id="signature-count"[^>]*data-stream-url="(/api/petitions/\d+/count/stream)"[^>]*>([\d,]+)<')


@pytest.fixture
def live(start_redis, local_app, start_stack):
    """Redis, the in-process app on it (to sign and close), the stack publishing counts, and an
    open petition."""
    redis_server = start_redis(appendonly=True)
    local = local_app(redis_server)
    owner = make_user(local, "owner@example.com", "Olive Owner")
    petition_id = make_open(local, owner, "Keep the night buses running")
    stack = start_stack(redis_server, publish_counts=True)
    wait_until(lambda: redis_server.client().get(keys.COUNT_PUBLISHER_LEASE), timeout=60, what="the count publisher's first run")
    return redis_server, local, stack, petition_id


def sign(local, petition_id, user_ids):
    with local.app_context():
        signing = wiring.signing()
        for uid in user_ids:
            signing.sign(petition_id, uid, f"198.51.100.{uid % 250}")


def close(local, stack, petition_id):
    """The whole close, publishing to this stack's nginx."""
    with local.app_context():
        settings = {**local.config, "COUNT_PUBLISH_URL": stack.publish_url}
        Services(db.session, wiring.redis_client(), wiring.open_store(), settings).close_coordinator().finish(petition_id)


def stream_url(stack, petition_id):
    return f"{stack.url}/api/petitions/{petition_id}/count/stream"


def test_a_subscriber_receives_each_new_count_at_most_once_a_second(live):
    redis_server, local, stack, petition_id = live
    watcher = Subscriber(stream_url(stack, petition_id))
    wait_until(lambda: watcher.status is not None, what="the stream's answer")
    assert watcher.status == 200
    started = time.monotonic()
    sign(local, petition_id, range(1, 4))
    watcher.wait_for(lambda m: m["signature_count"] == 3, timeout=5, what="the count 3")
    print(f"count pushed {time.monotonic() - started:.2f} s after the signatures")
    sign(local, petition_id, range(4, 204))  # 200 signatures at once: coalesced, not 200 messages
    watcher.wait_for(lambda m: m["signature_count"] == 203, timeout=5, what="the count 203")
    assert len(watcher.messages) <= 6 and watcher.counts() == sorted(watcher.counts())
    # A late subscriber gets the latest count at once.
    late = Subscriber(stream_url(stack, petition_id))
    late.wait_for(lambda m: m["signature_count"] == 203, timeout=3, what="the latest count")
    watcher.close()
    late.close()


def test_the_stream_survives_a_redis_restart_and_resumes(live):
    redis_server, local, stack, petition_id = live
    watcher = Subscriber(stream_url(stack, petition_id))
    sign(local, petition_id, [1])
    watcher.wait_for(lambda m: m["signature_count"] == 1, what="the count 1")
    redis_server.kill9()
    time.sleep(1.5)  # the publisher's runs fail meanwhile; nginx keeps the stream
    redis_server.start()  # AOF: the signer and the outbox come back
    assert not watcher.ended.is_set()
    local.extensions["redis"].connection_pool.disconnect()
    sign(local, petition_id, [2, 3])
    watcher.wait_for(lambda m: m["signature_count"] == 3, timeout=10, what="the count after the restart")
    assert not watcher.ended.is_set()
    watcher.close()


def test_a_closed_petitions_stream_ends_with_the_final_count(live):
    redis_server, local, stack, petition_id = live
    watcher = Subscriber(stream_url(stack, petition_id))
    sign(local, petition_id, [1, 2])
    watcher.wait_for(lambda m: m["signature_count"] == 2, what="the count 2")
    close(local, stack, petition_id)
    assert watcher.ended.wait(5), "the stream did not end"
    assert watcher.messages[-1] == {"signature_count": 2, "closed": True}


def test_the_page_names_its_stream_and_counts_without_javascript(live):
    redis_server, local, stack, petition_id = live
    status, _, body = get(f"{stack.url}/petitions/{petition_id}")
    path, count = COUNT_RE.search(body.decode()).groups()
    assert status == 200 and path == f"/api/petitions/{petition_id}/count/stream" and count == "0"
    sign(local, petition_id, [1])
    # A reload shows the new count once nginx's micro-cache (a second) has refreshed.
    wait_until(lambda: COUNT_RE.search(get(f"{stack.url}/petitions/{petition_id}")[2].decode()).group(2) == "1",
               timeout=5, what="the new count on a reload")


def test_the_publisher_is_reachable_only_on_its_own_local_listener(live):
    redis_server, local, stack, petition_id = live
    for method in ("POST", "DELETE"):
        status, _, _ = get(f"{stack.url}/counts/{petition_id}", method=method, data=b"{}" if method == "POST" else None)
        assert status in (404, 405)  # the public listener has no publisher
    status, _, body = get(stream_url(stack, petition_id), method="POST", data=b'{"signature_count": 999999}',
                          headers={"Accept": "text/event-stream"})
    assert status == 405 and json.loads(body)["error"]["code"] == "method_not_allowed"  # it takes no messages


def test_a_request_that_is_not_an_event_streams_gets_a_json_answer(live):
    redis_server, local, stack, petition_id = live
    status, headers, body = get(stream_url(stack, petition_id), headers={"Accept": "application/json"})
    assert status == 406 and headers["Content-Type"] == "application/json"
    assert "Accept: text/event-stream" in json.loads(body)["error"]["message"]
    status, _, body = get(f"{stack.url}/api/petitions/not-a-number/count/stream")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


@pytest.mark.e2e
def test_a_browser_watches_the_count_change_while_others_sign_and_the_close(live, browser):
    """Chromium on the petition page: the count changes as others sign, with no reload and no
    polling (the stream carries it), and the close leaves the final count, said once."""
    redis_server, local, stack, petition_id = live
    page = browser.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{stack.url}/petitions/{petition_id}")
    count = page.locator("#signature-count")
    expect(count).to_have_text("0")
    wait_until(lambda: any(url.endswith("/count/stream") for url in requested), what="the stream request")
    sign(local, petition_id, [1, 2, 3])
    expect(count).to_have_text("3", timeout=5000)
    expect(page.locator("#signature-noun")).to_have_text("signatures")
    expect(page.locator("#progress")).to_have_attribute("value", "3")
    close(local, stack, petition_id)
    expect(page.locator("#count-announcement")).to_have_text("Petition closed with 3 signatures.", timeout=5000)
    assert not any(url.endswith(f"/api/petitions/{petition_id}/count") for url in requested), "it polled"
    page.close()
