"""Petition states, the transition table, and the rules that depend on time."""
import enum
import re
from datetime import datetime, timedelta, timezone

from app.domain.errors import DeadlinePassed, InvalidInput, InvalidTransition, NotOpenForSigning

TITLE_MIN, TITLE_MAX = 10, 120
BODY_MIN, BODY_MAX = 1, 5000
DURATION_MIN, DURATION_MAX, DURATION_DEFAULT = 1, 180, 30


class PetitionState(str, enum.Enum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    # Removed by a moderator: out of every open index, no signatures, its signatures kept.
    TAKEN_DOWN = "taken_down"


class Action(str, enum.Enum):
    EDIT = "edit"
    DELETE = "delete"
    LAUNCH = "launch"
    CLOSE = "close"
    TAKE_DOWN = "take_down"
    RESTORE = "restore"


# (state, action) -> state after the action. Anything missing is refused.
TRANSITIONS = {
    (PetitionState.DRAFT, Action.EDIT): PetitionState.DRAFT,
    (PetitionState.DRAFT, Action.DELETE): None,
    (PetitionState.DRAFT, Action.LAUNCH): PetitionState.OPEN,
    (PetitionState.OPEN, Action.CLOSE): PetitionState.CLOSED,
    (PetitionState.OPEN, Action.TAKE_DOWN): PetitionState.TAKEN_DOWN,
    (PetitionState.TAKEN_DOWN, Action.RESTORE): PetitionState.OPEN,
}

_REFUSALS = {
    Action.EDIT: "Only drafts can be edited: this petition has been launched.",
    Action.DELETE: "Only drafts can be deleted: this petition has been launched.",
    Action.LAUNCH: "This petition has already been launched.",
    Action.CLOSE: "Only open petitions can be closed.",
    Action.TAKE_DOWN: "Only open petitions can be taken down.",
    Action.RESTORE: "Only a petition that was taken down can be restored.",
}


def transition(state, action):
    """The state after `action`, or InvalidTransition with a message a person can read."""
    key = (PetitionState(state), Action(action))
    if key not in TRANSITIONS:
        raise InvalidTransition(_REFUSALS[Action(action)])
    return TRANSITIONS[key]


def utcnow():
    return datetime.now(timezone.utc)


def as_utc(moment):
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso_utc(moment):
    """ISO 8601 text in UTC, or None."""
    return as_utc(moment).isoformat() if moment else None


def closing_time(launched_at, duration_days):
    return as_utc(launched_at) + timedelta(days=duration_days)


# Petition ids are SQL INTEGERs: larger ids cannot exist, so they are a 404, not a database error.
MAX_PETITION_ID = 2**31 - 1
PETITION_ID_PATTERN = r"[1-9][0-9]{0,9}"


def parse_petition_id(text):
    """The petition id a URL segment names, or None when it cannot name one."""
    if not isinstance(text, str) or not re.fullmatch(PETITION_ID_PATTERN, text):
        return None
    number = int(text)
    return number if number <= MAX_PETITION_ID else None


DEADLINE_PASSED = "This petition has reached its deadline and no longer accepts signatures."
CLOSED_FOR_SIGNING = "This petition is closed and no longer accepts signatures."
TAKEN_DOWN_FOR_SIGNING = "Our moderators have taken this petition down, so it no longer accepts signatures."


def check_can_sign(state, closes_at, now):
    """Signing needs an open petition before its deadline, whether or not the close has run."""
    state = PetitionState(state)
    if state is PetitionState.DRAFT:
        raise NotOpenForSigning("This petition has not been launched yet, so it cannot be signed.")
    if state is PetitionState.CLOSED:
        raise NotOpenForSigning(CLOSED_FOR_SIGNING)
    if state is PetitionState.TAKEN_DOWN:
        raise NotOpenForSigning(TAKEN_DOWN_FOR_SIGNING)
    if closes_at is not None and as_utc(now) >= as_utc(closes_at):
        raise DeadlinePassed(DEADLINE_PASSED)


def validate_petition_fields(title, body, duration_days):
    """Normalise and check the owner's input; returns the cleaned values."""
    title = " ".join((title or "").split())
    body = (body or "").strip().replace("\r\n", "\n")
    errors = {}
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        errors["title"] = f"Title must be {TITLE_MIN} to {TITLE_MAX} characters."
    if not BODY_MIN <= len(body) <= BODY_MAX:
        errors["body"] = f"Text must be {BODY_MIN} to {BODY_MAX:,} characters."
    if not isinstance(duration_days, int) or not DURATION_MIN <= duration_days <= DURATION_MAX:
        errors["duration_days"] = f"Duration must be {DURATION_MIN} to {DURATION_MAX} days."
    if errors:
        raise InvalidInput.from_fields(errors)
    return title, body, duration_days


def next_milestone(count):
    """The next target on the 100, 1,000, 10,000 ... ladder above `count`."""
    milestone = 100
    while count >= milestone:
        milestone *= 10
    return milestone


def thresholds(count, response_at, debate_at):
    """What the petition's count has earned, as the petition page and the API show it."""
    return [
        {"kind": "response", "signatures": response_at, "reached": count >= response_at,
         "label": "the government responds"},
        {"kind": "debate", "signatures": debate_at, "reached": count >= debate_at,
         "label": "considered for debate"},
    ]


def milestones_reached(count):
    reached, milestone = [], 100
    while count >= milestone:
        reached.append(milestone)
        milestone *= 10
    return reached
