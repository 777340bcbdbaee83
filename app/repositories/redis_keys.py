"""Every Redis key name the product uses. Nothing else builds key strings."""

OPEN_BY_SIGNATURES = "open:by_signatures"  # zset: petition id -> signer count
OPEN_BY_NEWEST = "open:by_newest"  # zset: petition id -> launched_at (epoch s)
OPEN_BY_CLOSING = "open:by_closing"  # zset: petition id -> closes_at (epoch s); membership = open
OPEN_TITLES = "open:titles"  # hash: petition id -> case-folded title, for search
OPEN_SUMMARIES = "open:summaries"  # hash: petition id -> JSON of the fields list pages show
ENDED = "petitions:ended"  # hash: petition id -> why it no longer takes signatures ("closed")
# Marker written when the open index is complete. Versioned: a release that changes what the
# rebuild writes (v2: the summaries; v3: documents hold only what the summaries lack; v4: the
# ended petitions) renames it, so the first process of that release rebuilds.
INDEX_READY = "open:index:ready:v4"
# The markers of releases before v3, which kept whole documents (legacy_petition_doc). Left in
# place: deleting one would make a process of that release still running rebuild its layout.
EARLIER_INDEX_READY = ("open:index:ready", "open:index:ready:v2")
REBUILD_LOCK = "open:index:rebuild_lock"
COUNT_PUBLISHER_LEASE = "counts:publisher"  # held by the one count publisher that publishes
OUTBOX = "signatures:outbox"  # stream of new signatures waiting for SQL
OUTBOX_GROUP = "persister"

OPEN_INDEXES = (OPEN_BY_SIGNATURES, OPEN_BY_NEWEST, OPEN_BY_CLOSING, OPEN_TITLES, OPEN_SUMMARIES)


def petition_doc(petition_id):
    """String: JSON of what an open petition's page adds to its summary (body, owner's name).
    A new name for the v3 layout: a process of an older release still running during a deploy
    finds no document under the old name and reads SQL, instead of reading half a petition."""
    return f"petition:{petition_id}:detail"


def legacy_petition_doc(petition_id):
    """String: the whole document, as releases before v3 kept it; deleted by the rebuild to v3
    and when its petition closes (one launched by an older process during the deploy)."""
    return f"petition:{petition_id}:doc"


def signers(petition_id):
    return f"petition:{petition_id}:signers"


def stream_end(petition_id):
    """The message that ended a closed or taken-down petition's count stream, kept for an hour:
    a count publisher run that crossed the close sends it again (CountPublisher._publish)."""
    return f"petition:{petition_id}:stream_end"


def close_lock(petition_id):
    """Held by the close sweep that is closing this petition (CloseCoordinator.close_due)."""
    return f"petition:{petition_id}:closing"


def user_card(user_id):
    return f"user:{user_id}:card"


def sign_rate(scope, who):
    """A signing rate-limit counter: scope "user" or "ip"."""
    return f"rate:sign:{scope}:{who}"


def removed_signers(petition_id):
    """Set: signers the moderators invalidated; the signing script refuses them."""
    return f"petition:{petition_id}:removed"


def signals(petition_id, minute):
    """Hash: one minute's new signatures of a petition ("n") and their counts per IP prefix
    ("i:<prefix>") and email domain ("d:<domain>"); `minute` is epoch seconds // 60."""
    return f"signals:{petition_id}:{minute}"
