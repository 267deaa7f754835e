"""The MEAL reporting instruments (issue 4, items 3-5): activity report (mel_kegiatan), DESBUMI village
capacity assessment (mel_kapasitas_desa) and the Most Significant Change log (mel_msc).

Each compiles clean with ODK Validate, carries the questions the indicator table names, and computes
its totals and scores in the form: the calculate expressions are read from the XLSForm and evaluated
with the project's XPath evaluator (the one the synthetic-data generator uses), then compared with this
file's own arithmetic."""

from __future__ import annotations

import csv
import re
from fractions import Fraction
from pathlib import Path
from random import Random

import pytest

from desbumi.forms.check import check_form
from desbumi.forms.preload import generated_media_for
from desbumi.forms.structure import walk
from desbumi.forms.workbook import read_xlsform
from desbumi.reference import load_wilayah, village_media_rows
from desbumi.synth.xpath import evaluate, to_boolean, to_number, to_string
from xlsforms import choice_labels, named_items

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "xlsform_src"
FORM_IDS = ("mel_kegiatan", "mel_kapasitas_desa", "mel_msc")
ID, EN = "Bahasa Indonesia (id)", "English (en)"
TODAY = "2026-03-02"

DISTRICTS = {"3212", "3305", "3307", "3509", "3510", "5202", "5313"}
AGE_GROUPS = ("15_24", "25_39", "40_59", "60")
PII_YES = {
    "mel_kegiatan": {"foto_1", "foto_2", "foto_3"},
    "mel_kapasitas_desa": set(),
    "mel_msc": {"nama_pencerita", "cerita"},
}
# The expression subset the synthetic-data generator evaluates (issue 4 brief): nothing else may appear.
ALLOWED_FUNCTIONS = {"selected", "count-selected", "not", "if", "string-length", "regex", "int", "number",
                     "concat", "coalesce", "substr", "today", "round", "date", "decimal-date-time"}
EXPRESSION_COLUMNS = ("relevant", "constraint", "calculation", "choice_filter", "repeat_count", "required")

KEY_QUESTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "mel_kegiatan": {
        "kode_kegiatan": ("text", ""), "jenis_kegiatan": ("select_one", "jenis_kegiatan"),
        "tgl_mulai": ("date", ""), "tgl_selesai": ("date", ""), "lama_hari": ("calculate", ""),
        "kab": ("select_one", "kab"), "tingkat": ("select_one", "tingkat"),
        "desa": ("select_one_from_file", "desa.csv"), "tempat": ("text", ""),
        **{f"p_{s}_{a}": ("integer", "") for s in "lp" for a in AGE_GROUPS},
        **{f"d_{s}_{a}": ("integer", "") for s in "lp" for a in AGE_GROUPS},
        "total_laki": ("calculate", ""), "total_perempuan": ("calculate", ""), "total_peserta": ("calculate", ""),
        "total_dis_laki": ("calculate", ""), "total_dis_perempuan": ("calculate", ""),
        "total_disabilitas": ("calculate", ""), **{f"total_{a}": ("calculate", "") for a in AGE_GROUPS},
        "keluaran": ("select_multiple", "keluaran"), "keluaran_ket": ("text", ""), "masalah": ("text", ""),
        "tindak_lanjut": ("text", ""), "jml_foto": ("integer", ""),
        "foto_1": ("image", ""), "foto_2": ("image", ""), "foto_3": ("image", ""),
    },
    "mel_kapasitas_desa": {
        "kab": ("select_one", "kab"), "desa": ("select_one_from_file", "desa.csv"), "tgl_penilaian": ("date", ""),
        "putaran": ("select_one", "putaran"), "peran_penilai": ("select_one", "peran_penilai"),
        **{f"skor_d{n}": ("calculate", "") for n in range(1, 9)}, "skor_total": ("calculate", ""),
        "rekomendasi": ("text", ""),
    },
    "mel_msc": {
        "tgl_cerita": ("date", ""), "peran_pengumpul": ("select_one", "peran_pengumpul"),
        "kab": ("select_one", "kab"), "desa": ("select_one_from_file", "desa.csv"),
        "izin_cerita": ("select_one", "izin_cerita"), "cerita_dipakai": ("calculate", ""),
        "nama_pencerita": ("text", ""), "jenis_kelamin": ("select_one", "jk"), "umur": ("integer", ""),
        "status_migran": ("select_one", "status_migran"), "domain_perubahan": ("select_one", "domain_perubahan"),
        "cerita": ("text", ""), "alasan_penting": ("text", ""),
        "tingkat_seleksi": ("select_one", "tingkat_seleksi"), "catatan_seleksi": ("text", ""),
    },
}

# Capacity domains (DOMAIN.md, MEAL section): group name -> words its title must carry (id, en).
CAPACITY_DOMAINS = {
    "d1": ("informasi", "information"), "d2": ("pendataan", "recording"), "d3": ("dokumen", "document"),
    "d4": ("kasus", "case"), "d5": ("ekonomi", "economic"), "d6": ("anggaran", "budget"),
    "d7": ("ppt", "service post"), "d8": ("perencanaan", "planning"),
}


def source(form_id: str) -> Path:
    return SRC / f"{form_id}.xlsx"


@pytest.fixture(scope="module", params=FORM_IDS)
def form_id(request):
    return request.param


_FORMS: dict[str, object] = {}


def load(form_id: str):
    if form_id not in _FORMS:
        _FORMS[form_id] = read_xlsform(source(form_id))
    return _FORMS[form_id]


def items_of(form_id: str) -> dict:
    return named_items(load(form_id))


def lists_of(form_id: str) -> dict[str, dict[str, dict[str, str]]]:
    return choice_labels(load(form_id))


def calculate(form_id: str, answers: dict[str, str]) -> dict[str, str]:
    """Every calculate of the form, in form order, over `answers` (names -> strings, as submitted)."""
    values = dict(answers)
    for item in walk(load(form_id)):
        if item.type.base == "calculate" and item.row["calculation"].strip():
            values[item.name] = to_string(evaluate(item.row["calculation"], values, today=TODAY))
    return values


def holds(form_id: str, name: str, column: str, values: dict[str, str], current: str = "") -> bool:
    return to_boolean(evaluate(items_of(form_id)[name].row[column], values, current=current, today=TODAY))


# --- every form: compiles clean, conventions ---------------------------------------------------------

def test_check_finds_nothing_with_odk_validate(form_id):
    result = check_form(source(form_id), forms_dir=ROOT / "forms", validate=True,
                        generated_media=generated_media_for(None, ROOT / "panel"))
    assert [f"{f.rule} {f.sheet}!{f.cell}: {f.message}" for f in result.findings] == []
    assert result.validate_skipped == ""
    assert result.xform and "jr://file-csv/desa.csv" in result.xform


def test_settings_and_languages(form_id):
    form = load(form_id)
    assert form.form_id == form_id
    assert re.fullmatch(r"20\d{8}", form.version) and int(form.version) >= 2026112801
    assert form.default_language == ID
    assert set(form.languages) == {ID, EN}
    for column in ("label", "hint", "constraint_message", "required_message"):
        assert f"{column}::{ID}" in form.survey.headers and f"{column}::{EN}" in form.survey.headers


def test_metadata(form_id):
    items = items_of(form_id)
    for name in ("start", "end", "today", "deviceid"):
        assert items[name].type.base == name


def test_key_questions_exist_with_types(form_id):
    items = items_of(form_id)
    for name, (kind, argument) in KEY_QUESTIONS[form_id].items():
        assert name in items, f"{form_id}: {name} missing"
        assert items[name].type.base == kind, f"{name} is {items[name].type.base}, expected {kind}"
        assert items[name].type.argument == argument, f"{name} uses {items[name].type.argument!r}"


def test_calculates_kept_for_analysis_have_labels(form_id):
    for item in items_of(form_id).values():
        if item.type.base == "calculate":
            assert item.row[f"label::{ID}"].strip() and item.row[f"label::{EN}"].strip(), item.name


def test_every_choice_list_integer_coded_and_bilingual(form_id):
    for name, choices in lists_of(form_id).items():
        assert choices, name
        for code, label in choices.items():
            assert re.fullmatch(r"-?[0-9]+", code), f"{name}: {code!r}"
            assert label["id"].strip() and label["en"].strip(), f"{name} {code}"


def test_pii_filled_on_every_row(form_id):
    form = load(form_id)
    for row in form.survey.rows:
        if row["type"].strip():
            assert row["pii"] in ("yes", "no"), f"row {row.number} {row['name']}"
    assert {n for n, i in items_of(form_id).items() if i.row["pii"] == "yes"} == PII_YES[form_id]


def test_expressions_use_only_the_generator_subset(form_id):
    form = load(form_id)
    texts = [row[column] for row in form.survey.rows for column in EXPRESSION_COLUMNS]
    texts.append(form.settings.get("instance_name", ""))
    seen = set()
    for text in texts:
        text = re.sub(r"'[^']*'", "''", text)
        seen |= set(re.findall(r"([A-Za-z][\w:-]*)\s*\(", text)) - {"and", "or", "div", "mod"}
    assert seen <= ALLOWED_FUNCTIONS, seen - ALLOWED_FUNCTIONS


def test_district_and_village_lists(form_id):
    assert set(lists_of(form_id)["kab"]) == DISTRICTS
    desa = items_of(form_id)["desa"].row
    assert desa["choice_filter"] == "kab = ${kab}" and desa["appearance"] == "autocomplete"
    with (SRC / f"{form_id}-media" / "desa.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == village_media_rows(load_wilayah(ROOT / "panel" / "wilayah.csv"))
    assert {r["kab"] for r in rows} == DISTRICTS


# --- activity report ---------------------------------------------------------------------------------

def _activity_case(rng: Random) -> dict[str, str]:
    answers = {}
    for sex in "lp":
        for age in AGE_GROUPS:
            total = rng.choice([0, 0, 1, 3, 7, 12, 25, 60, 500])
            answers[f"p_{sex}_{age}"] = str(total)
            answers[f"d_{sex}_{age}"] = str(rng.randint(0, total))
    return answers


@pytest.mark.parametrize("seed", range(40))
def test_activity_totals_match_our_own_sums(seed):
    answers = _activity_case(Random(seed))
    n = {k: int(v) for k, v in answers.items()}
    out = calculate("mel_kegiatan", answers)
    men = sum(n[f"p_l_{a}"] for a in AGE_GROUPS)
    women = sum(n[f"p_p_{a}"] for a in AGE_GROUPS)
    disabled_men = sum(n[f"d_l_{a}"] for a in AGE_GROUPS)
    disabled_women = sum(n[f"d_p_{a}"] for a in AGE_GROUPS)
    assert out["total_laki"] == str(men)
    assert out["total_perempuan"] == str(women)
    assert out["total_peserta"] == str(men + women)
    assert out["total_dis_laki"] == str(disabled_men)
    assert out["total_dis_perempuan"] == str(disabled_women)
    assert out["total_disabilitas"] == str(disabled_men + disabled_women)
    for age in AGE_GROUPS:
        assert out[f"total_{age}"] == str(n[f"p_l_{age}"] + n[f"p_p_{age}"])
    # the confirmation refuses an empty activity
    assert holds("mel_kegiatan", "cek_peserta", "constraint", out, current="1") == (men + women >= 1)


def test_activity_disabled_counts_cannot_exceed_participants():
    values = {"p_p_25_39": "4"}
    assert holds("mel_kegiatan", "d_p_25_39", "constraint", values, current="4")
    assert holds("mel_kegiatan", "d_p_25_39", "constraint", values, current="0")
    assert not holds("mel_kegiatan", "d_p_25_39", "constraint", values, current="5")
    for sex in "lp":
        for age in AGE_GROUPS:
            assert f"${{p_{sex}_{age}}}" in items_of("mel_kegiatan")[f"d_{sex}_{age}"].row["constraint"]


@pytest.mark.parametrize("start,end,ok,days", [
    ("2026-01-10", "2026-01-10", True, 1), ("2026-01-10", "2026-01-12", True, 3),
    ("2026-01-10", "2026-01-09", False, None), ("2026-01-10", "2026-02-09", True, 31),
    ("2026-01-10", "2026-02-10", False, None), ("2026-02-28", "2026-03-03", False, None),  # after today
])
def test_activity_dates(start, end, ok, days):
    values = {"tgl_mulai": start}
    assert holds("mel_kegiatan", "tgl_selesai", "constraint", values, current=end) == ok
    if days is not None:
        assert calculate("mel_kegiatan", {"tgl_mulai": start, "tgl_selesai": end})["lama_hari"] == str(days)
    assert holds("mel_kegiatan", "tgl_mulai", "constraint", {}, current="2026-03-02")
    assert not holds("mel_kegiatan", "tgl_mulai", "constraint", {}, current="2026-03-03")
    assert not holds("mel_kegiatan", "tgl_mulai", "constraint", {}, current="2020-12-31")


@pytest.mark.parametrize("code,ok", [
    ("GED-2026-014", True), ("DIG-2025-001", True), ("ged-2026-014", False), ("GED-2026-14", False),
    ("GED2026014", False), ("GEDS-2026-014", False), ("GED-1999-014", False), (" GED-2026-014", False),
])
def test_activity_code_pattern(code, ok):
    assert holds("mel_kegiatan", "kode_kegiatan", "constraint", {}, current=code) == ok


def test_activity_types_and_photos():
    types = {c: v["en"].lower() for c, v in lists_of("mel_kegiatan")["jenis_kegiatan"].items()}
    assert "gedsi" in types["1"] and "digital" in types["2"] and "village meeting" in types["3"]
    assert "case" in types["4"] and "socialisation" in types["5"] and types["96"] == "other"
    items = items_of("mel_kegiatan")
    assert items["jenis_lain"].row["relevant"] == "${jenis_kegiatan} = 96"
    for n in (1, 2, 3):
        assert items[f"foto_{n}"].row["relevant"] == f"${{jml_foto}} >= {n}"
        assert "max-pixels" in items[f"foto_{n}"].row["parameters"]  # small media for offline phones
    assert holds("mel_kegiatan", "jml_foto", "constraint", {}, current="3")
    assert not holds("mel_kegiatan", "jml_foto", "constraint", {}, current="4")


# --- village capacity assessment ---------------------------------------------------------------------

def _domain_items(form_id: str = "mel_kapasitas_desa") -> dict[str, list[str]]:
    """Group d1..d8 -> its scored items: select_one questions whose list is the 1-4 scale."""
    lists = lists_of(form_id)
    out: dict[str, list[str]] = {}
    for item in items_of(form_id).values():
        if item.type.base == "select_one" and item.parents and set(lists[item.type.argument]) == {"1", "2", "3", "4"}:
            out.setdefault(item.parents[-1][1], []).append(item.name)
    return out


def test_capacity_domains_items_and_anchors():
    items = items_of("mel_kapasitas_desa")
    lists = lists_of("mel_kapasitas_desa")
    domains = _domain_items()
    assert sorted(domains) == sorted(CAPACITY_DOMAINS)
    for group, (word_id, word_en) in CAPACITY_DOMAINS.items():
        title = items[group].row
        assert word_id in title[f"label::{ID}"].lower() and word_en in title[f"label::{EN}"].lower(), group
        assert len(domains[group]) >= 3, group
        for name in domains[group]:
            anchors = lists[items[name].type.argument]
            # every level has its own description, in both languages, beginning with its number
            for code, label in anchors.items():
                assert label["id"].startswith(f"{code}. ") and len(label["id"]) > 10, (name, code)
                assert label["en"].startswith(f"{code}. ") and len(label["en"]) > 10, (name, code)
            assert len({v["id"] for v in anchors.values()}) == 4 and len({v["en"] for v in anchors.values()}) == 4
            assert items[name].row["required"] == "yes"
    # APBDes allocation is scored in the regulation-and-budget domain
    assert any("apbdes" in items[n].row[f"label::{ID}"].lower() for n in domains["d6"])


def test_capacity_evidence_fields():
    items = items_of("mel_kapasitas_desa")
    yesno = {"1", "0"}
    lists = lists_of("mel_kapasitas_desa")
    dates = 0
    for group in CAPACITY_DOMAINS:
        inside = [i for i in items.values() if i.parents and i.parents[-1] == ("group", group)]
        seen = [i for i in inside if i.type.base == "select_one" and set(lists[i.type.argument]) == yesno]
        counts = [i for i in inside if i.type.base == "integer"]
        assert seen and seen[0].name == f"{group}_dok", f"{group}: document-seen question"
        assert counts, f"{group}: a count"
        for count in counts:
            assert count.row["constraint"] and count.row[f"constraint_message::{EN}"], count.name
        dates += sum(1 for i in inside if i.type.base == "date")
    assert dates >= 4


@pytest.mark.parametrize("seed", range(40))
def test_capacity_scores_match_our_own_means(seed):
    rng = Random(seed)
    domains = _domain_items()
    answers = {name: str(rng.randint(1, 4)) for names in domains.values() for name in names}
    if seed == 0:
        answers = {name: "1" for name in answers}
    elif seed == 1:
        answers = {name: "4" for name in answers}
    out = calculate("mel_kapasitas_desa", answers)
    means = {}
    for group, names in domains.items():
        means[group] = Fraction(sum(int(answers[n]) for n in names), len(names))
        assert to_number(out[f"skor_{group}"]) == pytest.approx(float(means[group]), abs=1e-9), group
        score = to_number(out[f"skor_{group}"])
        assert score >= 1 and score <= 4
    total = sum(means.values(), Fraction(0)) / len(means)
    assert to_number(out["skor_total"]) == pytest.approx(float(total), abs=1e-9)
    shown = Fraction(int(total * 100 + Fraction(1, 2)), 100)  # round half up, 2 decimals
    assert to_number(out["skor_total_tampil"]) == pytest.approx(float(shown), abs=1e-9)
    if seed in (0, 1):
        assert out["skor_total"] == ("1" if seed == 0 else "4")


def test_capacity_domain_scores_use_exactly_their_items():
    items = items_of("mel_kapasitas_desa")
    for group, names in _domain_items().items():
        calc = items[f"skor_{group}"].row["calculation"]
        assert set(re.findall(r"\$\{([^}]*)\}", calc)) == set(names), group
    total = items["skor_total"].row["calculation"]
    assert set(re.findall(r"\$\{([^}]*)\}", total)) == {f"skor_d{n}" for n in range(1, 9)}


# --- Most Significant Change log ---------------------------------------------------------------------

def test_msc_lists():
    lists = lists_of("mel_msc")
    assert {c: v["en"] for c, v in lists["izin_cerita"].items()} == {
        "1": "May be used with the storyteller's name", "2": "May be used without a name (anonymous)",
        "3": "May not be used at all"}
    assert {c: v["en"] for c, v in lists["jk"].items()} == {"1": "Male", "2": "Female"}
    status = {c: v["en"].lower() for c, v in lists["status_migran"].items()}
    assert list(status) == ["1", "2", "3", "4"]
    assert "returnee" in status["1"] and "family" in status["2"] and "prospective" in status["3"]
    levels = {c: v["en"].lower() for c, v in lists["tingkat_seleksi"].items()}
    assert "village" in levels["1"] and "district" in levels["2"] and "programme" in levels["3"]
    assert len(lists["domain_perubahan"]) >= 5


@pytest.mark.parametrize("consent,used", [("1", "1"), ("2", "1"), ("3", "0")])
def test_msc_story_not_used_without_consent(consent, used):
    out = calculate("mel_msc", {"izin_cerita": consent})
    assert out["cerita_dipakai"] == used
    items = items_of("mel_msc")
    # with consent 3 the storyteller, the story and its selection are not recorded at all
    for name in ("nama_pencerita", "cerita", "alasan_penting", "domain_perubahan", "tingkat_seleksi"):
        group = items[name].parents[-1][1]
        assert holds("mel_msc", group, "relevant", out) == (used == "1"), name
    # ... and the form says so, in both languages
    assert holds("mel_msc", "izin_tolak_info", "relevant", out) == (consent == "3")
    note = items["izin_tolak_info"].row
    assert "TIDAK BOLEH dipakai" in note[f"label::{ID}"] and "must NOT be used" in note[f"label::{EN}"]


def test_msc_selection_notes_only_once_selected():
    for level, shown in (("0", False), ("1", True), ("2", True), ("3", True)):
        assert holds("mel_msc", "catatan_seleksi", "relevant", {"tingkat_seleksi": level}) == shown
    assert holds("mel_msc", "tgl_seleksi", "constraint", {"tgl_cerita": "2025-05-01"}, current="2025-06-01")
    assert not holds("mel_msc", "tgl_seleksi", "constraint", {"tgl_cerita": "2025-05-01"}, current="2025-04-30")


def test_msc_minors_need_a_guardian():
    assert holds("mel_msc", "izin_wali", "relevant", {"umur": "16"})
    assert not holds("mel_msc", "izin_wali", "relevant", {"umur": "18"})
    assert not holds("mel_msc", "izin_wali", "constraint", {}, current="0")
    assert not holds("mel_msc", "umur", "constraint", {}, current="14")
