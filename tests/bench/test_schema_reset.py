"""The bench's and the test suite's schema reset gives up with a clear message, rather than
waiting without a word, while another session holds the database."""
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bench.services import DatabaseBusy, reset_schema
from deploy.stack import ensure_database
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


def test_reset_names_the_session_holding_the_database_then_works_once_it_lets_go(scratch_engine):
    leftover = create_engine(scratch_engine.url, connect_args={"application_name": "leftover-server"})
    with leftover.connect() as holder:
        holder.execute(text("SELECT * FROM held"))  # an open transaction keeps its lock on the table
        holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
        with pytest.raises(DatabaseBusy) as raised:
            reset_schema(scratch_engine, lock_timeout_ms=200)
        message = str(raised.value)
        assert f"pid {holder_pid} leftover-server" in message
        assert "idle in transaction" in message
        assert "pg_terminate_backend" in message
        assert repr(scratch_engine.url.database) in message
        # Nothing was dropped while the reset waited.
        assert "held" in inspect(scratch_engine).get_table_names()
        holder.rollback()
    leftover.dispose()
    reset_schema(scratch_engine, lock_timeout_ms=200)
    assert inspect(scratch_engine).get_table_names() == []
