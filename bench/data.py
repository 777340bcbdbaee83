"""Made-up petitions, users and signed-in sessions for the suite (deterministic per seed)."""
import random
import secrets
from datetime import timedelta

from app.domain.petitions import utcnow
from app.repositories.models import Petition, User

WORDS = (
    "library school river bus hospital park tree road council funding children water energy "
    "housing train museum nurses teachers climate village city pension youth sport music art"
).split()


def body_text(rng, length=300):
    words = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


def open_petitions(count, seed=1, owner_id=1):
    """`count` open Petition rows (not yet added to a session), launched over the past weeks."""
    rng = random.Random(seed)
    now = utcnow()
    rows = []
    for i in range(count):
        launched = now - timedelta(minutes=rng.randrange(60 * 24 * 30))
        duration = rng.randrange(30, 180)
        rows.append(
            Petition(
                owner_id=owner_id,
                owner_name="Bench Owner",
                title=f"Petition {i}: protect the {rng.choice(WORDS)} and the {rng.choice(WORDS)}",
                body=body_text(rng),
                duration_days=duration,
                state="open",
                created_at=launched,
                updated_at=launched,
                launched_at=launched,
                closes_at=launched + timedelta(days=duration),
            )
        )
    return rows


def users(count, start=1):
    """Confirmed users with a shared unusable password hash (nobody logs in with a password here)."""
    confirmed_at = utcnow()
    return [
        User(
            email=f"signer{n}@bench.example",
            display_name=f"Signer {n}",
            password_hash="!bench",
            session_token=secrets.token_hex(16),
            email_confirmed_at=confirmed_at,
        )
        for n in range(start, start + count)
    ]


def skewed_counts(total, petitions, seed=1):
    """Splits `total` signatures over `petitions` with a long tail (a few petitions get most),
    as real petition sites see."""
    weights = [1 / (rank + 1) for rank in range(petitions)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    counts[0] += total - sum(counts)
    random.Random(seed).shuffle(counts)
    return counts
