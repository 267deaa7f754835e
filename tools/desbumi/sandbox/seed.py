"""`sandbox seed`: the synthetic data a sandbox serves, written as plain files a server loads.

    from desbumi.sandbox.seed import seed_data_dir
    result = seed_data_dir(Path("sandbox-data"), respondents=300, seed=1, forms_dir=Path("forms"),
                           xlsform_src=Path("xlsform_src"), panel_dir=Path("panel"))
    result.token                  # the owner's API token (40 hex chars, a function of the seed)
    result.assets                 # {form_id: asset uid}
    result.counts                 # {form_id: current submissions}

Everything is a function of (seed, respondents, the builds in forms_dir, panel_dir): no clock, no
os.urandom. Seeding twice with the same arguments gives the same bytes in every file but
year1/year1.xlsx and year1/year1.sav, whose writers (openpyxl, ReadStat) stamp the time of writing
into the file's metadata; their data are the same.

Layout of the data folder (format 1; state.py loads it, nothing else reads it)
------------------------------------------------------------------------------
    DIR/
      sandbox.json                  {"format": 1, "seed": S, "respondents": N, "owner": "desbumi",
                                     "assets": {form_id: uid}, "counts": {form_id: n}, "next_id": n,
                                     "generator": "desbumi <version>"}
      users.json                    list of users (below)
      assets/<uid>/asset.json       one asset (below)
      assets/<uid>/form.xlsx        the deployed XLSForm (copy of forms/<form_id>/<version>/form.xlsx)
      assets/<uid>/form.xml         the compiled XForm of that build
      assets/<uid>/files/<name>     form media uploaded to the asset (asset.json "files" describes each)
      assets/<uid>/submissions.jsonl  current documents, one JSON object per line, sorted by _id ascending
      assets/<uid>/history.jsonl    earlier versions of edited submissions, one per line, oldest first
                                    (each a full document; its `_id` equals the current one's; the current
                                    one's `meta/deprecatedID` is the last history version's instanceID)
      year1/year1.csv, year1.xlsx, year1.dta, year1.sav   the year-one cross-section the panel was seeded from

users.json — a JSON list; every user:
    {"username": "desbumi", "password": "…", "token": "<40 hex>", "is_superuser": false, "is_active": true,
     "email": "…", "first_name": "…", "last_name": "…", "date_joined": "2026-01-05T08:00:00Z",
     "permissions": {"<asset uid>": ["view_asset", "change_asset", "manage_asset", "add_submissions",
                                     "view_submissions", "change_submissions", "delete_submissions",
                                     "validate_submissions"], …}}
  Users, in this order: "desbumi" (owner of every asset, all permissions), "pemantau" (view_asset only on
  every asset: data routes answer 404), "pembaca" (view_asset + view_submissions: data readable, DELETE/
  PATCH of submissions 403), "orang_lain" (no permission anywhere: 404 under every asset). Passwords and
  tokens are obviously fake and derived from the seed; the owner's token is SeedResult.token.

assets/<uid>/asset.json — one object:
    {"uid": "a…" (22 chars), "form_id": "desbumi_ekonomi_y2", "name": <form title>, "asset_type": "survey",
     "owner": "desbumi", "date_created": ISO-Z, "date_modified": ISO-Z, "settings": {…},
     "version_id": "v…", "deployed_version_id": "v…",
     "versions": [  # oldest first; the last one is current and deployed
        {"uid": "v…", "form_version": "2026112801", "content_hash": "<sha1 hex of form.xlsx>",
         "date_modified": ISO-Z, "date_deployed": ISO-Z or null, "xlsform": "form.xlsx", "xform": "form.xml"}],
     "deployment": {"backend": "openrosa", "active": true, "version_id": "v…", "uuid": "<32 hex>"
                    (= formhub/uuid of its submissions), "date_deployed": ISO-Z},
     "files": [ {"uid": "af…", "file_type": "form_media", "description": "default",
                 "filename": "desa.csv", "path": "files/desa.csv", "mimetype": "text/csv",
                 "hash": "md5:<hex>", "date_created": ISO-Z, "deployed": true}, … ],
     "submission_count": n, "last_submission_time": ISO-Z or null,
     "scenario": {"delete_later": [_id, …]}}   # ids the synthetic scenario deletes after fieldwork
                                               # (the server may apply them through its mutation hook)
  `content` (kpi's survey/choices JSON) is not stored: the server derives it from form.xlsx, as an
  import would. ISO-Z dates are "YYYY-MM-DDTHH:MM:SS.ffffffZ".

Submission documents are shaped as KOBO_API.md §3.4 (current shape, no `_tags`/`_notes`), with one
exception: stored documents carry no absolute URLs. Each `_attachments` item has uid, filename,
media_file_basename, mimetype, is_deleted and question_xpath; the server adds `download_url` (and the
large/medium/small thumbnail URLs for image/*) from the request's host when it serves them, and serves
the bytes of `attachment_bytes(item)` (this module) for the download. `_submission_time` and `_id`
are ascending together within an asset; `_id`s are unique across all assets (one server-wide
sequence with gaps): the year-two panel starts at 1_000_001, the MEAL programme (one sequence over its
six forms) after the panel's last id, any other form after that. `next_id` in sandbox.json is one more
than the largest `_id` seeded (where a server's own sequence for new submissions may start).

What is seeded, per built form (the newest version of every form_id in forms_dir/index.json):
- the year-two panel form (desbumi_ekonomi_y2): `synth.submissions` from the year-one cross-section of
  `respondents` people, with the preload CSV `forms preload` makes from that year one (plan_preload
  with out=…, read back) as its form media and as the generator's media; edits go to history.jsonl;
- the six MEAL forms: `synth.meal.meal_programme` (when the module and all six forms are there);
- the year-one form: deployed with no submissions (year one is a file: DIR/year1/);
- any other form: `synth.submissions` in plain mode (independent interviews).
Asset uids are `synth.kobo_ids(form_id, version)` (the ids the generators put into `_xform_id_string`),
so they are the same for every seed; users' passwords and tokens change with the seed.
Re-seeding a folder replaces it whole (built beside it, then swapped in); a non-empty folder that a
seed did not make is refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import mimetypes
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from ..errors import InputError
from ..synth.kobo import base62
from ..synth.kobo import digest as _digest

FORMAT = 1
OWNER = "desbumi"
Y1_FORM, Y2_FORM = "desbumi_ekonomi_y1", "desbumi_ekonomi_y2"
YEAR1_FORMATS = ("csv", "xlsx", "dta", "sav")
FIRST_ID = 1_000_001
ALL_PERMISSIONS = ("view_asset", "change_asset", "manage_asset", "add_submissions", "view_submissions",
                   "change_submissions", "delete_submissions", "validate_submissions")
USERS = (  # username, permissions on every asset, first name, last name
    (OWNER, ALL_PERMISSIONS, "Tim", "DESBUMI"),
    ("pemantau", ("view_asset",), "Pemantau", "Proyek"),
    ("pembaca", ("view_asset", "view_submissions"), "Pembaca", "Data"),
    ("orang_lain", (), "Orang", "Lain"),
)
MARKER = "sandbox.json"


@dataclass
class SeedResult:
    data_dir: Path
    token: str  # the owner's token (never print it where a log could keep it)
    users: list[dict]
    assets: dict[str, str]  # form_id -> asset uid
    counts: dict[str, int]  # form_id -> current submissions
    edits: dict[str, int] = field(default_factory=dict)  # form_id -> earlier versions in history.jsonl
    year1_files: list[Path] = field(default_factory=list)
    next_id: int = FIRST_ID
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ identifiers

def _uid(prefix: str, *parts: object, length: int = 21) -> str:
    return prefix + base62(_digest(*parts), length)


def user_token(seed: int, username: str) -> str:
    """A DRF-like token: 40 hex digits, a function of the seed and the user."""
    return _digest("desbumi-sandbox-token", seed, username).hex()[:40]


def user_password(seed: int, username: str) -> str:
    return f"{username}-sandbox-{_digest('desbumi-sandbox-password', seed, username).hex()[:8]}"


def iso_z(moment: dt.datetime) -> str:
    """kpi's asset dates: UTC, microseconds, Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def attachment_bytes(item: dict) -> bytes:
    """The bytes served for a synthetic attachment, a function of its uid and type (no files stored).

    text/csv (ODK audit logs) is a small audit CSV; other types are filler bytes behind the type's
    usual leading signature (JPEG, MP4, M4A, PDF), 2–12 KB."""
    key = str(item.get("uid") or item.get("id") or item.get("media_file_basename") or "")
    mimetype = str(item.get("mimetype") or "application/octet-stream")
    rng = Random(int.from_bytes(_digest("attachment", key), "big"))
    if mimetype == "text/csv":
        lines = ["event,node,start,end"]
        clock = 1_772_000_000_000 + rng.randrange(0, 10_000_000)
        lines.append(f"form start,,{clock},")
        for step in range(rng.randint(5, 25)):
            begin = clock + rng.randint(2_000, 60_000)
            lines.append(f"question,/data/q{step + 1},{begin},{begin + rng.randint(1_500, 40_000)}")
            clock = begin
        lines.append(f"form exit,,{clock + 1_000},")
        return ("\n".join(lines) + "\n").encode("ascii")
    head = {"image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
            "video/mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
            "audio/mp4": b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom",
            "application/pdf": b"%PDF-1.4\n"}.get(mimetype, b"")
    tail = b"\xff\xd9" if mimetype == "image/jpeg" else (b"\n%%EOF\n" if mimetype == "application/pdf" else b"")
    return head + rng.randbytes(rng.randint(2_048, 12_288)) + tail


# -------------------------------------------------------------------------------------------- the seed

@dataclass
class _Built:
    form_id: str
    version: str
    title: str
    folder: Path  # forms/<form_id>/<version>/


def built_forms(forms_dir: Path) -> list[_Built]:
    """The newest build of every form in forms_dir/index.json, in the index's order of first appearance."""
    from ..forms.versions import load_index, version_key

    newest: dict[str, dict] = {}
    for build in load_index(forms_dir):
        form_id = str(build.get("form_id") or "")
        if not form_id:
            continue
        if form_id not in newest or version_key(str(build.get("version", ""))) > \
                version_key(str(newest[form_id].get("version", ""))):
            newest[form_id] = build
    out = []
    for form_id, build in newest.items():
        folder = Path(forms_dir) / str(build.get("path") or f"{form_id}/{build['version']}")
        if (folder / "form.xlsx").is_file():
            out.append(_Built(form_id, str(build["version"]), str(build.get("title") or form_id), folder))
    return out


def seed_data_dir(data_dir: Path, *, respondents: int = 300, seed: int = 1, forms_dir: Path, xlsform_src: Path,
                  panel_dir: Path, meal_participants: int | None = None, workers: int = 1) -> SeedResult:
    """Generate everything a sandbox serves into `data_dir` (layout in the module doc); deterministic."""
    data_dir = Path(data_dir)
    if respondents < 1:
        raise InputError(f"--respondents {respondents}: at least one respondent is needed.")
    _check_target(data_dir)
    builds = built_forms(Path(forms_dir))
    if not builds:
        raise InputError(f"{forms_dir} holds no built form (forms/index.json lists none).",
                         hint="Run `desbumi-sync forms build` first.")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.seeding-", dir=data_dir.parent))
    try:
        result = _seed_into(work, data_dir, builds, respondents=respondents, seed=seed, forms_dir=Path(forms_dir),
                            xlsform_src=Path(xlsform_src), panel_dir=Path(panel_dir),
                            meal_participants=meal_participants, workers=workers)
        if data_dir.exists():
            shutil.rmtree(data_dir)
        work.rename(data_dir)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    result.year1_files = [data_dir / path.relative_to(work) for path in result.year1_files]
    return result


def _check_target(data_dir: Path) -> None:
    if not data_dir.exists():
        return
    if not data_dir.is_dir():
        raise InputError(f"{data_dir} exists and is not a folder; choose another --data.")
    if any(data_dir.iterdir()) and not (data_dir / MARKER).is_file():
        raise InputError(f"{data_dir} is not empty and was not made by `sandbox seed`; nothing was changed.",
                         hint="Choose an empty or new folder with --data.")


def _seed_into(work: Path, data_dir: Path, builds: list[_Built], *, respondents: int, seed: int, forms_dir: Path,
               xlsform_src: Path, panel_dir: Path, meal_participants: int | None, workers: int) -> SeedResult:
    from ..synth import kobo_ids, load_form

    by_id = {b.form_id: b for b in builds}
    docs: dict[str, list[dict]] = {b.form_id: [] for b in builds}
    history: dict[str, list[dict]] = {b.form_id: [] for b in builds}
    delete_later: dict[str, list[int]] = {b.form_id: [] for b in builds}
    extra_media: dict[str, dict[str, bytes]] = {b.form_id: {} for b in builds}
    notes: list[str] = []
    year1_files: list[Path] = []
    next_id = FIRST_ID

    rows = None
    y1_form = None
    if Y1_FORM in by_id or Y2_FORM in by_id:
        from ..synth import write_year_one, year_one

        y1_form = load_form(by_id[Y1_FORM].folder / "form.xlsx") if Y1_FORM in by_id else None
        rows = year_one(respondents, seed=seed, form=y1_form)
        for fmt in YEAR1_FORMATS:
            year1_files.append(write_year_one(rows, work / "year1" / f"year1.{fmt}", form=y1_form))

    if Y2_FORM in by_id and rows is not None:
        from ..synth import submissions
        from ..synth.panel import Fieldwork

        build = by_id[Y2_FORM]
        media = _preload_media(work / "year1" / "year1.csv", panel_dir=panel_dir, forms_dir=forms_dir,
                               xlsform_src=xlsform_src)
        extra_media[Y2_FORM] = media
        tables = {name: list(csv.DictReader(io.StringIO(content.decode("utf-8")))) for name, content in media.items()}
        ids = kobo_ids(Y2_FORM, build.version)
        y2 = submissions(load_form(build.folder / "form.xlsx"), rows, seed=seed, media=tables, workers=workers,
                         fieldwork=Fieldwork(first_id=next_id, ids=ids, owner=OWNER))
        docs[Y2_FORM], history[Y2_FORM] = y2.submissions, _history_list(y2)
        delete_later[Y2_FORM] = list(y2.deleted)
        next_id = _after(docs[Y2_FORM], next_id)

    meal_ids = _meal_form_ids()
    if meal_ids and all(form_id in by_id for form_id in meal_ids):
        from ..synth.meal import meal_programme

        participants = meal_participants if meal_participants is not None else max(8, min(respondents // 2, 600))
        programme = meal_programme(seed, participants=participants, first_id=next_id, owner=OWNER,
                                   forms={f: by_id[f].folder / "form.xlsx" for f in meal_ids})
        for form_id, synth_result in programme.items():
            _same_ids(synth_result.submissions, kobo_ids(form_id, by_id[form_id].version), form_id)
            docs[form_id], history[form_id] = synth_result.submissions, _history_list(synth_result)
            delete_later[form_id] = list(synth_result.deleted)
            next_id = max(next_id, _after(docs[form_id], next_id))
    elif meal_ids:
        notes.append("the MEAL generator needs all six MEAL forms; the ones built get plain submissions")

    for build in builds:
        if build.form_id in (Y1_FORM, Y2_FORM) or docs[build.form_id]:
            continue
        if meal_ids and build.form_id in meal_ids and all(f in by_id for f in meal_ids):
            continue
        from ..synth import submissions
        from ..synth.panel import Fieldwork

        plain = submissions(load_form(build.folder / "form.xlsx"), None, seed=seed,
                            n=max(5, min(respondents // 3, 500)),
                            fieldwork=Fieldwork(first_id=next_id, ids=kobo_ids(build.form_id, build.version),
                                                owner=OWNER))
        docs[build.form_id], history[build.form_id] = plain.submissions, _history_list(plain)
        next_id = _after(docs[build.form_id], next_id)

    assets: dict[str, str] = {}
    counts: dict[str, int] = {}
    edits: dict[str, int] = {}
    for position, build in enumerate(builds):
        ids = kobo_ids(build.form_id, build.version)
        assets[build.form_id] = ids.asset_uid
        current = sorted(docs[build.form_id], key=lambda d: d["_id"])
        counts[build.form_id] = len(current)
        edits[build.form_id] = len(history[build.form_id])
        folder = work / "assets" / ids.asset_uid
        folder.mkdir(parents=True)
        shutil.copyfile(build.folder / "form.xlsx", folder / "form.xlsx")
        if (build.folder / "form.xml").is_file():
            shutil.copyfile(build.folder / "form.xml", folder / "form.xml")
        files = _media_files(build, extra_media[build.form_id])
        asset = _asset_doc(build, ids, position, current, files, delete_later[build.form_id], folder)
        _write_json(folder / "asset.json", asset)
        _write_jsonl(folder / "submissions.jsonl", current)
        _write_jsonl(folder / "history.jsonl", history[build.form_id])

    users = _users(seed, list(assets.values()))
    _write_json(work / "users.json", users)
    from .. import __version__

    _write_json(work / MARKER, {"format": FORMAT, "seed": seed, "respondents": respondents, "owner": OWNER,
                                "assets": assets, "counts": counts, "next_id": next_id,
                                "generator": f"desbumi {__version__}"})
    return SeedResult(data_dir=data_dir, token=users[0]["token"], users=users, assets=assets, counts=counts,
                      edits=edits, year1_files=year1_files, next_id=next_id, notes=notes)


def _meal_form_ids() -> tuple[str, ...]:
    try:
        from ..synth.meal import MEAL_FORMS
    except ImportError:
        return ()
    return tuple(MEAL_FORMS)


def _after(docs: list[dict], current: int) -> int:
    return max([current - 1] + [d["_id"] for d in docs]) + 1


def _history_list(result: Any) -> list[dict]:
    out = []
    for doc in sorted(result.submissions, key=lambda d: d["_id"]):
        out.extend(result.history.get(doc["_id"], []))
    return out


def _same_ids(docs: list[dict], ids: Any, form_id: str) -> None:
    """The MEAL generator derives ids from the form's own version; they must be the asset's."""
    for doc in docs[:1]:
        if doc.get("_xform_id_string") != ids.asset_uid or doc.get("__version__") != ids.version_uid:
            raise InputError(f"{form_id}: the built form's version differs from forms/index.json; rebuild it.")


def _preload_media(year1: Path, *, panel_dir: Path, forms_dir: Path, xlsform_src: Path) -> dict[str, bytes]:
    """The year-two form's preload CSV(s) made from the seeded year one, as `forms preload --out` makes them."""
    from ..forms.preload import plan_preload

    with tempfile.TemporaryDirectory(prefix="desbumi-preload-") as out:
        results = plan_preload(year1, panel_dir=panel_dir, forms_dir=forms_dir, xlsform_src=xlsform_src,
                               form=Y2_FORM, out=Path(out))
    return {item.relpath: item.content for result in results for item in result.files if "/" not in item.relpath}


def _media_files(build: _Built, extra: dict[str, bytes]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    media = build.folder / "media"
    if media.is_dir():
        for path in sorted(media.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                files[path.name] = path.read_bytes()
    files.update(extra)
    return dict(sorted(files.items()))


def _asset_doc(build: _Built, ids: Any, position: int, current: list[dict], files: dict[str, bytes],
               delete_later: list[int], folder: Path) -> dict:
    times = [d["_submission_time"] for d in current if d.get("_submission_time")]
    first = dt.datetime.fromisoformat(min(times)) if times else dt.datetime(2026, 3, 2)
    created = dt.datetime(first.year, first.month, first.day, 2, 0) - dt.timedelta(days=21) \
        + dt.timedelta(minutes=7 * position, microseconds=int.from_bytes(_digest(ids.asset_uid)[:3], "big") % 999_983)
    deployed = created + dt.timedelta(days=2, minutes=13)
    xlsx = (build.folder / "form.xlsx").read_bytes()
    media_items = []
    (folder / "files").mkdir()
    for index, (name, content) in enumerate(files.items()):
        (folder / "files" / name).write_bytes(content)
        media_items.append({"uid": _uid("af", "file", ids.asset_uid, name), "file_type": "form_media",
                            "description": "default", "filename": name, "path": f"files/{name}",
                            "mimetype": mimetypes.guess_type(name)[0] or "application/octet-stream",
                            "hash": "md5:" + hashlib.md5(content).hexdigest(),
                            "date_created": iso_z(created + dt.timedelta(days=1, minutes=index)), "deployed": True})
    return {
        "uid": ids.asset_uid, "form_id": build.form_id, "name": build.title, "asset_type": "survey", "owner": OWNER,
        "date_created": iso_z(created), "date_modified": iso_z(deployed),
        "settings": {"sector": {"label": "Humanitarian - Coordination / Information Management", "value": "Humanitarian"},
                     "country": [{"label": "Indonesia", "value": "IDN"}], "organization": "Migrant CARE",
                     "description": f"{build.title} (synthetic data, desbumi sandbox)"},
        "version_id": ids.version_uid, "deployed_version_id": ids.version_uid,
        "versions": [{"uid": ids.version_uid, "form_version": build.version,
                      "content_hash": hashlib.sha1(xlsx).hexdigest(), "date_modified": iso_z(created),
                      "date_deployed": iso_z(deployed), "xlsform": "form.xlsx", "xform": "form.xml"}],
        "deployment": {"backend": "openrosa", "active": True, "version_id": ids.version_uid, "uuid": ids.xform_uuid,
                       "date_deployed": iso_z(deployed)},
        "files": media_items,
        "submission_count": len(current),
        "last_submission_time": (max(times) + ".000000Z") if times else None,
        "scenario": {"delete_later": sorted(delete_later)},
    }


def _users(seed: int, asset_uids: list[str]) -> list[dict]:
    joined = dt.datetime(2024, 1, 8, 3, 0) + dt.timedelta(minutes=seed % 997)
    users = []
    for position, (username, permissions, first, last) in enumerate(USERS):
        users.append({"username": username, "password": user_password(seed, username),
                      "token": user_token(seed, username), "is_superuser": False, "is_active": True,
                      "email": f"{username}@sandbox.invalid", "first_name": first, "last_name": last,
                      "date_joined": (joined + dt.timedelta(days=position)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "permissions": {uid: list(permissions) for uid in asset_uids} if permissions else {}})
    return users


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, docs: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for doc in docs:
            fh.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
            fh.write("\n")


__all__ = [
    "ALL_PERMISSIONS",
    "FORMAT",
    "OWNER",
    "USERS",
    "SeedResult",
    "attachment_bytes",
    "built_forms",
    "seed_data_dir",
    "user_password",
    "user_token",
]
