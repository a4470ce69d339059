"""Opening the database: SQLite (WAL, full synchronous) under the data directory by default, or
PostgreSQL through ``GRIDSHIFT_DATABASE_URL``; the integrity check; the migrations.

Fails closed (RELIABILITY.md mechanism 8): a store that fails its integrity check, cannot be
read, or carries a schema newer than this gridshift raises ``StoreError`` and nothing starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from gridshift.domain import GridshiftError

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_FILE = "gridshift.db"


class StoreError(GridshiftError):
    """The store cannot be used: corrupt, unreachable, or from a newer gridshift."""


@dataclass
class Engines:
    """A writer and a reader. On SQLite the writer takes the write lock at BEGIN (so that two
    writers never deadlock on a lock upgrade) and readers never wait for it (WAL)."""

    writer: Engine
    reader: Engine
    url: str

    @property
    def sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / SQLITE_FILE}"


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=8
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def connect(url: str) -> Engines:
    """Engines for ``url`` (no check, no migration: see ``open_database``)."""
    if url.startswith("sqlite"):
        return Engines(_sqlite_engine(url, True), _sqlite_engine(url, False), url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    except Exception as exc:  # a malformed URL or a missing driver
        raise StoreError(
            f"cannot use the database URL ({type(exc).__name__}: {exc})",
            hint="GRIDSHIFT_DATABASE_URL takes postgresql://user:password@host:port/db",
        ) from None
    return Engines(engine, engine, url)


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def check_integrity(engines: Engines) -> None:
    """Refuse a store that is not sound: SQLite's ``integrity_check``; on PostgreSQL, that it
    answers. Raises ``StoreError`` with what was found."""
    where = _redacted(engines.url)
    try:
        with engines.reader.connect() as conn:
            if engines.sqlite:
                rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
                if rows != ["ok"]:
                    raise StoreError(
                        f"the store {where} failed its integrity check: {'; '.join(rows[:3])}",
                        hint="restore it from a backup, or move it aside to start empty; "
                        "nothing was dispatched",
                    )
            else:
                conn.execute(text("SELECT 1"))
    except (DBAPIError, OperationalError) as exc:
        cause = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
        raise StoreError(
            f"the store {where} cannot be read: {cause.splitlines()[0]}",
            hint="restore it from a backup or move it aside; for PostgreSQL check that the "
            "server is up and GRIDSHIFT_DATABASE_URL is right; nothing was dispatched",
        ) from None


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engines: Engines) -> str:
    """Bring the schema to the newest revision; refuse one newer than this gridshift knows."""
    cfg = _alembic_config()
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    known = {rev.revision for rev in script.walk_revisions()}
    with engines.writer.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current is not None and current not in known:
        raise StoreError(
            f"the store is at schema revision {current}, which this gridshift does not know",
            hint="run the gridshift version that wrote it, or a newer one",
        )
    if current != head:
        with engines.writer.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    return str(head)


def open_database(url: str) -> Engines:
    """Connect, check integrity, migrate. The only way the service opens its store."""
    engines = connect(url)
    try:
        check_integrity(engines)
        migrate(engines)
    except StoreError:
        engines.dispose()
        raise
    except (DBAPIError, OperationalError) as exc:
        engines.dispose()
        cause = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
        raise StoreError(
            f"the store {_redacted(url)} cannot be opened: {cause.splitlines()[0]}",
            hint="check the database and GRIDSHIFT_DATABASE_URL; nothing was dispatched",
        ) from None
    return engines
