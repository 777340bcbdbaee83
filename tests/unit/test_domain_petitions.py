"""The petition state machine and the rules that depend on time (time is always passed in)."""
from datetime import datetime, timedelta, timezone

import pytest

from app.domain.errors import DeadlinePassed, InvalidInput, InvalidTransition, NotOpenForSigning
from app.domain.petitions import (
    Action,
    PetitionState,
    check_can_sign,
    closing_time,
    milestones_reached,
    next_milestone,
    transition,
    validate_petition_fields,
)

DRAFT, OPEN, CLOSED, TAKEN_DOWN = PetitionState.DRAFT, PetitionState.OPEN, PetitionState.CLOSED, PetitionState.TAKEN_DOWN
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)

ALLOWED = {
    (DRAFT, Action.EDIT): DRAFT,
    (DRAFT, Action.DELETE): None,
    (DRAFT, Action.LAUNCH): OPEN,
    (OPEN, Action.CLOSE): CLOSED,
    (OPEN, Action.TAKE_DOWN): TAKEN_DOWN,
    (TAKEN_DOWN, Action.RESTORE): OPEN,
}
REFUSED = [
    (state, action)
    for state in PetitionState
    for action in Action
    if (state, action) not in ALLOWED
]


@pytest.mark.parametrize(("state", "action"), list(ALLOWED))
def test_allowed_transition_gives_next_state(state, action):
    assert transition(state, action) == ALLOWED[(state, action)]


@pytest.mark.parametrize(("state", "action"), REFUSED)
def test_every_other_transition_is_refused_with_a_readable_409(state, action):
    with pytest.raises(InvalidTransition) as refused:
        transition(state, action)
    assert refused.value.status == 409
    assert len(refused.value.message) > 10


def test_transition_accepts_the_stored_string_values():
    assert transition("draft", "launch") is OPEN
    with pytest.raises(InvalidTransition, match="already been launched"):
        transition("open", "launch")


def test_refusal_messages_say_why():
    with pytest.raises(InvalidTransition, match="Only drafts can be edited"):
        transition(OPEN, Action.EDIT)
    with pytest.raises(InvalidTransition, match="Only drafts can be deleted"):
        transition(CLOSED, Action.DELETE)
    with pytest.raises(InvalidTransition, match="Only open petitions can be closed"):
        transition(DRAFT, Action.CLOSE)


def test_unknown_state_is_not_silently_accepted():
    with pytest.raises(ValueError):
        transition("archived", "edit")


# -- signing rules ---------------------------------------------------------------------------
def test_open_petition_before_deadline_can_be_signed():
    assert check_can_sign(OPEN, NOW + timedelta(days=1), NOW) is None


def test_one_microsecond_before_the_deadline_is_still_open():
    check_can_sign("open", NOW, NOW - timedelta(microseconds=1))


def test_exactly_at_the_deadline_is_refused():
    with pytest.raises(DeadlinePassed) as refused:
        check_can_sign("open", NOW, NOW)
    assert refused.value.status == 409


def test_after_the_deadline_is_refused_even_though_the_close_has_not_run():
    with pytest.raises(DeadlinePassed, match="deadline"):
        check_can_sign("open", NOW, NOW + timedelta(seconds=1))


def test_draft_cannot_be_signed():
    with pytest.raises(NotOpenForSigning, match="not been launched") as refused:
        check_can_sign("draft", None, NOW)
    assert not isinstance(refused.value, DeadlinePassed)


def test_closed_petition_cannot_be_signed_even_before_its_nominal_deadline():
    with pytest.raises(NotOpenForSigning, match="closed"):
        check_can_sign("closed", NOW + timedelta(days=10), NOW)


def test_naive_datetimes_are_read_as_utc():
    naive_deadline = datetime(2026, 6, 1, 12, 0)
    with pytest.raises(DeadlinePassed):
        check_can_sign("open", naive_deadline, NOW)
    check_can_sign("open", naive_deadline, NOW - timedelta(seconds=1))


def test_deadline_comparison_respects_time_zones():
    deadline_in_paris = datetime(2026, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))  # 12:00 UTC
    with pytest.raises(DeadlinePassed):
        check_can_sign("open", deadline_in_paris, NOW)


def test_closing_time_adds_the_duration_in_utc():
    assert closing_time(datetime(2026, 1, 31, 9, 0), 30) == datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


# -- field validation ------------------------------------------------------------------------
def fields_in_error(title="A reasonable title", body="Body", days=30):
    with pytest.raises(InvalidInput) as refused:
        validate_petition_fields(title, body, days)
    assert refused.value.status == 400
    return refused.value.fields


@pytest.mark.parametrize("length", [10, 11, 119, 120])
def test_title_lengths_inside_the_bounds_are_accepted(length):
    title, _, _ = validate_petition_fields("t" * length, "Body", 30)
    assert len(title) == length


@pytest.mark.parametrize("length", [0, 9, 121])
def test_title_lengths_outside_the_bounds_are_refused(length):
    assert set(fields_in_error(title="t" * length)) == {"title"}


def test_title_whitespace_is_collapsed_before_counting():
    assert validate_petition_fields("  Save   the\tlibrary  ", "Body", 30)[0] == "Save the library"
    assert "title" in fields_in_error(title="a" + " " * 20 + "b")


@pytest.mark.parametrize("length", [1, 5000])
def test_body_lengths_inside_the_bounds_are_accepted(length):
    assert len(validate_petition_fields("A reasonable title", "b" * length, 30)[1]) == length


@pytest.mark.parametrize("body", ["", "   \n  ", "b" * 5001, None])
def test_body_outside_the_bounds_is_refused(body):
    assert set(fields_in_error(body=body)) == {"body"}


def test_body_line_endings_are_normalised_and_ends_trimmed():
    assert validate_petition_fields("A reasonable title", "  one\r\ntwo  ", 30)[1] == "one\ntwo"


@pytest.mark.parametrize("days", [1, 30, 180])
def test_durations_inside_the_bounds_are_accepted(days):
    assert validate_petition_fields("A reasonable title", "Body", days)[2] == days


@pytest.mark.parametrize("days", [0, -1, 181, None, "30", 30.0])
def test_durations_outside_the_bounds_or_not_whole_numbers_are_refused(days):
    assert set(fields_in_error(days=days)) == {"duration_days"}


def test_every_bad_field_is_reported_at_once():
    fields = fields_in_error(title="short", body="", days=0)
    assert set(fields) == {"title", "body", "duration_days"}
    assert fields["title"] == "Title must be 10 to 120 characters."
    assert fields["body"] == "Text must be 1 to 5,000 characters."
    assert fields["duration_days"] == "Duration must be 1 to 180 days."


# -- milestones ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("count", "target"),
    [(0, 100), (99, 100), (100, 1_000), (999, 1_000), (1_000, 10_000), (99_999, 100_000), (100_000, 1_000_000)],
)
def test_next_milestone_is_the_next_power_of_ten_from_100(count, target):
    assert next_milestone(count) == target


@pytest.mark.parametrize(
    ("count", "reached"),
    [(0, []), (99, []), (100, [100]), (999, [100]), (12_345, [100, 1_000, 10_000])],
)
def test_milestones_reached(count, reached):
    assert milestones_reached(count) == reached
