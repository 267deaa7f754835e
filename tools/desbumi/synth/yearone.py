"""The year-one cross-section: N returnees over the seven districts, as flat rows, and its writers.

    rows = year_one(500, seed=1)                                   # the 11 contract columns
    rows = year_one(500, seed=1, form=load_form("xlsform_src/desbumi_ekonomi_y1.xlsx"))
    write_year_one(rows, "year1.dta", form=form)                  # .csv / .xlsx / .dta / .sav

Who is in it (DOMAIN.md): about 70% women; aged 20–55 at the interview; home from their last trip
mostly in 2018–2021; destinations by sex and region (Hong Kong, Taiwan and Singapore for Javanese
women, Malaysia for men and for Lombok and Lembata); about 60% run a business, ~72% of them women.
`resp_id` follows the rule `<kab>-<4 digits>`, numbered per district (3509-0001, 3509-0002, ...).

With the year-one form, each row is an interview filled through the form: choice codes, choice
filters (village by district), constraints and relevance are the form's, and the columns are the
form's field names (top level, repeats left out). The facts above are imposed where the form has the
field (by the names below), and the rest is generated from the form.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import math
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any, Iterable, Mapping

from ..errors import InputError
from . import vocab
from .engine import MISSING_CODES, Options, Plan
from .kobo import device_time, new_uuid
from .model import METADATA, Form, Node, load_form

CONTRACT_COLUMNS = ("resp_id", "kab", "desa", "nama_responden", "tahun_lahir", "jenis_kelamin", "negara_tujuan",
                    "tahun_pulang", "punya_usaha", "jenis_usaha", "no_hp")

DEFAULT_LABELS = {
    "resp_id": "ID responden (<kab>-<nomor>)",
    "kab": "Kabupaten (kode Kemendagri)",
    "desa": "Desa (kode Kemendagri)",
    "nama_responden": "Nama responden",
    "tahun_lahir": "Tahun lahir",
    "jenis_kelamin": "Jenis kelamin",
    "negara_tujuan": "Negara tujuan terakhir",
    "tahun_pulang": "Tahun pulang dari perjalanan terakhir",
    "punya_usaha": "Punya usaha",
    "jenis_usaha": "Jenis usaha utama",
    "no_hp": "Nomor HP",
}
DEFAULT_VALUE_LABELS = {
    "kab": {int(code): facts["name"] for code, facts in vocab.DISTRICTS.items()},
    "jenis_kelamin": {1: "Laki-laki", 2: "Perempuan"},
    "negara_tujuan": {1: "Malaysia", 2: "Taiwan", 3: "Hong Kong", 4: "Singapura", 5: "Arab Saudi",
                      6: "Timur Tengah lainnya", 7: "Brunei", 8: "Korea Selatan", 9: "Jepang", 96: "Lainnya"},
    "punya_usaha": {1: "Ya", 0: "Tidak"},
    "jenis_usaha": {int(code): label for code, label in vocab.BUSINESS_TYPES},
}

FEMALE_WORDS = ("perempuan", "wanita", "female", "woman")
MALE_WORDS = ("laki", "pria", "male", "man")
YES_WORDS = ("ya", "yes")
NO_WORDS = ("tidak", "no", "bukan")


@dataclass(frozen=True)
class YearOneFields:
    """Names of the year-one form's fields the generator imposes facts on (the contract)."""

    resp_id: str = "resp_id"
    kab: str = "kab"
    desa: str = "desa"
    name: str = "nama_responden"
    birth_year: str = "tahun_lahir"
    sex: str = "jenis_kelamin"
    destination: str = "negara_tujuan"
    left_year: str = "tahun_berangkat"
    return_year: str = "tahun_pulang"
    has_business: str = "punya_usaha"
    business_type: str = "jenis_usaha"
    phone: str = "no_hp"
    consent: str = "setuju"  # answered yes: a cross-section file holds consenting interviews only


# --------------------------------------------------------------------------- villages


def project_root() -> Path | None:
    """The source checkout this package runs from (it holds panel/), None for an installed wheel."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "panel").is_dir() and (root / "tools" / "desbumi").is_dir() else None


def villages(wilayah: Any = None) -> tuple[dict[str, list[tuple[str, str]]], str]:
    """District code -> [(village code, name)], and where they came from.

    `wilayah`: a desbumi.reference.Wilayah, a path to wilayah.csv, or None for the project's
    panel/wilayah.csv (the vocabulary's short fallback list when that cannot be read)."""
    if wilayah is None:
        root = project_root()
        if root is not None and (root / "panel" / "wilayah.csv").is_file():
            wilayah = root / "panel" / "wilayah.csv"
    if isinstance(wilayah, (str, Path)):
        from ..reference import load_wilayah

        wilayah = load_wilayah(Path(wilayah))
    if wilayah is not None:
        out: dict[str, list[tuple[str, str]]] = {}
        for village in wilayah.villages:
            out.setdefault(str(village.district_code), []).append((village.kemendagri, village.name))
        return out, str(getattr(wilayah, "path", "") or "wilayah")
    return {k: list(v) for k, v in vocab.FALLBACK_VILLAGES.items()}, "fallback"


# --------------------------------------------------------------------------- people


@dataclass
class _Person:
    kab: str
    desa: str
    sex: str  # F/M
    birth_year: int
    destination: str  # key of vocab.DESTINATIONS
    left_year: int
    return_year: int
    has_business: bool
    business: str  # default business code
    name: str
    phone: str


def _weighted(rng: Random, items: list[str], weights: list[float]) -> str:
    return rng.choices(items, weights=weights)[0]


def _person(rng: Random, kab: str, desa: str, survey_year: int) -> _Person:
    sex = "F" if rng.random() < 0.70 else "M"
    age = rng.randint(20, 55)
    birth = survey_year - age
    region = vocab.region_of(kab)
    keys = [key for key, _ in vocab.DESTINATIONS]
    destination = _weighted(rng, keys, vocab.DESTINATION_WEIGHTS[(sex, region)])
    earliest_trip = birth + 18
    if rng.random() < 0.8:
        returned = rng.randint(2018, 2021)
    else:
        returned = rng.randint(2012, survey_year)
    returned = max(returned, earliest_trip + 1)
    returned = min(returned, survey_year)
    left = max(earliest_trip, returned - rng.choice((1, 2, 2, 2, 3, 3, 4, 5, 6, 8)))
    has_business = rng.random() < (0.62 if sex == "F" else 0.56)
    business = _weighted(rng, list(vocab.BUSINESS_WEIGHTS), list(vocab.BUSINESS_WEIGHTS.values()))
    return _Person(kab=kab, desa=desa, sex=sex, birth_year=birth, destination=destination, left_year=left,
                   return_year=returned, has_business=has_business, business=business,
                   name=vocab.person_name(rng, sex, region), phone=vocab.phone_number(rng) if rng.random() < 0.85 else "")


# --------------------------------------------------------------------------- the generator


def year_one(n: int, seed: int = 0, form: Any = None, *, survey_year: int = 2025, wilayah: Any = None,
             media: Mapping[str, list[dict]] | None = None, fields: YearOneFields = YearOneFields(),
             options: Options | None = None) -> list[dict]:
    """`n` year-one respondents as flat rows (dicts), deterministic for `seed`.

    Without a form: the contract columns (CONTRACT_COLUMNS) with the default codes (jenis_kelamin
    1 = laki-laki, 2 = perempuan; negara_tujuan 1–9, 96 = other; punya_usaha 1/0; integers as int,
    text as str, an empty answer as None). With the year-one form: one column per top-level field,
    codes as the form defines them.
    """
    if n < 0:
        raise InputError(f"year_one: n must be 0 or more, not {n}.")
    rng = Random(seed)
    plan = None
    if form is not None:
        form = load_form(form)
        plan = Plan(form, media=media, options=options or Options(survey_year=survey_year))
    districts, weights, village_lists = _universe(plan, fields, wilayah)
    kabs = [_weighted(rng, districts, weights) for _ in range(n)]
    gc_was_enabled = gc.isenabled()
    gc.disable()  # many small dicts, no cycles
    try:
        return _rows(plan, fields, kabs, village_lists, seed, survey_year)
    finally:
        if gc_was_enabled:
            gc.enable()


def _rows(plan, fields, kabs, village_lists, seed, survey_year) -> list[dict]:
    counters: dict[str, int] = {}
    rows = []
    for index, kab in enumerate(kabs):
        person_rng = Random(_mix(seed, index))
        pool = village_lists.get(kab) or [("", "")]
        desa = person_rng.choice(pool)[0]
        person = _person(person_rng, kab, desa, survey_year)
        counters[kab] = counters.get(kab, 0) + 1
        resp_id = f"{kab}-{counters[kab]:04d}"
        if plan is None:
            rows.append(_plain_row(resp_id, person))
        else:
            rows.append(_form_row(plan, fields, resp_id, person, person_rng, survey_year))
    return rows


def _mix(seed: int, index: int) -> int:
    return (seed * 1_000_003 + index * 7_919 + 17) & 0xFFFF_FFFF_FFFF


def _universe(plan: Plan | None, fields: YearOneFields, wilayah: Any):
    """District codes with weights, and village codes per district, from the form when it has them."""
    if plan is not None and plan.form.has(fields.kab):
        node = plan.form.field(fields.kab)
        codes = [c.name for c in node.choices or () if c.name not in MISSING_CODES]
        if not codes:
            raise InputError(f"{plan.form.id_string}: the field '{fields.kab}' has no district choices.")
    else:
        codes = list(vocab.DISTRICT_CODES)
    weights = [vocab.DISTRICTS.get(code, {}).get("weight", 0.1) for code in codes]
    village_lists: dict[str, list[tuple[str, str]]] = {}
    if plan is not None and plan.form.has(fields.desa):
        op = _find_op(plan, plan.form.field(fields.desa).path)
        if op is not None and op.choices is not None:
            source = op.choices
            for code in codes:
                kept = []
                for row in source.rows:
                    if source.filter is not None:
                        env = plan.new_env(Random(0))
                        env.scopes[0][plan.form.field(fields.kab).path] = code
                        env.row = row
                        if not source.filter.boolean(env):
                            continue
                    kept.append((row.get(source.value_key, ""), row.get("label", "")))
                village_lists[code] = kept
            return codes, weights, village_lists
    found, _ = villages(wilayah)
    return codes, weights, found


def _find_op(plan: Plan, path: str):
    stack = list(plan.ops)
    while stack:
        op = stack.pop()
        if op.path == path:
            return op
        stack.extend(op.children)
    return None


def _plain_row(resp_id: str, p: _Person) -> dict:
    return {
        "resp_id": resp_id, "kab": int(p.kab), "desa": p.desa, "nama_responden": p.name,
        "tahun_lahir": p.birth_year, "jenis_kelamin": 2 if p.sex == "F" else 1,
        "negara_tujuan": int(vocab.DEFAULT_DESTINATION_CODES[p.destination]), "tahun_pulang": p.return_year,
        "punya_usaha": 1 if p.has_business else 0, "jenis_usaha": int(p.business) if p.has_business else None,
        "no_hp": p.phone or None,
    }


def _label_match(node: Node, words: Iterable[str]) -> str:
    """The code of the first choice whose label (any language) starts with or contains one of `words`."""
    for choice in node.choices or ():
        labels = " | ".join([choice.label, *choice.labels.values()]).lower()
        tokens = labels.replace("/", " ").replace("-", " ").split()
        if any(w in tokens or (len(w) > 3 and w in labels) for w in words):
            return choice.name
    return ""


def _form_row(plan: Plan, fields: YearOneFields, resp_id: str, p: _Person, rng: Random, survey_year: int) -> dict:
    form = plan.form
    forced: dict[str, Any] = {}

    def put(name: str, value: Any, strict: bool = False) -> None:
        if name and form.has(name) and value is not None:
            forced[name] = (str(value), strict)

    put(fields.kab, p.kab, strict=True)
    put(fields.desa, p.desa, strict=bool(p.desa))
    put(fields.resp_id, resp_id)
    put(fields.name, p.name)
    put(fields.birth_year, p.birth_year)
    put(fields.left_year, p.left_year)
    put(fields.return_year, p.return_year)
    put(fields.phone, p.phone)
    if form.has(fields.consent):
        put(fields.consent, _label_match(form.field(fields.consent), YES_WORDS) or "1")
    if form.has(fields.sex):
        node = form.field(fields.sex)
        code = _label_match(node, FEMALE_WORDS if p.sex == "F" else MALE_WORDS)
        put(fields.sex, code or ("2" if p.sex == "F" else "1"))
    if form.has(fields.destination):
        node = form.field(fields.destination)
        keywords = dict(vocab.DESTINATIONS)[p.destination]
        put(fields.destination, _label_match(node, keywords) or _label_match(node, ("lain", "lainnya", "other")) or None)
    if form.has(fields.has_business):
        node = form.field(fields.has_business)
        code = _label_match(node, YES_WORDS if p.has_business else NO_WORDS) or ("1" if p.has_business else "0")
        put(fields.has_business, code)
    day = dt.date(survey_year, 3, 2) + dt.timedelta(days=rng.randint(0, 59))
    offset = dt.timezone(dt.timedelta(hours=8 if vocab.region_of(p.kab) != "java" else 7))
    start = dt.datetime(day.year, day.month, day.day, rng.randint(8, 16), rng.randint(0, 59), rng.randint(0, 59),
                        rng.randint(0, 999) * 1000, tzinfo=offset)
    session = {"today": day.isoformat(), "start": device_time(start),
               "end": device_time(start + dt.timedelta(minutes=rng.randint(25, 80))),
               "deviceid": f"collect:{new_uuid(rng).replace('-', '')[:16]}", "username": "",
               "geo": vocab.CENTROIDS.get(p.kab), "sex_hint": p.sex}
    answers, _ = plan.fill(rng, session, forced=forced)
    return _flatten_row(form, answers, fields)


def _flatten_row(form: Form, answers: Mapping[str, Any], fields: YearOneFields) -> dict:
    row: dict[str, Any] = {}
    order = [getattr(fields, name) for name in ("resp_id", "kab", "desa", "name", "birth_year", "sex", "destination",
                                                 "return_year", "has_business", "business_type", "phone")]
    columns = [n for n in order if form.has(n) and not form.field(n).repeats]
    columns += [node.name for node in form.fields
                if not node.repeats and node.name not in columns and node.type not in METADATA
                and not node.path.startswith("meta/") and node.kind == "field"]
    for name in columns:
        node = form.field(name)
        value = answers.get(node.path)
        row[name] = _typed(node, value)
    return row


def _typed(node: Node, value: Any) -> Any:
    if value is None or value == "":
        return None
    if node.type == "integer":
        return int(value)
    if node.type == "decimal":
        return float(value)
    if node.type == "select_one" and node.choices and all(_is_int(c.name) for c in node.choices):
        return int(value)
    return value


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


# --------------------------------------------------------------------------- writers

FORMATS = ("csv", "xlsx", "dta", "sav")


def write_year_one(rows: list[dict], path: str | Path, *, format: str | None = None, form: Any = None) -> Path:
    """Write rows as .csv (UTF-8), .xlsx, .dta (Stata 118+, UTF-8) or .sav, chosen by `format` or the suffix.

    Stata and SPSS files carry variable labels and value labels: from the form when given (its
    default language), else the defaults for the contract columns.
    """
    path = Path(path)
    kind = (format or path.suffix.lstrip(".")).lower()
    if kind not in FORMATS:
        raise InputError(f"{path}: cannot write year one as '{kind or path.suffix}'; use one of {', '.join(FORMATS)}.")
    columns = _columns(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        return path
    if kind == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("year1")
        sheet.append(columns)
        for row in rows:
            sheet.append([row.get(c) for c in columns])
        book.save(path)
        return path
    import pyreadstat

    frame, value_labels, variable_labels = _frame(rows, columns, load_form(form) if form is not None else None)
    if kind == "dta":
        pyreadstat.write_dta(frame, str(path), column_labels=variable_labels, variable_value_labels=value_labels,
                             version=15)
    else:
        pyreadstat.write_sav(frame, str(path), column_labels=variable_labels, variable_value_labels=value_labels)
    return path


def _columns(rows: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _frame(rows: list[dict], columns: list[str], form: Form | None):
    import pandas as pd

    data: dict[str, Any] = {}
    numeric: set[str] = set()
    for column in columns:
        values = [row.get(column) for row in rows]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            data[column] = pd.Series([math.nan if v is None else float(v) for v in values], dtype="float64")
            numeric.add(column)
        else:
            data[column] = pd.Series(["" if v is None else str(v) for v in values], dtype="object")
    frame = pd.DataFrame(data, columns=columns)
    variable_labels: dict[str, str] = {}
    value_labels: dict[str, dict[float, str]] = {}
    for column in columns:
        node = form.field(column) if form is not None and form.has(column) else None
        label = (node.label if node is not None else "") or DEFAULT_LABELS.get(column, "")
        if label:
            variable_labels[column] = label[:80]
        if column not in numeric:
            continue
        if node is not None and node.choices and all(_is_int(c.name) for c in node.choices):
            value_labels[column] = {float(int(c.name)): (c.label or c.name)[:80] for c in node.choices}
        elif node is None and column in DEFAULT_VALUE_LABELS:
            value_labels[column] = {float(k): v for k, v in DEFAULT_VALUE_LABELS[column].items()}
    return frame, value_labels, variable_labels


def read_year_one(path: str | Path) -> list[dict]:
    """Read a file written by write_year_one back as rows (numbers as int where whole)."""
    import pandas as pd

    path = Path(path)
    kind = path.suffix.lstrip(".").lower()
    if kind == "csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif kind == "xlsx":
        frame = pd.read_excel(path, dtype=object)
    else:
        import pyreadstat

        reader = pyreadstat.read_dta if kind == "dta" else pyreadstat.read_sav
        frame, _ = reader(str(path))
    out = []
    for record in frame.to_dict("records"):
        row = {}
        for key, value in record.items():
            if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
                row[key] = None
            elif isinstance(value, float) and value.is_integer():
                row[key] = int(value)
            else:
                row[key] = value
        out.append(row)
    return out


__all__ = ["CONTRACT_COLUMNS", "YearOneFields", "read_year_one", "villages", "write_year_one", "year_one"]
