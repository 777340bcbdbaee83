"""Builds services from one SQL session and the process's clients. The web app (app/wiring.py)
and the Functions app (functions_app/clients.py) both use it, so both run the same code."""
import logging

from app.domain.petitions import utcnow
from app.repositories.history_sql import SignatureHourRepository
from app.repositories.mail_sql import MailRepository
from app.repositories.moderation_sql import ModerationLog
from app.repositories.outbox import Outbox
from app.repositories.petitions_sql import InvalidationRepository, PetitionRepository, SignatureRepository
from app.repositories.reports_sql import NotificationRepository, ReportRepository
from app.repositories.users_sql import UserRepository
from app.services.closing import CloseCoordinator, ClosingService
from app.services.count_push import CountPublisher, NchanChannels
from app.services.history import HistoryService
from app.services.invalidation import InvalidationService
from app.services.mail import make_mailer
from app.services.mail_job import OWNER_DEBATE_THRESHOLD, OWNER_RESPONSE_THRESHOLD, MailJob
from app.services.mail_messages import MailMessages
from app.services.notifications import NotificationService
from app.services.persister import SignaturePersister
from app.services.rebuild import ensure_open_index
from app.services.reports import ReportService
from app.services.sign_limits import SignLimits
from app.services.unsubscribe import UnsubscribeLinks, Unsubscriptions
from app.services.signing import SigningService

log = logging.getLogger(__name__)


class Services:
    def __init__(self, session, redis_client, store, settings, clock=utcnow):
        self.session = session
        self.clock = clock
        self.redis = redis_client
        self.store = store
        self.settings = settings  # a mapping of config names to values

    def signing(self):
        return SigningService(
            self.store,
            PetitionRepository(self.session),
            clock=self.clock,
            restore_index=self.restore_index,
            limits=SignLimits.from_settings(self.settings),
        )

    def restore_index(self):
        """Rebuilds Redis's open index from SQL if it lacks it; one process at a time."""
        return ensure_open_index(
            self.store, PetitionRepository(self.session), SignatureRepository(self.session), self.clock
        )

    def persister(self, consumer=None):
        return SignaturePersister(
            Outbox(self.redis),
            SignatureRepository(self.session),
            self.session,
            batch_size=self.settings["PERSISTER_BATCH_SIZE"],
            linger_ms=self.settings["PERSISTER_LINGER_MS"],
            block_ms=max(1, int(self.settings["REDIS_SOCKET_TIMEOUT"] * 1000 / 2)),
            retention_ms=self.settings["OUTBOX_RETENTION_SECONDS"] * 1000,
            consumer=consumer,
            claim_idle_ms=self.settings["PERSISTER_CLAIM_IDLE_SECONDS"] * 1000,
        )

    def closing(self):
        return ClosingService(
            self.session,
            PetitionRepository(self.session),
            SignatureRepository(self.session),
            self.store,
            self.persister(),
            clock=self.clock,
            count_publisher=self.count_publisher(),
        )

    def count_publisher(self):
        """None unless COUNT_PUBLISH_URL names nginx's publisher location."""
        if not self.settings["COUNT_PUBLISH_URL"]:
            return None
        return CountPublisher(self.redis, self.store, NchanChannels(self.settings["COUNT_PUBLISH_URL"]))

    def history(self):
        return HistoryService(PetitionRepository(self.session), SignatureHourRepository(self.session), self.clock)

    def reports(self):
        return ReportService(
            self.session,
            PetitionRepository(self.session),
            SignatureRepository(self.session),
            ReportRepository(self.session),
        )

    def notifications(self):
        mailer = make_mailer(self.settings)
        return NotificationService(
            self.session,
            PetitionRepository(self.session),
            UserRepository(self.session),
            NotificationRepository(self.session),
            ReportRepository(self.session),
            self.mail_repository(),
            mailer=mailer,
            clock=self.clock,
        )

    def mail_repository(self):
        return MailRepository(self.session)

    def unsubscribe_links(self):
        return UnsubscribeLinks(self.settings["SIGNING_TOKEN_SECRET"], self.settings["SITE_ORIGIN"])

    def unsubscriptions(self):
        return Unsubscriptions(self.session, PetitionRepository(self.session), self.mail_repository(),
                               self.unsubscribe_links(), clock=self.clock)

    def mail_job(self):
        thresholds = {OWNER_RESPONSE_THRESHOLD: self.settings["RESPONSE_THRESHOLD"],
                      OWNER_DEBATE_THRESHOLD: self.settings["DEBATE_THRESHOLD"]}
        links = self.unsubscribe_links()
        return MailJob(
            self.session,
            self.mail_repository(),
            PetitionRepository(self.session),
            UserRepository(self.session),
            self.store,
            self.persister(),
            make_mailer(self.settings),
            MailMessages(self.settings["SITE_ORIGIN"], links, thresholds),
            thresholds,
            batch_size=self.settings["MAIL_BATCH_SIZE"],
            max_attempts=self.settings["MAIL_MAX_ATTEMPTS"],
            clock=self.clock,
        )

    def invalidations(self):
        return InvalidationService(
            self.session,
            PetitionRepository(self.session),
            SignatureRepository(self.session),
            InvalidationRepository(self.session),
            ModerationLog(self.session),
            self.store,
            self.persister(),
            UserRepository(self.session),
            clock=self.clock,
            count_publisher=self.count_publisher(),
        )

    def close_coordinator(self):
        return CloseCoordinator(self.closing(), self.reports(), self.notifications())

    def replay_invalidations(self):
        """Finishes invalidations a crash left half done. Part of every close sweep, whose
        closes must run even if this fails (the next sweep retries it)."""
        try:
            self.invalidations().apply_pending()
        except Exception:
            self.session.rollback()
            log.exception("replaying unapplied invalidations failed; the next sweep retries")

    def sweep(self, now=None):
        """The close sweep of embedded mode and the CLI."""
        self.replay_invalidations()
        return self.close_coordinator().close_due(now)
