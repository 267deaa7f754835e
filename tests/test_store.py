"""The local store (desbumi.store): schema and migrations, pages, edits, deletions, sweeps, attachments,
runs, status and the canonical dump. Documents are small handmade Kobo submissions (KOBO_API.md §3.4)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from desbumi.errors import InputError
from desbumi.store import CURRENT_VERSION, DB_NAME, MIGRATIONS, PageResult, Store, SweepPlan, plan_sweep
from desbumi.store.schema import migrate, split_statements

ASSET = "aHdb6bYXsWuMUJoFBqRvjx"
OTHER_ASSET = "aQ3vM7xW9zR2kP5nL8cJ4t"
V1 = "vcs3hEpGKxBo8G5uQa94oD"
V2 = "vN8rT2kW6mQ4pZ9sX3bL7y"

APPROVED = {"timestamp": 1772681290, "uid": "validation_status_approved", "by_whom": "supervisor",
            "color": "#00ff00", "label": "Approved"}
ON_HOLD = {"timestamp": 1772690000, "uid": "validation_status_on_hold", "by_whom": "supervisor",
           "color": "#0000ff", "label": "On Hold"}


def photo(uid: str, name: str = "1773718541019.jpg", *, host: str = "http://127.0.0.1:8000",
          _id: int = 0, deleted: bool = False) -> dict:
    return {"uid": uid, "filename": f"owner/attachments/ee48/c2fb/{name}", "media_file_basename": name,
            "mimetype": "image/jpeg", "is_deleted": deleted, "question_xpath": "hh/photo",
            "download_url": f"{host}/api/v2/assets/{ASSET}/data/{_id}/attachments/{uid}/"}


def sub(_id: int, uuid: str, *, name: str = "Siti", age: str = "30", root: str | None = None,
        deprecated: str | None = None, version: str = V1, validation: dict | None = None,
        attachments: list | None = None) -> dict:
    """One Kobo submission: `uuid` is the instanceID without 'uuid:'; `root` defaults to it."""
    doc = {
        "_id": _id,
        "formhub/uuid": "ee485fd6655b4e328fdd895ac0451656",
        "start": "2026-03-05T09:12:33.120+07:00",
        "hh/head_name": name,
        "hh/age": age,
        "members": [{"members/name": name, "members/age": age}],
        "__version__": version,
        "meta/instanceID": f"uuid:{uuid}",
    }
    if deprecated:
        doc["meta/deprecatedID"] = f"uuid:{deprecated}"
    doc.update({
        "meta/rootUuid": f"uuid:{root or uuid}",
        "_xform_id_string": ASSET,
        "_uuid": uuid,
        "_attachments": attachments or [],
        "_status": "submitted_via_web",
        "_submission_time": f"2026-03-05T02:{_id % 60:02d}:00",
        "_validation_status": validation or {},
        "_submitted_by": "enum01",
    })
    return doc


def asset_json(uid: str = ASSET, *, name: str = "DESBUMI ekonomi Y2", version: str = V1) -> dict:
    return {"uid": uid, "name": name, "url": f"http://127.0.0.1:8000/api/v2/assets/{uid}/",
            "version_id": version, "deployed_version_id": version, "deployment__submission_count": 3,
            "content": {"schema": "1", "survey": [{"type": "text", "name": "head_name"}],
                        "settings": {"form_id": "desbumi_ekonomi_y2", "version": "2026.1"}}}


# Three submissions; 102 is later edited twice (b, then c).
S101 = sub(101, "a101")
S102 = sub(102, "a102", name="Budi")
S103 = sub(103, "a103", name="Wati", attachments=[photo("attAAA", _id=103)])
S102_B = sub(102, "b102", name="Budi Santoso", root="a102", deprecated="a102")
S102_C = sub(102, "c102", name="Budi S.", root="a102", deprecated="b102", version=V2)


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 3, 5, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "data", clock=Clock()) as s:
        s.save_asset(asset_json())
        yield s


def rows(store: Store, sql: str, *params) -> list[tuple]:
    return store._conn.execute(sql, params).fetchall()


# -- schema and migrations ------------------------------------------------------------------------

def test_a_new_store_is_one_wal_file_at_the_current_schema(tmp_path):
    with Store.open(tmp_path / "data") as s:
        assert s.path == tmp_path / "data" / DB_NAME
        assert s.schema_version == CURRENT_VERSION == len(MIGRATIONS)
        assert rows(s, "PRAGMA foreign_keys") == [(1,)]
        tables = {r[0] for r in rows(s, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"schema_version", "assets", "asset_versions", "submissions", "submission_versions", "attachments",
            "sync_runs", "pull_cursors"} <= tables
    with sqlite3.connect(tmp_path / "data" / DB_NAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")] == \
            list(range(1, CURRENT_VERSION + 1))


def test_migration_scripts_split_into_statements():
    assert split_statements("CREATE TABLE t (a TEXT DEFAULT ';');\n\nINSERT INTO t VALUES ('x;y');\n") == \
        ["CREATE TABLE t (a TEXT DEFAULT ';');", "INSERT INTO t VALUES ('x;y');"]
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE t (a TEXT")


def test_a_version_1_file_is_migrated_on_open_and_keeps_its_data(tmp_path):
    directory = tmp_path / "old"
    directory.mkdir()
    conn = sqlite3.connect(directory / DB_NAME, isolation_level=None)
    assert migrate(conn, directory / DB_NAME, lambda: "2025-12-01T00:00:00Z", migrations=MIGRATIONS[:1]) == (0, 1)
    conn.execute("INSERT INTO assets (uid, form_id, name, asset_json, last_seen) VALUES (?, 'y2', 'Y2', '{}', 'x')",
                 (ASSET,))
    conn.execute("INSERT INTO sync_runs (id, asset_uid, started_at, finished_at, status, new) "
                 "VALUES (1, ?, '2025-12-01T00:00:00Z', '2025-12-01T00:01:00Z', 'ok', 1)", (ASSET,))
    conn.execute("INSERT INTO sync_runs (id, asset_uid, started_at, status) VALUES (2, ?, '2025-12-02T00:00:00Z', "
                 "'running')", (ASSET,))
    conn.execute("INSERT INTO submissions (asset_uid, id, instance_id, validation_status, first_seen_run, "
                 "last_changed_run) VALUES (?, 101, 'a101', '{}', 1, 1)", (ASSET,))
    conn.execute("INSERT INTO submission_versions (asset_uid, submission_id, instance_id, raw, seen_run) "
                 "VALUES (?, 101, 'a101', ?, 1)", (ASSET, json.dumps(S101)))
    conn.execute("INSERT INTO pull_cursors (asset_uid, last_id) VALUES (?, 101)", (ASSET,))
    conn.close()

    with Store.open(directory) as s:
        assert s.schema_version == CURRENT_VERSION
        assert list(s.submissions(ASSET)) == [S101]
        assert s.cursor(ASSET) == 101 and s.page_limit(ASSET) is None
        assert [(r.id, r.status, r.pages, r.undeleted) for r in s.runs()] == [(1, "ok", 0, 0), (2, "interrupted", 0, 0)]
        run = s.start_run(ASSET)
        assert s.apply_page(ASSET, [S101, S103], run) == PageResult(new=1, unchanged=1)
        assert [a.server_key for a in s.pending_attachments(ASSET)] == ["attAAA"]
        assert s.status()[0]["last_pull"] == "2025-12-01T00:01:00Z"


def test_a_file_from_a_newer_desbumi_is_refused_and_left_alone(tmp_path):
    Store.open(tmp_path).close()
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, '2027-01-01T00:00:00Z')", (CURRENT_VERSION + 1,))
    with pytest.raises(InputError) as error:
        Store.open(tmp_path)
    assert f"schema version {CURRENT_VERSION + 1}" in error.value.message
    assert "newer desbumi" in error.value.message
    assert "Upgrade desbumi" in error.value.hint
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (CURRENT_VERSION + 1,)


def test_files_that_are_not_a_store_are_refused(tmp_path):
    (tmp_path / "other").mkdir()
    with sqlite3.connect(tmp_path / "other" / DB_NAME) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(InputError, match="not a desbumi store"):
        Store.open(tmp_path / "other")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / DB_NAME).write_bytes(b"this is not a database, just bytes " * 100)
    with pytest.raises(InputError, match="Cannot open the store"):
        Store.open(tmp_path / "junk")
    with pytest.raises(InputError, match="no desbumi store"):
        Store.open(tmp_path / "missing", create=False)
    assert not (tmp_path / "missing").exists()


# -- assets and versions --------------------------------------------------------------------------

def test_assets_and_every_content_version_are_kept(store):
    [record] = store.assets()
    assert (record.uid, record.form_id, record.name, record.version_id) == (ASSET, "desbumi_ekonomi_y2",
                                                                            "DESBUMI ekonomi Y2", V1)
    assert store.save_version(ASSET, V1, {"survey": [{"name": "head_name"}]}, "2026-03-01T10:00:00.000000Z")
    assert store.save_version(ASSET, V2, {"survey": [{"name": "head_name"}, {"name": "age"}]}, False)
    assert not store.save_version(ASSET, V1, {"survey": [{"name": "head_name"}]}, "2026-03-01T10:00:00.000000Z")
    assert store.known_versions(ASSET) == {V1, V2}
    assert [(v.version_uid, v.date_deployed) for v in store.versions(ASSET)] == [
        (V1, "2026-03-01T10:00:00.000000Z"), (V2, None)]
    assert store.save_version(ASSET, V2, {"survey": [{"name": "head_name"}, {"name": "age"}]}, "2026-03-09T00:00:00Z")
    assert store.versions(ASSET)[1].date_deployed == "2026-03-09T00:00:00Z"

    store.save_asset(asset_json(name="Renamed", version=V2))  # no form_id given: the stored one is kept
    assert store.assets()[0].form_id == "desbumi_ekonomi_y2" and store.assets()[0].name == "Renamed"
    store.save_asset(asset_json(), form_id="y2")
    assert store.assets()[0].form_id == "y2"
    assert store.asset(ASSET)["deployment__submission_count"] == 3
    with pytest.raises(ValueError, match="save_asset"):
        store.save_version(OTHER_ASSET, V1, {}, False)


# -- pages ----------------------------------------------------------------------------------------

def test_a_page_stores_new_submissions_and_advances_the_cursor(store):
    run = store.start_run(ASSET)
    assert store.cursor(ASSET) == 0
    assert store.apply_page(ASSET, [S101, S102, S103], run) == PageResult(new=3)
    assert store.cursor(ASSET) == 103
    assert list(store.submissions(ASSET)) == [S101, S102, S103]
    assert rows(store, "SELECT id, instance_id, root_uuid, version, submission_time, submitted_by FROM submissions "
                       "WHERE id = 102") == [(102, "a102", "a102", V1, "2026-03-05T02:42:00", "enum01")]
    run_row = store.run(run)
    assert (run_row.new, run_row.pages, run_row.status) == (3, 1, "running")


def test_applying_the_same_page_again_changes_nothing(store):
    run = store.start_run(ASSET)
    store.apply_page(ASSET, [S101, S102, S103], run)
    before = store.canonical_dump()
    changes = store._conn.total_changes
    assert store.apply_page(ASSET, [S101, S102, S103], run) == PageResult(unchanged=3)
    assert store.canonical_dump() == before
    assert store._conn.total_changes - changes == 1  # only the run's counters
    assert store.apply_page(ASSET, [S101], run) == PageResult(unchanged=1)
    assert store.cursor(ASSET) == 103  # never moves back


def test_a_new_uuid_for_a_known_id_is_an_edit_linked_by_deprecated_id(store):
    run = store.start_run(ASSET)
    store.apply_page(ASSET, [S101, S102], run)
    assert store.apply_page(ASSET, [S102_B, S103], run) == PageResult(new=1, edited=1)
    history = store.history(ASSET, 102)
    assert [(v.instance_id, v.deprecated_id, v.current) for v in history] == [("a102", None, False),
                                                                             ("b102", "a102", True)]
    assert history[0].doc == S102 and history[1].doc == S102_B
    assert next(s for s in store.submissions(ASSET) if s["_id"] == 102) == S102_B
    [record] = [r for r in store.submission_records(ASSET) if r.submission_id == 102]
    assert (record.instance_id, record.deprecated_id, record.root_uuid, record.versions) == ("b102", "a102", "a102", 2)


def test_history_follows_the_chain_even_when_a_version_was_never_seen(store):
    run = store.start_run(ASSET)
    store.apply_page(ASSET, [S102], run)
    store.apply_docs(ASSET, [S102_C], run)  # c102 replaced b102, which this store never saw
    history = store.history(ASSET, 102)
    assert [(v.instance_id, v.deprecated_id, v.version) for v in history] == [("a102", None, V1),
                                                                             ("c102", "b102", V2)]
    assert rows(store, "SELECT version FROM submissions WHERE id = 102") == [(V2,)]
    assert store.history(ASSET, 999) == []


def test_an_older_version_seen_again_does_not_undo_an_edit(store):
    run = store.start_run(ASSET)
    store.apply_page(ASSET, [S101, S102], run)
    store.apply_docs(ASSET, [S102_B], run)
    assert store.apply_page(ASSET, [S101, S102], run) == PageResult(unchanged=2)
    assert rows(store, "SELECT instance_id FROM submissions WHERE id = 102") == [("b102",)]


def test_the_same_id_twice_in_one_page(store):
    run = store.start_run(ASSET)
    assert store.apply_page(ASSET, [S102, S101, S102_B, S102], run) == PageResult(new=2, edited=1, unchanged=1)
    assert rows(store, "SELECT instance_id FROM submissions WHERE id = 102") == [("b102",)]
    assert len(store.history(ASSET, 102)) == 2


def test_a_validation_change_without_a_new_version_is_recorded(store):
    run = store.start_run(ASSET)
    store.apply_page(ASSET, [S101], run)
    approved = sub(101, "a101", validation=APPROVED)
    assert store.apply_page(ASSET, [approved], run) == PageResult(unchanged=1, validation_changed=1)
    assert store.sweep_state(ASSET) == {101: ("a101", json.dumps(APPROVED, sort_keys=True, separators=(",", ":")))}
    assert len(store.history(ASSET, 101)) == 1


def test_a_deleted_submission_that_comes_back_is_undeleted(store):
    run = store.start_run(ASSET)
    store.apply_page(ASSET, [S101, S102], run)
    store.apply_sweep(ASSET, {101: ("a101", {})}, run)
    assert [r.submission_id for r in store.submission_records(ASSET, include_deleted=True) if r.deleted_at] == [102]
    assert store.apply_page(ASSET, [S101, S102], run) == PageResult(unchanged=2, undeleted=1)
    assert rows(store, "SELECT deleted_at, deleted_run FROM submissions WHERE id = 102") == [(None, None)]
    store.apply_sweep(ASSET, {101: ("a101", {})}, run)
    assert store.apply_docs(ASSET, [S102_B], run) == PageResult(edited=1, undeleted=1)
    assert store.run(run).undeleted == 2


def test_a_failing_page_leaves_nothing_behind(store, monkeypatch):
    import desbumi.store.store as store_module

    run = store.start_run(ASSET)
    store.apply_page(ASSET, [S101], run)
    before = store.canonical_dump()

    def crash(*args):
        raise KeyboardInterrupt  # Ctrl-C after the submission rows were written, before the commit

    monkeypatch.setattr(store_module, "_attachment_rows", crash)
    with pytest.raises(KeyboardInterrupt):
        store.apply_page(ASSET, [S102_B, S102, S103], run)
    assert store.canonical_dump() == before and store.cursor(ASSET) == 101
    assert not store._conn.in_transaction


def test_bad_calls_and_bad_documents_are_refused(store):
    run = store.start_run(ASSET)
    with pytest.raises(ValueError, match="save_asset"):
        store.apply_page(OTHER_ASSET, [S101], run)
    with pytest.raises(ValueError, match="start_run"):
        store.apply_page(ASSET, [S101], 999)
    with pytest.raises(InputError, match="no integer _id"):
        store.apply_page(ASSET, [S101, {"_uuid": "x"}], run)
    with pytest.raises(InputError, match="neither _uuid nor meta/instanceID"):
        store.apply_page(ASSET, [{"_id": 5}], run)
    assert store.cursor(ASSET) == 0 and list(store.submissions(ASSET)) == []
    assert store.apply_page(ASSET, [], run) == PageResult()


# -- sweeps ---------------------------------------------------------------------------------------

APPROVED_JSON = json.dumps(APPROVED, sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("stored, seen, expected", [
    pytest.param({1: ("u1", "{}")}, {1: ("u1", {})}, SweepPlan(), id="nothing changed"),
    pytest.param({1: ("u1", "{}"), 2: ("u2", "{}")}, {1: ("u1", {})}, SweepPlan(deleted_ids=(2,)), id="deleted"),
    pytest.param({1: ("u1", "{}")}, {1: ("u1b", {})}, SweepPlan(changed_uuid_ids=(1,)), id="edited"),
    pytest.param({1: ("u1", "{}")}, {1: ("uuid:u1", {})}, SweepPlan(), id="uuid: prefix ignored"),
    pytest.param({1: ("u1", "{}")}, {1: ("u1", APPROVED)}, SweepPlan(validation_changes={1: APPROVED}),
                 id="approved"),
    pytest.param({1: ("u1", APPROVED_JSON)}, {1: ("u1", dict(reversed(APPROVED.items())))}, SweepPlan(),
                 id="same status, other key order"),
    pytest.param({1: ("u1", APPROVED_JSON)}, {1: ("u1", {})}, SweepPlan(validation_changes={1: {}}), id="cleared"),
    pytest.param({1: ("u1", "{}")}, {1: ("u1", {}), 7: ("u7", {}), 3: ("u3", {})}, SweepPlan(unknown_ids=(3, 7)),
                 id="unknown to the store"),
    pytest.param({3: ("u3", "{}"), 1: ("u1", "{}"), 2: ("u2", "{}")}, {}, SweepPlan(deleted_ids=(1, 2, 3)),
                 id="all gone"),
])
def test_plan_sweep(stored, seen, expected):
    assert plan_sweep(stored, seen) == expected
    assert plan_sweep(stored, seen).empty == (expected == SweepPlan())


def test_plan_sweep_refuses_ids_that_are_not_integers():
    with pytest.raises(TypeError, match="integer _id"):
        plan_sweep({101: ("a101", "{}")}, {"101": ("a101", {})})


def test_a_sweep_marks_deletions_updates_validation_and_names_edits(store):
    run = store.start_run(ASSET)
    store.apply_page(ASSET, [S101, S102, S103], run)
    seen = {101: ("a101", APPROVED), 102: ("b102", {})}  # 102 edited on the server, 103 deleted
    before = store.canonical_dump()
    dry = plan_sweep(store.sweep_state(ASSET), seen)  # a dry run writes nothing
    assert store.canonical_dump() == before
    plan = store.apply_sweep(ASSET, seen, run)
    assert plan == dry == SweepPlan(deleted_ids=(103,), changed_uuid_ids=(102,), validation_changes={101: APPROVED})
    assert rows(store, "SELECT id, deleted_at IS NOT NULL, deleted_run FROM submissions ORDER BY id") == [
        (101, 0, None), (102, 0, None), (103, 1, run)]
    assert [s["_id"] for s in store.submissions(ASSET)] == [101, 102]
    assert [s["_id"] for s in store.submissions(ASSET, include_deleted=True)] == [101, 102, 103]
    assert store.sweep_state(ASSET)[101] == ("a101", APPROVED_JSON)
    assert store.apply_docs(ASSET, [S102_B], run) == PageResult(edited=1)
    assert store.cursor(ASSET) == 103
    assert store.apply_sweep(ASSET, {101: ("a101", APPROVED), 102: ("b102", {})}, run) == SweepPlan()
    assert store.run(run).deleted == 1
    assert len(store.history(ASSET, 103)) == 1  # nothing is dropped


# -- attachments ----------------------------------------------------------------------------------

def test_attachments_pending_downloaded_and_no_longer_listed(store, tmp_path):
    run = store.start_run(ASSET)
    two = sub(104, "a104", attachments=[photo("attBBB", "a.jpg", _id=104), photo("attCCC", "b.jpg", _id=104)])
    trashed = sub(105, "a105", attachments=[photo("attDDD", _id=105, deleted=True)])
    legacy = sub(106, "a106", attachments=[{"id": 77, "filename": "owner/attachments/x/sig.png",
                                            "mimetype": "image/png", "download_url": "https://kc.example/media/1"}])
    store.apply_page(ASSET, [S103, two, trashed, legacy], run)
    pending = store.pending_attachments(ASSET)
    assert [(a.submission_id, a.server_key, a.basename) for a in pending] == [
        (103, "attAAA", "1773718541019.jpg"), (104, "attBBB", "a.jpg"), (104, "attCCC", "b.jpg"),
        (106, "id:77", "sig.png")]
    assert pending[0].filename == "owner/attachments/ee48/c2fb/1773718541019.jpg"

    store.attachment_downloaded(pending[0].id, store.dir / "attachments" / ASSET / "103" / "1773718541019.jpg",
                                "ab" * 32, 2048)
    store.apply_page(ASSET, [S103], run)  # seen again: the download is kept
    [done] = [a for a in store.attachments(ASSET) if a.server_key == "attAAA"]
    assert (done.local_path, done.sha256, done.size) == (f"attachments/{ASSET}/103/1773718541019.jpg", "ab" * 32, 2048)

    edited = sub(104, "b104", deprecated="a104", attachments=[photo("attCCC", "b.jpg", _id=104)])
    store.apply_docs(ASSET, [edited], run)  # the edit dropped a.jpg
    store.apply_sweep(ASSET, {103: ("a103", {}), 104: ("b104", {}), 105: ("a105", {})}, run)  # 106 deleted
    assert [a.server_key for a in store.pending_attachments(ASSET)] == ["attCCC"]
    assert len(store.attachments(ASSET)) == 5  # nothing is dropped
    assert store.status()[0]["attachments_pending"] == 1

    with pytest.raises(ValueError, match="outside the store"):
        store.attachment_downloaded(pending[1].id, tmp_path / "elsewhere.jpg", "00", 1)
    with pytest.raises(ValueError, match="inside the store"):
        store.attachment_downloaded(pending[1].id, "../../etc/passwd", "00", 1)
    assert store.record_attachments(ASSET, two) == 2
    with pytest.raises(ValueError, match="not in the store"):
        store.record_attachments(ASSET, sub(999, "z"))


# -- runs -----------------------------------------------------------------------------------------

def test_finish_run_records_counts_and_refuses_nonsense(store):
    run = store.start_run(ASSET)
    store.apply_page(ASSET, [S101, S102], run)
    finished = store.finish_run(run, status="failed", requests=7, retries=2, errors=["502 on page 2", "gave up"])
    assert (finished.status, finished.new, finished.requests, finished.retries, finished.errors) == (
        "failed", 2, 7, 2, "502 on page 2\ngave up")
    assert finished.started_at < finished.finished_at and finished.finished_at.endswith("Z")
    with pytest.raises(ValueError, match="already finished"):
        store.finish_run(run, status="ok")
    other = store.start_run(None)
    assert store.finish_run(other, status="ok", counts={"new": 5}).new == 5
    with pytest.raises(ValueError, match="unknown run counts"):
        store.finish_run(store.start_run(ASSET), status="ok", counts={"created": 1})
    with pytest.raises(ValueError, match="status"):
        store.finish_run(store.start_run(ASSET), status="running")


def test_runs_of_a_crashed_process_are_marked_interrupted_on_open(tmp_path):
    directory = tmp_path / "data"
    Store.open(directory).close()
    script = textwrap.dedent(f"""
        import os
        from desbumi.store import Store
        store = Store.open({str(directory)!r})
        store.start_run(None)
        os._exit(9)  # like kill -9: no close, no finish
    """)
    subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    with Store.open(directory) as s:
        [run] = s.runs()
        assert run.status == "interrupted" and "process ended" in run.errors


def test_a_run_still_going_is_not_marked_by_another_open(tmp_path):
    with Store.open(tmp_path) as puller:
        run = puller.start_run(None)
        with Store.open(tmp_path) as onlooker:  # e.g. `desbumi-sync status` while a pull runs
            assert onlooker.mark_interrupted_runs() == []
            assert onlooker.run(run).status == "running"
        assert puller.run(run).status == "running"
    # closed without finish_run: the owner marks it on the way out
    with Store.open(tmp_path) as s:
        assert s.run(run).status == "interrupted" and "closed before the run finished" in s.run(run).errors


# -- status ---------------------------------------------------------------------------------------

def test_status_per_asset(store):
    store.save_asset(asset_json(OTHER_ASSET, name="MEAL"), form_id="meal_training")
    store.save_version(ASSET, V1, {"survey": []}, "2026-03-01T00:00:00Z")
    store.save_version(ASSET, V2, {"survey": []}, "2026-03-04T00:00:00Z")
    assert store.status()[0]["last_pull"] is None
    run = store.start_run(ASSET)
    store.apply_page(ASSET, [S101, S102, S103], run)
    store.apply_docs(ASSET, [S102_B], run)
    store.apply_sweep(ASSET, {102: ("b102", {}), 103: ("a103", {})}, run)
    store.finish_run(run, status="ok")
    failed = store.start_run(ASSET)
    store.finish_run(failed, status="failed")
    status = {s["form_id"]: s for s in store.status()}
    assert status["desbumi_ekonomi_y2"] == {
        "asset_uid": ASSET, "form_id": "desbumi_ekonomi_y2", "name": "DESBUMI ekonomi Y2", "submissions": 2,
        "deleted": 1, "edited": 1, "versions": 2, "last_pull": store.run(run).finished_at,
        "attachments_pending": 1, "last_id": 103, "last_run_status": "failed"}
    assert status["meal_training"] == {
        "asset_uid": OTHER_ASSET, "form_id": "meal_training", "name": "MEAL", "submissions": 0, "deleted": 0,
        "edited": 0, "versions": 0, "last_pull": None, "attachments_pending": 0, "last_id": 0,
        "last_run_status": None}
    json.dumps(store.status())  # plain values only


# -- canonical dump -------------------------------------------------------------------------------

def test_two_ways_to_the_same_state_dump_identically(tmp_path):
    """A clean pull, and a faulty one: pages out of order, a page applied twice (crash after commit),
    a page lost (crash before commit) and fetched again, interrupted runs, another server address."""
    pages = [[S101, S102], [S103], [sub(107, "a107", attachments=[photo("attEEE", _id=107)])]]
    moved = [[dict(d, _attachments=[photo(a["uid"], _id=d["_id"], host="http://127.0.0.1:9999")
                                     for a in d["_attachments"]]) for d in page] for page in pages]
    seen = {101: ("a101", APPROVED), 102: ("b102", {}), 107: ("a107", {})}

    with Store.open(tmp_path / "clean") as clean:
        clean.save_asset(asset_json())
        clean.save_version(ASSET, V1, {"survey": [{"name": "head_name"}]}, "2026-03-01T00:00:00Z")
        run = clean.start_run(ASSET)
        for page in pages:
            clean.apply_page(ASSET, page, run)
        plan = clean.apply_sweep(ASSET, seen, run)
        clean.apply_docs(ASSET, [S102_B], run)
        assert plan.changed_uuid_ids == (102,)
        clean.finish_run(run, status="ok")
        expected = clean.canonical_dump()

    with Store.open(tmp_path / "faulty") as faulty:
        first = faulty.start_run(ASSET)
        faulty.save_asset(asset_json())
        faulty.apply_page(ASSET, moved[1], first)
        faulty.apply_page(ASSET, moved[1], first)
        faulty.finish_run(first, status="interrupted")
    with Store.open(tmp_path / "faulty") as faulty:
        second = faulty.start_run(ASSET)
        faulty.save_asset(asset_json())
        faulty.save_version(ASSET, V1, {"survey": [{"name": "head_name"}]}, "2026-03-01T00:00:00Z")
        faulty.apply_page(ASSET, moved[0], second)
        faulty.apply_page(ASSET, moved[2], second)
        faulty.apply_sweep(ASSET, seen, second)
        faulty.apply_docs(ASSET, [S102_B], second)
        faulty.apply_docs(ASSET, [S102_B], second)
        faulty.finish_run(second, status="ok")
        assert faulty.canonical_dump() == expected
        assert len(faulty.runs()) == 2

    lines = [json.loads(line) for line in expected.splitlines()]
    assert {k for line in lines for k in line} >= {"submission", "submission_version", "attachment", "cursor"}
    assert not any("127.0.0.1" in line for line in expected.splitlines())
    assert "first_seen" not in expected and "deleted_at" not in expected
