"""The most connections PostgreSQL held to some databases while a load ran, sampled every 20 ms
from pg_stat_activity (PostgreSQL's default max_connections is 100)."""
import threading

from sqlalchemy import create_engine, text


class ConnectionSampler(threading.Thread):
    def __init__(self, database_urls, every=0.02):
        super().__init__(daemon=True)
        self.engine = create_engine(database_urls[0], pool_size=1, max_overflow=0)
        self.names = sorted({url.rsplit("/", 1)[1].split("?")[0] for url in database_urls})
        self.every, self.most = every, 0
        self.halt = threading.Event()

    def run(self):
        with self.engine.connect() as conn:
            while not self.halt.wait(self.every):
                held = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = ANY(:names)"),
                                    {"names": self.names}).scalar()
                self.most = max(self.most, held)
        self.engine.dispose()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.halt.set()
        self.join()
