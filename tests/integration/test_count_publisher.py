"""The count publisher on the real Redis: one message per signed petition per run, whatever the
number of signatures; one publisher at a time by its lease; a new one looks back a few seconds;
closed petitions are left to the close. nginx's side is in tests/reliability/test_count_stream.py."""
import pytest

from app.repositories import redis_keys as keys
from app.services.count_push import CountPublisher
from app.web import wiring
from tests.integration.support import Moderator, make_open


class RecordingChannels:
    """Stands in for nginx's publisher location: keeps what would be sent."""

    def __init__(self):
        self.sent = []

    def publish(self, petition_id, message):
        self.sent.append((petition_id, message))

    def end(self, petition_id, message):
        self.sent.append((petition_id, message, "end"))


@pytest.fixture
def petitions(app, owner):
    return make_open(app, owner, "Keep the night buses running"), make_open(app, owner, "Light the canal towpath")


def sign(petition_id, user_ids):
    signing = wiring.signing()
    for uid in user_ids:
        signing.sign(petition_id, uid, f"198.51.100.{uid % 250}")


def publisher(channels, name):
    return CountPublisher(wiring.redis_client(), wiring.open_store(), channels, name=name)


def test_each_signed_petition_gets_one_message_a_run_and_only_the_lease_holder_publishes(app, petitions):
    first, second = petitions
    with app.app_context():
        a_channels, b_channels = RecordingChannels(), RecordingChannels()
        a, b = publisher(a_channels, "a"), publisher(b_channels, "b")
        sign(first, range(1, 51))  # before either started: a new publisher looks back 5 s
        assert a.run_once() == 1 and b.run_once() == 0
        assert a_channels.sent == [(first, {"signature_count": 50})]
        sign(first, [51])
        sign(second, [1, 2])
        assert a.run_once() == 2 and b.run_once() == 0
        assert a_channels.sent[1:] == [(first, {"signature_count": 51}), (second, {"signature_count": 2})]
        assert a.run_once() == 0  # nothing signed since: nothing sent
        wiring.redis_client().delete(keys.COUNT_PUBLISHER_LEASE)  # as if a's lease ran out (a died)
        assert b.run_once() == 2 and b_channels.sent[-1] == (second, {"signature_count": 2})
        assert a.run_once() == 0 and len(a_channels.sent) == 3  # a lost the lease and stays quiet


def test_a_closed_petition_is_not_published_by_the_run_but_ended_by_the_close(app, petitions):
    first, _ = petitions
    with app.app_context():
        channels = RecordingChannels()
        sign(first, [1, 2])
        wiring.open_store().remove_open(first)  # closed: Redis no longer holds it open
        assert publisher(channels, "a").run_once() == 0 and channels.sent == []
        closing = wiring.services().closing()
        closing.count_publisher = publisher(channels, "a")
        closing.close(first)
        assert channels.sent[-1] == (first, {"signature_count": 2, "closed": True}, "end")


def test_a_take_down_ends_the_stream_saying_so(app, petitions):
    first, _ = petitions
    with app.app_context():
        channels = RecordingChannels()
        sign(first, [1, 2, 3])
        moderation = wiring.moderation()
        moderation.count_publisher = publisher(channels, "a")
        moderation.take_down(first, Moderator, "Breaks the standards: it names a private person.")
        assert channels.sent == [(first, {"signature_count": 3, "closed": True, "taken_down": True}, "end")]


class FailingChannels(RecordingChannels):
    def end(self, petition_id, message):
        raise ConnectionRefusedError("nginx is away")


def test_a_close_stands_when_nginx_cannot_be_told(app, petitions, caplog):
    first, _ = petitions
    with app.app_context():
        sign(first, [1])
        closing = wiring.services().closing()
        closing.count_publisher = publisher(FailingChannels(), "a")
        assert closing.close(first).signature_count == 1
    assert "could not end its count stream" in caplog.text


def test_removed_signatures_are_published_at_once(app, petitions):
    first, _ = petitions
    with app.app_context():
        channels = RecordingChannels()
        signing = wiring.signing()
        for uid in (1, 2, 3):
            signing.sign(first, uid, "203.0.113.9", f"u{uid}@{'spam' if uid > 1 else 'mail'}.example")
        service = wiring.invalidations()
        service.count_publisher = publisher(channels, "a")
        service.invalidate(first, Moderator, service.criterion("domain", "spam.example"), "Throwaway sign-ups.")
        assert channels.sent == [(first, {"signature_count": 1})]


class ClosingDuringPost(RecordingChannels):
    """nginx's side of a run that read the count just before the petition closed, and whose post
    arrives after the close has ended the stream."""

    def __init__(self, close):
        super().__init__()
        self.close = close

    def publish(self, petition_id, message):
        if self.close is not None:
            close, self.close = self.close, None
            close(petition_id)
        super().publish(petition_id, message)


def test_a_run_that_crosses_the_close_ends_the_stream_again_with_the_final_count(app, petitions):
    first, _ = petitions
    with app.app_context():
        closing = wiring.services().closing()
        channels = ClosingDuringPost(closing.close)
        closing.count_publisher = publisher(channels, "closer")
        sign(first, [1, 2, 3])
        publisher(channels, "a").run_once()
        final = {"signature_count": 3, "closed": True}
        assert channels.sent == [(first, final, "end"),  # the close
                                 (first, {"signature_count": 3}),  # the run's late post
                                 (first, final, "end")]  # the run, seeing the close, ends it again
