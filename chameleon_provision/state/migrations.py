"""The state database's schema history: an ordered list of migrations, applied forward in one transaction.

The version is SQLite's `PRAGMA user_version` (an integer in the file header) rather than a
`schema_version` table: it changes in the same transaction as the DDL it describes, needs no table of
its own that could itself need migrating, and reads as 0 in every database made before versioning
existed, which is exactly the signal used to recognise those.

Migrations are only ever appended. Migration N takes a database at version N-1 to version N; a
released migration is never edited, because users' files already went through it.
"""

from __future__ import annotations

import sqlite3

from chameleon_provision.errors import StateError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the layout every database had before it carried a version
    (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            source TEXT NOT NULL, commit_sha TEXT, site TEXT NOT NULL, mode TEXT NOT NULL,
            status TEXT NOT NULL, lease_end TEXT, ssh_command TEXT, plan_json TEXT)""",
        """CREATE TABLE resources (
            id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(run_id),
            kind TEXT NOT NULL, name TEXT NOT NULL, site TEXT NOT NULL, cloud_id TEXT,
            status TEXT NOT NULL, detail TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX resources_run ON resources(run_id)",
    ),
    # 2: which cloud (identity endpoint, project, region) a run belongs to and its server name;
    #    which run has claimed a floating IP, so two runs cannot take the same address
    (
        "ALTER TABLE runs ADD COLUMN auth_url TEXT",
        "ALTER TABLE runs ADD COLUMN project_id TEXT",
        "ALTER TABLE runs ADD COLUMN region TEXT",
        "ALTER TABLE runs ADD COLUMN name TEXT",
        "ALTER TABLE resources ADD COLUMN claimed_by TEXT",
    ),
    # 3: the node's setup as last seen (JSON: state, step, failing step, log tail)
    (
        "ALTER TABLE runs ADD COLUMN setup_json TEXT",
    ),
    # 4: the clouds.yaml profile (OS_CLOUD) a run was made with, so `status` and `destroy` use it again
    (
        "ALTER TABLE runs ADD COLUMN os_cloud TEXT",
    ),
)
LATEST = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, where: str) -> int:
    """Bring db (a connection in autocommit mode) to LATEST; returns the version it was found at.

    A database from a newer release is refused before anything is written to it.
    """
    found = _version(db, where)
    if found == LATEST:
        return found
    db.execute("BEGIN IMMEDIATE")  # the write lock first, so concurrent openers migrate one at a time
    try:
        version = _version(db, where)  # another process may have migrated it while this one waited
        for steps in MIGRATIONS[version:]:
            for sql in steps:
                db.execute(sql)
        db.execute(f"PRAGMA user_version = {LATEST:d}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return found


def _version(db: sqlite3.Connection, where: str) -> int:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > LATEST:
        raise StateError(f"the state database {where} was made by a newer chameleon-provision (schema version "
                         f"{version}; this one knows up to {LATEST}); upgrade",
                         hint="pip install --upgrade chameleon-provision, or set PROVISION_STATE_DIR to another "
                              "folder")
    if version == 0 and _columns(db):
        return _unversioned(db, where)
    return version


def _unversioned(db: sqlite3.Connection, where: str) -> int:
    """A database with tables but no version is the layout of migration 1, or not ours at all."""
    expected = _columns_after(MIGRATIONS[:1])
    found = _columns(db)
    if all(cols <= found.get(table, set()) for table, cols in expected.items()):
        return 1
    raise StateError(f"{where} is not a chameleon-provision state database (its tables are "
                     f"{', '.join(sorted(found))})",
                     hint="move the file aside, or set PROVISION_STATE_DIR to another folder")


def _columns(db: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%'")]
    return {t: {c[1] for c in db.execute("SELECT * FROM pragma_table_info(?)", (t,))} for t in tables}


def _columns_after(migrations: tuple[tuple[str, ...], ...]) -> dict[str, set[str]]:
    scratch = sqlite3.connect(":memory:")
    try:
        for steps in migrations:
            for sql in steps:
                scratch.execute(sql)
        return _columns(scratch)
    finally:
        scratch.close()
