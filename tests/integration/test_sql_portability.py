"""The schema and the main queries compile for SQL Server (mssql+pyodbc) without a server, and
the migrations build exactly the schema the models describe."""
import contextlib
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc
from sqlalchemy.dialects.postgresql import psycopg2 as postgresql_psycopg2
from sqlalchemy.schema import CreateIndex, CreateTable

from app.web.extensions import db
from app.repositories.models import METADATA_BY_BIND, Signature
from app.repositories.petitions_sql import PetitionRepository, SignatureRepository

# As create_engine("mssql+pyodbc://...") configures it for a current server: `?` parameters and
# VARCHAR(max) rather than the deprecated TEXT.
MSSQL = mssql_pyodbc.dialect(paramstyle="qmark", deprecate_large_types=True)
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
TABLES = [table for metadata in METADATA_BY_BIND.values() for table in metadata.sorted_tables]


class _EmptyResult:
    rowcount = 1

    def all(self):
        return []

    def __iter__(self):
        return iter(())


class RecordingSession:
    """Stands in for a Session bound to SQL Server (or another dialect): keeps each statement the
    repository builds so it can be compiled for that dialect. No server is needed, none is
    available here."""

    def __init__(self, dialect=MSSQL):
        self.statements = []
        self.dialect = dialect

    def get_bind(self, *args, **kwargs):
        return SimpleNamespace(dialect=self.dialect)

    def execute(self, statement, params=None):
        self.statements.append(statement)
        return _EmptyResult()

    def scalar(self, statement):
        self.statements.append(statement)
        return 0

    def scalars(self, statement):
        self.statements.append(statement)
        return _EmptyResult()

    def begin_nested(self):
        return contextlib.nullcontext()


def compiled(statement, dialect):
    return str(statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True}))


def recorded(call, dialect=MSSQL):
    session = RecordingSession(dialect)
    call(session)
    assert session.statements
    return [compiled(s, dialect) for s in session.statements]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_every_table_compiles_for_sql_server(table):
    ddl = str(CreateTable(table).compile(dialect=MSSQL))
    assert f"CREATE TABLE {table.name}" in ddl
    surrogate_key = not any(column.foreign_keys for column in table.primary_key.columns)
    if surrogate_key:  # reports is keyed by its petition's id; every other key autoincrements
        assert "IDENTITY" in ddl
    for index in table.indexes:
        kind = "UNIQUE INDEX" if index.unique else "INDEX"
        assert f"CREATE {kind} {index.name}" in str(CreateIndex(index).compile(dialect=MSSQL))


def test_one_open_report_per_person_is_a_filtered_index_on_sql_server():
    index = next(i for i in METADATA_BY_BIND[None].tables["petition_reports"].indexes if i.unique)
    ddl = str(CreateIndex(index).compile(dialect=MSSQL))
    assert ddl.endswith("(petition_id, user_id) WHERE resolved_at IS NULL")


def test_sql_server_types_and_constraints():
    petitions = str(CreateTable(METADATA_BY_BIND[None].tables["petitions"]).compile(dialect=MSSQL))
    signatures = str(CreateTable(METADATA_BY_BIND[None].tables["signatures"]).compile(dialect=MSSQL))
    users = str(CreateTable(METADATA_BY_BIND["users"].tables["users"]).compile(dialect=MSSQL))
    assert "launched_at DATETIMEOFFSET NULL" in petitions
    # What people type is NVARCHAR: SQL Server's VARCHAR would turn "Ŵ" or "€" outside its code page into "?".
    assert "title NVARCHAR(120) NOT NULL" in petitions
    assert "body NVARCHAR(max) NOT NULL" in petitions
    assert "owner_name NVARCHAR(60) NOT NULL" in petitions
    assert "display_name NVARCHAR(60) NOT NULL" in users and "email NVARCHAR(254) NOT NULL" in users
    assert "CONSTRAINT uq_signatures_petition_user UNIQUE (petition_id, user_id)" in signatures
    assert "REFERENCES petitions (id) ON DELETE CASCADE" in signatures


def test_closed_list_query_compiles_with_sql_server_paging():
    [count, page] = recorded(lambda s: PetitionRepository(s).closed_page(3, 50, "green 100%"))
    assert "count(*)" in count
    assert "lower(petitions.title) LIKE lower(?) ESCAPE '\\'" in page
    assert "ROW_NUMBER() OVER (ORDER BY petitions.closed_at DESC, petitions.id DESC)" in page
    assert "LIMIT" not in page


def test_launch_is_one_conditional_update():
    [sql] = recorded(
        lambda s: PetitionRepository(s).update_draft(1, 2, state="open", launched_at=NOW, closes_at=NOW)
    )
    assert sql.startswith("UPDATE petitions SET state=?, updated_at=?, launched_at=?, closes_at=?")
    assert sql.endswith("WHERE petitions.id = ? AND petitions.owner_id = ? AND petitions.state = ?")


def test_close_and_delete_are_conditional_too():
    [close] = recorded(lambda s: PetitionRepository(s).mark_closed(1, NOW, 10))
    assert close.endswith("WHERE petitions.id = ? AND petitions.state = ?")
    [delete] = recorded(lambda s: PetitionRepository(s).delete_draft(1, 2))
    assert delete.startswith("DELETE FROM petitions WHERE")


def test_signature_insert_path_uses_no_postgres_or_row_value_syntax():
    rows = [{"petition_id": p, "user_id": u, "signed_at": NOW} for p in (1, 2) for u in range(3)]
    statements = recorded(lambda s: SignatureRepository(s).insert_ignoring_duplicates(rows))
    *lookups, insert, merge_1, merge_2 = statements
    assert len(lookups) == 2  # one lookup per petition in the batch
    for sql in lookups:
        assert "WHERE signatures.petition_id = ? AND signatures.user_id IN (?, ?, ?)" in sql
    assert insert.startswith("INSERT INTO signatures (")
    # Each petition's hour is counted with one MERGE, its check and write under one lock.
    assert merge_1 == merge_2 and merge_1.startswith("MERGE signature_hours WITH (HOLDLOCK)")
    for sql in statements:
        assert "ON CONFLICT" not in sql and "RETURNING" not in sql
        assert "(signatures.petition_id, signatures.user_id) IN" not in sql


def test_postgresql_without_psycopg_takes_the_portable_insert_path():
    """The one-statement insert binds psycopg's binary arrays; any other driver gets the
    lookups and plain INSERT that work everywhere."""
    rows = [{"petition_id": 1, "user_id": u, "signed_at": NOW} for u in range(3)]
    *lookups, insert, _count_hour = recorded(
        lambda s: SignatureRepository(s).insert_ignoring_duplicates(rows), postgresql_psycopg2.dialect()
    )
    assert len(lookups) == 1 and lookups[0].startswith("SELECT")
    assert insert.startswith("INSERT INTO signatures (") and "unnest" not in insert


def test_reads_for_rebuild_and_owner_pages_compile():
    for call in (
        lambda s: PetitionRepository(s).open_petitions(),
        lambda s: PetitionRepository(s).for_owner(1),
        lambda s: PetitionRepository(s).counts_by_petition([1, 2]),
        lambda s: SignatureRepository(s).signers_by_petition([1, 2]),
    ):
        assert all(sql.startswith("SELECT") for sql in recorded(call))


def test_the_mail_jobs_queries_compile_for_sql_server_with_its_row_locks():
    from app.repositories.mail_sql import MailRepository

    (claim,) = recorded(lambda s: MailRepository(s).claim_due(NOW, 100))
    assert "WITH (UPDLOCK, ROWLOCK, READPAST)" in claim and "TOP 100" in claim
    (expand,) = recorded(lambda s: MailRepository(s).add_signer_deliveries(1, "signers_closed", Signature.notify_close, NOW))
    assert expand.startswith("INSERT INTO mail_deliveries (") and "SELECT" in expand and "ON CONFLICT" not in expand


def test_signatures_over_time_compile_for_sql_server():
    from app.repositories.history_sql import SignatureHourRepository
    from app.domain.invalidations import criterion

    # The removal returns each row's hour to take it out of (here, with no rows, nothing to take).
    (removal,) = recorded(lambda s: SignatureRepository(s).mark_removed(
        SimpleNamespace(id=3, petition_id=1), criterion("domain", "spam.example")))
    assert removal.startswith("UPDATE signatures SET invalidation_id=? OUTPUT inserted.petition_id, inserted.signed_at")
    (export,) = recorded(lambda s: SignatureHourRepository(s).day_export(NOW))
    assert "CASE WHEN (signature_hours.hour >= ?)" in export and "FILTER" not in export


def test_migrations_build_exactly_the_models_schema(app):
    with app.app_context():
        for bind, metadata in METADATA_BY_BIND.items():
            with db.engines[bind].connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, metadata) == [], bind or "petitions"
