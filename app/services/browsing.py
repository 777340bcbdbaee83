"""Public reads: open petitions from Redis only; drafts and closed petitions from SQL."""
from dataclasses import dataclass

from app.domain.errors import InvalidInput, NotFound
from app.domain.petitions import PetitionState
from app.repositories.open_petitions import SORT_INDEXES
from app.services.documents import sql_document

SORTS = tuple(SORT_INDEXES)
STATES = ("open", "closed")
MAX_QUERY = 100
MAX_PAGE = 10_000


@dataclass(frozen=True)
class ListQuery:
    sort: str = "signatures"
    page: int = 1
    q: str = ""
    state: str = "open"


def parse_list_query(args):
    """Validates list parameters from a request; bad values raise InvalidInput (400)."""
    sort = args.get("sort") or "signatures"
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}.")
    state = args.get("state") or "open"
    if state not in STATES:
        raise InvalidInput("state must be open or closed.")
    raw_page = args.get("page") or "1"
    if not raw_page.isascii() or not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        raise InvalidInput(f"page must be a whole number from 1 to {MAX_PAGE:,}.")
    q = " ".join((args.get("q") or "").split())
    if len(q) > MAX_QUERY:
        raise InvalidInput(f"Search text must be at most {MAX_QUERY} characters.")
    return ListQuery(sort=sort, page=int(raw_page), q=q, state=state)


@dataclass(frozen=True)
class ListResult:
    items: list
    total: int
    page: int
    page_size: int

    @property
    def pages(self):
        return max(1, -(-self.total // self.page_size))


class BrowseService:
    def __init__(self, store, petitions, page_size=50, restore_index=None):
        self.store = store
        self.petitions = petitions
        self.page_size = page_size
        # Rebuilds Redis's open index from SQL if it has gone (a flushed or replaced Redis).
        self.restore_index = restore_index

    def _index_was_lost(self):
        """Checked only when Redis came back empty-handed, so the hot path pays nothing."""
        if self.restore_index is None or self.store.index_ready():
            return False
        self.restore_index()
        return True

    def list(self, query):
        if query.state == "open":
            result = self.store.page(query.sort, query.page, self.page_size, query.q)
            if result.total == 0 and self._index_was_lost():
                result = self.store.page(query.sort, query.page, self.page_size, query.q)
            return ListResult(result.items, result.total, query.page, self.page_size)
        rows, total = self.petitions.closed_page(query.page, self.page_size, query.q)
        items = [sql_document(p, p.signature_count) for p in rows]
        return ListResult(items, total, query.page, self.page_size)

    def petition(self, petition_id, viewer_id=None):
        """The petition as a document. Drafts exist only for their owner."""
        doc = self.store.get(petition_id)
        if doc is not None:
            return doc
        petition = self.petitions.get(petition_id)
        if petition is None:
            raise NotFound("No such petition.")
        if petition.state == PetitionState.DRAFT.value and petition.owner_id != viewer_id:
            raise NotFound("No such petition.")
        if petition.state == PetitionState.OPEN.value and self._index_was_lost():
            doc = self.store.get(petition_id)
            if doc is not None:
                return doc
        return sql_document(petition, petition.signature_count)

    def count(self, petition_id):
        count = self.store.count(petition_id)
        if count is not None:
            return count
        petition = self.petitions.get(petition_id)
        if petition is None or petition.state == PetitionState.DRAFT.value:
            raise NotFound("No such petition.")
        if petition.state == PetitionState.OPEN.value and self._index_was_lost():
            count = self.store.count(petition_id)
            if count is not None:
                return count
        return petition.signature_count

    def has_signed(self, petition_id, user_id):
        return self.store.has_signed(petition_id, user_id)
