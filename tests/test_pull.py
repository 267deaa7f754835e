"""`pull` end to end over loopback against the sandbox: incremental, resumable, faults, edits, deletions."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desbumi.kobo import KoboClient
from desbumi.kobo.session import KoboSession
from desbumi.pull import pull_asset
from desbumi.sandbox import SandboxServer
from desbumi.sandbox.seed import seed_data_dir
from desbumi.store import Store

ROOT = Path(__file__).resolve().parents[1]
Y2 = "desbumi_ekonomi_y2"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """One seeded sandbox folder for the module; every test serves its own copy."""
    folder = tmp_path_factory.mktemp("seed") / "sandbox"
    result = seed_data_dir(folder, respondents=40, seed=3, forms_dir=ROOT / "forms",
                           xlsform_src=ROOT / "xlsform_src", panel_dir=ROOT / "panel", meal_participants=20)
    return folder, result


@pytest.fixture
def server(seeded, tmp_path):
    folder, _ = seeded
    copy = tmp_path / "sandbox"
    shutil.copytree(folder, copy)
    with SandboxServer(copy) as running:
        yield running


def client_for(server: SandboxServer, token: str | None = None) -> KoboClient:
    return KoboClient(KoboSession(server.url, token or server.token, backoff=0.001, sleep=lambda seconds: None))


def y2_uid(seeded) -> str:
    return seeded[1].assets[Y2]


def server_ids(server: SandboxServer, uid: str) -> list[int]:
    return [doc["_id"] for doc in server.state.submissions(uid)]


def full_pull(server, uid, store_dir, **options):
    with Store.open(store_dir) as store:
        summary = pull_asset(client_for(server), store, uid, form_id=Y2, **options)
        return summary, store.canonical_dump()


def some_answers(server, uid) -> dict:
    """The answers of an existing submission (envelope keys dropped), to add or edit with."""
    doc = server.state.submissions(uid)[0]
    return {k: v for k, v in doc.items() if not k.startswith("_") and not k.startswith(("meta/", "formhub/"))
            and k != "__version__"}


def test_first_pull_brings_every_submission(server, seeded, tmp_path):
    uid = y2_uid(seeded)
    summary, _ = full_pull(server, uid, tmp_path / "store")
    assert summary.status == "ok"
    assert summary.new == len(server_ids(server, uid)) > 0
    assert summary.versions_added >= 1
    with Store.open(tmp_path / "store") as store:
        (row,) = [r for r in store.status() if r["asset_uid"] == uid]
    assert row["submissions"] == summary.new and row["deleted"] == 0 and row["form_id"] == Y2


def test_new_edited_and_deleted_between_pulls(server, seeded, tmp_path):
    uid = y2_uid(seeded)
    store_dir = tmp_path / "store"
    full_pull(server, uid, store_dir)
    ids = server_ids(server, uid)
    answers = some_answers(server, uid)
    server.add_submission(uid, answers)
    server.add_submission(uid, answers)
    edited = server.edit_submission(uid, ids[1], {**answers, "m12/obs_catatan": "diperbaiki"})
    server.delete_submission(uid, ids[2])

    summary, _ = full_pull(server, uid, store_dir)
    assert (summary.new, summary.edited, summary.deleted) == (2, 1, 1)
    with Store.open(store_dir) as store:
        history = store.history(uid, ids[1])
        assert [v.instance_id for v in history][-1] == edited["_uuid"]
        assert len(history) == 2
        deleted = [r for r in store.submission_records(uid, include_deleted=True) if r.submission_id == ids[2]]
        assert deleted and deleted[0].deleted_at, "a deletion is a mark, never a drop"


def test_no_change_repull_writes_nothing_and_costs_the_asset_and_the_sweep(server, seeded, tmp_path):
    uid = y2_uid(seeded)
    store_dir = tmp_path / "store"
    _, before = full_pull(server, uid, store_dir)
    summary, after = full_pull(server, uid, store_dir)
    assert (summary.new, summary.edited, summary.deleted, summary.versions_added) == (0, 0, 0, 0)
    assert after == before
    n = len(server_ids(server, uid))
    assert summary.requests <= 1 + math.ceil(n / 1000)


def test_small_pages_and_legacy_paging_give_the_same_store(seeded, tmp_path):
    folder, _ = seeded
    uid = y2_uid(seeded)
    dumps = []
    for mode, limit in (("modern", 1000), ("modern", 7), ("legacy", 30000)):
        copy = tmp_path / f"sandbox-{mode}-{limit}"
        shutil.copytree(folder, copy)
        with SandboxServer(copy, page_mode=mode) as server:
            summary, dump = full_pull(server, uid, tmp_path / f"store-{mode}-{limit}", limit=limit)
            if limit == 7:
                assert summary.requests >= math.ceil(summary.new / 7)
        dumps.append(dump)
    assert dumps[0] == dumps[1] == dumps[2]


@pytest.mark.parametrize("fault_seed", range(20))
def test_seeded_fault_schedules_end_in_the_state_of_a_clean_pull(seeded, tmp_path, fault_seed):
    folder, _ = seeded
    uid = y2_uid(seeded)
    copy = tmp_path / "sandbox"
    shutil.copytree(folder, copy)
    with SandboxServer(copy) as server:
        _, clean = full_pull(server, uid, tmp_path / "clean", limit=9)
        server.set_faults("500:0.06,502:0.06,504:0.03,429:0.05@0,503:0.03@0,reset:0.05,truncate:0.05",
                          seed=fault_seed)
        summary, faulty = full_pull(server, uid, tmp_path / "faulty", limit=9)
        assert summary.status == "ok"
    assert faulty == clean


def test_a_pull_killed_mid_way_resumes_to_the_state_of_a_clean_pull(server, seeded, tmp_path):
    uid = y2_uid(seeded)
    _, clean = full_pull(server, uid, tmp_path / "clean")
    store_dir = tmp_path / "killed"
    server.set_faults("slow:1.0@0.15s", seed=1)
    env = {**os.environ, "KOBO_TOKEN": server.token}
    process = subprocess.Popen(
        [sys.executable, "-m", "desbumi.cli.main", "-q", "--server", server.url, "--store", str(store_dir),
         "pull", uid, "--page-size", "3"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        database = store_dir / "desbumi.sqlite"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if database.exists() and _committed(database, uid) >= 6:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the pull never committed a page")
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert _committed(store_dir / "desbumi.sqlite", uid) < len(server_ids(server, uid)), "killed too late"
    server.set_faults(None)
    summary, resumed = full_pull(server, uid, store_dir)
    assert summary.status == "ok"
    assert resumed == clean
    with Store.open(store_dir) as store:
        assert any(run.status == "interrupted" for run in store.runs(uid))


def _committed(database: Path, uid: str) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM submissions WHERE asset_uid = ?", (uid,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_cli_pull_status_and_the_token_never_shown(server, seeded, tmp_path, run_cli, monkeypatch, caplog):
    uid = y2_uid(seeded)
    monkeypatch.setenv("KOBO_TOKEN", server.token)
    caplog.set_level("DEBUG")
    base = ("--server", server.url, "--store", str(tmp_path / "store"))
    pulled = run_cli("-v", *base, "pull", uid, "--format", "json", cwd=tmp_path)
    assert pulled.code == 0, pulled
    (summary,) = json.loads(pulled.out)
    assert summary["new"] == len(server_ids(server, uid)) and summary["status"] == "ok"
    status = run_cli(*base, "status", "--format", "json", cwd=tmp_path)
    rows = {r["asset_uid"]: r for r in json.loads(status.out)}
    assert {"asset_uid", "form_id", "name", "submissions", "deleted", "edited", "versions", "last_pull",
            "attachments_pending"} <= set(rows[uid])
    assert rows[uid]["submissions"] == summary["new"]
    text = run_cli(*base, "status", cwd=tmp_path)
    assert uid[:24] in text.out
    everything = pulled.out + pulled.err + status.out + status.err + text.out + caplog.text
    assert server.token not in everything
    assert "GET" in caplog.text, "debug logging shows the requests (without the token)"


def test_cli_errors_say_what_is_wrong(server, seeded, tmp_path, run_cli, monkeypatch):
    uid = y2_uid(seeded)
    base = ("--server", server.url, "--store", str(tmp_path / "store"))
    monkeypatch.setenv("KOBO_TOKEN", "0" * 40)
    refused = run_cli(*base, "pull", uid, cwd=tmp_path)
    assert refused.code == 3 and "rejected the token" in refused.err
    monkeypatch.setenv("KOBO_TOKEN", server.token)
    missing = run_cli(*base, "pull", "aNoSuchAssetUid1234567", cwd=tmp_path)
    assert missing.code == 3 and "uid is wrong" in missing.err
    monkeypatch.delenv("KOBO_TOKEN")
    no_token = run_cli(*base, "pull", uid, cwd=tmp_path)
    assert no_token.code == 2 and "KOBO_TOKEN" in no_token.err
    assert "Traceback" not in refused.err + missing.err + no_token.err


def test_attachments_are_downloaded_inside_the_store_with_their_hash(server, seeded, tmp_path):
    uid = y2_uid(seeded)
    store_dir = tmp_path / "store"
    summary, _ = full_pull(server, uid, store_dir, attachments=True)
    with Store.open(store_dir) as store:
        downloaded = [a for a in store.attachments(uid) if a.local_path]
        assert summary.attachments_downloaded == len(downloaded) > 0
        for item in downloaded:
            path = (store_dir / item.local_path).resolve()
            assert path.is_relative_to((store_dir / "attachments").resolve())
            import hashlib

            assert hashlib.sha256(path.read_bytes()).hexdigest() == item.sha256
        assert not store.pending_attachments(uid)
    again, _ = full_pull(server, uid, store_dir, attachments=True)
    assert again.attachments_downloaded == 0


def test_attachments_with_a_relative_store_folder(server, seeded, tmp_path, run_cli, monkeypatch):
    """`--store data` (relative, as people type it) keeps attachments inside it too."""
    monkeypatch.setenv("KOBO_TOKEN", server.token)
    result = run_cli("--server", server.url, "--store", "data", "pull", y2_uid(seeded), "--attachments",
                     cwd=tmp_path)
    assert result.code == 0, result
    assert "attachments:" in result.out
    assert any((tmp_path / "data" / "attachments").rglob("*.csv"))


def test_cli_assets_lists_the_server_forms(server, seeded, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("KOBO_TOKEN", server.token)
    listed = run_cli("--server", server.url, "assets", "--format", "json", cwd=tmp_path)
    assert listed.code == 0, listed
    rows = {row["uid"]: row for row in json.loads(listed.out)}
    uid = y2_uid(seeded)
    assert rows[uid]["form_id"] == Y2
    assert rows[uid]["submissions"] == len(server_ids(server, uid))
    text = run_cli("--server", server.url, "assets", cwd=tmp_path)
    assert uid in text.out and Y2 in text.out


def test_read_ahead_keeps_order_raises_errors_in_place_and_stops_its_helper():
    import threading

    from desbumi.pull import read_ahead

    assert list(read_ahead(iter(range(50)))) == list(range(50))

    def failing():
        yield 1
        yield 2
        raise ConnectionError("cut off")

    seen = []
    with pytest.raises(ConnectionError, match="cut off"):
        for item in read_ahead(failing()):
            seen.append(item)
    assert seen == [1, 2], "pages before the error are all delivered first"

    def endless():
        i = 0
        while True:
            i += 1
            yield i

    before = threading.active_count()
    for item in read_ahead(endless()):
        if item == 3:
            break
    assert threading.active_count() == before, "stopping early ends the helper thread"
