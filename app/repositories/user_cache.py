"""What a signed-in request needs to know about its user (id, name, email, whether that email is
confirmed, whether they moderate, session token),
kept briefly in Redis so a signed-in request costs no users-DB query.

Entries live USER_CACHE_SECONDS and are dropped when the session token rotates (logout), so a
rotated token is refused at once. A Redis outage only means falling back to the database.
"""
import logging

import orjson
import redis

from app.repositories import redis_keys as keys

log = logging.getLogger(__name__)
FIELDS = ("id", "email", "display_name", "session_token", "email_confirmed", "is_moderator")
_REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class UserCache:
    def __init__(self, client, ttl_seconds):
        self.redis = client
        self.ttl_seconds = ttl_seconds

    def get(self, user_id):
        """The cached fields as a dict, or None (not cached, Redis unreachable, or a card written
        with other fields by an earlier release)."""
        try:
            raw = self.redis.get(keys.user_card(user_id))
        except _REDIS_ERRORS:
            return None
        card = None if raw is None else orjson.loads(raw)
        return card if card is not None and card.keys() == set(FIELDS) else None

    def put(self, user):
        card = {field: getattr(user, field) for field in FIELDS}
        try:
            self.redis.set(keys.user_card(user.id), orjson.dumps(card), ex=self.ttl_seconds)
        except _REDIS_ERRORS:
            pass  # the next request reads the database again
        return card

    def forget(self, user_id):
        """After the token rotated. If Redis cannot be reached now, the stale entry still
        expires within the TTL; that is the bound on how long an old cookie can survive."""
        try:
            self.redis.delete(keys.user_card(user_id))
        except _REDIS_ERRORS:
            log.warning("could not drop cached session of user %s; it expires in %ss", user_id, self.ttl_seconds)
