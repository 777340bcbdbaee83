"""Pushed counts: once a second, the count of every petition signed in that second is published
to its channel, and nginx's pub/sub module (nchan) sends it to every page subscribed to that
petition's Server-Sent Events stream. nginx holds the subscribers; no gunicorn worker does.

One publisher at a time coalesces: it holds a short Redis lease, so several may run (one per
machine, for failover) and still each petition gets at most one message a second.
"""
import http.client
import logging
import os
import socket
import time
import uuid
from urllib.parse import urlsplit

import orjson

from app.repositories import redis_keys as keys

log = logging.getLogger(__name__)

MAX_ENTRIES_PER_RUN = 100_000  # a second of signing at many times the target rate
REPUBLISH_MS = 5000  # how far back a publisher that has just started looks
STREAM_END_KEPT_S = 3600  # far longer than a run that crossed a close can take


class NchanChannels:
    """nginx's publisher location (deploy/nginx.conf.template, on its local-only listener):
    POST a message to /counts/<id>, DELETE to end the stream. One kept-alive connection."""

    def __init__(self, base_url, timeout=2.0):
        parts = urlsplit(base_url)
        self.host, self.port, self.prefix = parts.hostname, parts.port or 80, parts.path.rstrip("/")
        self.timeout = timeout
        self._connection = None

    def publish(self, petition_id, message):
        self._request("POST", petition_id, orjson.dumps(message))

    def end(self, petition_id, message):
        """The last message (the final count), then the channel goes: nginx closes every
        subscriber's stream."""
        self.publish(petition_id, message)
        self._request("DELETE", petition_id)

    def _request(self, method, petition_id, body=None):
        path = f"{self.prefix}/counts/{int(petition_id)}"
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (1, 2):  # a kept-alive connection nginx closed meanwhile: once more, anew
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._connection.request(method, path, body=body, headers=headers)
                response = self._connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                self._connection.close()
                self._connection = None
                if attempt == 2:
                    raise
                continue
            # 201/202: stored (202: no one listening yet); 404 on DELETE: already gone.
            if response.status >= 400 and not (method == "DELETE" and response.status == 404):
                raise RuntimeError(f"nchan answered {response.status} to {method} {path}")
            return


class CountPublisher:
    def __init__(self, client, store, channels, lease_seconds=5.0, name=None):
        self.redis = client
        self.store = store
        self.channels = channels
        self.lease_ms = int(lease_seconds * 1000)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.last_id = None  # the newest outbox entry already looked at

    def run_forever(self, stop, interval=1.0, on_error_sleep=1.0):
        """Until `stop` (a threading.Event) is set: one run a second. Redis or nginx being away
        is logged and retried; pages check the cached count once a minute meanwhile."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.run_once()
            except Exception:
                log.exception("count publisher run failed; retrying")
                stop.wait(on_error_sleep)
                continue
            stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def run_once(self):
        """Publishes the count of each petition signed since the last run; returns how many."""
        if not self._hold_lease():
            self.last_id = None  # another publisher has it; start afresh if this one takes over
            return 0
        petition_ids = self._signed_since()
        return self._publish(sorted(petition_ids)) if petition_ids else 0

    def publish_now(self, petition_id):
        """The petition's count at once, outside the tick (moderators removed signatures: no
        outbox entry says so). Best effort: the next signature's count corrects a miss."""
        try:
            self._publish([petition_id])
        except Exception:
            log.warning("petition %s: could not publish its count", petition_id, exc_info=True)

    def _publish(self, petition_ids):
        """Each one's count, open ones only (a closed petition's last word is its close's final
        count); returns how many were published."""
        counts = self.store.open_counts(petition_ids)
        for petition_id, count in counts.items():
            self.channels.publish(petition_id, {"signature_count": count})
        if counts:
            self._end_again_if_closed_meanwhile(list(counts))
        return len(counts)

    def _end_again_if_closed_meanwhile(self, published):
        """A petition that closed between reading its count and posting it may have had its
        stream ended before the post, which then opened the channel anew with a count that is
        not final. Its close's message, sent again, ends it properly. (The close leaves the
        open index before it ends the stream, so a post after the end is always seen here.)"""
        still_open = self.store.open_counts(published)
        for petition_id in (pid for pid in published if pid not in still_open):
            if message := self.redis.get(keys.stream_end(petition_id)):
                self.channels.end(petition_id, orjson.loads(message))

    def end(self, petition_id, final_count, taken_down=False):
        """A petition closed or was taken down: its watchers get the final count and their
        streams end. Best effort: the close or take-down stands either way, and a page whose
        stream stays open gets the final count from its once-a-minute check."""
        message = {"signature_count": final_count, "closed": True, **({"taken_down": True} if taken_down else {})}
        try:  # kept first: a run that posts after the end below must find it
            self.redis.set(keys.stream_end(petition_id), orjson.dumps(message), ex=STREAM_END_KEPT_S)
        except Exception:
            log.warning("petition %s: could not keep its stream's last message", petition_id, exc_info=True)
        try:
            self.channels.end(petition_id, message)
        except Exception:
            log.warning("petition %s: could not end its count stream", petition_id, exc_info=True)

    def _hold_lease(self):
        """Takes the lease, or renews it if this publisher holds it."""
        if self.store.acquire_lock(keys.COUNT_PUBLISHER_LEASE, self.name, self.lease_ms):
            return True
        if self.redis.get(keys.COUNT_PUBLISHER_LEASE) == self.name.encode():
            self.redis.pexpire(keys.COUNT_PUBLISHER_LEASE, self.lease_ms)
            return True
        return False

    def _signed_since(self):
        """Petition ids of the outbox entries after `last_id`; a publisher that has just started
        or taken over looks back REPUBLISH_MS (publishing a count twice is harmless). Read
        without a consumer group: the persister's group is not touched, and entries stay
        OUTBOX_RETENTION_SECONDS after they are persisted, so none is missed."""
        if self.last_id is None:
            seconds, micros = self.redis.time()
            self.last_id = f"{seconds * 1000 + micros // 1000 - REPUBLISH_MS}-0"
        streams = self.redis.xread({keys.OUTBOX: self.last_id}, count=MAX_ENTRIES_PER_RUN)
        petition_ids = set()
        for _, entries in streams:
            for entry_id, fields in entries:
                petition_ids.add(int(fields[b"p"]))
                self.last_id = entry_id
        return petition_ids
