"""The Redis document of an open petition, serialised at launch (an open petition changes only
when its official response is published), and the same shape from SQL."""
from app.domain.petitions import as_utc, iso_utc


def _common(petition):
    doc = {
        "id": petition.id,
        "title": petition.title,
        "body": petition.body,
        "owner_name": petition.owner_name,
        "owner_id": petition.owner_id,
    }
    if petition.response is not None:
        doc["response"] = response_dict(petition.response)
    return doc


def response_dict(response):
    return {
        "body": response.body,
        "responded_on": response.responded_on.isoformat(),
        "published_at": iso_utc(response.published_at),
    }


def open_document(petition):
    launched_at, closes_at = as_utc(petition.launched_at), as_utc(petition.closes_at)
    return {
        **_common(petition),
        "state": "open",
        "launched_at": launched_at.isoformat(),
        "closes_at": closes_at.isoformat(),
        "launched_ts": launched_at.timestamp(),
        "closes_ts": closes_at.timestamp(),
    }


def sql_document(petition, signature_count):
    """The same shape for drafts, closed and taken-down petitions read from SQL."""
    return {
        **_common(petition),
        "state": petition.state,
        "duration_days": petition.duration_days,
        "created_at": iso_utc(petition.created_at),
        "launched_at": iso_utc(petition.launched_at),
        "closes_at": iso_utc(petition.closes_at),
        "closed_at": iso_utc(petition.closed_at),
        "taken_down_at": iso_utc(petition.taken_down_at),
        "takedown_reason": petition.takedown_reason,
        "signature_count": signature_count,
        "removed_signatures": petition.removed_signatures or 0,
    }
