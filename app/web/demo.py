"""Demo accounts and petitions for `make run`."""
from datetime import timedelta

from app.web import wiring
from app.domain.petitions import utcnow
from app.web.extensions import db
from app.repositories.petitions_sql import PetitionRepository
from app.repositories.users_sql import UserRepository
from app.services.petitions import PetitionService
from app.services.signing import SigningService

# Published password of the local demo accounts (`flask demo load` only); reviewed for bandit.
DEMO_PASSWORD = "petitions-demo"  # nosec B105
USERS = [
    ("alice@example.com", "Alice Example"),
    ("bob@example.com", "Bob Example"),
    ("carol@example.com", "Carol Example"),
]
PETITIONS = [
    ("Fund free swimming lessons for every primary school child", "Every child should leave primary school able to swim 25 metres.", 90, 0),
    ("Protect ancient woodland from new road building schemes", "Ancient woodland cannot be replaced once lost.\nWe ask for a legal ban on building roads through it.", 60, 1),
    ("Make bus travel free for everyone under twenty-two", "Cheap, reliable buses help young people reach school, training and work.", 30, 2),
    ("Publish the results of every publicly funded clinical trial", "Hidden results waste money and put patients at risk.", 120, 0),
]


def load_demo_data(app):
    accounts = wiring.accounts()
    users_repo = UserRepository(db.session)
    if users_repo.by_mailbox(USERS[0][0]) is not None:
        return False
    users = [accounts.register(email, name, DEMO_PASSWORD) for email, name in USERS]
    now = utcnow()
    for user in users:  # example.com receives no mail: the demo accounts start confirmed
        user.email_confirmed_at = now
    users[2].is_moderator = True  # Carol moderates, so /moderation can be tried at once
    db.session.commit()
    store = wiring.open_store()
    petitions_repo = PetitionRepository(db.session)
    for title, body, days, owner in PETITIONS:
        service = PetitionService(db.session, petitions_repo, store, on_launch=app.extensions.get("on_launch"))
        petition = service.create_draft(users[owner], title, body, days)
        service.launch(petition.id, users[owner].id)
    # One closing soon: launched almost a day ago with a one-day run.
    soon = PetitionService(db.session, petitions_repo, store, clock=lambda: now - timedelta(hours=23, minutes=50))
    petition = soon.create_draft(users[1], "Keep the village library open on Saturdays", "The library is the only warm, free public space in the village at weekends.", 1)
    soon.launch(petition.id, users[1].id)
    # A draft for Alice to find on "My petitions".
    PetitionService(db.session, petitions_repo, store).create_draft(
        users[0], "Plant a street tree for every new home that is built", "Trees cool streets, clean the air and make places better to live.", 30
    )
    signing = SigningService(store, petitions_repo)
    for petition_id in store.open_ids():
        for user in users[: 1 + petition_id % 3]:
            signing.sign(petition_id, user.id)
    # The embedded Redis lives only as long as this process: put the signatures in SQL now.
    wiring.persister().drain()
    return True
