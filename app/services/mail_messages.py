"""The words of each petition email the mail job sends."""
from typing import NamedTuple

from app.services import mail_job as kinds


class Message(NamedTuple):
    subject: str
    body: str
    headers: dict


class MailMessages:
    def __init__(self, origin, unsubscribe_links, thresholds):
        self.origin = origin
        self.unsubscribe = unsubscribe_links
        self.thresholds = thresholds  # {campaign kind: signatures}

    def compose(self, kind, petition, user):
        page = f"{self.origin}/petitions/{petition.id}"
        stop = self.unsubscribe.url(petition.id, user.id)
        title = f"\u201c{petition.title}\u201d"
        if kind == kinds.OWNER_RESPONSE_THRESHOLD:
            subject = f"Your petition has reached {self.thresholds[kind]:,} signatures"
            lines = [f"Your petition {title} has reached {self.thresholds[kind]:,} signatures.",
                     "The government will respond to it; the response will appear on its page."]
        elif kind == kinds.OWNER_DEBATE_THRESHOLD:
            subject = f"Your petition has reached {self.thresholds[kind]:,} signatures"
            lines = [f"Your petition {title} has reached {self.thresholds[kind]:,} signatures.",
                     "It will now be considered for debate."]
        elif kind == kinds.SIGNERS_RESPONSE:
            subject = "The petition you signed has a response"
            lines = [f"The petition {title}, which you signed, has an official response:",
                     petition.response.body if petition.response is not None else ""]
        elif kind == kinds.SIGNERS_CLOSED:
            count = petition.signature_count
            subject = "The petition you signed has closed"
            lines = [f"The petition {title}, which you signed, has closed with "
                     f"{count:,} signature{'' if count == 1 else 's'}."]
        else:
            raise ValueError(f"no message for campaign kind {kind!r}")
        body = "\n\n".join([f"Hello {user.display_name},", *lines, f"The petition: {page}",
                            f"No more emails about this petition: {stop}"])
        return Message(subject, body + "\n", {"List-Unsubscribe": f"<{stop}>"})
