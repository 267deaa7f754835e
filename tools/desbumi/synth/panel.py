"""Year-two submissions in Kobo's JSON shape, generated from the compiled form, with panel dynamics.

    y1 = year_one(400, seed=1, form=y1_form)
    result = submissions(y2_form, y1, seed=1)
    result.submissions        # current version of every submission, `_id` ascending (KOBO_API.md §3.4)
    result.history            # _id -> earlier versions of edited submissions, oldest first (§3.6)
    result.truth              # per submission: who it really is, the scenario, typo/duplicate/edit flags
    result.deleted            # _ids a data officer deletes later (still in `submissions`; §3.7)

Panel dynamics (PanelDynamics, all shares with defaults): most year-one respondents are found and
interviewed; the others get a submission with another tracking status (moved, abroad again,
deceased, refused, not found) or none at all (never visited); some refuse consent; new respondents
join the refresh sample; a few interviews are submitted twice (a second enumerator, days later); a
few `resp_id`s are mistyped; some submissions are edited once or twice (same `_id`, new `_uuid`,
`meta/deprecatedID`).

What the form must provide (PanelContract names them; the defaults are the real year-two form's):
- `kab`: select_one of district codes, the same codes as the preload CSV's `kab` column;
- `desa`: a select (usually select_one_from_file desa.csv filtered by kab), codes as the CSV's `desa`;
- `resp_id_y1`: select_one_from_file of the preload CSV (responden_y1.csv), value column = the
  year-one resp_id, filtered by kab/desa; its relevance names the panel/new switch (`sampel`: the
  code that shows it is "panel", the one labelled "baru"/"new" opens the refresh path; or give
  `panel_respondent` / `new_respondent` answers);
- `status_lacak`: select_one tracking status; "interviewed" codes are the ones labelled
  diwawancarai/interviewed (not refused), or `interviewed=(...)`;
- `persetujuan`: select_one consent; refusal = the choice labelled menolak/tidak/refused or code 0.
  Yes/no questions its relevance depends on (e.g. `konfirmasi`, "same person?") are answered yes
  when an interview goes ahead (or give `go_ahead`);
- `resp_id`: the final id (a calculate or a text); typos are applied to it.
The preload CSV defaults to the columns panel/preload.toml defines for the form (pass `media` to
override). Without a year-one file, `submissions(form, n=100)` fills any form.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from random import Random
from typing import Any, Mapping

from ..errors import InputError
from . import vocab
from .engine import K_QUESTION, MISSING_CODES, Options, Plan, SynthError, _walk
from .kobo import (
    KoboIds,
    attachment_docs,
    device_time,
    edited,
    envelope,
    kobo_ids,
    kobo_time,
    new_uuid,
)
from .model import Form, Node, load_form


@dataclass(frozen=True)
class PanelContract:
    """Field names (and codes) of the year-two form the panel scenario drives."""

    kab: str = "kab"
    desa: str = "desa"
    resp_id_y1: str = "resp_id_y1"
    tracking: str = "status_lacak"
    consent: str = "persetujuan"
    resp_id: str = "resp_id"
    interviewed: tuple[str, ...] = ()  # tracking codes for "found and interviewed"; () = by label, else "1"
    consent_refused: tuple[str, ...] = ()  # () = the choices labelled tidak/menolak/no/refuse, or code 0
    new_respondent: Mapping[str, str] | None = None  # answers that open the refresh path; None = find it
    panel_respondent: Mapping[str, str] | None = None  # answers that open the panel path; None = find it
    go_ahead: Mapping[str, str] | None = None  # answers an interview needs before consent; None = find it
    y1_key: str = "resp_id"  # the year-one column holding the id
    y1_kab: str = "kab"
    y1_desa: str = "desa"


@dataclass(frozen=True)
class PanelDynamics:
    reinterview: float = 0.80  # year-one respondents found and interviewed
    unvisited: float = 0.02  # year-one respondents with no submission at all
    refusal: float = 0.03  # of those found, share who refuse consent
    refresh: float = 0.08  # new respondents, as a share of year one
    duplicates: float = 0.015  # interviews submitted twice
    typos: float = 0.01  # submissions whose resp_id is mistyped
    edits: float = 0.04  # submissions edited after upload
    second_edits: float = 0.2  # of the edited, share edited a second time
    deletions: float = 0.0  # submissions a data officer deletes later (duplicates first)
    status_weights: Mapping[str, float] | None = None  # tracking code -> weight among "not interviewed"


@dataclass(frozen=True)
class Fieldwork:
    start: dt.date = dt.date(2026, 3, 2)
    days: int = 45
    enumerators_per_district: int = 3
    upload_delay_hours: tuple[float, float] = (0.25, 96.0)  # offline for up to four days
    anonymous: float = 0.0  # share submitted without a login (_submitted_by null)
    first_id: int = 1_000_001
    ids: KoboIds | None = None  # default: kobo_ids(form id, version)
    owner: str = "desbumi"  # the account owning the project (attachment file paths)
    base_url: str = ""  # when set, attachments carry download URLs on this server
    legacy: bool = False  # add `_tags`/`_notes` as servers before 2.026.23 did


@dataclass
class SynthResult:
    submissions: list[dict]
    history: dict[int, list[dict]] = field(default_factory=dict)
    truth: list[dict] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    media: dict[str, list[dict]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def versions(self) -> list[dict]:
        """Every version of every submission in upload order of its first version (for seeding a server)."""
        out = []
        for doc in self.submissions:
            out.extend(self.history.get(doc["_id"], []))
            out.append(doc)
        return out


@dataclass
class _Interview:
    kind: str  # panel | new | duplicate | plain
    forced: dict
    kab: str
    resp_id_true: str = ""
    status: str = ""
    consent: str = ""
    of: int = -1  # index of the interview a duplicate copies
    long: bool = True  # a full interview (else a short tracking visit)
    when: dt.datetime | None = None
    seed: int = 0
    enumerator: int = 0


STATUS_WORDS = (  # label keywords -> weight among the not-interviewed
    (("dalam kab", "within", "pindah dalam", "masih di"), 0.10),
    (("luar kab", "moved away", "pindah ke luar", "keluar kab", "pindah luar"), 0.20),
    (("luar negeri", "abroad", "migrasi lagi", "bekerja di luar", "berangkat lagi"), 0.35),
    (("meninggal", "deceased", "died", "wafat"), 0.05),
    (("menolak", "refus"), 0.12),
    (("tidak ditemukan", "not found", "tidak ketemu"), 0.15),
)
NEW_WORDS = ("baru", "new", "pengganti", "refresh")


def preload_rows(year_one_rows: list[dict], *, key: str = "resp_id", label: str = "{nama_responden}",
                 columns: Mapping[str, Any] | None = None) -> list[dict]:
    """The preload CSV a form would see, built from year-one rows: `name` = the id, `label`, and the
    year-one columns; or `columns`: output column -> a year-one column, a '{template}', or the parsed
    template of a panel/preload.toml definition (PreloadSpec.columns)."""
    if columns is not None:  # only the columns asked for are read (a year-one row has a hundred)
        spec = [(column, _copied_column(source), _renderer(source)) for column, source in columns.items()]
        out = []
        for row in year_one_rows:
            item = {}
            for column, copied, render in spec:
                if copied is not None:  # most preload columns copy one year-one column as text
                    value = row.get(copied)
                    item[column] = "" if value is None else value if value.__class__ is str else _cell(value)
                else:
                    item[column] = render(row)
            out.append(item)
        return out
    out = []
    for row in year_one_rows:
        text = {k: ("" if v is None else _cell(v)) for k, v in row.items()}
        out.append({"name": text.get(key, ""), "label": _render(label, text), **text})
    return out


def _cell(value: Any) -> str:
    if value.__class__ is str:
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _copied_column(template: Any) -> str | None:
    """The year-one column a template copies as it is ('{kab}', a lone Field), else None."""
    if isinstance(template, tuple):
        return template[0].column if len(template) == 1 and hasattr(template[0], "column") else None
    if "{" not in template:
        return template
    return None


def _renderer(template: Any):
    """_render(template, text of row) as a function of a year-one row, converting only the cells it
    reads (a preload keeps a few columns of rows that have a hundred)."""
    if isinstance(template, tuple):
        parts = [(part.column, "") if hasattr(part, "column") else (None, str(part)) for part in template]
        return lambda row: "".join(_text_cell(row, column) if column is not None else text for column, text in parts)
    if "{" not in template:
        return lambda row: _text_cell(row, template)
    return lambda row: _render(template, _CellView(row))


def _text_cell(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    return "" if value is None else _cell(value)


class _CellView:
    """A year-one row read as text, cell by cell (what preload_rows' text dict holds)."""

    def __init__(self, row: Mapping[str, Any]):
        self.row = row

    def get(self, column: str, default: str = "") -> str:
        if column not in self.row:
            return default
        return _text_cell(self.row, column)


def _render(template: Any, values: Mapping[str, str]) -> str:
    if isinstance(template, tuple):  # PreloadSpec: literal strings and Field(column) parts
        return "".join(values.get(part.column, "") if hasattr(part, "column") else str(part) for part in template)
    if "{" not in template:
        return values.get(template, "")
    return re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1).strip(), ""), template)


def project_preload_columns(form_id: str, file: str) -> Mapping[str, Any] | None:
    """The columns panel/preload.toml defines for this form's media file (None when there is none)."""
    from .yearone import project_root

    root = project_root()
    if root is None or not (root / "panel" / "preload.toml").is_file():
        return None
    try:
        from ..forms.preload import load_preload_specs
    except ImportError:  # pragma: no cover
        return None
    for spec in load_preload_specs(root / "panel" / "preload.toml"):
        if spec.form == form_id and spec.file == file:
            return spec.columns
    return None


# --------------------------------------------------------------------------- resolving the contract


@dataclass
class _Resolved:
    kab: Node
    desa: Node | None
    resp_id_y1: Node
    tracking: Node
    consent: Node | None
    resp_id: Node | None
    interviewed: str  # the main "interviewed" code
    also_interviewed: list[str]  # other codes after which the interview goes on (moved within district)
    other_status: list[str]
    other_weights: list[float]
    consent_yes: list[str]
    consent_no: list[str]
    new_forced: dict
    preload_file: str
    preload_value: str
    panel_forced: dict = field(default_factory=dict)
    go_ahead: dict = field(default_factory=dict)


def _resolve(form: Form, contract: PanelContract, dynamics: PanelDynamics, notes: list[str]) -> _Resolved:
    missing = [f"{role} '{name}'" for role, name in (("district", contract.kab), ("year-one respondent", contract.resp_id_y1),
                                                     ("tracking status", contract.tracking))
               if not form.has(name)]
    if missing:
        raise InputError(f"{form.id_string}: the panel generator needs the field(s) {', '.join(missing)}, which the "
                         f"form does not have.",
                         hint="Name them in PanelContract(kab=..., resp_id_y1=..., tracking=..., consent=..., "
                              "resp_id=...) if the form calls them differently.")
    kab = form.field(contract.kab)
    resp = form.field(contract.resp_id_y1)
    if not resp.file and not resp.search:
        raise InputError(f"{form.id_string}: '{resp.path}' should be a select_one_from_file of the preload CSV "
                         f"(type {resp.type}).")
    tracking = form.field(contract.tracking)
    codes = [c.name for c in tracking.choices or () if c.name not in MISSING_CODES]
    chosen = list(contract.interviewed) or _interviewed_codes(tracking) or ["1"]
    found = [c for c in chosen if c in codes]
    interviewed = found[0] if found else ""
    if not interviewed:
        raise InputError(f"{form.id_string}: none of the 'interviewed' codes {list(contract.interviewed)} is a choice "
                         f"of '{tracking.path}' (choices: {', '.join(codes)}).",
                         hint="Set PanelContract(interviewed=(code,)).")
    new_forced: dict = {}
    new_code = ""
    panel_forced: dict = {}
    switch = _switch(form, resp)
    if contract.panel_respondent is not None:
        panel_forced = {form.field(k).path: (v, True) for k, v in contract.panel_respondent.items()}
    elif switch is not None:
        panel_forced = {switch[0].path: (switch[1], True)}
    if contract.new_respondent is not None:
        new_forced = {form.field(k).path: (v, True) for k, v in contract.new_respondent.items()}
    elif switch is not None and switch[2]:
        new_forced = {switch[0].path: (switch[2], True)}
    else:
        for choice in tracking.choices or ():
            words = " ".join([choice.label, *choice.labels.values()]).lower()
            if any(w in words.split() or w in words for w in NEW_WORDS) and choice.name != interviewed:
                new_code = choice.name
                new_forced = {tracking.path: (choice.name, True)}
                break
        if not new_forced:
            for node in form.fields:
                if node.type == "select_one" and re.search(r"(^|_)(baru|new)(_|$)|refresh", node.name) and not node.repeats:
                    yes = _yes_code(node)
                    if yes:
                        new_forced = {node.path: (yes, True)}
                        break
        if not new_forced and dynamics.refresh > 0:
            notes.append(f"{form.id_string}: no way to mark a new respondent was found (a tracking choice labelled "
                         "'baru'/'new' or a yes/no field named *_baru); no refresh respondents were generated. "
                         "Set PanelContract(new_respondent={field: code}).")
    other = [c for c in codes if c not in (*found, new_code)]
    weights = []
    for code in other:
        if dynamics.status_weights is not None:
            weights.append(float(dynamics.status_weights.get(code, 0.0)))
            continue
        choice = next(c for c in tracking.choices if c.name == code)
        words = " ".join([choice.label, *choice.labels.values()]).lower()
        weights.append(next((w for keys, w in STATUS_WORDS if any(k in words for k in keys)), 0.08))
    consent = form.field(contract.consent) if form.has(contract.consent) else None
    consent_yes, consent_no = [], []
    if consent is not None:
        for choice in consent.choices or ():
            if choice.name in MISSING_CODES:
                continue
            words = " ".join([choice.label, *choice.labels.values()]).lower()
            refused = (choice.name in contract.consent_refused) if contract.consent_refused else (
                choice.name == "0" or any(w in words.replace("/", " ").split() for w in ("tidak", "no", "menolak"))
                or "refus" in words)
            (consent_no if refused else consent_yes).append(choice.name)
    else:
        notes.append(f"{form.id_string}: no consent field '{contract.consent}'; consent is not driven.")
    skip = {kab.path, resp.path, tracking.path, *(path for path in panel_forced)}
    if form.has(contract.desa):
        skip.add(form.field(contract.desa).path)
    if contract.go_ahead is not None:
        go_ahead = {form.field(k).path: (v, False) for k, v in contract.go_ahead.items()}
    else:
        go_ahead = {node.path: (_yes_code(node), False) for node in _gates(form, consent, skip) if _yes_code(node)}
    return _Resolved(panel_forced=panel_forced, go_ahead=go_ahead,
                     kab=kab, desa=form.field(contract.desa) if form.has(contract.desa) else None, resp_id_y1=resp,
                     tracking=tracking, consent=consent,
                     resp_id=form.field(contract.resp_id) if form.has(contract.resp_id) else None,
                     interviewed=interviewed, also_interviewed=found[1:], other_status=other, other_weights=weights, consent_yes=consent_yes,
                     consent_no=consent_no, new_forced=new_forced,
                     preload_file=resp.file or f"{resp.search[0]}.csv", preload_value=resp.file_value if resp.file else "name")


_REF = re.compile(r"\$\{\s*([^}\s]+)\s*\}")


def _referenced(form: Form, text: str) -> list[Node]:
    return [form.field(name) for name in _REF.findall(text or "") if form.has(name)]


def _switch(form: Form, resp: Node) -> tuple[Node, str, str] | None:
    """The select that opens the year-one respondent question (panel vs new sample), its panel code
    and its new-respondent code, read from resp_id_y1's relevance and the choices' labels."""
    from .xpath import ExpressionError, evaluate, to_boolean

    for node in _referenced(form, resp.relevant):
        if node.type != "select_one" or not node.choices:
            continue
        opens, closes = [], []
        for choice in node.choices:
            if choice.name in MISSING_CODES:
                continue
            try:
                shown = to_boolean(evaluate(resp.relevant, {node.name: choice.name}))
            except ExpressionError:
                return None
            (opens if shown else closes).append(choice)

        def labelled(choices, words):
            return next((c.name for c in choices
                         if any(w in " ".join([c.label, *c.labels.values()]).lower() for w in words)), "")

        panel = labelled(opens, ("panel",)) or (opens[0].name if opens else "")
        new = labelled(closes, NEW_WORDS) or (closes[0].name if len(closes) == 1 else "")
        if panel:
            return node, panel, new
    return None


def _gates(form: Form, consent: Node | None, skip: set[str]) -> list[Node]:
    """Yes/no questions the consent question's relevance depends on (through calculates), such as
    "is this the year-one respondent?": answered yes when an interview is to go ahead."""
    if consent is None:
        return []
    found: list[Node] = []
    seen: set[str] = set()
    todo = [consent.relevant]
    for node in _ancestors(form, consent):
        todo.append(node.relevant)
    while todo:
        for node in _referenced(form, todo.pop()):
            if node.path in seen or node.path in skip:
                continue
            seen.add(node.path)
            if node.type == "calculate" or node.calculation:
                todo.append(node.calculation)
            elif node.type == "select_one" and _yes_code(node) and len(node.choices or ()) <= 4:
                found.append(node)
                todo.append(node.relevant)
    return found


def _ancestors(form: Form, node: Node) -> list[Node]:
    out = []
    parent = node.parent
    while parent:
        out.append(form.nodes[parent])
        parent = form.nodes[parent].parent
    return out


def _interviewed_codes(tracking: Node) -> list[str]:
    """Tracking codes whose label says the person was interviewed (not refused), in list order."""
    out = []
    for choice in tracking.choices or ():
        words = " ".join([choice.label, *choice.labels.values()]).lower()
        if any(w in words for w in ("diwawancara", "interviewed")) and not any(
                w in words for w in ("menolak", "refus", "tidak", "not ")):
            out.append(choice.name)
    return out


def _yes_code(node: Node) -> str:
    for choice in node.choices or ():
        words = " ".join([choice.label, *choice.labels.values()]).lower().split()
        if "ya" in words or "yes" in words:
            return choice.name
    return "1" if any(c.name == "1" for c in node.choices or ()) else ""


# --------------------------------------------------------------------------- the generator


def submissions(form: Any, year_one_rows: list[dict] | None = None, seed: int = 0, *, n: int | None = None,
                contract: PanelContract = PanelContract(), dynamics: PanelDynamics = PanelDynamics(),
                fieldwork: Fieldwork = Fieldwork(), media: Mapping[str, list[dict]] | None = None,
                options: Options | None = None, workers: int = 1) -> SynthResult:
    """Kobo submissions for `form`, deterministic for `seed`.

    With `year_one_rows`: the panel scenario (see the module doc). Without: `n` (default 100)
    independent interviews over the seven districts. `media` gives the form's CSV media by file name;
    in panel mode the preload CSV defaults to the columns panel/preload.toml defines for the form,
    else `preload_rows(year_one_rows)`. `workers` > 1 fills interviews in that many forked processes
    (POSIX only; the result is identical to workers=1).
    """
    with _without_gc():
        return _submissions(load_form(form), year_one_rows, seed, n, contract, dynamics, fieldwork, media, options,
                            workers)


@contextmanager
def _without_gc():
    """Millions of small dicts and no reference cycles: the cyclic collector only costs time here (each
    full collection walks every answer built so far)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _submissions(form: Form, year_one_rows: list[dict] | None, seed: int, n: int | None, contract: PanelContract,
                 dynamics: PanelDynamics, fieldwork: Fieldwork, media: Mapping[str, list[dict]] | None,
                 options: Options | None, workers: int) -> SynthResult:
    options = options or Options(survey_year=fieldwork.start.year)
    notes: list[str] = []
    tables = dict(getattr(form, "media", {}) or {})
    tables.update(media or {})
    master = Random(seed)
    resolved = None
    if year_one_rows is not None:
        resolved = _resolve(form, contract, dynamics, notes)
        if not (media and resolved.preload_file in media):
            columns = project_preload_columns(form.id_string, resolved.preload_file)
            tables[resolved.preload_file] = preload_rows(year_one_rows, key=contract.y1_key, columns=columns)
    plan = Plan(form, media=tables, options=options)
    if resolved is None:
        interviews = _plain_interviews(form, n if n is not None else 100, master)
    else:
        interviews = _panel_interviews(plan, resolved, contract, dynamics, year_one_rows, master, notes)
    _schedule(interviews, fieldwork, master, seed)
    ids = fieldwork.ids or kobo_ids(form.id_string, form.version)
    geopoints = [node.path for node in form.fields if node.type == "geopoint" and not node.repeats]
    job = _Job(plan=plan, fieldwork=fieldwork, typos=dynamics.typos,
               resp_id_path=resolved.resp_id.path if resolved is not None and resolved.resp_id is not None else "")
    built = _build_all(job, interviews, workers)
    built.sort(key=lambda item: (item[1]["received"], item[0].seed))
    docs: list[dict] = []
    truth: list[dict] = []
    next_id = fieldwork.first_id
    for interview, session, answers, attachments, typo, instance, uid_seed in built:
        docs.append(envelope(
            answers, ids=ids, submission_id=next_id, instance_uuid=instance, submitted_at=session["received"],
            submitted_by=None if master.random() < fieldwork.anonymous else session["username"],
            attachments=attachment_docs(attachments, rng=Random(uid_seed), owner=fieldwork.owner,
                                        xform_uuid=ids.xform_uuid, root_uuid=instance, base_url=fieldwork.base_url,
                                        asset_uid=ids.asset_uid, submission_id=next_id),
            geopoint_paths=geopoints, legacy=fieldwork.legacy))
        truth.append({"_id": next_id, "kind": interview.kind, "resp_id_true": interview.resp_id_true,
                      "status": interview.status, "consent": interview.consent, "typo": typo,
                      "duplicate_of": "", "edits": 0, "deleted": False})
        next_id += 1 + (master.random() < 0.3) * master.randint(1, 3)  # a global sequence: gaps
    position_of = {id(item[0]): position for position, item in enumerate(built)}
    for position, (interview, *_rest) in enumerate(built):
        if interview.kind == "duplicate":
            truth[position]["duplicate_of"] = truth[position_of[id(interviews[interview.of])]]["_id"]
    history = _edits(plan, built, docs, truth, dynamics, resolved, geopoints, fieldwork, master, seed)
    deleted = _deletions(docs, truth, dynamics, master)
    return SynthResult(submissions=docs, history=history, truth=truth, deleted=deleted,
                       media={k: v for k, v in tables.items()}, notes=notes)


@dataclass
class _Job:
    """What filling one interview needs, shared by the worker processes (inherited through fork)."""

    plan: Plan
    fieldwork: Fieldwork
    typos: float
    resp_id_path: str
    interviews: list = field(default_factory=list)


_JOB: _Job | None = None  # the job of a worker process


def _build_one(job: _Job, index: int, interview: _Interview, enumerators: dict) -> tuple:
    """Session, answers, attachments, typo flag, instance uuid and attachment-uid seed of one interview:
    a function of the interview alone, so any process computes the same."""
    rng = Random(interview.seed)
    session = _session(interview, job.fieldwork, enumerators, rng)
    try:
        answers, attachments = _fill_scenario(job.plan, interview, session, rng)
    except SynthError as exc:
        who = f"year-one respondent {interview.resp_id_true}" if interview.resp_id_true else f"interview {index + 1}"
        raise SynthError(f"{exc.message} (while generating {interview.kind} {who})", hint=exc.hint) from None
    if interview.kind == "new" and job.resp_id_path:
        interview.resp_id_true = answers.get(job.resp_id_path, "")
    typo = False
    if job.resp_id_path and rng.random() < job.typos:
        typo = _apply_typo(answers, job.resp_id_path, rng)
    return interview, session, answers, attachments, typo, new_uuid(rng), rng.getrandbits(48)


def _build_chunk(bounds: tuple[int, int]) -> list[tuple]:
    """Interviews [start, stop) of the job (a forked worker has them all); only results travel back."""
    enumerators: dict = {}
    gc.disable()
    out = []
    for index in range(*bounds):
        interview = _JOB.interviews[index]
        _, *rest = _build_one(_JOB, index, interview, enumerators)
        out.append((interview.resp_id_true, *rest))
    return out


def _build_all(job: _Job, interviews: list[_Interview], workers: int) -> list[tuple]:
    """Every interview filled, in interview order; with workers > 1 in forked processes (same result)."""
    global _JOB
    if workers > 1 and len(interviews) >= 200:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if "fork" in multiprocessing.get_all_start_methods():
            size = max(50, len(interviews) // (workers * 4) + 1)
            chunks = [(i, min(i + size, len(interviews))) for i in range(0, len(interviews), size)]
            job.interviews = interviews
            _JOB = job
            try:
                with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
                    results = [item for part in pool.map(_build_chunk, chunks) for item in part]
            finally:
                _JOB = None
                job.interviews = []
            out = []
            for interview, (resp_id_true, *rest) in zip(interviews, results):
                interview.resp_id_true = resp_id_true  # the worker's copy may have learnt it
                out.append((interview, *rest))
            return out
    enumerators: dict = {}
    return [_build_one(job, index, interview, enumerators) for index, interview in enumerate(interviews)]


def _fill_scenario(plan: Plan, interview: _Interview, session: dict, rng: Random) -> tuple[dict, list[dict]]:
    """Fill until every strict answer of the scenario is in the submission (a gate question answered
    the other way can hide it); SynthError naming the hidden questions after a few tries."""
    strict = [path for path, (value, hard) in interview.forced.items() if hard and value != ""]
    for attempt in range(12):
        answers, attachments = plan.fill(rng, dict(session), forced=interview.forced)
        hidden = [path for path in strict if path not in answers]
        if not hidden:
            return answers, attachments
        rng = Random(interview.seed + 7_777 * (attempt + 1))
    raise SynthError(f"{plan.form.id_string}: the scenario needs answers to {', '.join(hidden)}, but they were not "
                     f"relevant in 12 tries.",
                     hint="Name the answers that open them in PanelContract(panel_respondent=..., go_ahead=...).")


def _plain_interviews(form: Form, n: int, master: Random) -> list[_Interview]:
    codes = list(vocab.DISTRICT_CODES)
    weights = [vocab.DISTRICTS[c]["weight"] for c in codes]
    kab_node = form.field("kab") if form.has("kab") else None
    allowed = {c.name for c in kab_node.choices or ()} if kab_node is not None and kab_node.choices else set()
    out = []
    for _ in range(n):
        kab = master.choices(codes, weights=weights)[0]
        forced = {kab_node.path: (kab, False)} if kab_node is not None and kab in allowed else {}
        out.append(_Interview(kind="plain", forced=forced, kab=kab))
    return out


def _panel_interviews(plan: Plan, r: _Resolved, contract: PanelContract, dynamics: PanelDynamics,
                      rows: list[dict], master: Random, notes: list[str]) -> list[_Interview]:
    table = plan.tables.rows(r.preload_file)
    by_id = {}
    for row in table:
        by_id.setdefault(row.get(r.preload_value, ""), row)
    interviews: list[_Interview] = []
    found_share = dynamics.reinterview / max(1e-9, 1.0 - dynamics.unvisited)
    for row in rows:
        resp_id = "" if row.get(contract.y1_key) is None else str(row.get(contract.y1_key))
        if master.random() < dynamics.unvisited:
            continue
        pre = by_id.get(resp_id)
        if pre is None:
            raise InputError(f"year-one respondent {resp_id!r} is not in the preload table '{r.preload_file}' "
                             f"(column '{r.preload_value}').")
        kab = pre.get(contract.kab, "") or str(row.get(contract.y1_kab, ""))
        desa = pre.get(contract.desa, "") or str(row.get(contract.y1_desa, "") or "")
        forced: dict = {**r.panel_forced, r.kab.path: (kab, True), r.resp_id_y1.path: (resp_id, True)}
        if r.desa is not None and desa:
            forced[r.desa.path] = (desa, True)
        interview = _Interview(kind="panel", forced=forced, kab=kab, resp_id_true=resp_id)
        if master.random() < found_share or not r.other_status:
            interview.status = r.interviewed
            if r.also_interviewed and master.random() < 0.08:
                interview.status = master.choice(r.also_interviewed)
            forced.update(r.go_ahead)
            if r.consent is not None and r.consent_yes:
                refused = bool(r.consent_no) and master.random() < dynamics.refusal
                interview.consent = master.choice(r.consent_no) if refused else master.choice(r.consent_yes)
                interview.long = not refused
                forced[r.consent.path] = (interview.consent, True)
        else:
            weights = r.other_weights if sum(r.other_weights) > 0 else [1.0] * len(r.other_status)
            interview.status = master.choices(r.other_status, weights=weights)[0]
            interview.long = False
        forced[r.tracking.path] = (interview.status, True)
        interviews.append(interview)
    if r.new_forced and dynamics.refresh > 0:
        count = int(round(dynamics.refresh * len(rows)))
        donors = [row for row in rows if row.get(contract.y1_kab) is not None] or rows
        for _ in range(count):
            donor = master.choice(donors)
            pre = by_id.get(str(donor.get(contract.y1_key)), {})
            kab = pre.get(contract.kab, "") or str(donor.get(contract.y1_kab, ""))
            desa = pre.get(contract.desa, "") or str(donor.get(contract.y1_desa, "") or "")
            forced = {r.kab.path: (kab, True), **r.new_forced, **r.go_ahead}
            if r.desa is not None and desa:
                forced[r.desa.path] = (desa, True)
            interview = _Interview(kind="new", forced=forced, kab=kab)
            if r.consent is not None and r.consent_yes:
                interview.consent = master.choice(r.consent_yes)
                forced[r.consent.path] = (interview.consent, False)
            interview.status = forced.get(r.tracking.path, ("", True))[0]
            interviews.append(interview)
    interviewed = [i for i, item in enumerate(interviews)
                   if item.kind == "panel" and item.status in (r.interviewed, *r.also_interviewed)]
    for index in sorted(master.sample(interviewed, int(round(dynamics.duplicates * len(interviewed))))):
        original = interviews[index]
        interviews.append(_Interview(kind="duplicate", forced=dict(original.forced), kab=original.kab,
                                     resp_id_true=original.resp_id_true, status=original.status,
                                     consent=original.consent, of=index, long=original.long))
    return interviews


def _schedule(interviews: list[_Interview], fieldwork: Fieldwork, master: Random, seed: int) -> None:
    """Day, start time and enumerator of each interview; duplicates come 0–5 days after the original."""
    for index, interview in enumerate(interviews):
        interview.seed = (seed * 2_654_435_761 + index * 40_503 + 1) & 0xFFFF_FFFF_FFFF
        interview.enumerator = master.randrange(max(1, fieldwork.enumerators_per_district))
        offset = dt.timedelta(hours=7 if vocab.region_of(interview.kab) == "java" else 8)
        if interview.kind == "duplicate" and interviews[interview.of].when is not None:
            base = interviews[interview.of].when + dt.timedelta(days=master.randint(0, 5))
            day = base.date()
            if fieldwork.enumerators_per_district > 1 and master.random() < 0.6:
                interview.enumerator = (interviews[interview.of].enumerator + 1) % fieldwork.enumerators_per_district
        else:
            day = fieldwork.start + dt.timedelta(days=master.randrange(max(1, fieldwork.days)))
        interview.when = dt.datetime(day.year, day.month, day.day, master.randint(8, 16), master.randint(0, 59),
                                     master.randint(0, 59), master.randint(0, 999) * 1000,
                                     tzinfo=dt.timezone(offset))


def _session(interview: _Interview, fieldwork: Fieldwork, enumerators: dict, rng: Random) -> dict:
    start = interview.when
    minutes = rng.triangular(25, 110, 50) if interview.long else rng.uniform(3, 15)
    end = start + dt.timedelta(minutes=minutes, seconds=rng.randint(0, 59))
    low, high = fieldwork.upload_delay_hours
    delay = math.exp(rng.uniform(math.log(max(low, 0.01)), math.log(max(high, low + 0.01))))
    received = end + dt.timedelta(hours=delay)
    key = (interview.kab, interview.enumerator)
    if key not in enumerators:
        device_rng = Random(f"{interview.kab}:{interview.enumerator}")
        enumerators[key] = (f"enum_{interview.kab}_{interview.enumerator + 1:02d}",
                            "collect:" + "".join(device_rng.choice("0123456789abcdefghijklmnopqrstuvwxyz")
                                                 for _ in range(16)))
    username, deviceid = enumerators[key]
    return {"today": start.date().isoformat(), "start": device_time(start), "end": device_time(end),
            "received": kobo_time(received), "username": username, "deviceid": deviceid,
            "geo": vocab.CENTROIDS.get(interview.kab), "start_ms": int(start.timestamp() * 1000)}


def _apply_typo(answers: dict, path: str, rng: Random) -> bool:
    value = answers.get(path)
    if not isinstance(value, str) or not value:
        return False
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    if len(digits) < 2:
        return False
    chars = list(value)
    for _ in range(10):
        trial = chars[:]
        r = rng.random()
        if r < 0.55:
            i = rng.choice(digits)
            trial[i] = rng.choice([d for d in "0123456789" if d != chars[i]])
        elif r < 0.85:
            pairs = [i for i in digits if i + 1 in digits and chars[i] != chars[i + 1]]
            if not pairs:
                continue
            i = rng.choice(pairs)
            trial[i], trial[i + 1] = trial[i + 1], trial[i]
        else:
            text = value.replace("-", rng.choice((" ", "", "--", "_"))) if "-" in value else value + "0"
            if text != value:
                answers[path] = text
                return True
            continue
        text = "".join(trial)
        if text != value:
            answers[path] = text
            return True
    return False


def _editable_paths(plan: Plan) -> list[str]:
    """Questions outside repeats an edit may change, in form order."""
    return [op.path for op in _walk(plan.ops) if op.kind == K_QUESTION and not op.node.repeats
            and op.type in ("integer", "decimal", "select_one", "select_multiple", "text", "date")]


def _edits(plan: Plan, built, docs, truth, dynamics: PanelDynamics, resolved: _Resolved | None, geopoints,
           fieldwork: Fieldwork, master: Random, seed: int) -> dict[int, list[dict]]:
    history: dict[int, list[dict]] = {}
    if dynamics.edits <= 0 or not docs:
        return history
    protected = set()
    if resolved is not None:
        protected = {n.path for n in (resolved.kab, resolved.desa, resolved.resp_id_y1, resolved.tracking,
                                      resolved.consent, resolved.resp_id) if n is not None}
    chosen = sorted(master.sample(range(len(docs)), int(round(dynamics.edits * len(docs)))))
    candidates = _editable_paths(plan)
    for position in chosen:
        interview, session, answers, _attachments, typo, *_ = built[position]
        rounds = 2 if master.random() < dynamics.second_edits else 1
        for round_ in range(rounds):
            rng = Random((seed * 6_700_417 + position * 101 + round_ * 7 + 3) & 0xFFFF_FFFF_FFFF)
            current = docs[position]
            editable = [path for path in candidates if path in current and path not in protected]
            if not editable:
                break
            regen = rng.sample(editable, min(len(editable), rng.randint(1, 2)))
            previous_answers = {k: v for k, v in current.items() if not k.startswith("_") and k not in (
                "formhub/uuid", "__version__", "meta/instanceID", "meta/rootUuid", "meta/deprecatedID")}
            new_answers, attachments = plan.fill(rng, session, forced=interview.forced, preset=previous_answers,
                                                 regen=regen)
            if typo and resolved is not None and resolved.resp_id is not None:
                path = resolved.resp_id.path
                if path in previous_answers:
                    new_answers[path] = previous_answers[path]
            root = current["meta/rootUuid"].removeprefix("uuid:")
            doc = edited(current, new_answers, instance_uuid=new_uuid(rng),
                         attachments=attachment_docs(attachments, rng=rng, owner=fieldwork.owner,
                                                     xform_uuid=current["formhub/uuid"], root_uuid=root,
                                                     base_url=fieldwork.base_url,
                                                     asset_uid=current["_xform_id_string"],
                                                     submission_id=current["_id"]),
                         geopoint_paths=geopoints)
            history.setdefault(current["_id"], []).append(current)
            docs[position] = doc
            truth[position]["edits"] += 1
    return history


def _deletions(docs, truth, dynamics: PanelDynamics, master: Random) -> list[int]:
    count = int(round(dynamics.deletions * len(docs)))
    if count <= 0:
        return []
    duplicates = [t["_id"] for t in truth if t["kind"] == "duplicate"]
    others = [t["_id"] for t in truth if t["kind"] != "duplicate"]
    master.shuffle(duplicates)
    master.shuffle(others)
    chosen = sorted((duplicates + others)[:count])
    for item in truth:
        if item["_id"] in chosen:
            item["deleted"] = True
    return chosen


__all__ = ["Fieldwork", "PanelContract", "PanelDynamics", "SynthResult", "preload_rows", "submissions"]
