"""A synthetic MEAL programme: trainings, their participants and tests, activity reports, village
capacity assessments and Most Significant Change stories, as Kobo submissions of the six MEAL forms.

    from desbumi.synth.meal import meal_programme, write_meal_json

    programme = meal_programme(7, participants=240)     # {form_id: SynthResult}, deterministic for a seed
    programme["mel_tes_gedsi"].submissions               # Kobo JSON (KOBO_API.md §3.4)
    programme["mel_tes_gedsi"].truth                     # per submission: person, phase, intended score
    programme.activities                                 # the trainings and other activities, with codes
    write_meal_json(programme, "out/submissions")        # one <form_id>.json list per form

What is generated (MealDynamics holds the shares):
- a programme period of `months` from a start date drawn from the seed (or given);
- trainings (GEDSI & intersectionality, then digital marketing for returnees) in several of the seven
  districts, each with a work-plan code (`GED-2025-004`, `PMD-2025-011`; 3 letters, year, serial),
  dates, days, a host DESBUMI village; plus a few other activities (Musdes, outreach, ...) that only
  have an activity report;
- mel_registrasi: one registration per participant and training; a new participant gets her ID from
  the form itself (status_id = 2, district + register serial -> KKKK-NNNN-C with the Luhn digit),
  a participant of an earlier training shows her card (status_id = 1, id_lama); ~70% women, some
  with a disability (a WG-SS answer 3 or 4), migrant status weighted to returnees for digital
  marketing, attendance per day (some miss a day, late arrivals miss the first); a few refuse consent
  (no personal data); a few are registered twice for the same training (same ID, another day, another
  recorder): these are the duplicates, named in `truth`;
- mel_tes_gedsi / mel_tes_digital: a pre-test for most participants present on the first day and a
  post-test for most present on the last day (so some lack the post-test, late arrivals lack the
  pre-test); the knowledge answers are chosen so that the form's own `skor` gives the intended
  score: which items are right is drawn with a probability rising from pre to post (person ability,
  item difficulty, a gain per person), the right codes are read from the form's benar_* calculates;
  attitude (Likert) and practice items move the same way, more gently;
- mel_kegiatan: one report per activity; for a training the counts by sex x age group x disability
  are those of its registrations (distinct people; people who refused consent are counted from the
  sign-in sheet, as not disabled), submitted a few days after the training;
- mel_kapasitas_desa: every DESBUMI village of panel/wilayah.csv at baseline and at a later round
  (`capacity_rounds`), item scores 1-4 around a village level that mostly rises, evidence fields
  consistent with the scores;
- mel_msc: stories, mostly told by earlier participants, consent to use mostly named/anonymous
  (1/2), some refused (3), some selected at village/district/programme level.

Every submission is checked against its form (Plan.check) before it is returned; `_id` is one
server-wide sequence in upload order (so each form's `_id`s rise, with gaps), `_submission_time`
lies inside the programme period. Everything is a function of the seed and the forms.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from ..errors import InputError
from ..mel.participant_id import make_participant_id
from . import vocab
from .engine import MISSING_CODES, Options, Plan, SynthError
from .kobo import attachment_docs, device_time, envelope, kobo_ids, kobo_time, new_uuid
from .model import Form, Node, load_form
from .panel import SynthResult
from .xpath import ExpressionError, evaluate, to_number

REGISTRATION = "mel_registrasi"
TEST_GEDSI = "mel_tes_gedsi"
TEST_DIGITAL = "mel_tes_digital"
ACTIVITY = "mel_kegiatan"
CAPACITY = "mel_kapasitas_desa"
MSC = "mel_msc"
MEAL_FORMS = (REGISTRATION, TEST_GEDSI, TEST_DIGITAL, ACTIVITY, CAPACITY, MSC)

# Codes of the MEAL instruments (xlsform_src/mel_*.xlsx); the tests hold them to the forms.
SEX = {"M": "1", "F": "2"}
GEDSI, DIGITAL = "gedsi", "digital"
TRAINING_TYPE = {GEDSI: "1", DIGITAL: "2"}  # mel_registrasi jenis_pelatihan, mel_kegiatan jenis_kegiatan
TRAINING_PREFIX = {GEDSI: "GED", DIGITAL: "PMD"}
TEST_FORM = {GEDSI: TEST_GEDSI, DIGITAL: TEST_DIGITAL}
# Other activities of mel_kegiatan (jenis_kegiatan code -> work-plan prefix, weight).
OTHER_ACTIVITIES = {"3": ("MUS", 0.22), "4": ("KAS", 0.12), "5": ("SMA", 0.24), "6": ("DAT", 0.14),
                    "7": ("KOM", 0.18), "8": ("AUD", 0.10)}
MIGRANT_WEIGHTS = {  # status_migran 1 returnee, 2 family of a current migrant, 3 prospective, 4 none
    GEDSI: {"1": 0.32, "2": 0.28, "3": 0.10, "4": 0.30},
    DIGITAL: {"1": 0.76, "2": 0.12, "3": 0.04, "4": 0.08},
}
ROLE_WEIGHTS = {"1": 0.08, "2": 0.16, "3": 0.30, "4": 0.07, "5": 0.36, "96": 0.03}  # peran_desbumi
AGE_GROUPS = ((15, 24, "15_24"), (25, 39, "25_39"), (40, 59, "40_59"), (60, 200, "60"))
WG_FIELDS = ("wg_lihat", "wg_dengar", "wg_jalan", "wg_ingat", "wg_rawat", "wg_komunikasi")
WG_WEIGHTS = (0.26, 0.20, 0.30, 0.12, 0.06, 0.06)  # which domain a disability is in
REVERSED_ATTITUDES = frozenset({"sikap_03"})  # agreeing is the less equal answer (husband decides alone)
PRACTICES = {  # digital-marketing practice item -> (share yes before, added after the training)
    "toko_online": (0.12, 0.10), "katalog_wa": (0.16, 0.34), "terima_qris": (0.14, 0.14),
    "posting_mingguan": (0.20, 0.20), "jual_online": (0.18, 0.10),
}
CAPACITY_DOMAIN_SHIFT = {"d1": 0.25, "d2": 0.1, "d3": 0.15, "d4": -0.15, "d5": 0.05, "d6": -0.3, "d7": -0.25,
                         "d8": 0.0}
COUNTRIES = ("Malaysia", "Taiwan", "Hong Kong", "Singapura", "Arab Saudi")
PRODUCTS = ("keripik pisang", "kopi bubuk", "sambal botolan", "kue kering", "tenun ikat", "batik tulis",
            "madu hutan", "abon ikan", "kerupuk", "jamu instan")


@dataclass(frozen=True)
class MealDynamics:
    """Shares and sizes of the synthetic programme (defaults give a plausible 18-month programme)."""

    women: float = 0.70
    disability: float = 0.09  # people with a WG-SS answer 3 or 4 somewhere
    consent_refusal: float = 0.025  # registrations without consent to record personal data
    duplicates: float = 0.025  # registrations entered twice (at least one when there are 20 or more)
    returning: float = 0.15  # share of digital-marketing seats taken by earlier GEDSI participants
    late: float = 0.04  # participants who miss the first day (no pre-test)
    partial_attendance: float = 0.18  # participants who miss some other day
    pre_test: float = 0.95  # of those present on day one
    post_test: float = 0.88  # of those present on the last day
    gain: tuple[float, float] = (1.6, 0.75)  # mean and sd of the per-person gain in logits, pre -> post
    capacity_gain: tuple[float, float] = (0.5, 0.3)  # per round, on the 1-4 scale
    capacity_rounds: int = 2  # 1 baseline, 2 mid-term, 3 endline
    msc_consent: tuple[float, float, float] = (0.48, 0.37, 0.15)  # named, anonymous, not at all


@dataclass
class Activity:
    code: str  # GED-2025-004
    kind: str  # gedsi | digital | other
    type_code: str  # jenis_kegiatan
    kab: str
    desa: str  # host village (Kemendagri code)
    desa_name: str
    start: dt.date
    days: int
    tz: dt.timezone
    staff: tuple[int, int]  # recorder codes (kode_petugas) of the two registration staff
    attendees: list[_Attendance] = field(default_factory=list)
    headcount: int = 0  # participants in the activity report

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)


@dataclass
class Person:
    key: int
    kab: str
    desa: str
    sex: str  # F | M
    birth: dt.date
    name: str
    phone: str
    migrant: str  # status_migran code
    role: str  # peran_desbumi code
    wg: dict[str, str]  # wg field -> 1..4
    reads_alone: bool  # fills the tests alone (else read aloud: cara_isi 2)
    ability: float  # knowledge, in logits
    attitude: float
    business: bool
    participant_id: str = ""  # given at the first consented registration

    def age(self, on: dt.date) -> int:
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))

    @property
    def disabled(self) -> bool:
        return any(v in ("3", "4") for v in self.wg.values())


@dataclass
class _Attendance:
    person: Person
    consent: bool
    days: list[int]  # 1-based days attended
    returning: bool  # registered at an earlier training (shows the card)


@dataclass
class _Job:
    form_id: str
    start: dt.datetime  # aware, local
    end: dt.datetime
    received: dt.datetime
    kab: str
    username: str
    forced: dict
    seed: str
    truth: dict
    check: Any = None  # callable(answers) -> None, raising SynthError


class MealProgramme(dict):
    """{form_id: SynthResult} plus what the programme was made of."""

    def __init__(self, results: Mapping[str, SynthResult], *, seed: int, period: tuple[dt.date, dt.date],
                 activities: list[dict], people: int):
        super().__init__(results)
        self.seed = seed
        self.period = period
        self.activities = activities
        self.people = people


# --------------------------------------------------------------------------- forms

_FORM_CACHE: dict[tuple, Form] = {}


def meal_forms(forms: Mapping[str, Any] | None = None) -> dict[str, Form]:
    """The six MEAL forms: given ones (Form, .xlsx path or pyxform dict by form id), else the newest
    build in forms/ (with its media), else xlsform_src/<form_id>.xlsx of the project."""
    from ..forms.versions import load_index, version_key
    from .yearone import project_root

    given = dict(forms or {})
    root = project_root()
    out: dict[str, Form] = {}
    missing = []
    for form_id in MEAL_FORMS:
        source = given.get(form_id)
        if source is None and root is not None:
            builds = [b for b in load_index(root / "forms") if b.get("form_id") == form_id]
            if builds:
                newest = max(builds, key=lambda b: version_key(str(b.get("version", ""))))
                candidate = root / "forms" / str(newest.get("path") or f"{form_id}/{newest['version']}") / "form.xlsx"
                source = candidate if candidate.is_file() else None
            if source is None and (root / "xlsform_src" / f"{form_id}.xlsx").is_file():
                source = root / "xlsform_src" / f"{form_id}.xlsx"
        if source is None:
            missing.append(form_id)
            continue
        out[form_id] = _load_cached(source)
        if out[form_id].id_string != form_id:
            raise InputError(f"the form given as '{form_id}' has id_string '{out[form_id].id_string}'.")
    if missing:
        raise InputError(f"the MEAL generator needs the form(s) {', '.join(missing)}, which are neither given nor in "
                         f"forms/ or xlsform_src/.", hint="Pass them as forms={form_id: 'path/to/form.xlsx'}.")
    return out


def _load_cached(source: Any) -> Form:
    if isinstance(source, (str, Path)):
        path = Path(source).resolve()
        if path.is_file():
            stat = path.stat()
            key = (str(path), stat.st_mtime_ns, stat.st_size)
            if key not in _FORM_CACHE:
                _FORM_CACHE[key] = load_form(path)
            return _FORM_CACHE[key]
    return load_form(source)


_REF = re.compile(r"\$\{\s*([^}\s]+)\s*\}")


def answer_key(form: Form) -> dict[str, tuple[str, ...]]:
    """Knowledge item path -> its correct codes, read from the form's scoring calculates: a calculate
    that refers to one select_one and gives 1 for some of its choices and 0 for the others (benar_kNN =
    if(${kNN} = 2, 1, 0)). Items in document order."""
    key: dict[str, tuple[str, ...]] = {}
    for node in form.walk():
        if node.kind != "field" or not node.calculation:
            continue
        names = set(_REF.findall(node.calculation))
        if len(names) != 1:
            continue
        name = next(iter(names))
        if not form.has(name):
            continue
        item = form.field(name)
        if item.type != "select_one" or not item.choices:
            continue
        right, values = [], set()
        for choice in item.choices:
            try:
                value = to_number(evaluate(node.calculation, {name: choice.name}))
            except ExpressionError:
                values.add(None)
                break
            values.add(value)
            if value == 1:
                right.append(choice.name)
        if right and values <= {0.0, 1.0} and node.name.startswith(("benar", "correct", "skor_k", "score_k")):
            key[item.path] = tuple(right)
    return key


# --------------------------------------------------------------------------- the programme


def meal_programme(seed: int = 0, *, participants: int = 240, trainings: int | None = None,
                   other_activities: int | None = None, msc_stories: int | None = None,
                   start: dt.date | None = None, months: int = 18, dynamics: MealDynamics = MealDynamics(),
                   forms: Mapping[str, Any] | None = None, first_id: int = 1_000_001,
                   owner: str = "desbumi") -> MealProgramme:
    """The six MEAL forms' submissions for one synthetic programme, deterministic for `seed`.

    participants: distinct people trained (returning participants and duplicates come on top of
    their registrations); trainings: how many (default about one per 20 participants, at least 2);
    other_activities: reports of non-training activities (default half the trainings);
    msc_stories: default one per 10 participants (at least 6); start: first day of the programme
    (default a Monday between July 2024 and March 2025, from the seed); months: its length.
    """
    if participants < 4:
        raise InputError("meal_programme needs at least 4 participants.")
    if months < 6:
        raise InputError("meal_programme needs a programme of at least 6 months.")
    loaded = meal_forms(forms)
    master = Random(seed)
    if start is None:
        start = dt.date(2024, 7, 1) + dt.timedelta(days=master.randrange(0, 270))
        start -= dt.timedelta(days=start.weekday())
    end = start + dt.timedelta(days=round(months * 30.44))
    villages = _villages(loaded)
    staff = _Staff(seed)
    n_trainings = trainings if trainings is not None else max(2, round(participants / 20))
    n_trainings = max(1, min(n_trainings, participants // 2))
    activities, people = _trainings(master, seed, n_trainings, participants, start, end, villages, dynamics)
    n_other = other_activities if other_activities is not None else max(2, n_trainings // 2)
    others = _other_activities(master, n_other, start, end, villages)
    _work_plan_codes(master, activities + others)
    jobs: list[_Job] = []
    notes: dict[str, list[str]] = {form_id: [] for form_id in MEAL_FORMS}
    jobs += _registrations(master, seed, activities, staff, dynamics)
    keys = {kind: answer_key(loaded[TEST_FORM[kind]]) for kind in (GEDSI, DIGITAL)}
    for kind, key in keys.items():
        if not key:
            raise InputError(f"{TEST_FORM[kind]}: no scoring calculates (benar_* = if(${{item}} = code, 1, 0)) were "
                             "found, so the generator cannot aim at a score.")
    jobs += _tests(seed, activities, staff, dynamics, loaded, keys)
    jobs += _reports(seed, activities + others, staff)
    jobs += _capacity(seed, start, end, villages, staff, dynamics)
    n_msc = msc_stories if msc_stories is not None else max(6, round(participants / 10))
    jobs += _stories(seed, n_msc, start, end, activities, villages, staff, dynamics)
    results = _build(jobs, loaded, seed, first_id, owner, notes, (start, end))
    summary = [_activity_summary(a) for a in sorted(activities + others, key=lambda a: (a.start, a.code))]
    return MealProgramme(results, seed=seed, period=(start, end), activities=summary, people=len(people))


def write_meal_json(programme: Mapping[str, SynthResult], folder: str | Path, *, versions: bool = False) -> dict[Path, int]:
    """<folder>/<form_id>.json for every form: the list of submissions (with `versions`, every version,
    for seeding a server). Returns path -> number of documents."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[Path, int] = {}
    for form_id, result in programme.items():
        docs = result.versions() if versions else result.submissions
        path = folder / f"{form_id}.json"
        path.write_text(json.dumps(docs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        written[path] = len(docs)
    return written


def _activity_summary(activity: Activity) -> dict:
    consented = sorted({a.person.participant_id for a in activity.attendees if a.consent})
    return {"kode_kegiatan": activity.code, "kind": activity.kind, "jenis_kegiatan": activity.type_code,
            "kab": activity.kab, "desa": activity.desa, "start": activity.start.isoformat(),
            "end": activity.end.isoformat(), "participants": activity.headcount, "participant_ids": consented,
            "refused": sum(not a.consent for a in activity.attendees)}


# --------------------------------------------------------------------------- places and staff


def _villages(forms: Mapping[str, Form]) -> dict[str, list[tuple[str, str]]]:
    """District -> DESBUMI villages (panel/wilayah.csv), kept to the ones the forms' desa.csv offers."""
    from .yearone import villages

    found, _origin = villages()
    allowed = None
    for form in forms.values():
        rows = (form.media or {}).get("desa.csv")
        if rows:
            names = {row.get("name", "") for row in rows}
            allowed = names if allowed is None else allowed & names
    out = {}
    for kab, items in found.items():
        kept = [(code, name) for code, name in items if allowed is None or code in allowed]
        if kept and kab in vocab.DISTRICTS:
            out[kab] = kept
    if not out:
        raise InputError("no DESBUMI village of panel/wilayah.csv is a choice of the MEAL forms' desa.csv.")
    return out


def _tz(kab: str) -> dt.timezone:
    sign, hours, minutes = vocab.DISTRICTS[kab]["offset"][0], int(vocab.DISTRICTS[kab]["offset"][1:3]), 0
    delta = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(delta if sign == "+" else -delta)


class _Staff:
    """Programme staff per district: Kobo usernames, devices and recorder codes."""

    def __init__(self, seed: int):
        self.seed = seed
        self.devices: dict[str, str] = {}

    def username(self, kab: str, number: int) -> str:
        return f"mel_{kab}_{number:02d}"

    def device(self, username: str) -> str:
        if username not in self.devices:
            rng = Random(f"device:{username}")
            self.devices[username] = "collect:" + "".join(rng.choice("0123456789abcdefghijklmnopqrstuvwxyz")
                                                          for _ in range(16))
        return self.devices[username]

    @staticmethod
    def recorder(kab: str, number: int) -> int:
        return (vocab.DISTRICT_CODES.index(kab) + 1) * 100 + number


# --------------------------------------------------------------------------- trainings and people


def _weekday(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _trainings(master: Random, seed: int, count: int, participants: int, start: dt.date, end: dt.date,
               villages: dict, dynamics: MealDynamics) -> tuple[list[Activity], list[Person]]:
    districts = list(villages)
    weights = [vocab.DISTRICTS[k]["weight"] for k in districts]
    order: list[str] = []
    while districts:  # a weighted shuffle: bigger programmes first
        pick = master.choices(range(len(districts)), weights=weights)[0]
        order.append(districts.pop(pick))
        weights.pop(pick)
    used = order[:min(len(order), max(1, math.ceil(count / 2)))]
    first = start + dt.timedelta(days=30)
    span = max(1, (end - dt.timedelta(days=60) - first).days)
    activities: list[Activity] = []
    for index in range(count):
        kab = used[index % len(used)]
        round_ = index // len(used)
        kind = GEDSI if round_ % 2 == 0 else DIGITAL
        day = _weekday(first + dt.timedelta(days=int((index + master.uniform(0.1, 0.9)) * span / count)))
        desa, desa_name = master.choice(villages[kab])
        days = master.choice((2, 3, 3)) if kind == GEDSI else master.choice((2, 3, 3, 4))
        number = master.randint(1, 3)
        staff = (_Staff.recorder(kab, number), _Staff.recorder(kab, number % 3 + 1))
        activities.append(Activity(code="", kind=kind, type_code=TRAINING_TYPE[kind], kab=kab, desa=desa,
                                   desa_name=desa_name, start=day, days=days, tz=_tz(kab), staff=staff))
    if count >= 2 and all(a.kind == GEDSI for a in activities):
        activities[-1].kind, activities[-1].type_code = DIGITAL, TRAINING_TYPE[DIGITAL]
    activities.sort(key=lambda a: a.start)
    # seats for new people: a share of `participants` per training, summing exactly
    shares = [master.uniform(0.75, 1.25) for _ in activities]
    raw = [participants * s / sum(shares) for s in shares]
    seats = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - seats[i], reverse=True)[:participants - sum(seats)]:
        seats[i] += 1
    people: list[Person] = []
    earlier: dict[str, list[Person]] = {}  # district -> consenting GEDSI participants so far
    for number, (activity, new) in enumerate(zip(activities, seats)):
        rng = Random(f"{seed}:training:{number}")
        attendees: list[_Attendance] = []
        for _ in range(new):
            person = _person(rng, len(people), activity, villages, dynamics)
            people.append(person)
            attendees.append(_Attendance(person, consent=rng.random() >= dynamics.consent_refusal,
                                         days=_days(rng, activity.days, dynamics), returning=False))
        if activity.kind == DIGITAL:
            pool = list(earlier.get(activity.kab, []))
            wanted = round(dynamics.returning * new / max(1e-9, 1 - dynamics.returning))
            if pool and wanted:
                weights = [3.0 if p.migrant == "1" else 1.0 for p in pool]
                chosen: list[Person] = []
                while pool and len(chosen) < wanted:
                    pick = rng.choices(range(len(pool)), weights=weights)[0]
                    chosen.append(pool.pop(pick))
                    weights.pop(pick)
                for person in chosen:
                    attendees.append(_Attendance(person, consent=True, days=_days(rng, activity.days, dynamics),
                                                 returning=True))
                earlier[activity.kab] = [p for p in earlier[activity.kab] if p not in chosen]
        rng.shuffle(attendees)
        attendees.sort(key=lambda a: a.days[0])  # registered on the day they first come
        activity.attendees = attendees
        if activity.kind == GEDSI:
            earlier.setdefault(activity.kab, []).extend(a.person for a in attendees if a.consent)
    return activities, people


def _days(rng: Random, days: int, dynamics: MealDynamics) -> list[int]:
    present = list(range(1, days + 1))
    if days > 1 and rng.random() < dynamics.late:
        present.remove(1)
    if len(present) > 1 and rng.random() < dynamics.partial_attendance:
        present.remove(rng.choice(present))
    return present


def _person(rng: Random, key: int, activity: Activity, villages: dict, dynamics: MealDynamics) -> Person:
    kab = activity.kab
    if rng.random() < 0.7 or len(villages[kab]) == 1:
        desa = activity.desa
    else:
        desa = rng.choice([code for code, _ in villages[kab] if code != activity.desa])
    sex = "F" if rng.random() < dynamics.women else "M"
    age = 16 if rng.random() < 0.015 else round(rng.triangular(18, 66, 34))
    birth = activity.start - dt.timedelta(days=int(age * 365.25 + rng.uniform(1, 364)))
    migrant_weights = MIGRANT_WEIGHTS[activity.kind]
    migrant = rng.choices(list(migrant_weights), weights=list(migrant_weights.values()))[0]
    role = rng.choices(list(ROLE_WEIGHTS), weights=list(ROLE_WEIGHTS.values()))[0]
    wg = {name: "1" for name in WG_FIELDS}
    older = age >= 50
    for name in WG_FIELDS:
        if rng.random() < (0.22 if older else 0.07):
            wg[name] = "2"
    if rng.random() < dynamics.disability * (1.6 if older else 0.85):
        for name in sorted({rng.choices(WG_FIELDS, weights=WG_WEIGHTS)[0] for _ in range(1 + (rng.random() < 0.2))}):
            wg[name] = "3" if rng.random() < 0.8 else "4"
    reads_alone = not (wg["wg_lihat"] in ("3", "4") or wg["wg_ingat"] in ("3", "4")
                       or rng.random() < (0.25 if older else 0.10))
    ability = rng.gauss(0, 0.8) - (0.3 if older else 0.0) - (0.0 if reads_alone else 0.3)
    region = vocab.region_of(kab)
    return Person(key=key, kab=kab, desa=desa, sex=sex, birth=birth, name=vocab.person_name(rng, sex, region),
                  phone=vocab.phone_number(rng) if rng.random() < 0.8 else "", migrant=migrant, role=role, wg=wg,
                  reads_alone=reads_alone, ability=ability, attitude=rng.gauss(0, 1),
                  business=rng.random() < (0.62 if migrant == "1" else 0.4))


def _other_activities(master: Random, count: int, start: dt.date, end: dt.date, villages: dict) -> list[Activity]:
    out = []
    codes = list(OTHER_ACTIVITIES)
    weights = [OTHER_ACTIVITIES[c][1] for c in codes]
    span = max(1, (end - start).days - 60)
    for _ in range(count):
        kab = master.choice(list(villages))
        desa, desa_name = master.choice(villages[kab])
        day = _weekday(start + dt.timedelta(days=20 + master.randrange(span)))
        out.append(Activity(code="", kind="other", type_code=master.choices(codes, weights=weights)[0], kab=kab,
                            desa=desa, desa_name=desa_name, start=day, days=1, tz=_tz(kab),
                            staff=(_Staff.recorder(kab, 1), _Staff.recorder(kab, 2))))
    return out


def _work_plan_codes(master: Random, activities: list[Activity]) -> None:
    """PRE-YYYY-NNN: the serial runs over the year's work plan (with gaps for activities not reported)."""
    serial: dict[int, int] = {}
    for activity in sorted(activities, key=lambda a: (a.start, a.kab, a.type_code)):
        year = activity.start.year
        serial[year] = serial.get(year, 0) + master.randint(1, 3)
        prefix = TRAINING_PREFIX.get(activity.kind) or OTHER_ACTIVITIES[activity.type_code][0]
        activity.code = f"{prefix}-{year}-{serial[year]:03d}"


def _at(day: dt.date, tz: dt.timezone, hour: float, rng: Random) -> dt.datetime:
    seconds = int(hour * 3600) + rng.randint(0, 59)
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz) + dt.timedelta(seconds=seconds,
                                                                               milliseconds=rng.randint(0, 999))


def _upload(end: dt.datetime, rng: Random, low: float = 0.1, high: float = 40.0) -> dt.datetime:
    return end + dt.timedelta(hours=math.exp(rng.uniform(math.log(low), math.log(high))))


# --------------------------------------------------------------------------- registrations


def _registrations(master: Random, seed: int, activities: list[Activity], staff: _Staff,
                   dynamics: MealDynamics) -> list[_Job]:
    jobs: list[_Job] = []
    serials: dict[str, int] = {}
    consenting: list[tuple[Activity, _Attendance, int]] = []
    for activity in activities:
        rng = Random(f"{seed}:registration:{activity.code}")
        for position, attendance in enumerate(activity.attendees):
            person = attendance.person
            forced = _training_answers(activity, attendance.days[0] if attendance.days else 1, position)
            truth = {"kind": "refused", "person": person.key, "id_peserta": "", "kode_kegiatan": activity.code,
                     "duplicate_of": None}
            if attendance.consent:
                forced["setuju"] = ("1", True)
                if person.participant_id:
                    forced["status_id"] = ("1", True)
                    forced["id_lama"] = (person.participant_id, True)
                    truth["kind"] = "returning"
                else:
                    serials[person.kab] = serials.get(person.kab, 0) + 1
                    person.participant_id = make_participant_id(person.kab, serials[person.kab])
                    forced["status_id"] = ("2", True)
                    forced["no_urut"] = (person.participant_id[5:9], True)
                    truth["kind"] = "new"
                truth["id_peserta"] = person.participant_id
                forced.update(_person_answers(person, activity.start))
                forced["hari_hadir"] = (" ".join(str(d) for d in attendance.days), True)
                consenting.append((activity, attendance, len(jobs)))
            else:
                forced["setuju"] = ("0", True)
            jobs.append(_registration_job(activity, attendance, forced, truth, rng, staff, seed, len(jobs),
                                          first_day=attendance.days[0]))
    # duplicates: the same person registered again for the same training, another day, another recorder
    count = round(dynamics.duplicates * len(consenting))
    if len(consenting) >= 20:
        count = max(1, count)
    for activity, attendance, original in sorted(master.sample(consenting, min(count, len(consenting))),
                                                 key=lambda item: item[2]):
        rng = Random(f"{seed}:duplicate:{activity.code}:{attendance.person.key}")
        person = attendance.person
        later = [d for d in attendance.days if d > attendance.days[0]] or attendance.days
        day = rng.choice(later)
        forced = _training_answers(activity, day, rng.randrange(len(activity.attendees)), other_recorder=True)
        forced.update({"setuju": ("1", True), "status_id": ("1", True), "id_lama": (person.participant_id, True)})
        forced.update(_person_answers(person, activity.start))
        forced["hari_hadir"] = (" ".join(str(d) for d in attendance.days if d >= day), True)
        truth = {"kind": "duplicate", "person": person.key, "id_peserta": person.participant_id,
                 "kode_kegiatan": activity.code, "duplicate_of": original}
        job = _registration_job(activity, attendance, forced, truth, rng, staff, seed, len(jobs), first_day=day)
        # the copy reaches the server after the original (which was entered first)
        job.received = max(job.received, jobs[original].received + dt.timedelta(minutes=rng.uniform(5, 1200)))
        jobs.append(job)
    return jobs


def _training_answers(activity: Activity, day: int, position: int, other_recorder: bool = False) -> dict:
    recorder = activity.staff[(position + other_recorder) % 2]
    return {"kode_petugas": (str(recorder), True), "jenis_pelatihan": (activity.type_code, True),
            "kode_kegiatan": (activity.code, True), "tgl_mulai": (activity.start.isoformat(), True),
            "jml_hari": (str(activity.days), True)}


def _person_answers(person: Person, on: dt.date) -> dict:
    age = person.age(on)
    forced = {"kab": (person.kab, True), "desa": (person.desa, True), "nama_peserta": (person.name, True),
              "jenis_kelamin": (SEX[person.sex], True), "umur": (str(age), True),
              "status_migran": (person.migrant, True), "peran_desbumi": (person.role, True),
              "no_hp": (person.phone, False)}
    if age < 18:
        forced["setuju_wali"] = ("1", True)
    for name, value in person.wg.items():
        forced[name] = (value, True)
    return forced


def _registration_job(activity: Activity, attendance: _Attendance, forced: dict, truth: dict, rng: Random,
                      staff: _Staff, seed: int, index: int, first_day: int) -> _Job:
    day = activity.start + dt.timedelta(days=first_day - 1)
    start = _at(day, activity.tz, rng.uniform(7.3, 9.0) if first_day == 1 else rng.uniform(7.5, 12.0), rng)
    # the form stays open for the attendance and is finalised at the close of the training
    end = _at(activity.end, activity.tz, rng.uniform(15.5, 17.0), rng)
    recorder = int(forced["kode_petugas"][0]) % 100
    username = staff.username(activity.kab, recorder)
    expected = truth["id_peserta"]

    def check(answers: dict) -> None:
        got = answers.get("peserta/id_peserta", "")
        if got != expected:
            raise SynthError(f"{REGISTRATION}: the form gave the participant ID {got!r}, the generator meant "
                             f"{expected!r} ({activity.code}).")

    return _Job(REGISTRATION, start, end, _upload(end, rng), activity.kab, username, forced,
                f"{seed}:{REGISTRATION}:{index}", truth, check)


# --------------------------------------------------------------------------- tests


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _tests(seed: int, activities: list[Activity], staff: _Staff, dynamics: MealDynamics,
           forms: Mapping[str, Form], keys: Mapping[str, dict]) -> list[_Job]:
    jobs: list[_Job] = []
    difficulty = {}
    for kind, key in keys.items():
        rng = Random(f"{seed}:difficulty:{kind}")
        difficulty[kind] = {path: rng.gauss(0, 0.75) for path in key}
    for activity in activities:
        form = forms[TEST_FORM[activity.kind]]
        key = keys[activity.kind]
        attitudes = [n.path for n in form.fields if n.type == "select_one" and re.match(r"sikap_\d+$", n.name)]
        practices = [n for n in form.fields if n.type == "select_one" and n.parent.endswith("praktik")]
        offset = -0.25 if activity.kind == GEDSI else -0.5
        for attendance in activity.attendees:
            if not attendance.consent:
                continue
            person = attendance.person
            rng = Random(f"{seed}:tests:{activity.code}:{person.key}")
            pre = 1 in attendance.days and rng.random() < dynamics.pre_test
            post = activity.days in attendance.days and rng.random() < dynamics.post_test
            theta = person.ability + rng.gauss(0, 0.4)
            gain = rng.gauss(*dynamics.gain)
            shift = rng.gauss(0.6, 0.4)
            practised: dict[str, bool] = {}
            for phase, wanted in (("1", pre), ("2", post)):
                if not wanted:
                    continue
                after = phase == "2"
                logit = theta + offset + (gain if after else 0.0)
                right = {path: rng.random() < _sigmoid(logit - difficulty[activity.kind][path]) for path in key}
                forced = {"fase": (phase, True), "kode_kegiatan": (activity.code, True),
                          "id_peserta": (person.participant_id, True),
                          "id_peserta_ulang": (person.participant_id, True),
                          "cara_isi": ("1" if person.reads_alone else "2", True)}
                for path, ok in right.items():
                    forced[path] = (_answer(form.nodes[path], key[path], ok, after, rng), True)
                for path in attitudes:
                    forced[path] = (_likert(person.attitude + (shift if after else 0.0), path, rng), True)
                for node in practices:
                    forced[node.path] = (_practice(node.name, person, after, practised, rng), True)
                correct = sum(right.values())
                score = math.floor(100 * correct / len(key) + 0.5)
                day = activity.start if not after else activity.end
                start = _at(day, activity.tz, rng.uniform(8.5, 10.0) if not after else rng.uniform(13.5, 15.5), rng)
                end = start + dt.timedelta(minutes=rng.uniform(12, 35))
                truth = {"person": person.key, "id_peserta": person.participant_id, "kode_kegiatan": activity.code,
                         "fase": phase, "jml_benar": correct, "skor": score}
                jobs.append(_Job(form.id_string, start, end, _upload(end, rng, 0.5, 48.0), activity.kab,
                                 staff.username(activity.kab, activity.staff[0] % 100), forced,
                                 f"{seed}:{form.id_string}:{activity.code}:{person.key}:{phase}", truth,
                                 _score_check(form, score, correct)))
    return jobs


def _answer(node: Node, right: tuple[str, ...], correct: bool, after: bool, rng: Random) -> str:
    if correct:
        return right[0] if len(right) == 1 else rng.choice(right)
    wrong = [c.name for c in node.choices or () if c.name not in right]
    weights = [(0.35 if after else 1.6) if name in MISSING_CODES else 1.0 for name in wrong]
    return rng.choices(wrong, weights=weights)[0]


def _likert(level: float, path: str, rng: Random) -> str:
    x = level + 0.5 + rng.gauss(0, 0.9)
    value = 1 if x < -0.6 else 2 if x < 0.4 else 3 if x < 1.4 else 4
    if path.rsplit("/", 1)[-1] in REVERSED_ATTITUDES:
        value = 5 - value
    return str(value)


def _practice(name: str, person: Person, after: bool, practised: dict, rng: Random) -> str:
    if name == "punya_usaha":
        return "1" if person.business else "0"
    before, added = PRACTICES.get(name, (0.15, 0.15))
    if not person.business:
        before, added = before / 2, added / 2
    if not after:
        practised[name] = rng.random() < before
        return "1" if practised[name] else "0"
    done = practised.get(name, False) or rng.random() < added / max(1e-9, 1 - before)
    return "1" if done else "0"


def _score_check(form: Form, score: int, correct: int):
    path = form.field("skor").path if form.has("skor") else ""

    def check(answers: dict) -> None:
        if path and answers.get(path) != str(score):
            raise SynthError(f"{form.id_string}: the form scored {answers.get(path)!r}, the generator aimed at "
                             f"{score} ({correct} right).")

    return check


# --------------------------------------------------------------------------- activity reports


TRAINING_TITLES = {
    GEDSI: ("Pelatihan GEDSI dan Interseksionalitas bagi Kader DESBUMI {desa}",
            "Pelatihan Kesetaraan Gender, Disabilitas dan Inklusi Sosial - Desa {desa}",
            "Pelatihan GEDSI untuk Pengurus dan Komunitas DESBUMI {desa}"),
    DIGITAL: ("Pelatihan Pemasaran Digital bagi Purna PMI Desa {desa}",
              "Pelatihan Foto Produk, Katalog WhatsApp dan QRIS untuk Purna PMI {desa}",
              "Pelatihan Jualan Online bagi Usaha Purna PMI - {desa}"),
}
OTHER_TITLES = {
    "3": "Fasilitasi Musdes Perencanaan: usulan pelindungan PMI Desa {desa}",
    "4": "Pendampingan kasus PMI asal Desa {desa}",
    "5": "Sosialisasi migrasi aman di Desa {desa}",
    "6": "Pendataan PMI dan purna PMI Desa {desa}",
    "7": "Pertemuan rutin komunitas purna PMI {desa}",
    "8": "Audiensi DESBUMI {desa} dengan Disnaker kabupaten",
}
OUTPUTS = {GEDSI: ("1 7", "1", "1 3"), DIGITAL: ("1 6", "6", "1 6 7"), "3": ("3", "1 3"), "4": ("4",), "5": ("7", "1"),
           "6": ("5",), "7": ("1", "6"), "8": ("1", "3")}
ISSUES = ("Beberapa peserta datang terlambat karena hujan dan jalan rusak.",
          "Sinyal internet lemah, praktik katalog online dilakukan bergantian.",
          "Peserta perempuan membawa anak kecil; panitia menyediakan pojok anak.",
          "Juru bahasa isyarat hanya hadir pada hari pertama.",
          "Tidak ada masalah berarti.",
          "Waktu diskusi kurang karena acara pembukaan molor.")
FOLLOW_UPS = ("Pendampingan lanjutan oleh kader DESBUMI bulan depan.",
              "Rencana tindak lanjut dibahas di pertemuan komunitas berikutnya.",
              "Usulan dibawa ke Musdes perencanaan tahun ini.",
              "Kunjungan ke rumah peserta yang belum hadir penuh.",
              "Grup WhatsApp peserta dipakai untuk berbagi praktik.")


def _reports(seed: int, activities: list[Activity], staff: _Staff) -> list[_Job]:
    jobs = []
    for activity in sorted(activities, key=lambda a: (a.start, a.code)):
        rng = Random(f"{seed}:report:{activity.code}")
        counts, truth = _report_counts(activity, rng)
        activity.headcount = truth["participants"]
        if activity.kind in (GEDSI, DIGITAL):
            title = rng.choice(TRAINING_TITLES[activity.kind])
            outputs = rng.choice(OUTPUTS[activity.kind])
            source = "2"
            hosts = {a.person.desa for a in activity.attendees}
            level = "1" if hosts <= {activity.desa} else "2"
            organisers = rng.choice(("1 2 3", "1 3", "1 2"))
        else:
            title = OTHER_TITLES[activity.type_code]
            outputs = rng.choice(OUTPUTS[activity.type_code])
            source = rng.choices(("1", "3", "4"), weights=(0.75, 0.2, 0.05))[0]
            level = "3" if activity.type_code == "8" else rng.choices(("1", "2"), weights=(0.8, 0.2))[0]
            organisers = rng.choice(("3", "2 3", "1 3", "3 5")) if activity.type_code != "8" else "1 4"
        photos = rng.choices((0, 1, 2, 3), weights=(0.05, 0.25, 0.4, 0.3))[0]
        forced = {"peran_pelapor": (rng.choices(("1", "2", "4"), weights=(0.5, 0.35, 0.15))[0], True),
                  "kab": (activity.kab, True), "kode_kegiatan": (activity.code, True),
                  "jenis_kegiatan": (activity.type_code, True),
                  "judul_kegiatan": (title.format(desa=activity.desa_name), True),
                  "tgl_mulai": (activity.start.isoformat(), True), "tgl_selesai": (activity.end.isoformat(), True),
                  "tingkat": (level, True), "tempat": (_venue(activity, level, rng), True),
                  "penyelenggara": (organisers, True), "sumber_peserta": (source, True),
                  "cek_peserta": ("1", True), "keluaran": (outputs, True),
                  "keluaran_ket": (_outputs_text(outputs), True), "masalah": (rng.choice(ISSUES), True),
                  "tindak_lanjut": (rng.choice(FOLLOW_UPS), True), "jml_foto": (str(photos), True)}
        if level in ("1", "2"):
            forced["desa"] = (activity.desa, True)
        if photos:
            forced["foto_ket"] = (rng.choice(("Suasana kegiatan di {d}", "Peserta berdiskusi dalam kelompok, {d}",
                                              "Foto bersama peserta dan fasilitator, {d}")).format(d=activity.desa_name),
                                  False)
        forced.update({name: (str(value), True) for name, value in counts.items()})
        day = activity.end + dt.timedelta(days=rng.randint(1, 9))
        if rng.random() < 0.7:
            forced["tgl_tindak_lanjut"] = ((activity.end + dt.timedelta(days=rng.randint(14, 60))).isoformat(), True)
        else:
            forced["tgl_tindak_lanjut"] = ("", False)
        start = _at(day, activity.tz, rng.uniform(9, 16), rng)
        end = start + dt.timedelta(minutes=rng.uniform(15, 45))
        truth.update({"kode_kegiatan": activity.code, "kind": activity.kind})
        jobs.append(_Job(ACTIVITY, start, end, _upload(end, rng, 0.05, 24.0), activity.kab,
                         staff.username(activity.kab, activity.staff[0] % 100), forced,
                         f"{seed}:{ACTIVITY}:{activity.code}", truth))
    return jobs


def _report_counts(activity: Activity, rng: Random) -> tuple[dict[str, int], dict]:
    counts = {f"{prefix}_{s}_{group}": 0 for prefix in ("p", "d") for s in ("l", "p") for _, _, group in AGE_GROUPS}
    if activity.kind in (GEDSI, DIGITAL):
        people = []
        seen = set()
        for attendance in activity.attendees:
            if attendance.person.key not in seen:
                seen.add(attendance.person.key)
                people.append(attendance)
        for attendance in people:
            person = attendance.person
            group = next(g for low, high, g in AGE_GROUPS if low <= person.age(activity.start) <= high)
            sex = "l" if person.sex == "M" else "p"
            counts[f"p_{sex}_{group}"] += 1
            if attendance.consent and person.disabled:  # known from the registration only
                counts[f"d_{sex}_{group}"] += 1
        truth = {"participants": len(people), "participant_ids": sorted(
            {a.person.participant_id for a in people if a.consent}), "refused": sum(not a.consent for a in people)}
    else:
        total = rng.randint(10, 60) if activity.type_code != "4" else rng.randint(1, 6)
        women = rng.uniform(0.45, 0.8)
        for _ in range(total):
            sex = "p" if rng.random() < women else "l"
            group = rng.choices([g for _, _, g in AGE_GROUPS], weights=(0.15, 0.45, 0.33, 0.07))[0]
            counts[f"p_{sex}_{group}"] += 1
            if rng.random() < 0.06:
                counts[f"d_{sex}_{group}"] += 1
        truth = {"participants": total, "participant_ids": [], "refused": 0}
    return counts, truth


def _venue(activity: Activity, level: str, rng: Random) -> str:
    if level == "3":
        return rng.choice(("Aula Disnaker Kabupaten", "Ruang rapat Bappeda", "Pendopo Kabupaten"))
    return rng.choice(("Balai Desa {d}", "Aula Kantor Desa {d}", "Rumah kader DESBUMI, Desa {d}",
                       "Posko DESBUMI {d}")).format(d=activity.desa_name)


def _outputs_text(outputs: str) -> str:
    words = {"0": "tidak ada keluaran tertulis", "1": "RTL peserta", "2": "draf Perdes", "3": "usulan RKPDes",
             "4": "catatan kasus", "5": "data PMI terbarui", "6": "rencana usaha dan katalog online",
             "7": "materi informasi", "96": "lainnya"}
    return "Keluaran: " + ", ".join(words.get(code, code) for code in outputs.split()) + "."


# --------------------------------------------------------------------------- village capacity


def _capacity(seed: int, start: dt.date, end: dt.date, villages: dict, staff: _Staff,
              dynamics: MealDynamics) -> list[_Job]:
    jobs = []
    rounds = max(1, min(3, dynamics.capacity_rounds))
    total_days = (end - start).days
    for kab, items in villages.items():
        for code, name in items:
            rng = Random(f"{seed}:capacity:{code}")
            level = rng.uniform(1.2, 2.5)
            assessor = rng.choices(("1", "2", "3"), weights=(0.5, 0.3, 0.2))[0]
            tz = _tz(kab)
            for round_ in range(1, rounds + 1):
                if round_ > 1:
                    level += rng.gauss(*dynamics.capacity_gain)
                offset = 10 if rounds == 1 or round_ == 1 else 10 + (round_ - 1) * (total_days - 70) // (rounds - 1)
                day = _weekday(start + dt.timedelta(days=offset + rng.randrange(0, 35)))
                forced = _capacity_answers(level, day, rng)
                forced.update({"kab": (kab, True), "desa": (code, True), "tgl_penilaian": (day.isoformat(), True),
                               "putaran": (str(round_), True), "peran_penilai": (assessor, True),
                               "metode": (rng.choice(("1 2 3", "1 2", "1 2 3 4", "2 3")), True)})
                forced["rekomendasi"] = (rng.choice((
                    "Perkuat pencatatan keberangkatan dan kepulangan PMI.",
                    "Dorong alokasi APBDes untuk layanan PPT.",
                    "Tetapkan SK tim DESBUMI dan latih paralegal desa.",
                    "Libatkan perempuan purna PMI dan penyandang disabilitas dalam Musdes.",
                    "Perbarui papan informasi lowongan kerja dan migrasi aman.")), True)
                start_at = _at(day, tz, rng.uniform(9, 14), rng)
                finish = start_at + dt.timedelta(minutes=rng.uniform(60, 150))
                truth = {"desa": code, "putaran": str(round_), "level": round(level, 3)}
                jobs.append(_Job(CAPACITY, start_at, finish, _upload(finish, rng, 0.5, 72.0), kab,
                                 staff.username(kab, 1), forced, f"{seed}:{CAPACITY}:{code}:{round_}", truth))
    return jobs


def _capacity_answers(level: float, day: dt.date, rng: Random) -> dict:
    items = {"d1": ("d1_sumber_info", "d1_sosialisasi", "d1_verifikasi", "d1_inklusif"),
             "d2": ("d2_data_berangkat", "d2_data_pulang", "d2_mutakhir", "d2_pakai"),
             "d3": ("d3_layanan", "d3_periksa", "d3_biaya", "d3_rujuk"),
             "d4": ("d4_paralegal", "d4_pengaduan", "d4_catat", "d4_jejaring"),
             "d5": ("d5_komunitas", "d5_pelatihan", "d5_modal", "d5_kepemimpinan"),
             "d6": ("d6_perdes", "d6_sk", "d6_apbdes"),
             "d7": ("d7_tempat", "d7_petugas", "d7_layanan", "d7_akses"),
             "d8": ("d8_undangan", "d8_usulan", "d8_diterima", "d8_suara")}
    forced: dict = {}
    score: dict[str, int] = {}
    for domain, names in items.items():
        domain_level = level + CAPACITY_DOMAIN_SHIFT[domain] + rng.gauss(0, 0.25)
        values = []
        for name in names:
            value = min(4, max(1, round(domain_level + rng.gauss(0, 0.45))))
            score[name] = value
            values.append(value)
            forced[name] = (str(value), True)
        mean = sum(values) / len(values)
        forced[f"{domain}_dok"] = ("1" if rng.random() < 0.15 + 0.25 * (mean - 1) else "0", True)

    def earlier(max_days: int) -> str:
        return (day - dt.timedelta(days=rng.randint(3, max_days))).isoformat()

    sessions = 0 if score["d1_sosialisasi"] == 1 else rng.randint(1, 3 * score["d1_sosialisasi"])
    forced["d1_n_sosialisasi"] = (str(sessions), True)
    forced["d1_tgl_sosialisasi"] = (earlier(200), True) if sessions else ("", False)
    if forced["d2_dok"][0] == "1":
        forced["d2_n_tercatat"] = (str(rng.randint(15, 120) * score["d2_data_pulang"]), True)
        forced["d2_tgl_update"] = (earlier(365), True)
    forced["d3_n_layanan"] = (str(0 if score["d3_layanan"] == 1 else rng.randint(2, 20) * score["d3_layanan"]), True)
    forced["d4_n_kasus"] = (str(rng.randint(0, 4) * score["d4_catat"]), True)
    forced["d4_n_paralegal"] = (str(0 if score["d4_paralegal"] == 1 else rng.randint(1, 2 + score["d4_paralegal"])), True)
    members = 0 if score["d5_komunitas"] == 1 else rng.randint(6, 15) * score["d5_komunitas"]
    forced["d5_n_anggota"] = (str(members), True)
    forced["d5_n_usaha"] = (str(rng.randint(0, members // 2) if members else 0), True)
    forced["d6_tgl_perdes"] = (earlier(900), True) if forced["d6_dok"][0] == "1" else ("", False)
    budget = 0 if score["d6_apbdes"] == 1 else rng.randint(10, 60) * score["d6_apbdes"] * 500_000
    forced["d6_apbdes_rp"] = (str(budget), True)
    forced["d7_n_layanan"] = (str(0 if score["d7_layanan"] == 1 else rng.randint(3, 25) * score["d7_layanan"]), True)
    officers = 0 if score["d7_petugas"] == 1 else rng.randint(1, 4)
    forced["d7_n_petugas"] = (str(officers), True)
    if officers:
        forced["d7_n_petugas_pr"] = (str(rng.randint(1 if score["d7_petugas"] == 4 else 0, officers)), True)
    forced["d8_n_usulan"] = (str(0 if score["d8_usulan"] == 1 else rng.randint(1, 2 * score["d8_usulan"])), True)
    forced["d8_tgl_musdes"] = (earlier(330), True) if forced["d8_dok"][0] == "1" else ("", False)
    return forced


# --------------------------------------------------------------------------- Most Significant Change

STORIES = {
    "1": (("Dari dapur majikan di {negara} ke toko online sendiri",
           ("Setelah pulang dari {negara} saya bingung mau usaha apa. Di pelatihan pemasaran digital saya belajar "
            "memotret {produk} dan membuat katalog WhatsApp. Sekarang pesanan datang dari luar kabupaten."),
           "Penghasilan keluarga lebih pasti dan saya tidak harus berangkat lagi."),
          ("Warung kecil yang kini menerima QRIS",
           ("Dulu pembeli sering batal karena tidak bawa uang tunai. Sejak punya QRIS dan rutin posting {produk} "
            "di grup desa, penjualan naik hampir dua kali."),
           "Usaha purna PMI bisa bertahan tanpa modal besar.")),
    "2": (("Tetangga batal berangkat lewat calo",
           ("Seorang tetangga hampir berangkat ke {negara} lewat calo tanpa kontrak. Kader DESBUMI mengecek "
            "lowongannya ke Disnaker dan ternyata palsu. Ia kemudian berangkat lewat jalur resmi."),
           "Desa kini punya cara memeriksa lowongan sebelum warga berangkat."),),
    "3": (("Saya berani bicara di Musdes",
           ("Dulu saya hanya duduk di belakang. Setelah pelatihan GEDSI saya menyampaikan usulan kelompok purna "
            "PMI di Musdes dan usulan itu dicatat."),
           "Suara perempuan purna PMI mulai didengar dalam perencanaan desa."),
          ("Suami ikut mengurus rumah",
           ("Suami saya ikut sesi tentang beban ganda. Sekarang ia ikut memasak dan mengantar anak sekolah "
            "ketika saya berjualan {produk}."),
           "Pembagian kerja di rumah berubah, saya punya waktu untuk usaha.")),
    "4": (("Anak Tuli kami diundang ke Musdes",
           "Desa menyediakan juru bahasa isyarat dan anak kami ikut menyampaikan pendapat di Musdes.",
           "Penyandang disabilitas tidak lagi hanya dikasihani, tetapi diajak memutuskan."),),
    "5": (("Perdes pelindungan PMI akhirnya disahkan",
           "Setelah dua tahun dibahas, Perdes tentang pelindungan PMI disahkan dan ada anggaran untuk PPT desa.",
           "Layanan bagi calon PMI dan purna PMI kini punya dasar hukum dan dana."),),
    "6": (("Kelompok purna PMI bertemu tiap bulan",
           "Kelompok kami mulai rutin bertemu, punya pengurus dan arisan modal usaha {produk}.",
           "Purna PMI saling menguatkan dan tidak merasa sendirian."),),
    "96": (("Anak-anak kembali sekolah",
            "Uang kiriman kini dicatat bersama keluarga sehingga biaya sekolah anak tidak terpakai untuk hal lain.",
            "Keluarga PMI lebih terencana mengelola kiriman."),),
}
DOMAIN_WEIGHTS = {GEDSI: {"3": 0.45, "4": 0.2, "5": 0.15, "2": 0.1, "6": 0.07, "96": 0.03},
                  DIGITAL: {"1": 0.7, "6": 0.15, "3": 0.1, "96": 0.05},
                  "": {"2": 0.3, "5": 0.25, "6": 0.2, "1": 0.15, "3": 0.1}}


def _stories(seed: int, count: int, start: dt.date, end: dt.date, activities: list[Activity],
             villages: dict, staff: _Staff, dynamics: MealDynamics) -> list[_Job]:
    jobs = []
    first = start + dt.timedelta(days=90)
    last = end - dt.timedelta(days=25)
    span = max(1, (last - first).days)
    for index in range(count):
        rng = Random(f"{seed}:msc:{index}")
        told = first + dt.timedelta(days=rng.randrange(span))
        trained = [(a, t) for a in activities if a.end < told for t in a.attendees if t.consent]
        person, kind = None, ""
        if trained and rng.random() < 0.75:
            activity, attendance = rng.choice(trained)
            person, kind = attendance.person, activity.kind
            kab, desa = person.kab, person.desa
        else:
            kab = rng.choice(list(villages))
            desa = rng.choice(villages[kab])[0]
        consent = rng.choices(("1", "2", "3"), weights=dynamics.msc_consent)[0]
        level = rng.choices(("0", "1", "2", "3"), weights=(0.4, 0.33, 0.19, 0.08))[0]
        collector = rng.choices(("1", "2", "3"), weights=(0.55, 0.3, 0.15))[0]
        forced = {"tgl_cerita": (told.isoformat(), True), "peran_pengumpul": (collector, True),
                  "kab": (kab, True), "desa": (desa, True), "izin_cerita": (consent, True)}
        filed = told + dt.timedelta(days=rng.randint(0, 4))
        truth = {"izin_cerita": consent, "person": person.key if person else None,
                 "id_peserta": person.participant_id if person else ""}
        if consent in ("1", "2"):
            forced["bukti_izin"] = (rng.choices(("1", "2", "3"), weights=(0.6, 0.25, 0.15))[0], True)
            if person is not None:
                sex, age, migrant, name = person.sex, person.age(told), person.migrant, person.name
            else:
                sex = "F" if rng.random() < 0.65 else "M"
                age = round(rng.triangular(19, 70, 38))
                migrant = rng.choice(("1", "2", "3", "4"))
                name = vocab.person_name(rng, sex, vocab.region_of(kab))
            weights = DOMAIN_WEIGHTS[kind]
            domain = rng.choices(list(weights), weights=list(weights.values()))[0]
            title, story, why = rng.choice(STORIES[domain])
            fill = {"negara": rng.choice(COUNTRIES), "produk": rng.choice(PRODUCTS)}
            forced.update({"nama_pencerita": (name, True), "jenis_kelamin": (SEX[sex], True),
                           "umur": (str(age), True), "status_migran": (migrant, True),
                           "domain_perubahan": (domain, True), "judul_cerita": (title.format(**fill), True),
                           "cerita": (story.format(**fill), True), "alasan_penting": (why.format(**fill), True),
                           "tingkat_seleksi": (level, True)})
            if age < 18:
                forced["izin_wali"] = ("1", True)
            if domain == "96":
                forced["domain_lain"] = ("Pendidikan anak keluarga PMI", True)
            if level != "0":
                filed = min(told + dt.timedelta(days=rng.randint(10, 60)), end - dt.timedelta(days=6))
                chosen = told + dt.timedelta(days=rng.randint(0, max(0, (filed - told).days)))
                forced["tgl_seleksi"] = (chosen.isoformat(), True)
                forced["catatan_seleksi"] = (rng.choice((
                    "Dipilih karena perubahannya nyata dan diceritakan dengan jelas.",
                    "Menunjukkan peran perempuan purna PMI dalam desa.",
                    "Contoh yang baik untuk laporan ke donor.",
                    "Dipilih bersama pengurus DESBUMI dan staf kabupaten.")), True)
            truth["domain_perubahan"] = domain
        tz = _tz(kab)
        start_at = _at(filed, tz, rng.uniform(9, 17), rng)
        finish = start_at + dt.timedelta(minutes=rng.uniform(20, 60))
        number = 1 if collector != "2" else 2
        jobs.append(_Job(MSC, start_at, finish, _upload(finish, rng, 0.2, 72.0), kab, staff.username(kab, number),
                         forced, f"{seed}:{MSC}:{index}", truth))
    return jobs


# --------------------------------------------------------------------------- filling and the Kobo envelope


def _build(jobs: list[_Job], forms: Mapping[str, Form], seed: int, first_id: int, owner: str,
           notes: dict[str, list[str]], period: tuple[dt.date, dt.date]) -> dict[str, SynthResult]:
    plans = {form_id: Plan(form, options=Options(survey_year=period[0].year))
             for form_id, form in forms.items()}
    ids = {form_id: kobo_ids(form.id_string, form.version) for form_id, form in forms.items()}
    geopoints = {form_id: [n.path for n in form.fields if n.type == "geopoint" and not n.repeats]
                 for form_id, form in forms.items()}
    staff = _Staff(seed)
    filled = []
    for order, job in enumerate(jobs):
        plan = plans[job.form_id]
        rng = Random(job.seed)
        session = {"today": job.start.date().isoformat(), "start": device_time(job.start),
                   "end": device_time(job.end), "username": job.username, "deviceid": staff.device(job.username),
                   "geo": vocab.CENTROIDS.get(job.kab), "start_ms": int(job.start.timestamp() * 1000)}
        try:
            answers, attachments = plan.fill(rng, session, forced=job.forced)
        except SynthError as exc:
            raise SynthError(f"{exc.message} (while generating {job.form_id} {job.truth})", hint=exc.hint) from None
        hidden = [path for path, (value, strict) in plan._forced(job.forced).items()
                  if strict and value != "" and path not in answers]
        if hidden:
            raise SynthError(f"{job.form_id}: the scenario's answers to {', '.join(hidden)} were not relevant "
                             f"({job.truth}).")
        if job.check is not None:
            job.check(answers)
        problems = plan.check(answers)
        if problems:
            raise SynthError(f"{job.form_id}: a generated submission fails its form: {'; '.join(problems[:5])}")
        filled.append((kobo_time(job.received), order, job, answers, attachments, new_uuid(rng), rng.getrandbits(48)))
    filled.sort(key=lambda item: (item[0], item[1]))
    results = {form_id: SynthResult(submissions=[], notes=notes.get(form_id, [])) for form_id in forms}
    master = Random(f"{seed}:ids")
    next_id = first_id
    id_of_job: dict[int, int] = {}
    for received, order, job, answers, attachments, instance, uid_seed in filled:
        form_ids = ids[job.form_id]
        doc = envelope(answers, ids=form_ids, submission_id=next_id, instance_uuid=instance, submitted_at=received,
                       submitted_by=job.username,
                       attachments=attachment_docs(attachments, rng=Random(uid_seed), owner=owner,
                                                   xform_uuid=form_ids.xform_uuid, root_uuid=instance,
                                                   asset_uid=form_ids.asset_uid, submission_id=next_id),
                       geopoint_paths=geopoints[job.form_id])
        results[job.form_id].submissions.append(doc)
        results[job.form_id].truth.append({"_id": next_id, **job.truth})
        id_of_job[id(job)] = next_id
        next_id += 1 + (master.random() < 0.3) * master.randint(1, 3)  # one server-wide sequence: gaps
    registrations = [job for job in jobs if job.form_id == REGISTRATION]
    for item in results.get(REGISTRATION, SynthResult([])).truth:
        original = item.get("duplicate_of")
        if isinstance(original, int):
            item["duplicate_of"] = id_of_job[id(registrations[original])]
    media = {name: rows for form in forms.values() for name, rows in (form.media or {}).items()}
    for result in results.values():
        result.media = dict(media)
    return results


__all__ = ["MEAL_FORMS", "Activity", "MealDynamics", "MealProgramme", "Person", "answer_key", "meal_forms",
           "meal_programme", "write_meal_json"]
