"""A per-process cache of what the public pages (and the count API) showed last.

Fresh for PAGE_CACHE_SECONDS (about a second, like a CDN max-age): anonymous visitors get the
rendered HTML, or a petition's count, without touching Redis or Jinja. Kept for
PAGE_STALE_SECONDS more so that when Redis is down a page can still be shown, marked as possibly
out of date, instead of failing.
"""
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field


# Per entry: the site's own host over HTTP and HTTPS, and a few more (a staging name, an IP).
MAX_ORIGINS = 8


@dataclass
class Entry:
    data: object  # what the template was rendered from (re-rendered when stale)
    html: str | None  # the anonymous rendering, served while fresh
    fresh_until: float
    stale_until: float
    # The anonymous response as sent, per origin (fast_path.forwarded_origin): body bytes and
    # Flask's headers.
    responses: dict = field(default_factory=dict)


class PageCache:
    def __init__(self, fresh_seconds, stale_seconds, max_entries=1024, clock=time.monotonic):
        self.fresh_seconds = fresh_seconds
        self.stale_seconds = stale_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def fresh_html(self, key):
        entry = self._entries.get(key)
        if entry is not None and entry.html is not None and self.clock() < entry.fresh_until:
            return entry.html
        return None

    def fresh_response(self, key, origin):
        """(body, headers) Flask sent for this fresh anonymous rendering to this origin, or None."""
        entry = self._entries.get(key)
        if entry is not None and self.clock() < entry.fresh_until:
            return entry.responses.get(origin)
        return None

    def attach_response(self, key, origin, body, headers):
        """Keeps what Flask sent for this entry, for the fast path to repeat while it is fresh,
        for at most MAX_ORIGINS origins: Host is the client's to choose, and each answer kept
        may be a whole page."""
        entry = self._entries.get(key)
        if entry is not None and (origin in entry.responses or len(entry.responses) < MAX_ORIGINS):
            entry.responses[origin] = (body, headers)

    def stale_data(self, key):
        entry = self._entries.get(key)
        if entry is not None and self.clock() < entry.stale_until:
            return entry.data
        return None

    def put_unless_fresh(self, key, data):
        """Starts an entry for `data` unless a fresh one exists: a fresh entry keeps the answers
        it holds for other origins until it expires."""
        entry = self._entries.get(key)
        if entry is None or self.clock() >= entry.fresh_until:
            self.put(key, data)

    def put(self, key, data, html=None):
        now = self.clock()
        entry = Entry(data, html, now + self.fresh_seconds, now + self.fresh_seconds + self.stale_seconds)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
