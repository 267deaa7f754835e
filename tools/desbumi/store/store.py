"""`Store`: the one reader-writer of `<store dir>/desbumi.sqlite` (see the package docstring)."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from ..errors import InputError
from .model import (
    AssetRecord,
    AssetVersion,
    Attachment,
    DocFields,
    PageResult,
    Run,
    SubmissionRecord,
    SubmissionVersion,
    SweepPlan,
    attachment_basename,
    attachment_key,
    canonical_json,
    doc_fields,
    plan_sweep,
)
from .schema import migrate

DB_NAME = "desbumi.sqlite"
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another one before "database is locked"
# Documents are 2-10 KiB: with 4 KiB pages most hold one document and waste a quarter of the page;
# 16 KiB pages pack them (measured: 20% smaller file, faster inserts; tests/benchmarks/bench_store.py).
PAGE_SIZE = 16384
RUN_STATUSES = ("running", "ok", "failed", "interrupted")
RUN_COUNTS = ("new", "edited", "deleted", "undeleted", "unchanged", "pages")

_HOST = socket.gethostname()
# (database path, run id) of the runs started by Stores open in this process and not yet finished:
# how `mark_interrupted_runs` tells this process's live runs from ones a crashed Store left behind.
_LIVE_RUNS: set[tuple[str, int]] = set()

_SUBMISSION_INSERT = """
INSERT INTO submissions (asset_uid, id, instance_id, root_uuid, version, submission_time, submitted_by,
                         validation_status, first_seen_run, last_changed_run, deleted_at, deleted_run)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)
"""
_SUBMISSION_UPDATE = """
UPDATE submissions SET instance_id = ?, root_uuid = ?, version = ?, submission_time = ?, submitted_by = ?,
                       validation_status = ?, last_changed_run = ?, deleted_at = ?, deleted_run = ?
WHERE asset_uid = ? AND id = ?
"""
_VERSION_INSERT = """
INSERT OR IGNORE INTO submission_versions (asset_uid, submission_id, instance_id, deprecated_id, version, raw, seen_run)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
_ATTACHMENT_UPSERT = """
INSERT INTO attachments (asset_uid, submission_id, instance_id, server_key, question_xpath, filename, basename,
                         mimetype, download_url, is_deleted)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (asset_uid, submission_id, server_key) DO UPDATE SET
    instance_id = excluded.instance_id, question_xpath = excluded.question_xpath, filename = excluded.filename,
    basename = excluded.basename, mimetype = excluded.mimetype, download_url = excluded.download_url,
    is_deleted = excluded.is_deleted
WHERE instance_id IS NOT excluded.instance_id OR question_xpath IS NOT excluded.question_xpath
   OR filename IS NOT excluded.filename OR basename IS NOT excluded.basename OR mimetype IS NOT excluded.mimetype
   OR download_url IS NOT excluded.download_url OR is_deleted IS NOT excluded.is_deleted
"""
_CURSOR_ADVANCE = """
INSERT INTO pull_cursors (asset_uid, last_id, updated_run) VALUES (?, ?, ?)
ON CONFLICT (asset_uid) DO UPDATE SET last_id = excluded.last_id, updated_run = excluded.updated_run
WHERE excluded.last_id > last_id
"""
_PENDING = """
a.downloaded_at IS NULL AND a.is_deleted = 0 AND s.deleted_at IS NULL AND a.instance_id = s.instance_id
"""


class _State:
    """A submission row while a page is applied (mutable, slots for speed)."""

    __slots__ = ("by", "changed_run", "deleted_at", "deleted_run", "first_run", "instance", "root", "time",
                 "validation", "version")

    def __init__(self, row: Sequence[Any]):
        (self.instance, self.root, self.version, self.time, self.by, self.validation, self.deleted_at,
         self.deleted_run, self.first_run, self.changed_run) = row

    def take(self, f: DocFields, run_id: int) -> None:
        self.instance, self.root, self.version = f.instance_id, f.root_uuid, f.version
        self.time, self.by, self.validation = f.submission_time, f.submitted_by, f.validation_status
        self.changed_run = run_id


def _dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _utc_iso(moment: dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x00100000, False, pid)  # SYNCHRONIZE
        if not handle:
            return False
        try:
            return kernel32.WaitForSingleObject(handle, 0) == 0x00000102  # WAIT_TIMEOUT: still running
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _without_origin(url: Any) -> Any:
    """'http://127.0.0.1:8123/api/v2/…' -> '/api/v2/…': the server's address is not data."""
    if not isinstance(url, str) or "://" not in url:
        return url
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def _dump_doc(raw: str) -> Any:
    doc = json.loads(raw)
    for item in doc.get("_attachments") or []:
        if isinstance(item, dict):
            for key in list(item):
                if key.startswith("download") and key.endswith("url"):
                    item[key] = _without_origin(item[key])
    return doc


class Store:
    """The local store. Open with `Store.open(store_dir)`; use as a context manager or `close()`.

    One Store (one connection) per thread. Every write is one transaction (BEGIN IMMEDIATE … COMMIT);
    nothing is ever deleted from the file.
    """

    def __init__(self, conn: sqlite3.Connection, store_dir: Path, clock: Callable[[], dt.datetime] | None):
        self._conn = conn
        self.dir = store_dir
        self.path = store_dir / DB_NAME
        self._key = str(self.path.resolve())
        self._clock = clock
        self._runs: set[int] = set()

    # -- opening and closing -------------------------------------------------------------------

    @classmethod
    def open(cls, store_dir: Path | str, *, create: bool = True,
             clock: Callable[[], dt.datetime] | None = None) -> Store:
        """Open (and create, and migrate) `<store_dir>/desbumi.sqlite`.

        Runs a crashed process left 'running' become 'interrupted'. A file written by a newer desbumi,
        a file that is not a desbumi store, or (with create=False) a missing store raise InputError.
        """
        store_dir = Path(store_dir)
        path = store_dir / DB_NAME
        if not path.exists():
            if not create:
                raise InputError(f"There is no desbumi store in {store_dir} (no {DB_NAME}).",
                                 hint="Run `desbumi-sync pull` first, or point --store at the directory that holds it.")
            if store_dir.exists() and not store_dir.is_dir():
                raise InputError(f"The store location {store_dir} is a file, not a directory.",
                                 hint="Point --store (or paths.store in desbumi.toml) at a directory.")
            try:
                store_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"Cannot create the store directory {store_dir}: {exc.strerror or exc}.",
                                 hint="Choose a writable directory with --store.") from exc
        conn = None
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only takes effect on a new, empty file
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, store_dir, clock)
            migrate(conn, path, store._now)
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise InputError(f"Cannot open the store {path}: {exc}.",
                             hint="If another desbumi-sync is writing, wait for it; if the file is not a desbumi "
                                  "store, point --store at another directory.") from exc
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        store.mark_interrupted_runs()
        return store

    def close(self) -> None:
        """Close the file. Runs this Store started and did not finish are marked 'interrupted'."""
        if self._conn is None:
            return
        try:
            if self._runs:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                note = f"interrupted: the store was closed before the run finished ({self._now()})"
                with self._write() as conn:
                    conn.executemany(
                        """UPDATE sync_runs SET status = 'interrupted',
                               errors = CASE WHEN errors IS NULL THEN ? ELSE errors || char(10) || ? END
                           WHERE id = ? AND status = 'running'""",
                        [(note, note, run_id) for run_id in sorted(self._runs)])
        finally:
            for run_id in self._runs:
                _LIVE_RUNS.discard((self._key, run_id))
            self._runs.clear()
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]

    # -- helpers ---------------------------------------------------------------------------------

    def _now(self) -> str:
        return _utc_iso(self._clock() if self._clock else dt.datetime.now(dt.UTC))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; joins the open one when called inside another."""
        conn = self._conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot for several SELECTs."""
        conn = self._conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    @staticmethod
    def _check(conn: sqlite3.Connection, asset_uid: str, run_id: int | None = None) -> None:
        asset, run = conn.execute("SELECT (SELECT 1 FROM assets WHERE uid = ?), (SELECT 1 FROM sync_runs WHERE id = ?)",
                                  (asset_uid, run_id)).fetchone()
        if asset is None:
            raise ValueError(f"asset {asset_uid!r} is not in the store: save_asset() it first")
        if run_id is not None and run is None:
            raise ValueError(f"sync run {run_id!r} does not exist: start_run() first")

    # -- assets and versions ---------------------------------------------------------------------

    def save_asset(self, asset: Mapping[str, Any], *, form_id: str | None = None) -> AssetRecord:
        """Insert or update an asset (the detail JSON of GET /api/v2/assets/{uid}/).

        form_id: the project's name for the form (the key in desbumi.toml [assets]). Without it the
        stored one is kept, else `content.settings.form_id` / `id_string` is used when present.
        """
        uid = asset.get("uid")
        if not isinstance(uid, str) or not uid:
            raise InputError("The server sent an asset without a uid; it cannot be stored.",
                             hint="Check the server URL: it does not look like a KoboToolbox server.")
        content = asset.get("content") if isinstance(asset.get("content"), dict) else {}
        settings = content.get("settings") if isinstance(content.get("settings"), dict) else {}
        derived = settings.get("form_id") or settings.get("id_string")
        now = self._now()
        with self._write() as conn:
            row = conn.execute("SELECT form_id FROM assets WHERE uid = ?", (uid,)).fetchone()
            chosen = form_id or (row[0] if row and row[0] else None) or (derived if isinstance(derived, str) else None)
            conn.execute(
                """INSERT INTO assets (uid, form_id, name, url, deployed_version_id, version_id, asset_json, last_seen)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (uid) DO UPDATE SET form_id = excluded.form_id, name = excluded.name,
                       url = excluded.url, deployed_version_id = excluded.deployed_version_id,
                       version_id = excluded.version_id, asset_json = excluded.asset_json,
                       last_seen = excluded.last_seen""",
                (uid, chosen, asset.get("name"), asset.get("url"), asset.get("deployed_version_id"),
                 asset.get("version_id"), _dumps(asset), now))
        return AssetRecord(uid=uid, form_id=chosen, name=asset.get("name"), url=asset.get("url"),
                           deployed_version_id=asset.get("deployed_version_id"), version_id=asset.get("version_id"),
                           last_seen=now)

    def save_version(self, asset_uid: str, version_uid: str, content: Mapping[str, Any],
                     date_deployed: str | bool | None) -> bool:
        """Keep a content version (GET …/versions/{vuid}/). `date_deployed` as Kobo sends it (an ISO
        date, or false when never deployed). Returns True when something was written."""
        deployed = date_deployed if isinstance(date_deployed, str) and date_deployed else None
        content_json = _dumps(content)
        with self._write() as conn:
            self._check(conn, asset_uid)
            cur = conn.execute(
                """INSERT INTO asset_versions (asset_uid, version_uid, date_deployed, content_json, first_seen)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (asset_uid, version_uid) DO UPDATE SET
                       date_deployed = coalesce(excluded.date_deployed, date_deployed),
                       content_json = excluded.content_json
                   WHERE content_json IS NOT excluded.content_json
                      OR date_deployed IS NOT coalesce(excluded.date_deployed, date_deployed)""",
                (asset_uid, version_uid, deployed, content_json, self._now()))
            return cur.rowcount > 0

    def known_versions(self, asset_uid: str) -> set[str]:
        return {row[0] for row in self._conn.execute(
            "SELECT version_uid FROM asset_versions WHERE asset_uid = ?", (asset_uid,))}

    def versions(self, asset_uid: str) -> list[AssetVersion]:
        """Every content version kept for an asset, oldest deployment first (never deployed last)."""
        rows = self._conn.execute(
            """SELECT version_uid, date_deployed, content_json FROM asset_versions WHERE asset_uid = ?
               ORDER BY date_deployed IS NULL, date_deployed, version_uid""", (asset_uid,))
        return [AssetVersion(asset_uid, uid, deployed, json.loads(content)) for uid, deployed, content in rows]

    def assets(self) -> list[AssetRecord]:
        rows = self._conn.execute(
            """SELECT uid, form_id, name, url, deployed_version_id, version_id, last_seen FROM assets
               ORDER BY coalesce(form_id, ''), uid""")
        return [AssetRecord(*row) for row in rows]

    def asset(self, asset_uid: str) -> dict | None:
        """The asset JSON as last saved, or None."""
        row = self._conn.execute("SELECT asset_json FROM assets WHERE uid = ?", (asset_uid,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- sync runs -------------------------------------------------------------------------------

    def start_run(self, asset_uid: str | None) -> int:
        """Record the start of a pull (of one asset, or None for a run over several)."""
        with self._write() as conn:
            run_id = conn.execute(
                "INSERT INTO sync_runs (asset_uid, started_at, status, pid, host) VALUES (?, ?, 'running', ?, ?)",
                (asset_uid, self._now(), os.getpid(), _HOST)).lastrowid
        self._runs.add(run_id)
        _LIVE_RUNS.add((self._key, run_id))
        return run_id

    def finish_run(self, run_id: int, *, status: str, counts: Mapping[str, int] | None = None,
                   requests: int | None = None, retries: int | None = None,
                   errors: str | Sequence[str] | None = None) -> Run:
        """Close a run. The apply_* methods already add new/edited/deleted/undeleted/unchanged/pages
        to the run as they commit; `counts` overwrites the keys it names."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"finish_run status must be one of ok, failed, interrupted (got {status!r})")
        counts = dict(counts or {})
        unknown = sorted(set(counts) - set(RUN_COUNTS))
        if unknown:
            raise ValueError(f"unknown run counts {unknown}; known: {list(RUN_COUNTS)}")
        if errors is not None and not isinstance(errors, str):
            errors = "\n".join(str(e) for e in errors)
        sets, values = ["status = ?", "finished_at = ?"], [status, self._now()]
        for key, value in counts.items():
            sets.append(f"{key} = ?")
            values.append(int(value))
        for key, value in (("requests", requests), ("retries", retries)):
            if value is not None:
                sets.append(f"{key} = ?")
                values.append(int(value))
        if errors:
            sets.append("errors = ?")
            values.append(errors)
        with self._write() as conn:
            row = conn.execute("SELECT status FROM sync_runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise ValueError(f"sync run {run_id!r} does not exist")
            if row[0] not in ("running", "interrupted"):
                raise ValueError(f"sync run {run_id} is already finished ({row[0]})")
            conn.execute(f"UPDATE sync_runs SET {', '.join(sets)} WHERE id = ?", (*values, run_id))
        self._runs.discard(run_id)
        _LIVE_RUNS.discard((self._key, run_id))
        return self.run(run_id)

    def mark_interrupted_runs(self) -> list[int]:
        """Runs still 'running' whose process is gone (crash, kill -9, power cut) become 'interrupted'.

        A run is alive when it was started on this host by a process that still exists (for this
        process: by a Store that is still open), so opening the store while a pull runs elsewhere
        does not touch that pull's run."""
        dead = []
        for run_id, pid, host in self._conn.execute(
                "SELECT id, pid, host FROM sync_runs WHERE status = 'running' ORDER BY id").fetchall():
            if host == _HOST and pid is not None:
                alive = (self._key, run_id) in _LIVE_RUNS if pid == os.getpid() else _pid_alive(pid)
                if alive:
                    continue
            dead.append(run_id)
        if dead:
            note = f"interrupted: the process ended without finishing the run (noticed {self._now()})"
            with self._write() as conn:
                conn.executemany(
                    """UPDATE sync_runs SET status = 'interrupted',
                           errors = CASE WHEN errors IS NULL THEN ? ELSE errors || char(10) || ? END
                       WHERE id = ? AND status = 'running'""",
                    [(note, note, run_id) for run_id in dead])
        return dead

    def run(self, run_id: int) -> Run:
        row = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM sync_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise ValueError(f"sync run {run_id!r} does not exist")
        return Run(*row)

    def runs(self, asset_uid: str | None = None) -> list[Run]:
        """Runs, oldest first; of one asset when asset_uid is given."""
        if asset_uid is None:
            rows = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM sync_runs ORDER BY id")
        else:
            rows = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM sync_runs WHERE asset_uid = ? ORDER BY id",
                                      (asset_uid,))
        return [Run(*row) for row in rows]

    # -- pull cursor -----------------------------------------------------------------------------

    def cursor(self, asset_uid: str) -> int:
        """The largest `_id` committed by apply_page (0 when none): the next keyset page asks for `$gt` it."""
        row = self._conn.execute("SELECT last_id FROM pull_cursors WHERE asset_uid = ?", (asset_uid,)).fetchone()
        return row[0] if row else 0

    def reset_cursor(self, asset_uid: str) -> None:
        """Start the keyset pull again from the first submission (`pull --full`); nothing is lost."""
        with self._write() as conn:
            conn.execute("UPDATE pull_cursors SET last_id = 0 WHERE asset_uid = ?", (asset_uid,))

    def page_limit(self, asset_uid: str) -> int | None:
        """The page size the server was seen to serve at most (its clamp), None when not known."""
        row = self._conn.execute("SELECT page_limit FROM pull_cursors WHERE asset_uid = ?", (asset_uid,)).fetchone()
        return row[0] if row else None

    def set_page_limit(self, asset_uid: str, limit: int | None) -> None:
        with self._write() as conn:
            self._check(conn, asset_uid)
            conn.execute(
                """INSERT INTO pull_cursors (asset_uid, last_id, page_limit) VALUES (?, 0, ?)
                   ON CONFLICT (asset_uid) DO UPDATE SET page_limit = excluded.page_limit
                   WHERE page_limit IS NOT excluded.page_limit""", (asset_uid, limit))

    # -- submissions -----------------------------------------------------------------------------

    def apply_page(self, asset_uid: str, docs: Sequence[Mapping[str, Any]], run_id: int) -> PageResult:
        """Store one page of the keyset pull and advance the cursor to its largest `_id`, in one
        transaction. Idempotent: applying the same page again changes nothing."""
        return self._apply(asset_uid, docs, run_id, page=True)

    def apply_docs(self, asset_uid: str, docs: Sequence[Mapping[str, Any]], run_id: int) -> PageResult:
        """Same as apply_page without moving the cursor: for documents fetched after a sweep."""
        return self._apply(asset_uid, docs, run_id, page=False)

    def _apply(self, asset_uid: str, docs: Sequence[Mapping[str, Any]], run_id: int, *, page: bool) -> PageResult:
        if not docs:
            return PageResult()
        where = " of the page" if page else ""
        fields = [doc_fields(doc, where=f" (item {i + 1}{where}, asset {asset_uid})") for i, doc in enumerate(docs)]
        ids_json = json.dumps(sorted({f.submission_id for f in fields}))
        new = edited = unchanged = undeleted = validation_changed = 0
        with self._write() as conn:
            self._check(conn, asset_uid, run_id)
            state: dict[int, _State] = {
                row[0]: _State(row[1:]) for row in conn.execute(
                    """SELECT id, instance_id, root_uuid, version, submission_time, submitted_by, validation_status,
                              deleted_at, deleted_run, first_seen_run, last_changed_run
                       FROM submissions WHERE asset_uid = ? AND id IN (SELECT value FROM json_each(?))""",
                    (asset_uid, ids_json))}
            differing = [f.submission_id for f in fields
                         if f.submission_id in state and state[f.submission_id].instance != f.instance_id]
            known: set[tuple[int, str]] = set()
            if differing:
                known = set(conn.execute(
                    """SELECT submission_id, instance_id FROM submission_versions
                       WHERE asset_uid = ? AND submission_id IN (SELECT value FROM json_each(?))""",
                    (asset_uid, json.dumps(sorted(set(differing))))).fetchall())
            inserted: dict[int, _State] = {}
            dirty: set[int] = set()
            version_rows = []
            attachment_docs = []
            for doc, f in zip(docs, fields):
                sid = f.submission_id
                current = state.get(sid)
                if current is None:
                    current = _State((f.instance_id, f.root_uuid, f.version, f.submission_time, f.submitted_by,
                                      f.validation_status, None, None, run_id, run_id))
                    state[sid] = inserted[sid] = current
                    known.add((sid, f.instance_id))
                    version_rows.append((asset_uid, sid, f.instance_id, f.deprecated_id, f.version, _dumps(doc), run_id))
                    attachment_docs.append((sid, f.instance_id, doc))
                    new += 1
                    continue
                changed = False
                if current.deleted_at is not None:
                    current.deleted_at = current.deleted_run = None
                    undeleted += 1
                    changed = True
                if current.instance == f.instance_id:
                    unchanged += 1
                    if current.validation != f.validation_status:
                        current.validation = f.validation_status
                        validation_changed += 1
                        changed = True
                    attachment_docs.append((sid, f.instance_id, doc))
                elif (sid, f.instance_id) in known:
                    unchanged += 1  # a version older than the current one: nothing to learn
                else:
                    current.take(f, run_id)
                    known.add((sid, f.instance_id))
                    version_rows.append((asset_uid, sid, f.instance_id, f.deprecated_id, f.version, _dumps(doc), run_id))
                    attachment_docs.append((sid, f.instance_id, doc))
                    edited += 1
                    changed = True
                if changed:
                    current.changed_run = run_id
                    if sid not in inserted:
                        dirty.add(sid)
            if inserted:
                conn.executemany(_SUBMISSION_INSERT, [
                    (asset_uid, sid, s.instance, s.root, s.version, s.time, s.by, s.validation, run_id, run_id)
                    for sid, s in inserted.items()])
            if dirty:
                conn.executemany(_SUBMISSION_UPDATE, [
                    (s.instance, s.root, s.version, s.time, s.by, s.validation, s.changed_run, s.deleted_at,
                     s.deleted_run, asset_uid, sid)
                    for sid, s in ((sid, state[sid]) for sid in sorted(dirty))])
            if version_rows:
                conn.executemany(_VERSION_INSERT, version_rows)
            rows = [row for sid, instance, doc in attachment_docs
                    for row in _attachment_rows(asset_uid, sid, instance, doc)]
            if rows:
                conn.executemany(_ATTACHMENT_UPSERT, rows)
            if page:
                conn.execute(_CURSOR_ADVANCE, (asset_uid, max(f.submission_id for f in fields), run_id))
            conn.execute(
                """UPDATE sync_runs SET new = new + ?, edited = edited + ?, unchanged = unchanged + ?,
                       undeleted = undeleted + ?, pages = pages + ? WHERE id = ?""",
                (new, edited, unchanged, undeleted, 1 if page else 0, run_id))
        return PageResult(new=new, edited=edited, unchanged=unchanged, undeleted=undeleted,
                          validation_changed=validation_changed)

    def sweep_state(self, asset_uid: str) -> dict[int, tuple[str, str]]:
        """`_id` -> (`_uuid`, validation status as canonical JSON) of the not-deleted submissions."""
        return {sid: (uuid, status) for sid, uuid, status in self._conn.execute(
            "SELECT id, instance_id, validation_status FROM submissions WHERE asset_uid = ? AND deleted_at IS NULL",
            (asset_uid,))}

    def apply_sweep(self, asset_uid: str, seen: Mapping[int, tuple[str, Mapping]], run_id: int) -> SweepPlan:
        """Apply a complete sweep (`_id` -> (`_uuid`, `_validation_status`)) in one transaction: mark
        the missing submissions deleted and update validation statuses. Returns the plan; the puller
        fetches `changed_uuid_ids` (and `unknown_ids` at or below the cursor) and passes them to
        apply_docs. For a dry run call `plan_sweep(store.sweep_state(uid), seen)` instead."""
        now = self._now()
        with self._write() as conn:
            self._check(conn, asset_uid, run_id)
            plan = plan_sweep(self.sweep_state(asset_uid), seen)
            if plan.deleted_ids:
                conn.executemany(
                    """UPDATE submissions SET deleted_at = ?, deleted_run = ?, last_changed_run = ?
                       WHERE asset_uid = ? AND id = ? AND deleted_at IS NULL""",
                    [(now, run_id, run_id, asset_uid, sid) for sid in plan.deleted_ids])
            if plan.validation_changes:
                conn.executemany(
                    "UPDATE submissions SET validation_status = ?, last_changed_run = ? WHERE asset_uid = ? AND id = ?",
                    [(canonical_json(status) if status else "{}", run_id, asset_uid, sid)
                     for sid, status in sorted(plan.validation_changes.items())])
            if plan.deleted_ids:
                conn.execute("UPDATE sync_runs SET deleted = deleted + ? WHERE id = ?", (len(plan.deleted_ids), run_id))
        return plan

    def submissions(self, asset_uid: str, include_deleted: bool = False) -> Iterator[dict]:
        """The current version of every submission as Kobo sent it, by `_id`."""
        for (raw,) in self._conn.execute(
                f"""SELECT v.raw FROM submissions s JOIN submission_versions v
                        ON v.asset_uid = s.asset_uid AND v.submission_id = s.id AND v.instance_id = s.instance_id
                    WHERE s.asset_uid = ? {'' if include_deleted else 'AND s.deleted_at IS NULL'} ORDER BY s.id""",
                (asset_uid,)):
            yield json.loads(raw)

    def submission_records(self, asset_uid: str, include_deleted: bool = False) -> Iterator[SubmissionRecord]:
        """Like `submissions`, with what the store knows beside the document (deletion, versions seen)."""
        for row in self._conn.execute(
                f"""SELECT s.id, s.instance_id, v.deprecated_id, s.root_uuid, s.version, s.submission_time,
                           s.submitted_by, s.validation_status,
                           (SELECT count(*) FROM submission_versions c WHERE c.asset_uid = s.asset_uid
                                AND c.submission_id = s.id),
                           s.deleted_at, v.raw
                    FROM submissions s JOIN submission_versions v
                        ON v.asset_uid = s.asset_uid AND v.submission_id = s.id AND v.instance_id = s.instance_id
                    WHERE s.asset_uid = ? {'' if include_deleted else 'AND s.deleted_at IS NULL'} ORDER BY s.id""",
                (asset_uid,)):
            yield SubmissionRecord(*row[:7], json.loads(row[7]), row[8], row[9], json.loads(row[10]))

    def history(self, asset_uid: str, submission_id: int) -> list[SubmissionVersion]:
        """Every version of a submission seen, oldest first: the chain of `meta/deprecatedID` links
        ending at the current version, preceded by versions not on it (their successor was never seen)."""
        with self._read() as conn:
            row = conn.execute("SELECT instance_id FROM submissions WHERE asset_uid = ? AND id = ?",
                               (asset_uid, submission_id)).fetchone()
            if row is None:
                return []
            rows = conn.execute(
                """SELECT instance_id, deprecated_id, version, seen_run, raw FROM submission_versions
                   WHERE asset_uid = ? AND submission_id = ? ORDER BY seen_run, rowid""",
                (asset_uid, submission_id)).fetchall()
        by_instance = {r[0]: r for r in rows}
        chain, cursor = [], row[0]
        while cursor in by_instance and cursor not in chain:
            chain.append(cursor)
            cursor = by_instance[cursor][1]
        chain.reverse()
        order = [r[0] for r in rows if r[0] not in chain] + chain
        return [SubmissionVersion(submission_id=submission_id, instance_id=i, deprecated_id=by_instance[i][1],
                                  version=by_instance[i][2], seen_run=by_instance[i][3], current=i == row[0],
                                  doc=json.loads(by_instance[i][4])) for i in order]

    # -- attachments -----------------------------------------------------------------------------

    def record_attachments(self, asset_uid: str, doc: Mapping[str, Any]) -> int:
        """Record a stored submission's `_attachments` (apply_page does this for every document);
        download state is kept. Returns how many attachments the document lists."""
        f = doc_fields(doc)
        rows = _attachment_rows(asset_uid, f.submission_id, f.instance_id, doc)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM submissions WHERE asset_uid = ? AND id = ?",
                            (asset_uid, f.submission_id)).fetchone() is None:
                raise ValueError(f"submission {f.submission_id} of asset {asset_uid!r} is not in the store")
            if rows:
                conn.executemany(_ATTACHMENT_UPSERT, rows)
        return len(rows)

    def attachments(self, asset_uid: str) -> list[Attachment]:
        """Every attachment recorded for an asset (pending, downloaded, or no longer listed)."""
        rows = self._conn.execute(f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments a WHERE a.asset_uid = ? "
                                  "ORDER BY a.submission_id, a.server_key", (asset_uid,))
        return [_attachment(row) for row in rows]

    def pending_attachments(self, asset_uid: str) -> list[Attachment]:
        """Attachments to download: listed by the current version of a not-deleted submission, not
        deleted on the server, not downloaded yet."""
        rows = self._conn.execute(
            f"""SELECT {_ATTACHMENT_COLUMNS} FROM attachments a JOIN submissions s
                    ON s.asset_uid = a.asset_uid AND s.id = a.submission_id
                WHERE a.asset_uid = ? AND {_PENDING} ORDER BY a.submission_id, a.server_key""", (asset_uid,))
        return [_attachment(row) for row in rows]

    def attachment_downloaded(self, attachment_id: int, local_path: Path | str, sha256: str, size: int) -> None:
        """Record a finished download. `local_path` is relative to the store directory (an absolute
        path must lie inside it)."""
        path = Path(local_path)
        if path.is_absolute():
            try:
                path = path.resolve().relative_to(self.dir.resolve())
            except ValueError:
                raise ValueError(f"attachment path {local_path} is outside the store {self.dir}") from None
        posix = PurePosixPath(*path.parts)
        if ".." in posix.parts or not posix.parts:
            raise ValueError(f"attachment path {local_path!r} must stay inside the store directory")
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE attachments SET local_path = ?, sha256 = ?, size = ?, downloaded_at = ? WHERE id = ?",
                (str(posix), sha256, int(size), self._now(), attachment_id))
            if cur.rowcount == 0:
                raise ValueError(f"no attachment with id {attachment_id}")

    # -- reporting -------------------------------------------------------------------------------

    def status(self) -> list[dict]:
        """Per asset: asset_uid, form_id, name, submissions (current, not deleted), deleted, edited
        (not-deleted submissions with more than one version), versions (content versions kept),
        last_pull (end of the last ok run, ISO), attachments_pending, last_id (cursor) and
        last_run_status (of the newest run of the asset)."""
        with self._read() as conn:
            counts = {uid: (live, gone) for uid, live, gone in conn.execute(
                """SELECT asset_uid, sum(deleted_at IS NULL), sum(deleted_at IS NOT NULL)
                   FROM submissions GROUP BY asset_uid""")}
            edited = dict(conn.execute(
                """SELECT s.asset_uid, count(*) FROM submissions s
                   WHERE s.deleted_at IS NULL AND EXISTS (SELECT 1 FROM submission_versions v
                       WHERE v.asset_uid = s.asset_uid AND v.submission_id = s.id AND v.instance_id <> s.instance_id)
                   GROUP BY s.asset_uid"""))
            versions = dict(conn.execute("SELECT asset_uid, count(*) FROM asset_versions GROUP BY asset_uid"))
            pending = dict(conn.execute(
                f"""SELECT a.asset_uid, count(*) FROM attachments a JOIN submissions s
                        ON s.asset_uid = a.asset_uid AND s.id = a.submission_id
                    WHERE {_PENDING} GROUP BY a.asset_uid"""))
            cursors = dict(conn.execute("SELECT asset_uid, last_id FROM pull_cursors"))
            all_ok = conn.execute("SELECT max(finished_at) FROM sync_runs WHERE status = 'ok' AND asset_uid IS NULL"
                                  ).fetchone()[0]
            ok = dict(conn.execute(
                "SELECT asset_uid, max(finished_at) FROM sync_runs WHERE status = 'ok' GROUP BY asset_uid"))
            last_status = dict(conn.execute(
                """SELECT asset_uid, status FROM sync_runs WHERE id IN
                       (SELECT max(id) FROM sync_runs WHERE asset_uid IS NOT NULL GROUP BY asset_uid)"""))
            assets = conn.execute("SELECT uid, form_id, name FROM assets ORDER BY coalesce(form_id, ''), uid").fetchall()
        out = []
        for uid, form_id, name in assets:
            live, gone = counts.get(uid, (0, 0))
            last = max((t for t in (ok.get(uid), all_ok) if t), default=None)
            out.append({"asset_uid": uid, "form_id": form_id, "name": name, "submissions": live or 0,
                        "deleted": gone or 0, "edited": edited.get(uid, 0), "versions": versions.get(uid, 0),
                        "last_pull": last, "attachments_pending": pending.get(uid, 0),
                        "last_id": cursors.get(uid, 0), "last_run_status": last_status.get(uid)})
        return out

    def canonical_dump(self) -> str:
        """Everything the store knows about the data, as sorted JSON lines: identical for two stores
        that hold the same data however they got there. Left out: run ids, runs, timestamps of the
        store's own (first seen, deleted at, downloaded at, last seen), the detected page limit, the
        full asset JSON (its counters change with every submission), and the scheme and host of URLs."""
        lines = []
        with self._read() as conn:
            lines.append({"schema_version": self.schema_version})
            for uid, form_id, name, deployed, version in conn.execute(
                    "SELECT uid, form_id, name, deployed_version_id, version_id FROM assets ORDER BY uid"):
                lines.append({"asset": uid, "form_id": form_id, "name": name, "deployed_version_id": deployed,
                              "version_id": version})
            for uid, vuid, deployed, content in conn.execute(
                    "SELECT asset_uid, version_uid, date_deployed, content_json FROM asset_versions "
                    "ORDER BY asset_uid, version_uid"):
                lines.append({"asset_version": vuid, "asset": uid, "date_deployed": deployed,
                              "content": json.loads(content)})
            for uid, last_id in conn.execute("SELECT asset_uid, last_id FROM pull_cursors ORDER BY asset_uid"):
                lines.append({"cursor": uid, "last_id": last_id})
            for row in conn.execute(
                    """SELECT asset_uid, id, instance_id, root_uuid, version, submission_time, submitted_by,
                              validation_status, deleted_at IS NOT NULL FROM submissions ORDER BY asset_uid, id"""):
                lines.append({"submission": row[1], "asset": row[0], "instance_id": row[2], "root_uuid": row[3],
                              "version": row[4], "submission_time": row[5], "submitted_by": row[6],
                              "validation_status": json.loads(row[7]), "deleted": bool(row[8])})
            for row in conn.execute(
                    """SELECT asset_uid, submission_id, instance_id, deprecated_id, version, raw
                       FROM submission_versions ORDER BY asset_uid, submission_id, instance_id"""):
                lines.append({"submission_version": row[2], "asset": row[0], "submission": row[1],
                              "deprecated_id": row[3], "version": row[4], "doc": _dump_doc(row[5])})
            for row in conn.execute(
                    """SELECT asset_uid, submission_id, server_key, instance_id, question_xpath, filename, basename,
                              mimetype, download_url, is_deleted, local_path, size, sha256
                       FROM attachments ORDER BY asset_uid, submission_id, server_key"""):
                lines.append({"attachment": row[2], "asset": row[0], "submission": row[1], "instance_id": row[3],
                              "question_xpath": row[4], "filename": row[5], "basename": row[6], "mimetype": row[7],
                              "download_url": _without_origin(row[8]), "is_deleted": bool(row[9]),
                              "local_path": row[10], "size": row[11], "sha256": row[12]})
        return "".join(canonical_json(line) + "\n" for line in lines)


_RUN_COLUMNS = ("id, asset_uid, started_at, finished_at, status, new, edited, deleted, undeleted, unchanged, "
                "requests, retries, pages, errors")
_ATTACHMENT_COLUMNS = ("a.id, a.asset_uid, a.submission_id, a.instance_id, a.server_key, a.question_xpath, "
                       "a.filename, a.basename, a.mimetype, a.download_url, a.is_deleted, a.local_path, a.size, "
                       "a.sha256")


def _attachment(row: Sequence[Any]) -> Attachment:
    values = list(row)
    values[10] = bool(values[10])
    return Attachment(*values)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _attachment_rows(asset_uid: str, submission_id: int, instance_id: str, doc: Mapping[str, Any]) -> list[tuple]:
    items = doc.get("_attachments")
    if not items or not isinstance(items, list):
        return []
    rows = []
    for item in items:
        if not isinstance(item, dict):
            continue
        key = attachment_key(item)
        if key is None:
            continue
        rows.append((asset_uid, submission_id, instance_id, key, _text(item.get("question_xpath")),
                     _text(item.get("filename")), attachment_basename(item), _text(item.get("mimetype")),
                     _text(item.get("download_url")), 1 if item.get("is_deleted") else 0))
    return rows


__all__ = ["BUSY_TIMEOUT", "DB_NAME", "RUN_COUNTS", "RUN_STATUSES", "Store"]
