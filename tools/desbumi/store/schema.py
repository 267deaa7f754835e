"""The store's schema as an ordered list of migrations, and the code that brings a file up to date.

`MIGRATIONS[n - 1]` is the SQL script that takes a file from schema version n - 1 to n. Version 0 is
an empty file. A script is applied in one transaction together with its row in `schema_version`, so a
crash mid-migration leaves the file at the previous version. Scripts are never edited once released:
a change to the schema is a new script at the end of the list.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError

# Version 1: the core. Assets and every content version; one row per submission (`_id`) pointing at
# its current version; every version (instanceID) ever seen, with its raw JSON; sync runs; a pull
# cursor per asset.
_V1 = """
CREATE TABLE schema_version (
    version     INTEGER PRIMARY KEY,
    applied_at  TEXT NOT NULL
);

CREATE TABLE assets (
    uid                  TEXT PRIMARY KEY,
    form_id              TEXT,
    name                 TEXT,
    url                  TEXT,
    deployed_version_id  TEXT,
    version_id           TEXT,
    asset_json           TEXT NOT NULL,
    last_seen            TEXT NOT NULL
);

CREATE TABLE asset_versions (
    asset_uid      TEXT NOT NULL REFERENCES assets(uid),
    version_uid    TEXT NOT NULL,
    date_deployed  TEXT,
    content_json   TEXT NOT NULL,
    first_seen     TEXT NOT NULL,
    PRIMARY KEY (asset_uid, version_uid)
);

CREATE TABLE sync_runs (
    id           INTEGER PRIMARY KEY,
    asset_uid    TEXT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
    new          INTEGER NOT NULL DEFAULT 0,
    edited       INTEGER NOT NULL DEFAULT 0,
    deleted      INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    requests     INTEGER NOT NULL DEFAULT 0,
    retries      INTEGER NOT NULL DEFAULT 0,
    errors       TEXT
);

CREATE TABLE submissions (
    asset_uid          TEXT NOT NULL REFERENCES assets(uid),
    id                 INTEGER NOT NULL,
    instance_id        TEXT NOT NULL,
    root_uuid          TEXT,
    version            TEXT,
    submission_time    TEXT,
    submitted_by       TEXT,
    validation_status  TEXT NOT NULL DEFAULT '{}',
    first_seen_run     INTEGER NOT NULL REFERENCES sync_runs(id),
    last_changed_run   INTEGER NOT NULL REFERENCES sync_runs(id),
    deleted_at         TEXT,
    deleted_run        INTEGER REFERENCES sync_runs(id),
    PRIMARY KEY (asset_uid, id)
);

CREATE TABLE submission_versions (
    asset_uid      TEXT NOT NULL,
    submission_id  INTEGER NOT NULL,
    instance_id    TEXT NOT NULL,
    deprecated_id  TEXT,
    version        TEXT,
    raw            TEXT NOT NULL,
    seen_run       INTEGER NOT NULL REFERENCES sync_runs(id),
    PRIMARY KEY (asset_uid, submission_id, instance_id),
    FOREIGN KEY (asset_uid, submission_id) REFERENCES submissions(asset_uid, id)
);
CREATE INDEX submission_versions_instance ON submission_versions(asset_uid, instance_id);

CREATE TABLE pull_cursors (
    asset_uid    TEXT PRIMARY KEY REFERENCES assets(uid),
    last_id      INTEGER NOT NULL DEFAULT 0,
    updated_run  INTEGER REFERENCES sync_runs(id)
);
"""

# Version 2: attachments; the page size the server really serves (clamp detection); runs count pages
# and undeletions and remember which process runs them (so a crash is told from a pull still running).
_V2 = """
CREATE TABLE attachments (
    id              INTEGER PRIMARY KEY,
    asset_uid       TEXT NOT NULL,
    submission_id   INTEGER NOT NULL,
    instance_id     TEXT NOT NULL,
    server_key      TEXT NOT NULL,
    question_xpath  TEXT,
    filename        TEXT,
    basename        TEXT,
    mimetype        TEXT,
    download_url    TEXT,
    is_deleted      INTEGER NOT NULL DEFAULT 0,
    local_path      TEXT,
    size            INTEGER,
    sha256          TEXT,
    downloaded_at   TEXT,
    UNIQUE (asset_uid, submission_id, server_key),
    FOREIGN KEY (asset_uid, submission_id) REFERENCES submissions(asset_uid, id)
);

ALTER TABLE pull_cursors ADD COLUMN page_limit INTEGER;

ALTER TABLE sync_runs ADD COLUMN undeleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN pages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN pid INTEGER;
ALTER TABLE sync_runs ADD COLUMN host TEXT;
CREATE INDEX sync_runs_status ON sync_runs(status);
"""

MIGRATIONS: list[str] = [_V1, _V2]
CURRENT_VERSION = len(MIGRATIONS)


def split_statements(script: str) -> list[str]:
    """The statements of a script, split where SQLite says a statement is complete.

    `executescript` would commit any open transaction first, so a migration runs its statements one
    by one inside the transaction that also records the new version.
    """
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending.strip()[:80]!r}")
    return statements


def schema_version(conn: sqlite3.Connection) -> int:
    """The file's schema version: 0 for an empty file. A file with tables but no `schema_version` is
    not a desbumi store (InputError)."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables:
        if tables:
            raise InputError(
                "This SQLite file is not a desbumi store (it has tables but no schema_version).",
                hint="Point --store at an empty directory or at a directory desbumi-sync created.")
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, path: Path, now: Callable[[], str],
            migrations: list[str] | None = None) -> tuple[int, int]:
    """Bring the file up to the newest version this code knows; returns (version before, after).

    `conn` must be in autocommit mode (isolation_level=None). Each step holds the write lock
    (BEGIN IMMEDIATE) and re-reads the version inside it, so two processes opening a fresh file at
    once do not both create the tables. A file newer than the code is refused, untouched.
    """
    migrations = MIGRATIONS if migrations is None else migrations
    target = len(migrations)
    before = schema_version(conn)
    _refuse_newer(before, target, path)
    if before == target:  # the usual case: no write lock taken
        return before, before
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            _refuse_newer(version, target, path)
            if version >= target:
                conn.execute("COMMIT")
                return before, version
            for statement in split_statements(migrations[version]):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version + 1, now()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _refuse_newer(version: int, known: int, path: Path) -> None:
    if version > known:
        raise InputError(
            f"The store {path} has schema version {version}, but this desbumi only knows versions up to "
            f"{known}: it was written by a newer desbumi.",
            hint="Upgrade desbumi (pip install -U desbumi, or git pull and pip install -e .) and run the "
                 "command again; do not edit or downgrade the file by hand.")
