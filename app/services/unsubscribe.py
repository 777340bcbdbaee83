"""The unsubscribe link in every petition email: signed (SIGNING_TOKEN_SECRET, shared by the web
app that checks it and the Functions app that mails it, under its own salt), naming one person
and one petition. It does not expire: a mail read a year later still stops the next one."""
from itsdangerous import BadSignature, URLSafeSerializer

from app.domain.errors import LinkNotValid, NotFound
from app.domain.petitions import PetitionState, utcnow

SALT = "mail-unsubscribe"
NOT_VALID = "This unsubscribe link is not valid. Check that you copied all of it."


class UnsubscribeLinks:
    def __init__(self, secret, origin):
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self.origin = origin

    def url(self, petition_id, user_id):
        return f"{self.origin}/petitions/{petition_id}/unsubscribe/{self._serializer.dumps([petition_id, user_id])}"

    def read(self, petition_id, token):
        """The user id the link was made for, or LinkNotValid (also for another petition's link)."""
        try:
            data = self._serializer.loads(token)
        except BadSignature:
            raise LinkNotValid(NOT_VALID) from None
        if not (isinstance(data, list) and len(data) == 2 and data[0] == petition_id and isinstance(data[1], int)):
            raise LinkNotValid(NOT_VALID)
        return data[1]


class Unsubscriptions:
    """What an unsubscribe link does: names the petition and the person, then opts them out."""

    def __init__(self, session, petitions, mail, links, clock=utcnow):
        self.session = session
        self.petitions = petitions
        self.mail = mail
        self.links = links
        self.clock = clock

    def recipient(self, petition_id, token):
        """(the petition, the user id) an unsubscribe link names; LinkNotValid for a bad link,
        NotFound for no petition."""
        user_id = self.links.read(petition_id, token)
        petition = self.petitions.get(petition_id)
        if petition is None or petition.state == PetitionState.DRAFT.value:
            raise NotFound("No such petition.")
        return petition, user_id

    def unsubscribe(self, petition_id, user_id):
        self.mail.opt_out(petition_id, user_id, self.clock())
        self.session.commit()
