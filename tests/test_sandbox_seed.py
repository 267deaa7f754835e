"""`sandbox seed`: the data folder a sandbox serves, deterministic for a seed, in the documented layout."""

import csv
import json
from pathlib import Path

import pytest

from desbumi.errors import InputError
from desbumi.sandbox.seed import ALL_PERMISSIONS, attachment_bytes, seed_data_dir
from desbumi.synth import kobo_ids, read_year_one

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"forms_dir": ROOT / "forms", "xlsform_src": ROOT / "xlsform_src", "panel_dir": ROOT / "panel"}
Y2 = "desbumi_ekonomi_y2"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    base = tmp_path_factory.mktemp("seed")
    first = seed_data_dir(base / "a", respondents=30, seed=11, **SOURCES)
    second = seed_data_dir(base / "b", respondents=30, seed=11, **SOURCES)
    return first, second


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_seed_is_deterministic(seeded):
    first, second = seeded
    a, b = files_of(first.data_dir), files_of(second.data_dir)
    assert a.keys() == b.keys()
    stamped = {"year1/year1.xlsx", "year1/year1.sav"}  # their writers stamp the time into the metadata
    assert {k for k in a if a[k] != b[k]} <= stamped
    for name in stamped:
        assert read_year_one(first.data_dir / name) == read_year_one(second.data_dir / name)
    assert (first.token, first.assets, first.counts) == (second.token, second.assets, second.counts)


def test_another_seed_gives_other_data_and_tokens(seeded, tmp_path):
    first, _ = seeded
    other = seed_data_dir(tmp_path / "c", respondents=30, seed=12, **SOURCES)
    assert other.token != first.token
    assert other.assets == first.assets  # uids are the forms' (kobo_ids), the same for every seed
    uid = first.assets[Y2]
    assert (first.data_dir / "assets" / uid / "submissions.jsonl").read_bytes() != \
        (other.data_dir / "assets" / uid / "submissions.jsonl").read_bytes()


def test_year_one_in_four_formats(seeded):
    result, _ = seeded
    folder = result.data_dir / "year1"
    assert sorted(p.name for p in folder.iterdir()) == ["year1.csv", "year1.dta", "year1.sav", "year1.xlsx"]
    rows = read_year_one(folder / "year1.csv")
    assert len(rows) == 30 and all(r["resp_id"] for r in rows)
    for fmt in ("xlsx", "dta", "sav"):
        assert [r["resp_id"] for r in read_year_one(folder / f"year1.{fmt}")] == [r["resp_id"] for r in rows]
    assert result.year1_files == [folder / f"year1.{fmt}" for fmt in ("csv", "xlsx", "dta", "sav")]


def test_layout_users_and_assets(seeded):
    result, _ = seeded
    root = result.data_dir
    meta = json.loads((root / "sandbox.json").read_text(encoding="utf-8"))
    assert meta["format"] == 1 and meta["seed"] == 11 and meta["assets"] == result.assets
    users = json.loads((root / "users.json").read_text(encoding="utf-8"))
    assert [u["username"] for u in users] == ["desbumi", "pemantau", "pembaca", "orang_lain"]
    assert users[0]["token"] == result.token and len(result.token) == 40
    assert len({u["token"] for u in users}) == 4
    uids = set(result.assets.values())
    assert set(users[0]["permissions"]) == uids and all(p == list(ALL_PERMISSIONS)
                                                         for p in users[0]["permissions"].values())
    assert all(p == ["view_asset"] for p in users[1]["permissions"].values())
    assert all(p == ["view_asset", "view_submissions"] for p in users[2]["permissions"].values())
    assert users[3]["permissions"] == {}
    built = {b["form_id"] for b in json.loads((ROOT / "forms" / "index.json").read_text())["builds"]}
    assert set(result.assets) == built
    assert {p.name for p in (root / "assets").iterdir()} == uids
    for form_id, uid in result.assets.items():
        folder = root / "assets" / uid
        asset = json.loads((folder / "asset.json").read_text(encoding="utf-8"))
        assert asset["uid"] == uid and asset["form_id"] == form_id and asset["asset_type"] == "survey"
        assert asset["version_id"] == asset["deployed_version_id"] == asset["versions"][-1]["uid"]
        assert asset["deployment"]["active"] is True
        assert (folder / "form.xlsx").is_file() and (folder / "form.xml").is_file()
        for item in asset["files"]:
            assert (folder / item["path"]).is_file() and item["hash"].startswith("md5:")
        docs = read_jsonl(folder / "submissions.jsonl")
        assert len(docs) == asset["submission_count"] == result.counts[form_id]
        assert [d["_id"] for d in docs] == sorted({d["_id"] for d in docs})
        for doc in docs:
            assert doc["_xform_id_string"] == uid
            assert doc["formhub/uuid"] == asset["deployment"]["uuid"]
            assert doc["__version__"] == asset["version_id"]
            assert all("download_url" not in att for att in doc["_attachments"])
    all_ids = [d["_id"] for uid in uids for d in read_jsonl(root / "assets" / uid / "submissions.jsonl")]
    assert len(all_ids) == len(set(all_ids)) and meta["next_id"] == max(all_ids) + 1


def test_year_two_is_the_panel_of_the_seeded_year_one(seeded):
    result, _ = seeded
    folder = result.data_dir / "assets" / result.assets[Y2]
    asset = json.loads((folder / "asset.json").read_text(encoding="utf-8"))
    assert {f["filename"] for f in asset["files"]} >= {"responden_y1.csv"}
    with (folder / "files" / "responden_y1.csv").open(newline="", encoding="utf-8") as fh:
        preloaded = {row["name"] for row in csv.DictReader(fh)}
    year1 = {r["resp_id"] for r in read_year_one(result.data_dir / "year1" / "year1.csv")}
    assert preloaded == year1
    docs = read_jsonl(folder / "submissions.jsonl")
    linked = {d.get("m0/resp_id_y1") for d in docs} - {None}
    assert linked and linked <= year1
    current = {d["_id"]: d for d in docs}
    history = read_jsonl(folder / "history.jsonl")
    assert len(history) == result.edits[Y2]
    last = {}
    for old in history:
        assert old["_id"] in current and old["_uuid"] != current[old["_id"]]["_uuid"]
        last[old["_id"]] = old
    for _id, old in last.items():
        assert current[_id]["meta/deprecatedID"] == old["meta/instanceID"]
    assert kobo_ids(Y2, asset["versions"][-1]["form_version"]).asset_uid == result.assets[Y2]


def test_meal_forms_are_seeded(seeded):
    result, _ = seeded
    for form_id in ("mel_registrasi", "mel_tes_gedsi", "mel_kegiatan", "mel_kapasitas_desa", "mel_msc"):
        assert result.counts[form_id] > 0
    assert result.counts["desbumi_ekonomi_y1"] == 0


def test_reseed_replaces_but_a_foreign_folder_is_refused(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not made by `sandbox seed`"):
        seed_data_dir(foreign, respondents=5, seed=1, **SOURCES)
    assert (foreign / "notes.txt").read_text() == "keep me"
    target = tmp_path / "data"
    seed_data_dir(target, respondents=5, seed=1, **SOURCES)
    (target / "stale.txt").write_text("x")
    again = seed_data_dir(target, respondents=6, seed=1, **SOURCES)
    assert not (target / "stale.txt").exists() and again.data_dir == target
    assert json.loads((target / "sandbox.json").read_text())["respondents"] == 6
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no work folder left behind


def test_attachment_bytes_are_stable_and_typed():
    jpeg = {"uid": "attAAAA", "mimetype": "image/jpeg"}
    assert attachment_bytes(jpeg) == attachment_bytes(dict(jpeg))
    assert attachment_bytes(jpeg)[:3] == b"\xff\xd8\xff" and attachment_bytes(jpeg)[-2:] == b"\xff\xd9"
    assert attachment_bytes({"uid": "attBBBB", "mimetype": "image/jpeg"}) != attachment_bytes(jpeg)
    audit = attachment_bytes({"uid": "attC", "mimetype": "text/csv"}).decode()
    assert audit.startswith("event,node,start,end\n")
