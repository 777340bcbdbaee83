"""A per-process cache of what the public pages showed last.

Fresh for PAGE_CACHE_SECONDS (about a second): anonymous visitors who still carry a cookie (the
nginx micro-cache in front serves those without one) get the rendered front page without
touching Redis or Jinja. Kept for PAGE_STALE_SECONDS more so that when Redis is down a page can
still be shown, marked as possibly out of date, instead of failing.
"""
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class Entry:
    data: object  # what the template was rendered from (re-rendered when stale)
    html: str | None  # the anonymous rendering, served while fresh
    fresh_until: float
    stale_until: float


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

    def fresh_data(self, key):
        entry = self._entries.get(key)
        if entry is not None and self.clock() < entry.fresh_until:
            return entry.data
        return None

    def stale_data(self, key):
        entry = self._entries.get(key)
        if entry is not None and self.clock() < entry.stale_until:
            return entry.data
        return None

    def put(self, key, data, html=None):
        now = self.clock()
        entry = Entry(data, html, now + self.fresh_seconds, now + self.fresh_seconds + self.stale_seconds)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
