"""Store back-ends for tests: a PostgreSQL database for the session and a fresh ``Store`` per test.

A pytest plugin: a test module that needs it says ``pytest_plugins = ["store_backends"]``.

``postgres_url`` (session) finds or starts a PostgreSQL server, in this order:

1. ``GRIDSHIFT_TEST_POSTGRES_URL`` (CI sets it after starting the Debian cluster, see ``.ci/run``);
   a URL that does not answer counts as "not available";
2. as root with the Debian cluster (``pg_ctlcluster``, ``/etc/postgresql/15/main``): start it,
   create the role ``gridshift`` and the database ``gridshift_test`` (idempotently);
3. not root, with ``initdb`` on PATH: a throwaway cluster in a temporary directory on a free port,
   stopped at the end of the session.

Without any of them (or when the server does not answer) the PostgreSQL tests skip, or fail under
``GRIDSHIFT_REQUIRE_SERVICES=1`` (the rule of ``conftest.require_service`` for every test that
needs a real service).

``store`` (function) is parametrised over ``sqlite`` (a file in ``tmp_path``) and ``postgresql``
(marked ``service``; the ``public`` schema dropped and recreated before each test), and yields a
migrated ``Store`` that is closed afterwards. A test that only makes sense on one back-end narrows
it with ``@pytest.mark.parametrize("store", ["sqlite"], indirect=True)``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest

from gridshift.store import Store, sqlite_url

ENV_URL = "GRIDSHIFT_TEST_POSTGRES_URL"
DEBIAN_CLUSTER = Path("/etc/postgresql/15/main")
DEBIAN_URL = "postgresql://gridshift:gridshift@127.0.0.1:5432/gridshift_test"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.service),
]


class UnavailableError(Exception):
    """PostgreSQL cannot be had here; the message says why."""


def _probe(url: str) -> None:
    """Raise ``UnavailableError`` unless ``url`` accepts a connection within a few seconds."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnavailableError(f"cannot connect to {_redacted(url)}: {first}") from None


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def _run(argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    # cwd="/": the postgres user may not be allowed into the repository's directory.
    done = subprocess.run(argv, cwd="/", capture_output=True, text=True, timeout=60, check=False)
    if check and done.returncode != 0:
        raise UnavailableError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def _psql(sql: str) -> str:
    argv = ["runuser", "-u", "postgres", "--", "psql", "-X", "-tA", "-v", "ON_ERROR_STOP=1"]
    return _run([*argv, "-c", sql]).stdout.strip()


def _debian_cluster() -> str:
    """Start the Debian cluster 15/main (root only) with the role and database of the tests."""
    done = _run(["pg_ctlcluster", "15", "main", "start"], check=False)
    if done.returncode != 0 and "already running" not in done.stderr + done.stdout:
        raise UnavailableError(f"pg_ctlcluster 15 main start failed: {done.stderr.strip()}")
    if _psql("SELECT 1 FROM pg_roles WHERE rolname = 'gridshift'") != "1":
        _psql("CREATE ROLE gridshift LOGIN PASSWORD 'gridshift'")
    if _psql("SELECT 1 FROM pg_database WHERE datname = 'gridshift_test'") != "1":
        _psql("CREATE DATABASE gridshift_test OWNER gridshift")
    return DEBIAN_URL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _throwaway_cluster(initdb: str, where: Path) -> tuple[str, list[str]]:
    """initdb + pg_ctl start in ``where`` (not root); the URL and the command that stops it."""
    bindir = Path(initdb).resolve().parent
    data = where / "data"
    _run([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    port = _free_port()
    options = f"-p {port} -k {where} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = str(bindir / "pg_ctl")
    _run([pg_ctl, "-D", str(data), "-o", options, "-l", str(where / "log"), "-w", "start"])
    stop = [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE ROLE gridshift LOGIN PASSWORD 'gridshift'")
        conn.execute("CREATE DATABASE gridshift_test OWNER gridshift")
    return f"postgresql://gridshift:gridshift@127.0.0.1:{port}/gridshift_test", stop


def _missing(message: str) -> NoReturn:
    """Skip, or fail under ``GRIDSHIFT_REQUIRE_SERVICES=1`` (as ``conftest.require_service``)."""
    if os.environ.get("GRIDSHIFT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"GRIDSHIFT_REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a usable PostgreSQL database (see the module's docstring for where from)."""
    stop: list[str] | None = None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    try:
        try:
            if os.environ.get(ENV_URL):
                url = os.environ[ENV_URL]
            elif shutil.which("pg_ctlcluster") and DEBIAN_CLUSTER.is_dir() and os.geteuid() == 0:
                url = _debian_cluster()
            elif (initdb := shutil.which("initdb")) and os.geteuid() != 0:
                tmp = tempfile.TemporaryDirectory(prefix="gridshift-pg-")
                url, stop = _throwaway_cluster(initdb, Path(tmp.name))
            else:
                raise UnavailableError(
                    f"no {ENV_URL}, no Debian cluster 15/main (started as root) and no initdb "
                    "(run as a non-root user)"
                )
            _probe(url)
        except (UnavailableError, OSError, subprocess.SubprocessError, psycopg.Error) as exc:
            _missing(f"PostgreSQL is not installed: {exc}")
        yield url
    finally:
        if stop is not None:
            _run(stop, check=False)
        if tmp is not None:
            tmp.cleanup()


def _reset(url: str) -> None:
    """An empty ``public`` schema: the database as a fresh install finds it."""
    with psycopg.connect(url, autocommit=True) as conn:
        # A connection a test forgot to close must not hang the suite: fail loudly instead.
        conn.execute("SET lock_timeout = '10s'")
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh, migrated store on each back-end; closed after the test."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        url = str(request.getfixturevalue("postgres_url"))
        _reset(url)
    opened = Store.open(url)
    try:
        yield opened
    finally:
        opened.close()
