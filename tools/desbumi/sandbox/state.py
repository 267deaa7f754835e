"""The sandbox server's model of a Kobo server: users, assets, versions, deployments, files,
submissions, attachments, imports and exports — in memory behind one lock, persisted under a folder.

    state = SandboxState.open("sandbox-data")                     # a seeded folder, or a fresh one
    asset, _ = state.import_xlsform("forms/x/2026112801/form.xlsx", library=False)
    state.deploy(asset.uid, active=True)
    doc = state.add_submission(asset.uid, {"kab": "3509", "grp/q": "2"})
    state.edit_submission(asset.uid, doc["_id"], {"kab": "3509", "grp/q": "3"})   # same _id, new _uuid
    state.delete_submission(asset.uid, doc["_id"])                                # gone, no tombstone
    SandboxState.load("sandbox-data")                                             # the same state again

The data folder has two layers:

    (seed layer, written once by `sandbox seed`, see seed.py: sandbox.json, users.json,
     assets/<uid>/{asset.json, form.xlsx, files/…, submissions.jsonl}, year1/)
    runtime/state.json                 everything but submissions, as the server last saw it: users,
                                       assets (versions with content, deployment, files, permissions),
                                       import and export tasks, counters. Once it exists it supersedes
                                       the seed layer's metadata.
    runtime/submissions/<uid>.jsonl    a journal over the seeded submissions.jsonl (if any): one
                                       {"put": doc} or {"delete": _id} per line, appended as changes
                                       happen, so a server killed at any moment loses nothing
    runtime/files/<uid>/<af uid>       form media uploaded while serving
    runtime/attachments/<uid>/<att uid>  attachment bytes (seeded attachments without bytes get
                                       seed.attachment_bytes(item), else a stable placeholder)
    runtime/imports/<i uid>.xlsx, runtime/exports/<e uid>/<file>

Users (tokens are 40 hex digits derived from the seed; passwords too — fake credentials by design):
`desbumi` owns every asset; `pemantau` has view_asset only (data hidden behind 404); `pembaca` has
view_submissions (reads data, 403 on deleting or editing it); `orang_lain` has no access (404 under
every asset).

Submissions are Kobo JSON documents (KOBO_API.md §3.4) keyed by `_id`. Stored documents carry no
download URLs: the server adds them per request from the Host header. Identifiers are drawn from
sha256(seed, counter), never from the clock or os.urandom; dates come from `clock` (the real UTC
clock unless one is given).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import json
import mimetypes
import os
import re
import sys
import threading
import uuid as _uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from ..errors import InputError
from ..synth.kobo import KoboIds, attachment_docs, base62, edited, envelope, kobo_time

FORMAT = 1
RUNTIME = "runtime"
STATE_FILE = "runtime/state.json"
SEED_FILE = "sandbox.json"  # the seed layer (seed.py)

OWNER = "desbumi"
VIEWER_ASSET = "pemantau"  # view_asset only
VIEWER_DATA = "pembaca"  # view_submissions (which implies view_asset)
STRANGER = "orang_lain"  # no access at all
ANONYMOUS = "AnonymousUser"  # kpi's name for the public

# kpi's asset permission codenames, and what each implies (kpi assigns implied permissions too).
PERMISSIONS = ("view_asset", "discover_asset", "change_asset", "manage_asset", "add_submissions",
               "view_submissions", "partial_submissions", "change_submissions", "delete_submissions",
               "validate_submissions")
IMPLIED = {
    "change_asset": ("view_asset",),
    "manage_asset": PERMISSIONS,
    "view_submissions": ("view_asset",),
    "add_submissions": ("view_asset",),
    "change_submissions": ("view_submissions", "add_submissions", "view_asset"),
    "delete_submissions": ("view_submissions", "view_asset"),
    "validate_submissions": ("view_submissions", "view_asset"),
    "partial_submissions": ("view_asset",),
}
VALIDATION_STATUSES = {
    "validation_status_approved": ("Approved", "#00c853"),
    "validation_status_not_approved": ("Not Approved", "#ff5252"),
    "validation_status_on_hold": ("On Hold", "#ffb300"),
}
ASSET_TYPES = ("survey", "block", "question", "template", "collection", "empty")

_TRANSLATABLE = ("label", "hint", "constraint_message", "required_message", "guidance_hint", "image", "audio",
                 "video", "big-image")
_TYPE_ALIASES = {"begin group": "begin_group", "end group": "end_group", "begin repeat": "begin_repeat",
                 "end repeat": "end_repeat", "select one": "select_one", "select all that apply": "select_multiple",
                 "select_one_from_file": "select_one_from_file",
                 "select_multiple_from_file": "select_multiple_from_file"}
_SELECT_TYPES = ("select_one", "select_multiple", "select_one_from_file", "select_multiple_from_file", "rank")
_BOOLEAN_COLUMNS = ("required", "read_only")
_SURVEY_SHEET_MISSING = "xls upload must have one of these sheets: survey, library"


class SandboxError(Exception):
    """A request the model refuses; `status` and `body` are what the server answers."""

    def __init__(self, status: int, body: Any):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class ContentError(ValueError):
    """An XLSForm that cannot become asset content (import fails with this message)."""

    def __init__(self, message: str, error_type: str = "SyntaxError"):
        super().__init__(message)
        self.error_type = error_type


# --------------------------------------------------------------------------- records


@dataclass
class User:
    username: str
    password: str
    token: str | None
    date_joined: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    is_superuser: bool = False
    is_active: bool = True
    last_login: str | None = None


@dataclass
class Version:
    uid: str
    name: str
    content: dict
    content_hash: str
    date_modified: str
    deployed: bool = False


@dataclass
class Deployment:
    active: bool
    version_id: str
    date_deployed: str
    uuid: str  # the XForm uuid = formhub/uuid in submissions = deployment__uuid
    backend: str = "openrosa"
    media: list[dict] = field(default_factory=list)  # what the served form's manifest lists


@dataclass
class AssetFile:
    uid: str
    file_type: str
    description: str
    date_created: str
    user: str
    filename: str
    mimetype: str
    md5: str
    size: int
    deleted: bool = False
    redirect_url: str | None = None
    path: str | None = None  # where the bytes are, relative to the data folder


@dataclass
class Asset:
    uid: str
    name: str
    asset_type: str
    owner: str
    date_created: str
    date_modified: str
    settings: dict = field(default_factory=dict)  # project metadata (sector, country, description…)
    versions: list[Version] = field(default_factory=list)  # oldest first
    deployment: Deployment | None = None
    files: list[AssetFile] = field(default_factory=list)
    permissions: dict[str, list[str]] = field(default_factory=dict)  # username -> codenames (not the owner)
    parent: str | None = None
    tags: list[str] = field(default_factory=list)
    form_id: str | None = None  # the XLSForm's form_id when seeded from a build
    scenario: dict = field(default_factory=dict)  # seed.py: {"delete_later": [_id, …]}

    @property
    def version(self) -> Version | None:
        return self.versions[-1] if self.versions else None

    @property
    def version_id(self) -> str | None:
        return self.versions[-1].uid if self.versions else None

    @property
    def content(self) -> dict:
        return self.versions[-1].content if self.versions else {}

    @property
    def deployment_status(self) -> str:
        if self.asset_type != "survey":
            return "-"
        if self.deployment is None:
            return "draft"
        return "deployed" if self.deployment.active else "archived"

    def find_version(self, uid: str) -> Version | None:
        return next((v for v in self.versions if v.uid == uid), None)

    def live_files(self, file_type: str | None = None) -> list[AssetFile]:
        return [f for f in self.files if not f.deleted and (file_type is None or f.file_type == file_type)]


@dataclass
class ImportTask:
    uid: str
    owner: str
    date_created: str
    status: str  # processing | complete | error
    params: dict  # library, destination (asset uid), name, filename
    messages: dict = field(default_factory=dict)
    polls: int = 0


@dataclass
class ExportTask:
    uid: str
    asset_uid: str
    owner: str
    date_created: str
    data: dict
    status: str  # created | processing | complete | error
    messages: dict = field(default_factory=dict)
    polls: int = 0
    result: str | None = None  # file name under exports/<uid>/
    last_submission_time: str | None = None


# --------------------------------------------------------------------------- helpers


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    """kpi's datetimes: UTC with microseconds and Z (2022-01-07T10:37:22.744479Z)."""
    moment = moment.astimezone(dt.UTC) if moment.tzinfo else moment
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def token_for(seed: int, username: str) -> str:
    """The user's API token: 40 hex digits, a pure function of the seed (the same as `sandbox seed`'s)."""
    from .seed import user_token

    return user_token(seed, username)


def password_for(seed: int, username: str) -> str:
    from .seed import user_password

    return user_password(seed, username)


def content_hash(content: Mapping) -> str:
    return hashlib.sha1(json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def guess_mimetype(filename: str) -> str:
    kind, _ = mimetypes.guess_type(filename)
    if filename.lower().endswith(".csv"):
        return "text/csv"
    if filename.lower().endswith(".geojson"):
        return "application/geo+json"
    return kind or "application/octet-stream"


def _shared_pairs(pairs: list[tuple[str, Any]]) -> dict:
    """A decoded object whose keys and short string values are interned: 100,000 submissions share
    one copy of each question path and answer code (about a third of the memory of plain json.loads)."""
    return {sys.intern(k): (sys.intern(v) if v.__class__ is str and len(v) < 24 else v) for k, v in pairs}


_DECODER = json.JSONDecoder(object_pairs_hook=_shared_pairs)


def is_sandbox_dir(folder: Path) -> bool:
    return (folder / STATE_FILE).is_file() or (folder / SEED_FILE).is_file()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------- XLSForm -> Kobo content


def _sheet_rows(ws) -> tuple[list[str], list[dict[str, str]]]:
    from ..forms.workbook import cell_text, normalise_header

    rows_iter = ws.iter_rows(values_only=True)
    header_cells = next(rows_iter, ()) or ()
    positions = [(i, normalise_header(cell_text(v))) for i, v in enumerate(header_cells) if cell_text(v).strip()]
    rows = []
    for cells in rows_iter:
        values = {}
        for index, key in positions:
            if index < len(cells):
                text = cell_text(cells[index])
                if text.strip() != "":
                    values[key] = text.strip() if key in ("type", "name", "list_name") else text
        if values:
            rows.append(values)
    return [key for _, key in positions], rows


def read_xlsform_sheets(source: str | Path | bytes) -> dict[str, list[dict[str, str]]]:
    """The survey, choices and settings rows of an .xlsx, headers normalised as pyxform reads them."""
    from openpyxl import load_workbook

    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a file that is not a workbook
        raise ContentError(f"Unable to read the uploaded file as an XLSForm workbook: {exc}",
                           type(exc).__name__) from exc
    try:
        sheets = {}
        for ws in book.worksheets:
            name = ws.title.strip().lower()
            if name in ("survey", "choices", "settings", "external_choices"):
                sheets[name] = _sheet_rows(ws)[1]
    finally:
        book.close()
    if "survey" not in sheets:
        raise ContentError(_SURVEY_SHEET_MISSING)
    return sheets


def _kuid(salt: str, *parts: object) -> str:
    return base62(hashlib.sha256("\x1f".join([salt, *map(str, parts)]).encode()).digest(), 9)


def _truthy(value: str) -> bool:
    return str(value).strip().lower() in ("yes", "true", "true()", "1", "y")


def content_from_sheets(sheets: Mapping[str, list[Mapping[str, str]]], *, salt: str = "") -> dict:
    """Kobo asset content (KOBO_API.md §2.3) from XLSForm rows: `$kuid`, `$autoname`, `$xpath`,
    list-valued translated columns in `translations` order, `select_from_list_name`, `$autovalue`."""
    survey_rows = list(sheets.get("survey", []))
    choice_rows = list(sheets.get("choices", []))
    settings = dict((sheets.get("settings") or [{}])[0]) if sheets.get("settings") else {}
    if "form_id" in settings:
        settings["id_string"] = settings.pop("form_id")
    languages: dict[str | None, None] = {}
    translated: dict[str, None] = {}
    for row in survey_rows + choice_rows:
        for key in row:
            base, sep, lang = key.partition("::")
            if base in _TRANSLATABLE:
                languages.setdefault(lang if sep and lang else None, None)
                translated.setdefault(base, None)
    translations = list(languages) or [None]
    default = settings.get("default_language")
    if default in translations:
        translations.remove(default)
        translations.insert(0, default)
    salt = salt or settings.get("id_string", "")

    def translate(row: Mapping[str, str], out: dict) -> None:
        for base in translated:
            values = [row.get(f"{base}::{lang}" if lang else base) for lang in translations]
            if any(v is not None for v in values):
                out[base] = [v if v is not None else None for v in values]

    survey: list[dict] = []
    stack: list[tuple[str, str]] = []  # (name, kuid) of open groups and repeats
    for index, row in enumerate(survey_rows):
        raw_type = " ".join(row.get("type", "").split())
        words = raw_type.split(" ")
        type_name = _TYPE_ALIASES.get(raw_type.lower(), raw_type)
        item: dict[str, Any] = {}
        list_name = None
        if words and words[0] in _SELECT_TYPES and len(words) >= 2:
            type_name, list_name = words[0], words[1]
            if len(words) > 2 and words[2] == "or_other":
                item["_or_other"] = True
        elif " ".join(words[:2]).lower() in ("select one", "select all that apply") and len(words) >= 3:
            type_name, list_name = _TYPE_ALIASES[" ".join(words[:2]).lower()], words[-1]
        kuid = _kuid(salt, "survey", index, row.get("name", ""), type_name)
        if type_name in ("end_group", "end_repeat"):
            opened = stack.pop() if stack else ("", kuid)
            survey.append({"type": type_name, "$kuid": f"/{opened[1]}"})
            continue
        item = {"type": type_name, **item}
        name = row.get("name", "")
        if name:
            item["name"] = name
        item["$kuid"] = kuid
        if list_name:
            item["select_from_list_name"] = list_name
        translate(row, item)
        for key, value in row.items():
            base = key.partition("::")[0]
            if key in ("type", "name") or base in translated:
                continue
            item[key] = _truthy(value) if key in _BOOLEAN_COLUMNS else value
        autoname = name or f"{type_name}_{kuid[:4]}".lower()
        item["$autoname"] = autoname
        item["$xpath"] = "/".join([n for n, _ in stack] + [autoname])
        survey.append(item)
        if type_name in ("begin_group", "begin_repeat"):
            stack.append((autoname, kuid))
    choices = []
    for index, row in enumerate(choice_rows):
        item = {"list_name": row.get("list_name", ""), "name": row.get("name", "")}
        item["$autovalue"] = item["name"]
        item["$kuid"] = _kuid(salt, "choice", index, item["list_name"], item["name"])
        translate(row, item)
        for key, value in row.items():
            if key not in ("list_name", "name") and key.partition("::")[0] not in translated:
                item[key] = value
        choices.append(item)
    content: dict[str, Any] = {"schema": "1", "survey": survey}
    if choices:
        content["choices"] = choices
    content["settings"] = settings
    content["translated"] = sorted(translated)
    content["translations"] = translations
    return content


def content_from_xlsform(source: str | Path | bytes, *, salt: str = "") -> dict:
    return content_from_sheets(read_xlsform_sheets(source), salt=salt)


def normalise_content(content: Mapping, *, salt: str = "") -> dict:
    """What kpi's save does to posted content: list-valued labels, `$kuid`, `$autoname`, `$xpath`."""
    content = copy.deepcopy(dict(content))
    translations = content.get("translations") or [None]
    content["translations"] = translations
    translated = set(content.get("translated") or [])
    stack: list[str] = []
    survey = []
    for index, row in enumerate(content.get("survey") or []):
        if not isinstance(row, dict):
            raise SandboxError(400, {"content": ["Survey rows must be objects."]})
        row = dict(row)
        kind = _TYPE_ALIASES.get(str(row.get("type", "")), str(row.get("type", "")))
        row["type"] = kind
        if kind in ("end_group", "end_repeat"):
            if stack:
                stack.pop()
            row.setdefault("$kuid", _kuid(salt, "survey", index, kind))
            survey.append(row)
            continue
        for base in _TRANSLATABLE:
            if base in row and not isinstance(row[base], list):
                row[base] = [row[base]] + [None] * (len(translations) - 1)
                translated.add(base)
        row.setdefault("$kuid", _kuid(salt, "survey", index, row.get("name", ""), kind))
        row.setdefault("$autoname", row.get("name") or f"{kind}_{row['$kuid'][:4]}".lower())
        row["$xpath"] = "/".join(stack + [row["$autoname"]])
        if kind in ("begin_group", "begin_repeat"):
            stack.append(row["$autoname"])
        survey.append(row)
    content["survey"] = survey
    if "choices" in content:
        choices = []
        for index, row in enumerate(content.get("choices") or []):
            row = dict(row)
            if "label" in row and not isinstance(row["label"], list):
                row["label"] = [row["label"]] + [None] * (len(translations) - 1)
                translated.add("label")
            row.setdefault("$autovalue", row.get("name"))
            row.setdefault("$kuid", _kuid(salt, "choice", index, row.get("list_name"), row.get("name")))
            choices.append(row)
        content["choices"] = choices
    content.setdefault("settings", {})
    content.setdefault("schema", "1")
    content["translated"] = sorted(translated)
    return content


def content_to_xlsform_dict(content: Mapping, *, id_string: str = "", version_uid: str = "") -> dict:
    """The XLSForm (as pyxform's dict of sheets) a content stands for; kpi's deploy adds `__version__`."""
    translations = content.get("translations") or [None]

    def columns(row: Mapping, skip: tuple[str, ...]) -> dict:
        out: dict[str, Any] = {}
        for key, value in row.items():
            if key.startswith("$") or key in skip:
                continue
            if isinstance(value, list):
                for lang, text in zip(translations, value):
                    if text not in (None, ""):
                        out[f"{key}::{lang}" if lang else key] = text
            elif isinstance(value, bool):
                out[key] = "yes" if value else ""
            elif value is not None:
                out[key] = value
        return out

    survey = []
    for row in content.get("survey") or []:
        kind = row.get("type", "")
        if kind in ("end_group", "end_repeat"):
            survey.append({"type": kind.replace("_", " ")})
            continue
        item = columns(row, ("type", "select_from_list_name", "_or_other"))
        type_text = kind.replace("begin_", "begin ") if kind.startswith("begin_") else kind
        if row.get("select_from_list_name"):
            type_text = f"{kind} {row['select_from_list_name']}" + (" or_other" if row.get("_or_other") else "")
        item["type"] = type_text
        item.setdefault("name", row.get("$autoname", ""))
        survey.append(item)
    if version_uid:
        survey.append({"type": "calculate", "name": "__version__", "calculation": f"'{version_uid}'"})
    out: dict[str, list] = {"survey": survey}
    choices = [columns(row, ()) for row in content.get("choices") or []]
    if choices:
        out["choices"] = choices
    settings = {k: v for k, v in (content.get("settings") or {}).items() if not isinstance(v, (dict, list))}
    settings.pop("id_string", None)
    settings.pop("form_id", None)
    if id_string:
        settings["form_id"] = id_string
    if settings:
        out["settings"] = [settings]
    return out


def compile_content(content: Mapping, *, id_string: str, version_uid: str = "") -> str:
    """The XForm of a content, by pyxform (no ODK Validate); ContentError with pyxform's message."""
    from pyxform.xls2xform import convert

    try:
        result = convert(xlsform=content_to_xlsform_dict(content, id_string=id_string, version_uid=version_uid),
                         validate=False, form_name="data")
    except Exception as exc:  # pyxform raises PyXFormError and, on odd input, plain Python errors
        raise ContentError(str(exc) or type(exc).__name__, type(exc).__name__) from exc
    return result.xform


def geopoint_paths(content: Mapping) -> list[str]:
    """`$xpath` of the geopoint questions outside repeats (where `_geolocation` comes from)."""
    out, depth = [], 0
    for row in content.get("survey") or []:
        kind = row.get("type")
        if kind == "begin_repeat":
            depth += 1
        elif kind == "end_repeat":
            depth -= 1
        elif kind == "geopoint" and depth == 0 and row.get("$xpath"):
            out.append(row["$xpath"])
    return out


def content_summary(content: Mapping) -> dict:
    survey = content.get("survey") or []
    questions = [r for r in survey if r.get("type") not in ("end_group", "end_repeat", "begin_group",
                                                            "begin_repeat", "calculate", "note")]
    labels = []
    for row in questions[:5]:
        label = row.get("label")
        if isinstance(label, list) and label and label[0]:
            labels.append(label[0])
    columns = sorted({k for r in survey for k in r if not k.startswith("$")})
    translations = content.get("translations") or [None]
    return {"geo": any(r.get("type") in ("geopoint", "geotrace", "geoshape") for r in survey),
            "labels": labels, "columns": columns, "lock_all": False, "lock_any": False,
            "languages": translations, "row_count": len(questions),
            "default_translation": translations[0] if translations else None}


# --------------------------------------------------------------------------- the state


class SandboxState:
    """Everything the sandbox server knows. Every public method takes `self.lock` (an RLock)."""

    def __init__(self, data_dir: str | Path | None = None, *, seed: int = 0,
                 clock: Callable[[], dt.datetime] = utc_now):
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.seed = seed
        self.clock = clock
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.assets: dict[str, Asset] = {}
        self.imports: dict[str, ImportTask] = {}
        self.exports: dict[str, ExportTask] = {}
        self.next_id = 1_000_001
        self.serial = 0
        self.settings: dict[str, Any] = {"import_polls": 1, "export_polls": 1}
        self._subs: dict[str, dict[int, dict]] = {}
        self._sorted: dict[str, list[dict]] = {}
        self._latest: dict[str, str | None] = {}
        self._journal_ops: dict[str, int] = {}
        self._changed = False

    # ----------------------------------------------------------------- creation and persistence

    @classmethod
    def create(cls, data_dir: str | Path | None = None, *, seed: int = 0,
               clock: Callable[[], dt.datetime] = utc_now) -> SandboxState:
        """A fresh server with the four standard users and no assets; written to `data_dir` if given
        (as an empty seed layer too, so `sandbox seed` may later fill the same folder)."""
        state = cls(data_dir, seed=seed, clock=clock)
        if state.data_dir is not None and is_sandbox_dir(state.data_dir):
            raise InputError(f"{state.data_dir} already holds a sandbox; load it, or use another folder.")
        if state.data_dir is not None and state.data_dir.is_dir() and any(state.data_dir.iterdir()):
            raise InputError(f"{state.data_dir} is not empty and is not a sandbox folder; nothing was written there.",
                             hint="Give --data a new or empty folder, or one made by `desbumi-sync sandbox seed`.")
        joined = iso(clock())
        for username, first, last in ((OWNER, "Tim", "DESBUMI"), (VIEWER_ASSET, "Pemantau", "Proyek"),
                                      (VIEWER_DATA, "Pembaca", "Data"), (STRANGER, "Orang", "Lain")):
            state.users[username] = User(username=username, password=password_for(seed, username),
                                         token=token_for(seed, username), date_joined=joined,
                                         email=f"{username}@sandbox.invalid", first_name=first, last_name=last)
        if state.data_dir is not None:
            state.data_dir.mkdir(parents=True, exist_ok=True)
            users = [{**asdict(u), "permissions": {}} for u in state.users.values()]
            _write_atomic(state.data_dir / "users.json", json.dumps(users, indent=1).encode())
            marker = {"format": FORMAT, "seed": seed, "respondents": 0, "owner": OWNER, "assets": {}, "counts": {},
                      "next_id": state.next_id, "generator": "desbumi sandbox (empty)"}
            _write_atomic(state.data_dir / SEED_FILE, json.dumps(marker, indent=1).encode())
        state._write_state()
        return state

    @classmethod
    def load(cls, data_dir: str | Path, *, clock: Callable[[], dt.datetime] = utc_now) -> SandboxState:
        """The folder's sandbox: the runtime state if the server ran on it before, else the seed layer."""
        folder = Path(data_dir)
        if (folder / STATE_FILE).is_file():
            state = cls._load_runtime(folder, clock)
        elif (folder / SEED_FILE).is_file():
            state = cls._load_seed(folder, clock)
        else:
            raise InputError(f"{folder} holds no sandbox (neither {SEED_FILE} nor {STATE_FILE} is there).",
                             hint="Run `desbumi-sync sandbox seed --data DIR` first, or serve an empty folder.")
        for uid in state.assets:
            state._subs[uid] = state._replay(uid)
        state.next_id = max([state.next_id] + [max(s, default=0) + 1 for s in state._subs.values()])
        return state

    @classmethod
    def open(cls, data_dir: str | Path, *, seed: int = 0,
             clock: Callable[[], dt.datetime] = utc_now) -> SandboxState:
        """Load the folder's sandbox, or create an empty one there."""
        if is_sandbox_dir(Path(data_dir)):
            return cls.load(data_dir, clock=clock)
        return cls.create(data_dir, seed=seed, clock=clock)

    @classmethod
    def _load_runtime(cls, folder: Path, clock) -> SandboxState:
        path = folder / STATE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable sandbox state ({exc}).") from exc
        if raw.get("format") != FORMAT:
            raise InputError(f"{path}: sandbox format {raw.get('format')!r}, this version reads {FORMAT}.",
                             hint="Seed the folder again with `desbumi-sync sandbox seed`.")
        state = cls(folder, seed=raw.get("seed", 0), clock=clock)
        state.next_id = raw["next_id"]
        state.serial = raw["serial"]
        state.settings.update(raw.get("settings", {}))
        state.users = {u["username"]: User(**u) for u in raw["users"]}
        for item in raw["assets"]:
            versions = [Version(**v) for v in item.pop("versions")]
            deployment = Deployment(**item.pop("deployment")) if item.get("deployment") else None
            item.pop("deployment", None)
            files = [AssetFile(**f) for f in item.pop("files")]
            asset = Asset(**item, versions=versions, deployment=deployment, files=files)
            state.assets[asset.uid] = asset
        state.imports = {t["uid"]: ImportTask(**t) for t in raw.get("imports", [])}
        state.exports = {t["uid"]: ExportTask(**t) for t in raw.get("exports", [])}
        return state

    @classmethod
    def _load_seed(cls, folder: Path, clock) -> SandboxState:
        """The seed layer written by `sandbox seed` (its layout is documented in seed.py)."""
        try:
            meta = json.loads((folder / SEED_FILE).read_text(encoding="utf-8"))
            users = json.loads((folder / "users.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{folder}: the seeded sandbox cannot be read ({exc}).",
                             hint="Seed it again with `desbumi-sync sandbox seed --data DIR`.") from exc
        if meta.get("format") != FORMAT:
            raise InputError(f"{folder / SEED_FILE}: seed format {meta.get('format')!r}, this version reads {FORMAT}.",
                             hint="Seed the folder again with `desbumi-sync sandbox seed`.")
        state = cls(folder, seed=meta.get("seed", 0), clock=clock)
        state.next_id = int(meta.get("next_id") or state.next_id)
        grants: dict[str, dict[str, list[str]]] = {}
        for item in users:
            username = item["username"]
            state.users[username] = User(
                username=username, password=item.get("password") or password_for(state.seed, username),
                token=item.get("token"), date_joined=item.get("date_joined") or iso(clock()),
                email=item.get("email", ""), first_name=item.get("first_name", ""),
                last_name=item.get("last_name", ""), is_superuser=bool(item.get("is_superuser")),
                is_active=item.get("is_active", True))
            for uid, codes in (item.get("permissions") or {}).items():
                grants.setdefault(uid, {})[username] = list(codes)
        uids = list((meta.get("assets") or {}).values())
        assets_dir = folder / "assets"
        if assets_dir.is_dir():
            uids += sorted(p.name for p in assets_dir.iterdir() if p.is_dir() and p.name not in uids)
        for uid in uids:
            path = assets_dir / uid / "asset.json"
            if not path.is_file():
                continue
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{path}: not readable ({exc}); seed the folder again.") from exc
            state.assets[uid] = state._seeded_asset(folder, uid, raw, grants.get(uid, {}))
        return state

    def _seeded_asset(self, folder: Path, uid: str, raw: Mapping, grants: Mapping[str, list[str]]) -> Asset:
        base = folder / "assets" / uid
        owner = raw.get("owner", OWNER)
        asset = Asset(uid=uid, name=raw.get("name") or raw.get("form_id") or uid,
                      asset_type=raw.get("asset_type", "survey"), owner=owner,
                      date_created=raw.get("date_created") or self.now(),
                      date_modified=raw.get("date_modified") or self.now(),
                      settings=dict(raw.get("settings") or {"sector": {}, "country": [], "description": ""}),
                      form_id=raw.get("form_id"), scenario=dict(raw.get("scenario") or {}),
                      permissions={u: list(c) for u, c in grants.items() if u != owner})
        for item in raw.get("versions") or []:
            if isinstance(item.get("content"), dict):
                content = normalise_content(item["content"], salt=uid)
            else:
                xlsform = base / item.get("xlsform", "form.xlsx")
                try:
                    content = content_from_xlsform(xlsform, salt=uid)
                except ContentError as exc:
                    raise InputError(f"{xlsform}: {exc}; seed the folder again.") from exc
            asset.versions.append(Version(uid=item["uid"], name=asset.name, content=content,
                                          content_hash=content_hash(content),
                                          date_modified=item.get("date_modified") or asset.date_modified,
                                          deployed=bool(item.get("date_deployed"))))
        for item in raw.get("files") or []:
            path = base / item.get("path", f"files/{item['filename']}")
            data = path.read_bytes() if path.is_file() else b""
            digest = str(item.get("hash") or "").removeprefix("md5:") or hashlib.md5(data).hexdigest()
            asset.files.append(AssetFile(uid=item["uid"], file_type=item.get("file_type", "form_media"),
                                         description=item.get("description", "default"),
                                         date_created=item.get("date_created") or asset.date_created, user=owner,
                                         filename=item["filename"],
                                         mimetype=item.get("mimetype") or guess_mimetype(item["filename"]),
                                         md5=digest, size=len(data),
                                         path=str(path.relative_to(folder))))
        item = raw.get("deployment")
        if item:
            media = [{"uid": f.uid, "filename": f.filename, "hash": f"md5:{f.md5}"} for f, given in
                     zip(asset.files, raw.get("files") or []) if given.get("deployed", True) and not f.deleted]
            asset.deployment = Deployment(active=bool(item.get("active", True)),
                                          version_id=item.get("version_id") or asset.version_id or "",
                                          date_deployed=item.get("date_deployed") or asset.date_modified,
                                          uuid=item.get("uuid") or "", backend=item.get("backend", "openrosa"),
                                          media=media)
        return asset

    def save(self) -> None:
        """Write runtime/state.json (atomically) if anything changed, and compact the journals of
        unseeded assets. (Every change is already on disk when its method returns: this only tidies.)"""
        with self.lock:
            if self.data_dir is None or not self._changed:
                return
            self._write_state()
            for uid in self.assets:
                self._maybe_compact(uid)

    def _write_state(self) -> None:
        self._changed = True
        if self.data_dir is None:
            return
        raw = {"format": FORMAT, "seed": self.seed, "next_id": self.next_id, "serial": self.serial,
               "settings": self.settings, "users": [asdict(u) for u in self.users.values()],
               "assets": [asdict(a) for a in self.assets.values()],
               "imports": [asdict(t) for t in self.imports.values()],
               "exports": [asdict(t) for t in self.exports.values()]}
        _write_atomic(self.data_dir / STATE_FILE,
                      json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    def _runtime(self, *parts: str) -> Path:
        assert self.data_dir is not None
        return self.data_dir.joinpath(RUNTIME, *parts)

    def _journal_path(self, uid: str) -> Path:
        return self._runtime("submissions", f"{uid}.jsonl")

    def _base_path(self, uid: str) -> Path:
        assert self.data_dir is not None
        return self.data_dir / "assets" / uid / "submissions.jsonl"

    def _journal(self, uid: str, ops: list[dict]) -> None:
        self._changed = True
        if self.data_dir is None or not ops:
            return
        if not (self.data_dir / STATE_FILE).is_file():
            self._write_state()  # the first change to a seeded folder: the runtime layer begins
        path = self._journal_path(uid)
        path.parent.mkdir(parents=True, exist_ok=True)
        ops[-1] = {**ops[-1], "serial": self.serial, "next_id": self.next_id}  # counters survive a crash
        text = "".join(json.dumps(op, ensure_ascii=False, separators=(",", ":")) + "\n" for op in ops)
        with open(path, "a+b") as handle:
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a line torn by a crash stays alone on its line
                    text = "\n" + text
            handle.write(text.encode("utf-8"))
        self._journal_ops[uid] = self._journal_ops.get(uid, 0) + len(ops)

    def _replay(self, uid: str) -> dict[int, dict]:
        """The seed layer's documents (one per line), then the runtime journal's operations."""
        docs: dict[int, dict] = {}
        base = self._base_path(uid)
        if base.is_file():
            with open(base, encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        doc = _DECODER.decode(line)
                        docs[doc["_id"]] = doc
        path = self._journal_path(uid)
        ops = 0
        if path.is_file():
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    try:
                        op = _DECODER.decode(line)
                    except ValueError:  # a line cut short by a crash (the next append starts afresh)
                        continue
                    ops += 1
                    self.serial = max(self.serial, int(op.get("serial", 0)))
                    self.next_id = max(self.next_id, int(op.get("next_id", 0)))
                    if "put" in op:
                        docs[op["put"]["_id"]] = op["put"]
                    else:
                        docs.pop(op.get("delete"), None)
        self._journal_ops[uid] = ops
        return dict(sorted(docs.items()))

    def _maybe_compact(self, uid: str) -> None:
        """Rewrite a journal as its current documents when it has grown past them (unseeded assets only:
        a seeded asset's journal is a difference from its submissions.jsonl and stays as written)."""
        if self.data_dir is None or self._base_path(uid).is_file():
            return
        docs = self._subs.get(uid, {})
        if self._journal_ops.get(uid, 0) <= len(docs):
            return
        lines = [{"put": d} for d in docs.values()] or [{"delete": -1}]
        lines[-1] = {**lines[-1], "serial": self.serial, "next_id": self.next_id}
        text = "".join(json.dumps(op, ensure_ascii=False, separators=(",", ":")) + "\n" for op in lines)
        _write_atomic(self._journal_path(uid), text.encode("utf-8"))
        self._journal_ops[uid] = len(docs)

    # ----------------------------------------------------------------- identifiers and time

    def _draw(self, kind: str) -> bytes:
        self.serial += 1
        return hashlib.sha256(f"desbumi-sandbox:{self.seed}:{kind}:{self.serial}".encode()).digest()

    def new_uid(self, prefix: str, length: int = 21) -> str:
        with self.lock:
            return prefix + base62(self._draw(prefix), length)

    def new_uuid(self) -> str:
        with self.lock:
            return str(_uuid.UUID(bytes=self._draw("uuid")[:16], version=4))

    def rng(self) -> Random:
        with self.lock:
            return Random(self._draw("rng"))

    def now(self) -> str:
        return iso(self.clock())

    # ----------------------------------------------------------------- users and permissions

    def user_by_token(self, key: str) -> User | None:
        with self.lock:
            return next((u for u in self.users.values() if u.token and u.token == key), None)

    def token(self, username: str = OWNER) -> str:
        """The user's token (created if it was revoked)."""
        return self.get_or_create_token(username)[0]

    def get_or_create_token(self, username: str) -> tuple[str, bool]:
        with self.lock:
            user = self.users[username]
            if user.token:
                return user.token, False
            user.token = hashlib.sha1(self._draw("token")).hexdigest()
            self._write_state()
            return user.token, True

    def revoke_token(self, username: str) -> None:
        with self.lock:
            self.users[username].token = None
            self._write_state()

    def add_user(self, username: str, *, password: str | None = None, is_superuser: bool = False) -> User:
        with self.lock:
            user = User(username=username, password=password or password_for(self.seed, username),
                        token=token_for(self.seed, username), date_joined=self.now(),
                        email=f"{username}@sandbox.invalid", is_superuser=is_superuser)
            self.users[username] = user
            self._write_state()
            return user

    def permissions_of(self, asset: Asset, username: str | None) -> set[str]:
        """Effective codenames of a user (None = anonymous) on an asset, implied ones included."""
        user = self.users.get(username) if username is not None else None
        if user is not None and (username == asset.owner or user.is_superuser):
            return set(PERMISSIONS)
        granted = set(asset.permissions.get(username or ANONYMOUS, []))
        if username is not None:
            granted |= set(asset.permissions.get(ANONYMOUS, []))
        out = set(granted)
        for code in granted:
            out.update(IMPLIED.get(code, ()))
        return out

    def can(self, asset: Asset, username: str | None, codename: str) -> bool:
        return codename in self.permissions_of(asset, username)

    def grant(self, uid: str, username: str, *codenames: str) -> None:
        with self.lock:
            asset = self.asset(uid)
            have = asset.permissions.setdefault(username, [])
            have.extend(c for c in codenames if c not in have)
            self._write_state()

    def grant_standard(self, uid: str) -> None:
        """The contract's two partial users on one asset: view_asset only; view_submissions."""
        self.grant(uid, VIEWER_ASSET, "view_asset")
        self.grant(uid, VIEWER_DATA, "view_asset", "view_submissions")

    # ----------------------------------------------------------------- assets and versions

    def asset(self, uid: str) -> Asset:
        with self.lock:
            try:
                return self.assets[uid]
            except KeyError:
                raise SandboxError(404, {"detail": "Not found."}) from None

    def create_asset(self, name: str, asset_type: str = "survey", content: Mapping | None = None, *,
                     owner: str = OWNER, uid: str | None = None, version_uid: str | None = None,
                     settings: Mapping | None = None, standard_permissions: bool = False) -> Asset:
        """A new asset with its first version; with `standard_permissions`, `pemantau` gets view_asset
        and `pembaca` view_submissions on it (as `sandbox seed` grants on every seeded asset)."""
        if asset_type not in ASSET_TYPES:
            raise SandboxError(400, {"asset_type": [f'"{asset_type}" is not a valid choice.']})
        with self.lock:
            uid = uid or self.new_uid("a")
            if uid in self.assets:
                raise SandboxError(400, {"uid": ["asset with this uid already exists."]})
            now = self.now()
            asset = Asset(uid=uid, name=name, asset_type=asset_type, owner=owner, date_created=now,
                          date_modified=now, settings=dict(settings or {"sector": {}, "country": [],
                                                                           "description": ""}))
            normal = normalise_content(content or {"survey": [], "settings": {}}, salt=uid)
            asset.versions.append(Version(uid=version_uid or self.new_uid("v"), name=name, content=normal,
                                          content_hash=content_hash(normal), date_modified=now))
            self.assets[uid] = asset
            self._subs[uid] = {}
            if standard_permissions:
                for username, codes in ((VIEWER_ASSET, ["view_asset"]),
                                        (VIEWER_DATA, ["view_asset", "view_submissions"])):
                    if username in self.users and username != owner:
                        asset.permissions[username] = list(codes)
            self._write_state()
            return asset

    def update_asset(self, uid: str, *, name: str | None = None, content: Mapping | None = None,
                     settings: Mapping | None = None, version_uid: str | None = None,
                     normalised: bool = False) -> Asset:
        """PATCH semantics: a new version only when the content or the name changed."""
        with self.lock:
            asset = self.asset(uid)
            current = asset.version
            new_name = asset.name if name is None else name
            new_content = current.content if current and content is None else (
                dict(content) if normalised else normalise_content(content or {}, salt=uid))
            digest = content_hash(new_content)
            now = self.now()
            if current is None or digest != current.content_hash or new_name != current.name:
                asset.versions.append(Version(uid=version_uid or self.new_uid("v"), name=new_name,
                                              content=new_content, content_hash=digest, date_modified=now))
                asset.date_modified = now
            asset.name = new_name
            if settings is not None:
                asset.settings = dict(settings)
                asset.date_modified = now
            self._write_state()
            return asset

    def import_xlsform(self, source: str | Path | bytes, *, owner: str = OWNER, library: bool = False,
                       destination: str | None = None, name: str | None = None, uid: str | None = None,
                       version_uid: str | None = None, standard_permissions: bool = False) -> tuple[Asset, bool]:
        """Convert an XLSForm to content and create (library → a block) or replace an asset.

        Returns (asset, created). ContentError when the workbook cannot be read."""
        sheets = read_xlsform_sheets(source)
        settings = (sheets.get("settings") or [{}])[0]
        title = settings.get("form_title") or name or settings.get("form_id") or "Untitled"
        with self.lock:
            if destination:
                asset = self.asset(destination)
                if not self.can(asset, owner, "change_asset"):
                    raise ContentError("You do not have permission to perform this action.", "PermissionDenied")
                content = content_from_sheets(sheets, salt=asset.uid)
                self.update_asset(asset.uid, name=title, content=content, version_uid=version_uid, normalised=True)
                return asset, False
            kind = "survey"
            if library:
                kind = "block" if len(sheets.get("survey", [])) > 1 else "question"
            uid = uid or self.new_uid("a")
            content = content_from_sheets(sheets, salt=uid)
            asset = self.create_asset(title, kind, None, owner=owner, uid=uid, version_uid=version_uid,
                                      standard_permissions=standard_permissions)
            asset.versions[-1].content = content
            asset.versions[-1].content_hash = content_hash(content)
            self._write_state()
            return asset, True

    # ----------------------------------------------------------------- deployment

    def deploy(self, uid: str, *, version_id: str | None = None, active: bool = True,
               xform_uuid: str | None = None, validate: bool = True) -> Deployment:
        """First deploy or redeploy of the current version (kpi refuses any other: see the server)."""
        with self.lock:
            asset = self.asset(uid)
            version = asset.version
            if version is None:
                raise SandboxError(400, {"error": "The asset has no content to deploy."})
            if version_id is not None and version_id != version.uid:
                raise NotImplementedError("Only the current version_id can be deployed")
            if asset.asset_type != "survey":
                raise TypeError(f"Only surveys may be deployed, but `{asset.asset_type}` was given")
            if validate:
                try:
                    compile_content(version.content, id_string=asset.uid, version_uid=version.uid)
                except ContentError as exc:
                    raise SandboxError(400, {"error": str(exc)}) from None
            now = self.now()
            media = [{"uid": f.uid, "filename": f.filename, "hash": f"md5:{f.md5}"}
                     for f in asset.live_files("form_media")]
            if asset.deployment is None:
                asset.deployment = Deployment(active=active, version_id=version.uid, date_deployed=now,
                                              uuid=xform_uuid or self.new_uuid().replace("-", ""), media=media)
            else:
                asset.deployment.active = active
                asset.deployment.version_id = version.uid
                asset.deployment.date_deployed = now
                asset.deployment.media = media
                if xform_uuid:
                    asset.deployment.uuid = xform_uuid
            version.deployed = True
            asset.date_modified = now
            self._write_state()
            return asset.deployment

    def set_active(self, uid: str, active: bool) -> Deployment:
        with self.lock:
            asset = self.asset(uid)
            if asset.deployment is None:
                raise SandboxError(405, {"detail": "Use POST to create a new deployment"})
            asset.deployment.active = active
            asset.date_modified = self.now()
            self._write_state()
            return asset.deployment

    # ----------------------------------------------------------------- files

    def add_file(self, uid: str, filename: str, data: bytes | None, *, description: str = "default",
                 file_type: str = "form_media", mimetype: str | None = None, user: str = OWNER,
                 redirect_url: str | None = None, method: str = "content") -> AssetFile:
        """Upload a form media file; 400 for a duplicate name or a MIME type Kobo refuses."""
        with self.lock:
            asset = self.asset(uid)
            mimetype = mimetype or guess_mimetype(filename)
            if file_type == "form_media":
                family = mimetype.split("/")[0]
                if redirect_url is None and not (family in ("image", "audio", "video") or mimetype in (
                        "text/csv", "application/xml", "text/xml", "application/zip", "application/geo+json")):
                    raise SandboxError(400, {method: "Only `image`, `audio`, `video`, `text/csv`, "
                                                     "`application/xml`, `application/zip`, "
                                                     "`application/geo+json` MIME types are allowed"})
                if any(f.filename == filename for f in asset.live_files("form_media")):
                    raise SandboxError(400, {method: "File already exists"})
            data = data or b""
            item = AssetFile(uid=self.new_uid("af"), file_type=file_type, description=description,
                             date_created=self.now(), user=user, filename=filename, mimetype=mimetype,
                             md5=hashlib.md5(data).hexdigest(), size=len(data), redirect_url=redirect_url)
            if self.data_dir is not None:
                item.path = f"{RUNTIME}/files/{uid}/{item.uid}"
                _write_atomic(self.data_dir / item.path, data)
            else:
                self._memory_blobs()[("files", uid, item.uid)] = data
            asset.files.append(item)
            self._write_state()
            return item

    def delete_file(self, uid: str, af_uid: str) -> None:
        with self.lock:
            item = self.file(uid, af_uid)
            item.deleted = True
            self._write_state()

    def file(self, uid: str, af_uid: str) -> AssetFile:
        with self.lock:
            asset = self.asset(uid)
            item = next((f for f in asset.files if f.uid == af_uid and not f.deleted), None)
            if item is None:
                raise SandboxError(404, {"detail": "Not found."})
            return item

    def file_bytes(self, uid: str, af_uid: str) -> bytes:
        self.file(uid, af_uid)
        if self.data_dir is None:
            return self._memory_blobs().get(("files", uid, af_uid), b"")
        item = self.file(uid, af_uid)
        path = self.data_dir / (item.path or f"{RUNTIME}/files/{uid}/{af_uid}")
        return path.read_bytes() if path.is_file() else b""

    def _memory_blobs(self) -> dict:
        if not hasattr(self, "_blobs"):
            self._blobs: dict[tuple, bytes] = {}
        return self._blobs

    # ----------------------------------------------------------------- submissions

    def submissions(self, uid: str) -> list[dict]:
        """Current documents of an asset, `_id` ascending. The list is a snapshot: never mutate it."""
        with self.lock:
            cached = self._sorted.get(uid)
            if cached is None:
                cached = list(self._subs.get(uid, {}).values())
                if any(cached[i]["_id"] > cached[i + 1]["_id"] for i in range(len(cached) - 1)):
                    cached.sort(key=lambda d: d["_id"])
                self._sorted[uid] = cached
            return cached

    def submission(self, uid: str, key: int | str) -> dict:
        """By integer `_id`, or (as 2.026.07+) by rootUuid or `_uuid`; 404 when unknown."""
        with self.lock:
            docs = self._subs.get(uid, {})
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                doc = docs.get(int(key))
                if doc is not None:
                    return doc
            elif isinstance(key, str):
                bare = key.removeprefix("uuid:")
                for doc in docs.values():
                    if doc.get("_uuid") == bare or doc.get("meta/rootUuid") == f"uuid:{bare}":
                        return doc
            raise SandboxError(404, {"detail": "Not found."})

    def count(self, uid: str) -> int:
        with self.lock:
            return len(self._subs.get(uid, {}))

    def last_submission_time(self, uid: str) -> str | None:
        """The latest `_submission_time` as the asset shows it (ISO with Z), cached until a change."""
        with self.lock:
            if uid not in self._latest:
                times = (d.get("_submission_time") or "" for d in self._subs.get(uid, {}).values())
                latest = max(times, default="")
                self._latest[uid] = f"{latest}Z" if latest else None
            return self._latest[uid]

    def _store(self, uid: str, docs: list[dict]) -> None:
        table = self._subs.setdefault(uid, {})
        for doc in docs:
            table[doc["_id"]] = doc
            if doc["_id"] >= self.next_id:
                self.next_id = doc["_id"] + 1
        self._sorted.pop(uid, None)
        self._latest.pop(uid, None)
        self._journal(uid, [{"put": d} for d in docs])

    def load_submissions(self, uid: str, docs: Iterable[Mapping]) -> int:
        """Store complete Kobo documents as given (seeding): a later document with the same `_id`
        replaces the earlier one, as an edit does. Download URLs are dropped (the server adds its own)."""
        with self.lock:
            self.asset(uid)
            batch = [_strip_urls(dict(d)) for d in docs]
            for doc in batch:
                if not isinstance(doc.get("_id"), int):
                    raise SandboxError(400, {"detail": "Every document needs an integer `_id`."})
            self._store(uid, batch)
            return len(batch)

    def _ids(self, asset: Asset, version_uid: str | None = None) -> KoboIds:
        if asset.deployment is None:
            raise SandboxError(400, {"detail": "The specified asset has not been deployed"})
        return KoboIds(asset_uid=asset.uid, version_uid=version_uid or asset.deployment.version_id,
                       xform_uuid=asset.deployment.uuid)

    def add_submission(self, uid: str, answers: Mapping[str, Any], *, submitted_by: str | None = OWNER,
                       submission_time: str | None = None, instance_uuid: str | None = None,
                       submission_id: int | None = None, version_uid: str | None = None,
                       attachments: list[Mapping] | None = None) -> dict:
        """A new submission to a deployed form, wrapped in Kobo's envelope (§3.4).

        `answers`: question paths -> string values (repeats as lists of objects); envelope keys in it
        (`_uuid`, `meta/instanceID`, `_submission_time`, `_submitted_by`, `__version__`, `_id`) are used
        when given. `attachments`: [{"filename", "mimetype", "question_xpath", "data": bytes}]."""
        with self.lock:
            asset = self.asset(uid)
            answers = dict(answers)
            instance_uuid = (instance_uuid or answers.pop("_uuid", None)
                             or (answers.get("meta/instanceID") or "").removeprefix("uuid:") or self.new_uuid())
            submission_id = submission_id or answers.pop("_id", None) or self.next_id
            if submission_id in self._subs.get(uid, {}):
                raise SandboxError(400, {"detail": f"A submission with _id {submission_id} already exists."})
            submitted_by = answers.pop("_submitted_by", submitted_by)
            when = submission_time or answers.pop("_submission_time", None) or kobo_time(self.clock())
            version_uid = version_uid or answers.pop("__version__", None)
            ids = self._ids(asset, version_uid)
            root = (answers.get("meta/rootUuid") or "").removeprefix("uuid:") or None
            atts = self._attachments(uid, submission_id, attachments, instance_uuid if root is None else root)
            doc = envelope(_answers_only(answers), ids=ids, submission_id=submission_id, instance_uuid=instance_uuid,
                           submitted_at=when, submitted_by=submitted_by, root_uuid=root, attachments=atts,
                           geopoint_paths=geopoint_paths(asset.content))
            self._store(uid, [doc])
            return doc

    def edit_submission(self, uid: str, submission_id: int, answers: Mapping[str, Any], *,
                        instance_uuid: str | None = None, version_uid: str | None = None,
                        attachments: list[Mapping] | None = None) -> dict:
        """An edit (§3.6): same `_id`, `_submission_time`, `_submitted_by`, `_validation_status`,
        `meta/rootUuid`; new `_uuid`/`meta/instanceID`; `meta/deprecatedID` = the previous instanceID;
        answers replaced wholesale. Attachments: the new ones given, else the previous ones whose file
        name is still an answer."""
        with self.lock:
            asset = self.asset(uid)
            previous = self.submission(uid, int(submission_id))
            answers = dict(answers)
            instance_uuid = (instance_uuid or answers.pop("_uuid", None)
                             or (answers.get("meta/instanceID") or "").removeprefix("uuid:") or self.new_uuid())
            if instance_uuid == previous.get("_uuid"):
                instance_uuid = self.new_uuid()
            version_uid = version_uid or answers.pop("__version__", None)
            plain = _answers_only(answers)
            if attachments is None:
                names = {v for v in _leaf_values(plain)}
                atts = [a for a in previous.get("_attachments", []) if a.get("media_file_basename") in names]
            else:
                root = (previous.get("meta/rootUuid") or "").removeprefix("uuid:")
                atts = self._attachments(uid, previous["_id"], attachments, root)
            doc = edited(previous, plain, instance_uuid=instance_uuid, attachments=atts,
                         geopoint_paths=geopoint_paths(asset.content), version_uid=version_uid)
            self._store(uid, [doc])
            return doc

    def patch_submissions(self, uid: str, ids: list[int], data: Mapping[str, Any]) -> list[dict]:
        """`PATCH data/bulk/`: set the given answers on each submission (an edit each)."""
        protected = {"_id", "_uuid", "meta/instanceID", "meta/rootUuid", "meta/deprecatedID", "formhub/uuid",
                     "_submission_time", "_submitted_by", "_xform_id_string", "_validation_status", "__version__",
                     "_attachments", "_status", "_geolocation"}
        out = []
        with self.lock:
            for submission_id in ids:
                previous = self.submission(uid, submission_id)
                answers = _answers_only(previous)
                answers.update({k: v for k, v in data.items() if k not in protected})
                out.append(self.edit_submission(uid, submission_id, answers,
                                                attachments=None))
        return out

    def delete_submissions(self, uid: str, ids: Iterable[int]) -> int:
        with self.lock:
            table = self._subs.get(uid, {})
            gone = [i for i in ids if table.pop(int(i), None) is not None]
            self._sorted.pop(uid, None)
            self._latest.pop(uid, None)
            self._journal(uid, [{"delete": i} for i in gone])
            return len(gone)

    def delete_submission(self, uid: str, submission_id: int) -> None:
        with self.lock:
            self.submission(uid, int(submission_id))
            self.delete_submissions(uid, [int(submission_id)])

    def set_validation_status(self, uid: str, submission_id: int, status_uid: str | None,
                              by_whom: str = OWNER) -> dict:
        """Set (or with None/"" clear) `_validation_status`; the `_uuid` does not change."""
        with self.lock:
            previous = self.submission(uid, int(submission_id))
            doc = dict(previous)
            if status_uid:
                if status_uid not in VALIDATION_STATUSES:
                    raise SandboxError(400, {"detail": f"Invalid validation status uid: {status_uid}"})
                label, color = VALIDATION_STATUSES[status_uid]
                doc["_validation_status"] = {"timestamp": int(self.clock().timestamp()), "uid": status_uid,
                                             "by_whom": by_whom, "color": color, "label": label}
            else:
                doc["_validation_status"] = {}
            self._store(uid, [doc])
            return doc

    # ----------------------------------------------------------------- attachments

    def _attachments(self, uid: str, submission_id: int, attachments: list[Mapping] | None,
                     root_uuid: str) -> list[dict]:
        if not attachments:
            return []
        asset = self.asset(uid)
        rng = self.rng()
        items = [{"filename": Path(str(a["filename"])).name or "file",
                  "mimetype": a.get("mimetype") or guess_mimetype(str(a["filename"])),
                  "question_xpath": a.get("question_xpath", "")} for a in attachments]
        docs = attachment_docs(items, rng=rng, owner=asset.owner, xform_uuid=self._ids(asset).xform_uuid,
                               root_uuid=f"uuid:{root_uuid}")
        for doc, given in zip(docs, attachments):
            if given.get("data") is not None:
                self.put_attachment(uid, doc["uid"], given["data"])
        return docs

    def put_attachment(self, uid: str, att_uid: str, data: bytes) -> None:
        """Store the bytes behind an attachment uid (seeding and field simulation)."""
        with self.lock:
            if self.data_dir is None:
                self._memory_blobs()[("attachments", uid, att_uid)] = bytes(data)
            else:
                _write_atomic(self._runtime("attachments", uid, att_uid), bytes(data))

    def attachment(self, uid: str, submission_id: int | str, att_uid: str) -> tuple[dict, bytes]:
        """The attachment object and its bytes (a deterministic placeholder when none were stored)."""
        with self.lock:
            doc = self.submission(uid, submission_id)
            item = next((a for a in doc.get("_attachments", [])
                         if a.get("uid") == att_uid or str(a.get("id")) == str(att_uid)), None)
            if item is None or item.get("is_deleted"):
                raise SandboxError(404, {"detail": "Not found."})
            key = item.get("uid") or str(item.get("id"))
            if self.data_dir is None:
                data = self._memory_blobs().get(("attachments", uid, key))
            else:
                path = self._runtime("attachments", uid, key)
                data = path.read_bytes() if path.is_file() else None
            if data is None:
                data = seeded_attachment_bytes(item)
            return item, data

    # ----------------------------------------------------------------- imports and exports

    def new_import(self, owner: str, data: bytes, params: Mapping[str, Any]) -> ImportTask:
        with self.lock:
            task = ImportTask(uid=self.new_uid("i"), owner=owner, date_created=self.now(), status="processing",
                              params=dict(params))
            if self.data_dir is not None:
                _write_atomic(self._runtime("imports", f"{task.uid}.xlsx"), data)
            else:
                self._memory_blobs()[("imports", task.uid)] = data
            self.imports[task.uid] = task
            self._write_state()
            return task

    def poll_import(self, iuid: str) -> ImportTask:
        """Count a poll; after `settings["import_polls"]` polls the import runs and completes or fails."""
        with self.lock:
            task = self.imports.get(iuid)
            if task is None:
                raise SandboxError(404, {"detail": "Not found."})
            if task.status != "processing":
                return task
            task.polls += 1
            if task.polls <= int(self.settings.get("import_polls", 1)):
                self._write_state()
                return task
            data = self._runtime("imports", f"{iuid}.xlsx").read_bytes() if self.data_dir is not None \
                else self._memory_blobs()[("imports", iuid)]
            params = task.params
            try:
                asset, created = self.import_xlsform(data, owner=task.owner, library=params.get("library", True),
                                                     destination=params.get("destination"), name=params.get("name"))
            except ContentError as exc:
                task.status = "error"
                task.messages = {"error_type": exc.error_type, "error": str(exc)}
            except SandboxError as exc:
                task.status = "error"
                detail = exc.body.get("detail", exc.body) if isinstance(exc.body, dict) else exc.body
                task.messages = {"error_type": "Http404" if exc.status == 404 else "ValidationError",
                                 "error": str(detail)}
            else:
                task.status = "complete"
                entry = {"uid": asset.uid, "summary": content_summary(asset.content), "kind": "asset",
                         "owner__username": asset.owner}
                task.messages = {"created" if created else "updated": [entry]}
                if not created:
                    task.messages["audit_logs"] = []
            self._write_state()
            return task

    def new_export(self, uid: str, owner: str, data: Mapping[str, Any]) -> tuple[ExportTask, bool]:
        """A new export task, or the identical one still running (created=False)."""
        with self.lock:
            for task in self.exports.values():
                if task.asset_uid == uid and task.owner == owner and task.data == dict(data) \
                        and task.status in ("created", "processing"):
                    return task, False
            task = ExportTask(uid=self.new_uid("e"), asset_uid=uid, owner=owner, date_created=self.now(),
                              data=dict(data), status="created")
            self.exports[task.uid] = task
            mine = [t for t in self.exports.values() if t.asset_uid == uid and t.owner == owner]
            for old in mine[:-10]:  # MAXIMUM_EXPORTS_PER_USER_PER_FORM
                del self.exports[old.uid]
            self._write_state()
            return task, True

    def poll_export(self, euid: str, build: Callable[[ExportTask], tuple[str, bytes]]) -> ExportTask:
        """Count a poll; after `settings["export_polls"]` polls `build(task)` -> (file name, bytes) runs."""
        with self.lock:
            task = self.exports.get(euid)
            if task is None:
                raise SandboxError(404, {"detail": "Not found."})
            if task.status in ("complete", "error"):
                return task
            task.polls += 1
            if task.polls <= int(self.settings.get("export_polls", 1)):
                task.status = "processing"
                self._write_state()
                return task
            try:
                name, data = build(task)
            except Exception as exc:
                task.status = "error"
                task.messages = {"error": str(exc), "error_type": type(exc).__name__}
            else:
                task.status = "complete"
                task.result = name
                task.last_submission_time = self.last_submission_time(task.asset_uid)
                if self.data_dir is not None:
                    _write_atomic(self._runtime("exports", euid, name), data)
                else:
                    self._memory_blobs()[("exports", euid)] = data
            self._write_state()
            return task

    def export_bytes(self, euid: str) -> bytes:
        with self.lock:
            task = self.exports.get(euid)
            if task is None or task.result is None:
                raise SandboxError(404, {"detail": "Not found."})
            if self.data_dir is None:
                return self._memory_blobs()[("exports", euid)]
            return self._runtime("exports", euid, task.result).read_bytes()

    # ----------------------------------------------------------------- settings

    def configure(self, **settings: Any) -> None:
        with self.lock:
            self.settings.update(settings)
            self._write_state()


# --------------------------------------------------------------------------- document helpers

_ENVELOPE = {"_id", "formhub/uuid", "__version__", "meta/instanceID", "meta/rootUuid", "meta/deprecatedID",
             "_xform_id_string", "_uuid", "_attachments", "_status", "_geolocation", "_submission_time",
             "_validation_status", "_submitted_by", "_tags", "_notes"}


def _answers_only(doc: Mapping[str, Any]) -> dict:
    return {k: v for k, v in doc.items() if k not in _ENVELOPE}


def _leaf_values(value: Any) -> Iterable[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaf_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaf_values(item)
    elif isinstance(value, str):
        yield value


def _strip_urls(doc: dict) -> dict:
    atts = doc.get("_attachments")
    if atts:
        doc["_attachments"] = [{k: v for k, v in a.items() if not (k.startswith("download_") and k.endswith("url"))}
                               for a in atts]
    return doc


_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                     "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4c00000000049454e44ae426082")


def placeholder_bytes(item: Mapping[str, Any]) -> bytes:
    """Stand-in bytes for an attachment seeded without a file: stable for its uid."""
    seed = hashlib.sha256(str(item.get("uid") or item.get("id")).encode()).hexdigest()
    if str(item.get("mimetype", "")).startswith("image/png"):
        return _PNG + seed.encode()
    return f"desbumi sandbox placeholder for {item.get('media_file_basename', 'file')} {seed}\n".encode()


def seeded_attachment_bytes(item: Mapping[str, Any]) -> bytes:
    """What `sandbox seed` promises for an attachment it generated without storing bytes."""
    try:
        from .seed import attachment_bytes
    except ImportError:  # pragma: no cover — seed.py ships with this module
        return placeholder_bytes(item)
    return attachment_bytes(dict(item))


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    return _SAFE.sub("_", Path(name).name) or "file"


__all__ = [
    "ANONYMOUS",
    "OWNER",
    "PERMISSIONS",
    "STRANGER",
    "VIEWER_ASSET",
    "VIEWER_DATA",
    "Asset",
    "AssetFile",
    "ContentError",
    "Deployment",
    "ExportTask",
    "ImportTask",
    "SandboxError",
    "SandboxState",
    "User",
    "Version",
    "compile_content",
    "content_from_sheets",
    "content_from_xlsform",
    "content_summary",
    "content_to_xlsform_dict",
    "geopoint_paths",
    "iso",
    "normalise_content",
    "password_for",
    "placeholder_bytes",
    "read_xlsform_sheets",
    "token_for",
]
