"""A real SMTP server on localhost (aiosmtpd) that keeps what it receives, for tests that follow
mail the app sends."""
import asyncio
import contextlib
from email import message_from_string, policy

from aiosmtpd.controller import Controller


class Inbox:
    """aiosmtpd handler: each message as (recipients, parsed message). `delay` seconds before
    accepting each one, so concurrent senders overlap."""

    def __init__(self, delay=0):
        self.messages = []
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = message_from_string(envelope.content.decode(), policy=policy.default)
        self.messages.append((envelope.rcpt_tos, parsed))
        return "250 OK"

    def bodies_to(self, address):
        return [m.get_body(preferencelist=("plain",)).get_content() for to, m in self.messages if address in to]


@contextlib.contextmanager
def smtp_server(port, delay=0):
    inbox = Inbox(delay)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
