"""OpenPetitionStore.merge_many: the rebuild's bulk path writes the same state as launches do."""
from app.repositories.open_petitions import OpenPetitionStore


def _doc(pid, title):
    return {"id": pid, "title": title, "body": "b", "owner_name": "o", "owner_id": 1, "state": "open",
            "launched_at": "2026-06-01T12:00:00+00:00", "closes_at": "2026-07-01T12:00:00+00:00",
            "launched_ts": 1_780_000_000 + pid, "closes_ts": 1_790_000_000 - pid}


def test_merge_many_writes_documents_indexes_and_adds_to_existing_signers(redis_client):
    store = OpenPetitionStore(redis_client)
    store.sign(2, 99, 1_780_000_000)  # not yet open: refused, nothing written
    redis_client.sadd("petition:2:signers", 99)  # a signature Redis holds and SQL does not yet
    docs = [(_doc(pid, f"Petition number {pid} about trees"), list(range(1, pid + 1))) for pid in (1, 2, 3)]
    store.merge_many(docs, chunk=2)  # chunks smaller than the input

    page = store.page("signatures", 1, 10)
    assert [(d["id"], d["signature_count"]) for d in page.items] == [(3, 3), (2, 3), (1, 1)]
    assert page.total == 3
    assert [d["id"] for d in store.page("newest", 1, 10).items] == [3, 2, 1]
    assert [d["id"] for d in store.page("closing", 1, 10).items] == [3, 2, 1]
    assert [d["id"] for d in store.page("signatures", 1, 10, query="NUMBER 2").items] == [2]
    assert store.get(2)["title"] == "Petition number 2 about trees"
    assert store.has_signed(2, 99)
    assert store.sign(1, 50, 1_780_000_100) == (1, 2)
