"""The close path's queries compile for SQL Server too (no server needed, see test_sql_portability)."""
from datetime import datetime, timezone

from sqlalchemy.schema import CreateTable

from app.repositories.models import Notification, Report
from app.repositories.petitions_sql import PetitionRepository, SignatureRepository
from tests.integration.test_sql_portability import MSSQL, recorded

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def test_due_petitions_query_uses_the_state_closes_at_index_columns():
    (sql,) = recorded(lambda s: PetitionRepository(s).due_ids(NOW))
    assert "petitions.state = ?" in sql and "petitions.closes_at <= ?" in sql
    assert "ORDER BY petitions.closes_at, petitions.id" in sql


def test_signature_times_stream_in_order():
    (sql,) = recorded(lambda s: list(SignatureRepository(s).signed_times(7)))
    assert "WHERE signatures.petition_id = ?" in sql and "ORDER BY signatures.signed_at, signatures.id" in sql


def test_report_and_notification_tables_on_sql_server():
    reports = str(CreateTable(Report.__table__).compile(dialect=MSSQL))
    assert "per_day NVARCHAR(max) NOT NULL" in reports  # JSON is text on SQL Server
    assert "IDENTITY" not in reports  # keyed by the petition
    notifications = str(CreateTable(Notification.__table__).compile(dialect=MSSQL))
    assert "CONSTRAINT uq_notifications_petition_kind UNIQUE (petition_id, kind)" in notifications


def test_unfinished_closes_query_is_a_not_exists():
    (sql,) = recorded(lambda s: PetitionRepository(s).unfinished_closes())
    assert "NOT (EXISTS (SELECT notifications.id" in sql and "petitions.state = ?" in sql
