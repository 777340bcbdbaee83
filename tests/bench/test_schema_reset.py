"""The bench's and the test suite's schema reset gives up with a clear message, rather than
waiting without a word, while another session holds the database."""
import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bench.services import DatabaseBusy, ensure_database, reset_schema
from config import settings


@pytest.fixture
def scratch_engine():
    url = make_url(settings.TestConfig().SQLALCHEMY_DATABASE_URI)
    url = url.set(database=f"{url.database}_reset")
    ensure_database(url.render_as_string(hide_password=False))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS held (id int)"))
    yield engine
    engine.dispose()


def _libpq(engine):
    url = engine.url
    return f"host={url.host} port={url.port or 5432} user={url.username} dbname={url.database}"


def test_reset_names_the_session_holding_the_database_then_works_once_it_lets_go(scratch_engine):
    with psycopg.connect(_libpq(scratch_engine), application_name="leftover-server") as holder:
        holder.execute("SELECT * FROM held")  # an open transaction keeps its lock on the table
        holder_pid = holder.info.backend_pid
        with pytest.raises(DatabaseBusy) as raised:
            reset_schema(scratch_engine, lock_timeout_ms=200)
        message = str(raised.value)
        assert f"pid {holder_pid} leftover-server" in message
        assert "idle in transaction" in message
        assert "pg_terminate_backend" in message
        # Nothing was dropped while the reset waited.
        assert "held" in inspect(scratch_engine).get_table_names()
        holder.rollback()
    reset_schema(scratch_engine, lock_timeout_ms=200)
    assert inspect(scratch_engine).get_table_names() == []
