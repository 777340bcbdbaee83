"""Owner-side use cases: drafts, edits, deletion and launch."""
import logging

from app.domain.errors import NotFound, StoreUnavailable
from app.domain.petitions import (
    Action,
    PetitionState,
    closing_time,
    transition,
    utcnow,
    validate_petition_fields,
)
from app.repositories.models import Petition
from app.services.documents import open_document, sql_document

log = logging.getLogger(__name__)


class PetitionService:
    def __init__(self, session, petitions, store, clock=utcnow, on_launch=None):
        self.session = session
        self.petitions = petitions
        self.store = store
        self.clock = clock
        # Called with the launched petition after commit (starts its lifecycle orchestration).
        self.on_launch = on_launch

    def owned(self, petition_id, owner_id):
        """The owner's petition. Anyone else gets NotFound, so drafts do not leak."""
        petition = self.petitions.get_owned(petition_id, owner_id)
        if petition is None:
            raise NotFound("No such petition.")
        return petition

    def editable(self, petition_id, owner_id):
        """The owner's draft; a launched petition is refused (409) before any form is shown."""
        petition = self.owned(petition_id, owner_id)
        transition(petition.state, Action.EDIT)
        return petition

    def owner_overview(self, owner_id):
        """The owner's petitions, newest first, each with its current count."""
        rows = self.petitions.for_owner(owner_id)
        live = self.store.counts([p.id for p in rows if p.state == PetitionState.OPEN.value])
        return [sql_document(p, live.get(p.id, p.signature_count)) for p in rows]

    def create_draft(self, owner, title, body, duration_days):
        title, body, duration_days = validate_petition_fields(title, body, duration_days)
        petition = Petition(
            owner_id=owner.id,
            owner_name=owner.display_name,
            title=title,
            body=body,
            duration_days=duration_days,
            state=PetitionState.DRAFT.value,
        )
        self.petitions.add(petition)
        self.session.commit()
        return petition

    def edit_draft(self, petition_id, owner_id, title, body, duration_days):
        self.editable(petition_id, owner_id)
        title, body, duration_days = validate_petition_fields(title, body, duration_days)
        if not self.petitions.update_draft(
            petition_id, owner_id, title=title, body=body, duration_days=duration_days, updated_at=self.clock()
        ):
            self._refuse(petition_id, owner_id, Action.EDIT)
        self.session.commit()
        return self.owned(petition_id, owner_id)

    def delete_draft(self, petition_id, owner_id):
        petition = self.owned(petition_id, owner_id)
        transition(petition.state, Action.DELETE)
        if not self.petitions.delete_draft(petition_id, owner_id):
            self._refuse(petition_id, owner_id, Action.DELETE)
        self.session.commit()

    def launch(self, petition_id, owner_id):
        """Draft -> Open in one conditional UPDATE, then write-through into Redis, then commit.

        If Redis refuses, the SQL change is rolled back: the petition stays a draft and the owner
        can try again. Two launches racing: only one UPDATE matches the draft row.
        """
        petition = self.owned(petition_id, owner_id)
        transition(petition.state, Action.LAUNCH)
        launched_at = self.clock()
        closes_at = closing_time(launched_at, petition.duration_days)
        won = self.petitions.update_draft(
            petition_id,
            owner_id,
            state=PetitionState.OPEN.value,
            launched_at=launched_at,
            closes_at=closes_at,
            updated_at=launched_at,
        )
        if not won:
            self._refuse(petition_id, owner_id, Action.LAUNCH)
        self.session.expire(petition)
        petition = self.petitions.get(petition_id)
        try:
            self.store.put_open(open_document(petition))
        except StoreUnavailable:
            self.session.rollback()
            raise
        try:
            self.session.commit()
        except Exception:
            self.session.rollback()
            self.store.remove_open(petition_id)
            raise
        if self.on_launch is not None:
            self.on_launch(petition)
        return petition

    def _refuse(self, petition_id, owner_id, action):
        """The conditional write matched nothing: say why, from a fresh read."""
        self.session.rollback()
        petition = self.owned(petition_id, owner_id)
        transition(petition.state, action)
        raise NotFound("No such petition.")  # state allowed it yet nothing matched: it vanished
