"""The MEAL training instruments: registration & attendance (mel_registrasi) and the GEDSI and
digital-marketing pre/post tests (mel_tes_gedsi, mel_tes_digital).

They compile clean (ODK Validate included); the scores the forms compute equal this file's own
computation from its own answer key; the participant-ID check digit in the forms agrees with
desbumi.mel.participant_id and catches every single-digit typo."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from random import Random

import pytest

from desbumi.errors import InputError
from desbumi.forms.check import check_form
from desbumi.forms.preload import generated_media_for
from desbumi.forms.structure import walk
from desbumi.forms.workbook import read_xlsform
from desbumi.mel.participant_id import (
    DISTRICTS,
    check_digit,
    is_valid_participant_id,
    make_participant_id,
)
from desbumi.reference import load_wilayah, village_media_rows
from desbumi.synth.engine import Plan
from desbumi.synth.model import load_form
from desbumi.synth.xpath import Env, compile_expression, to_boolean, to_string
from xlsforms import named_items

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "xlsform_src"
FORM_IDS = ("mel_registrasi", "mel_tes_gedsi", "mel_tes_digital")
TESTS = ("mel_tes_gedsi", "mel_tes_digital")
ID, EN = "Bahasa Indonesia (id)", "English (en)"

# The answer keys, written here independently of the spreadsheets: item -> correct choice code.
KEYS = {
    "mel_tes_gedsi": {"k01": 1, "k02": 2, "k03": 1, "k04": 2, "k05": 3, "k06": 4, "k07": 5, "k08": 2,
                      "k09": 1, "k10": 2, "k11": 4, "k12": 2},
    "mel_tes_digital": {"k01": 1, "k02": 3, "k03": 2, "k04": 3, "k05": 2, "k06": 1, "k07": 3, "k08": 2,
                        "k09": 1, "k10": 2, "k11": 2, "k12": 3},
}
# Attitude (GEDSI) and practice (digital) items: asked, never scored.
UNSCORED = {
    "mel_tes_gedsi": ("setuju4", ["sikap_01", "sikap_02", "sikap_03", "sikap_04", "sikap_05"]),
    "mel_tes_digital": ("yatidak", ["punya_usaha", "toko_online", "katalog_wa", "terima_qris",
                                    "posting_mingguan", "jual_online"]),
}
DONT_KNOW = "98"

# field -> (type, choice list or media file): the names the indicator table and the generator rely on.
REGISTRATION_FIELDS = {
    "kode_petugas": ("integer", ""), "jenis_pelatihan": ("select_one", "pelatihan"),
    "kode_kegiatan": ("text", ""), "tgl_mulai": ("date", ""), "jml_hari": ("integer", ""),
    "setuju": ("select_one", "yatidak"), "kab": ("select_one", "kab"), "desa": ("select_one_from_file", "desa.csv"),
    "status_id": ("select_one", "status_id"), "id_lama": ("text", ""), "no_urut": ("text", ""),
    "id_cek": ("calculate", ""), "id_baru": ("calculate", ""), "id_peserta": ("calculate", ""),
    "nama_peserta": ("text", ""), "jenis_kelamin": ("select_one", "jk"), "umur": ("integer", ""),
    "no_hp": ("text", ""), "status_migran": ("select_one", "status_migran"),
    "peran_desbumi": ("select_one", "peran"), "hari_hadir": ("select_multiple", "hari"),
    "jml_hadir": ("calculate", ""), "hadir_penuh": ("calculate", ""),
    **{f"wg_{k}": ("select_one", "wg") for k in ("lihat", "dengar", "jalan", "ingat", "rawat", "komunikasi")},
}
TEST_FIELDS = {
    "fase": ("select_one", "fase"), "kode_kegiatan": ("text", ""), "id_peserta": ("text", ""),
    "id_peserta_ulang": ("text", ""), "kab": ("calculate", ""), "cara_isi": ("select_one", "cara_isi"),
    "jml_benar": ("calculate", ""), "skor": ("calculate", ""),
}
CODES = {  # list -> {code: English label}, for the lists other tables join on
    "jk": {"1": "Male", "2": "Female"},
    "pelatihan": {"1": "GEDSI and intersectionality", "2": "Digital marketing", "96": "Other training"},
    "status_migran": {"1": "Returned migrant worker (worked abroad before)",
                      "2": "Family of a migrant worker now abroad",
                      "3": "Prospective migrant worker (plans to work abroad)", "4": "None of these"},
    "wg": {"1": "No difficulty", "2": "Some difficulty", "3": "A lot of difficulty", "4": "Cannot do at all"},
    "kab": {"3212": "Indramayu", "3305": "Kebumen", "3307": "Wonosobo", "3509": "Jember", "3510": "Banyuwangi",
            "5202": "Central Lombok", "5313": "Lembata"},
}
ALLOWED_FUNCTIONS = {"selected", "count-selected", "if", "string-length", "regex", "int", "number", "concat",
                     "coalesce", "substr", "today", "round", "not"}
EXPRESSION_COLUMNS = ("relevant", "constraint", "calculation", "choice_filter", "required")


def source(form_id: str) -> Path:
    return SRC / f"{form_id}.xlsx"


@pytest.fixture(scope="module")
def sheets():
    return {form_id: read_xlsform(source(form_id)) for form_id in FORM_IDS}


@pytest.fixture(scope="module")
def items(sheets):
    return {form_id: named_items(form) for form_id, form in sheets.items()}


@pytest.fixture(scope="module")
def lists(sheets):
    out = {}
    for form_id, form in sheets.items():
        by_list: dict[str, dict[str, dict[str, str]]] = {}
        for row in form.choices.rows:
            by_list.setdefault(row["list_name"], {})[row["name"]] = {"id": row[f"label::{ID}"],
                                                                     "en": row[f"label::{EN}"]}
        out[form_id] = by_list
    return out


@pytest.fixture(scope="module")
def compiled():
    """pyxform's compilation of each form, as the generator reads it (expressions in ${x} spelling)."""
    return {form_id: load_form(source(form_id)) for form_id in FORM_IDS}


def _constraint(items, form_id: str) -> str:
    name = "id_lama" if form_id == "mel_registrasi" else "id_peserta"
    return items[form_id][name].row["constraint"]


class Expr:
    """One expression compiled once with the project's evaluator; `.` is `current`."""

    def __init__(self, text: str):
        self.code = compile_expression(text)

    def __call__(self, current: str = "", **values):
        env = Env([values])
        env.cur = current
        env.pos = [1]
        return self.code.fn(env)


# --- compiles clean ------------------------------------------------------------------------------

@pytest.mark.parametrize("form_id", FORM_IDS)
def test_check_finds_nothing_with_odk_validate(form_id):
    result = check_form(source(form_id), forms_dir=ROOT / "forms", validate=True,
                        generated_media=generated_media_for(None, ROOT / "panel"))
    assert [f"{f.rule} {f.sheet}!{f.cell}: {f.message}" for f in result.findings] == []
    assert result.validate_skipped == ""
    assert result.xform and "<bind" in result.xform


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_settings_languages_metadata_and_pii(sheets, items, form_id):
    form = sheets[form_id]
    assert form.form_id == form_id
    assert form.version == "2026112801"
    assert form.default_language == ID and set(form.languages) == {ID, EN}
    for name in ("start", "end", "today", "deviceid"):
        assert items[form_id][name].type.base == name
    for row in form.survey.rows:
        if row["type"].strip():
            assert row["pii"] in ("yes", "no"), f"{form_id} row {row.number} {row['name']}"
    marked = {name for name, item in items[form_id].items() if item.row["pii"] == "yes"}
    assert marked == ({"nama_peserta", "no_hp"} if form_id == "mel_registrasi" else set())


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_every_choice_list_integer_coded_and_bilingual(lists, form_id):
    for name, choices in lists[form_id].items():
        for code, label in choices.items():
            assert re.fullmatch(r"-?[0-9]+", code), f"{form_id} {name}: {code!r}"
            assert label["id"].strip() and label["en"].strip(), f"{form_id} {name} {code}"
        if DONT_KNOW in choices:
            assert choices[DONT_KNOW]["en"] == "Don't know", f"{form_id} {name}"
    for name, codes in CODES.items():
        if name in lists[form_id]:
            assert {c: v["en"] for c, v in lists[form_id][name].items()} == codes, f"{form_id} {name}"


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_expressions_use_only_the_generator_subset(sheets, form_id):
    form = sheets[form_id]
    texts = [row[column] for row in form.survey.rows for column in EXPRESSION_COLUMNS]
    texts.append(form.settings.get("instance_name", ""))
    seen = set()
    for text in texts:
        text = re.sub(r"'[^']*'", "''", text)
        seen |= set(re.findall(r"([A-Za-z][\w:-]*)\s*\(", text)) - {"and", "or", "div", "mod"}
    assert seen <= ALLOWED_FUNCTIONS, seen - ALLOWED_FUNCTIONS


def test_activity_code_rule_is_the_activity_reports(items):
    """Registrations and tests join the activity report (mel_kegiatan) on kode_kegiatan."""
    report = SRC / "mel_kegiatan.xlsx"
    rule = next(i.row["constraint"] for i in walk(read_xlsform(report)) if i.name == "kode_kegiatan")
    for form_id in FORM_IDS:
        assert items[form_id]["kode_kegiatan"].row["constraint"] == rule, form_id
        assert to_boolean(Expr(rule)("GED-2026-014"))


# --- registration & attendance -------------------------------------------------------------------

def _types(items, form_id, fields):
    for name, (kind, argument) in fields.items():
        item = items[form_id][name]
        assert item.type.base == kind, (form_id, name, item.type.base)
        assert item.type.argument.strip() == argument, (form_id, name, item.type.argument)


def test_registration_key_questions(items, lists):
    _types(items, "mel_registrasi", REGISTRATION_FIELDS)
    reg = items["mel_registrasi"]
    assert set(lists["mel_registrasi"]["peran"]) == {"1", "2", "3", "4", "5", "96"}
    assert reg["desa"].row["choice_filter"] == "kab=${kab}"
    # everything about the person waits for consent
    for group in ("peserta", "kehadiran", "wgss", "penutup"):
        assert reg[group].row["relevant"] == "${setuju} = 1", group
    assert reg["setuju_wali"].row["relevant"] == "${umur} < 18"


def test_registration_wg_ss_wording_never_names_disability(sheets, items):
    reg = items["mel_registrasi"]
    words = {"lihat": ("melihat", "kacamata", "seeing", "glasses"),
             "dengar": ("mendengar", "alat bantu dengar", "hearing", "hearing aid"),
             "jalan": ("berjalan", "tangga", "walking", "steps"),
             "ingat": ("mengingat", "berkonsentrasi", "remembering", "concentrating"),
             "rawat": ("mengurus diri", "berpakaian", "self-care", "dressing"),
             "komunikasi": ("berkomunikasi", "bahasa sehari-hari", "communicating", "usual language")}
    for key, (a, b, c, d) in words.items():
        row = reg[f"wg_{key}"].row
        assert a in row[f"label::{ID}"] and b in row[f"label::{ID}"], key
        assert c in row[f"label::{EN}"] and d in row[f"label::{EN}"], key
    assert "HEALTH PROBLEM" in reg["wg_intro"].row[f"label::{EN}"]
    assert "MASALAH KESEHATAN" in reg["wg_intro"].row[f"label::{ID}"]
    for row in sheets["mel_registrasi"].survey.rows:
        for column in (f"label::{ID}", f"hint::{ID}"):
            assert "disabilitas" not in row[column].lower(), row.number


def test_attendance_days_follow_the_length_of_the_training(items, compiled):
    reg = items["mel_registrasi"]
    days = [c.name for c in compiled["mel_registrasi"].field("hari_hadir").choices]
    assert days == [str(d) for d in range(1, 8)]
    choice_filter = compile_expression(reg["hari_hadir"].row["choice_filter"], row_mode=True)
    for length in range(1, 8):
        shown = []
        for day in days:
            env = Env([{"jml_hari": str(length)}])
            env.row = {"name": day}
            if to_boolean(choice_filter.fn(env)):
                shown.append(day)
        assert shown == [str(d) for d in range(1, length + 1)]
    count = Expr(reg["jml_hadir"].row["calculation"])
    full = Expr(reg["hadir_penuh"].row["calculation"])
    assert to_string(count(hari_hadir="1 3")) == "2"
    assert to_string(full(jml_hadir="2", jml_hari="3")) == "0"
    assert to_string(full(jml_hadir="3", jml_hari="3")) == "1"


def test_village_media_is_the_reference_list():
    with (SRC / "mel_registrasi-media" / "desa.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == village_media_rows(load_wilayah(ROOT / "panel" / "wilayah.csv"))
    for form_id in TESTS:
        assert not (SRC / f"{form_id}-media").exists()


# --- the participant ID ---------------------------------------------------------------------------

def test_participant_id_function():
    assert make_participant_id("3509", 12) == "3509-0012-2"
    assert make_participant_id(5313, 1) == "5313-0001-0"
    assert make_participant_id("35.09", 12) == "3509-0012-2"
    assert check_digit("7992739871") == 3  # the textbook Luhn example
    assert is_valid_participant_id("3509-0012-2")
    for bad in ("3509-0012-3", "3509-0012", "3509-00122", "35090012-2", "3509-0000-" + str(check_digit("35090000")),
                "5308-0012-" + str(check_digit("53080012")), " 3509-0012-2", "", "3509-OO12-2"):
        assert not is_valid_participant_id(bad), bad
    for district, serial in (("5308", 1), ("3509", 0), ("3509", 10000), ("xx", 1)):
        with pytest.raises(InputError):
            make_participant_id(district, serial)
    with pytest.raises(InputError):
        check_digit("12a4")


def test_the_three_forms_share_one_id_constraint(items):
    texts = {form_id: _constraint(items, form_id) for form_id in FORM_IDS}
    assert len(set(texts.values())) == 1, texts
    for form_id in FORM_IDS:
        name = "id_lama" if form_id == "mel_registrasi" else "id_peserta"
        row = items[form_id][name].row
        assert "KKKK-NNNN-C" in row[f"hint::{ID}"] and "KKKK-NNNN-C" in row[f"hint::{EN}"]
        assert row[f"constraint_message::{ID}"] and row[f"constraint_message::{EN}"]
        assert row["required"] == "yes"
    for form_id in TESTS:
        again = items[form_id]["id_peserta_ulang"].row
        assert again["constraint"] == ". = ${id_peserta}" and again["required"] == "yes"


def _valid_ids():
    rng = Random(4)
    ids = [make_participant_id(d, s) for d in DISTRICTS for s in (1, 9, 10, 99, 1000, 9999)]
    ids += [make_participant_id(rng.choice(DISTRICTS), rng.randint(1, 9999)) for _ in range(150)]
    return ids


def test_form_constraint_accepts_what_the_function_makes(items):
    constraint = Expr(_constraint(items, "mel_tes_gedsi"))
    for pid in _valid_ids():
        assert is_valid_participant_id(pid)
        assert to_boolean(constraint(pid)), pid


DIGIT_POSITIONS = (0, 1, 2, 3, 5, 6, 7, 8, 10)


def test_every_single_digit_typo_is_caught(items):
    constraint = Expr(_constraint(items, "mel_tes_gedsi"))
    tried = 0
    for pid in _valid_ids():
        for position in DIGIT_POSITIONS:
            for digit in "0123456789":
                if digit == pid[position]:
                    continue
                typo = pid[:position] + digit + pid[position + 1:]
                assert not is_valid_participant_id(typo), (pid, typo)
                assert not to_boolean(constraint(typo)), (pid, typo)
                tried += 1
    assert tried == len(_valid_ids()) * 9 * 9


def test_neighbour_swaps_are_caught_except_0_and_9(items):
    constraint = Expr(_constraint(items, "mel_tes_gedsi"))
    for pid in _valid_ids():
        for a, b in ((0, 1), (1, 2), (2, 3), (5, 6), (6, 7), (7, 8)):
            x, y = pid[a], pid[b]
            if x == y or {x, y} == {"0", "9"}:
                continue
            swapped = pid[:a] + y + pid[a + 1:b] + x + pid[b + 1:]
            assert not is_valid_participant_id(swapped), (pid, swapped)
            assert not to_boolean(constraint(swapped)), (pid, swapped)


def test_form_and_function_agree_on_arbitrary_text(items):
    constraint = Expr(_constraint(items, "mel_registrasi"))
    rng = Random(11)
    samples = ["", "3509-0012-2 ", "3509-0012-22", "3509 0012 2", "3509-0000-6", "5308-0012-4", "x509-0012-2"]
    for _ in range(3000):
        district = rng.choice(DISTRICTS + ("5308", "3500", "9999"))
        body = f"{district}-{rng.randint(0, 9999):04d}-{rng.randint(0, 9)}"
        samples.append(body if rng.random() < 0.8 else body.replace("-", rng.choice(["", " ", "."]), 1))
    agreed = 0
    for text in samples:
        expected = is_valid_participant_id(text)
        assert to_boolean(constraint(text)) == expected, text
        agreed += expected
    assert agreed > 100  # the sample holds valid IDs, not only rejections


def test_registration_computes_the_check_digit_of_a_new_participant(items):
    reg = items["mel_registrasi"]
    body = Expr(reg["id_angka"].row["calculation"])
    digit = Expr(reg["id_cek"].row["calculation"])
    full = Expr(reg["id_baru"].row["calculation"])
    pick = Expr(reg["id_peserta"].row["calculation"])
    serial_ok = Expr(reg["no_urut"].row["constraint"])
    rng = Random(2)
    cases = [("3509", s) for s in range(1, 10000)] + [(d, rng.randint(1, 9999)) for d in DISTRICTS for _ in range(50)]
    for district, serial in cases:
        no_urut = f"{serial:04d}"
        assert to_boolean(serial_ok(no_urut))
        id_angka = to_string(body(kab=district, no_urut=no_urut))
        id_cek = to_string(digit(id_angka=id_angka))
        assert id_cek == str(check_digit(id_angka)), (district, serial)
        new = to_string(full(kab=district, no_urut=no_urut, id_cek=id_cek))
        assert new == make_participant_id(district, serial)
        assert to_string(pick(status_id="2", id_baru=new, id_lama="")) == new
    assert to_string(pick(status_id="1", id_baru="", id_lama="3509-0012-2")) == "3509-0012-2"
    assert not to_boolean(serial_ok("0000")) and not to_boolean(serial_ok("123")) and not to_boolean(serial_ok("12a4"))


# --- the pre/post tests ----------------------------------------------------------------------------

@pytest.mark.parametrize("form_id", TESTS)
def test_test_key_questions(items, lists, form_id):
    _types(items, form_id, TEST_FIELDS)
    fields = items[form_id]
    assert {c: v["en"] for c, v in lists[form_id]["fase"].items()} == {
        "1": "Pre-test (before the training)", "2": "Post-test (after the training)"}
    assert fields["kab"].row["calculation"] == "substr(${id_peserta}, 0, 4)"
    for item in KEYS[form_id]:
        assert fields[item].type.base == "select_one", item
        options = lists[form_id][fields[item].type.argument.strip()]
        assert len(options) >= 4 and DONT_KNOW in options, item  # three or more answers and 'don't know'
        assert str(KEYS[form_id][item]) in options and str(KEYS[form_id][item]) != DONT_KNOW
        assert fields[item].row["required"] == "yes"
        assert fields[f"benar_{item}"].type.base == "calculate"
    list_name, unscored = UNSCORED[form_id]
    assert not set(unscored) & set(KEYS[form_id])
    for name in unscored:
        assert fields[name].type.base == "select_one" and fields[name].type.argument.strip() == list_name
    if form_id == "mel_tes_gedsi":
        assert list(lists[form_id]["setuju4"]) == ["1", "2", "3", "4"]  # Likert 1-4
        injustice = {v["en"] for v in lists[form_id]["ketidakadilan"].values()}
        assert {"Marginalisation", "Subordination", "Violence", "Double burden"} <= injustice


@pytest.mark.parametrize("form_id", TESTS)
def test_answer_key_in_the_form_is_the_key_of_this_test(items, form_id):
    for item, code in KEYS[form_id].items():
        assert items[form_id][f"benar_{item}"].row["calculation"] == f"if(${{{item}}} = {code}, 1, 0)"


def _form_scores(form, answers: dict[str, str]) -> dict[str, str]:
    """Run every calculate of the compiled form, in document order, on the given answers."""
    values = dict(answers)
    for node in form.walk():
        if node.type == "calculate" and node.calculation:
            values[node.name] = to_string(Expr(node.calculation)(**values))
    return values


def _expected(form_id: str, answers: dict[str, str]) -> tuple[int, int]:
    key = KEYS[form_id]
    right = sum(1 for item, code in key.items() if answers.get(item) == str(code))
    return right, int(100 * right / len(key) + 0.5)


def _options(compiled, form_id, item):
    return [c.name for c in compiled[form_id].field(item).choices]


def _answer_sets(compiled, form_id):
    key = KEYS[form_id]
    base = {"fase": "1", "id_peserta": "3509-0012-2", "id_peserta_ulang": "3509-0012-2",
            "kode_kegiatan": "GED-2026-014"}
    wrong = {item: next(c for c in _options(compiled, form_id, item) if c not in (str(code), DONT_KNOW))
             for item, code in key.items()}
    yield "all correct", {**base, **{item: str(code) for item, code in key.items()}}, 100
    yield "all don't know", {**base, **{item: DONT_KNOW for item in key}}, 0
    yield "all wrong", {**base, **wrong}, 0
    mixed = {item: (str(code) if index % 3 != 2 else wrong[item]) for index, (item, code) in enumerate(key.items())}
    yield "8 of 12", {**base, **mixed}, 67
    yield "first 7 right, rest don't know", {**base, **{i: (str(c) if n < 7 else DONT_KNOW)
                                                        for n, (i, c) in enumerate(key.items())}}, 58
    rng = Random(form_id)
    for _ in range(200):
        answers = {**base, **{item: rng.choice(_options(compiled, form_id, item)) for item in key}}
        yield "random", answers, None


@pytest.mark.parametrize("form_id", TESTS)
def test_the_score_the_form_computes_is_ours(compiled, form_id):
    form = compiled[form_id]
    list_name, unscored = UNSCORED[form_id]
    for case, answers, fixed in _answer_sets(compiled, form_id):
        right, expected = _expected(form_id, answers)
        if fixed is not None:
            assert expected == fixed, case
        values = _form_scores(form, answers)
        assert values["jml_benar"] == str(right), case
        assert values["skor"] == str(expected), (case, values["skor"], expected)
        for item, code in KEYS[form_id].items():
            assert values[f"benar_{item}"] == ("1" if answers[item] == str(code) else "0")
        # attitude / practice answers do not move the score
        for fill in ("1", "0" if list_name == "yatidak" else "4"):
            other = _form_scores(form, {**answers, **{name: fill for name in unscored}})
            assert other["skor"] == values["skor"], case


def test_practice_count_counts_the_five_digital_practices(compiled):
    form = compiled["mel_tes_digital"]
    answers = {"punya_usaha": "1", "toko_online": "1", "katalog_wa": "0", "terima_qris": "1",
               "posting_mingguan": "1", "jual_online": "0"}
    assert _form_scores(form, answers)["jml_praktik"] == "3"
    assert _form_scores(form, {**answers, "punya_usaha": "0"})["jml_praktik"] == "3"


@pytest.mark.parametrize("form_id", TESTS)
def test_score_binds_reach_the_compiled_xform(form_id):
    from pyxform.xls2xform import convert

    xform = convert(str(source(form_id))).xform
    binds = dict(re.findall(r'<bind nodeset="/data/pengetahuan/([a-z0-9_]+)"[^>]*calculate="([^"]*)"', xform))
    assert set(binds) >= {"skor", "jml_benar", *(f"benar_{i}" for i in KEYS[form_id])}
    assert "round(100 *" in binds["skor"] and "div 12" in binds["skor"]


# --- the generator can fill them (given registered IDs) -------------------------------------------

@pytest.mark.parametrize("form_id", FORM_IDS)
def test_generated_submissions_pass_their_forms(compiled, form_id):
    form = compiled[form_id]
    plan = Plan(form, media=form.media)
    field = "id_lama" if form_id == "mel_registrasi" else "id_peserta"
    for seed in range(25):
        pid = make_participant_id(DISTRICTS[seed % 7], seed + 1)
        answers, _ = plan.fill(Random(seed), forced={field: pid})
        assert plan.check(answers) == [], (form_id, seed)
        if "tes/id_peserta" in answers:
            assert answers["tes/id_peserta"] == answers["tes/id_peserta_ulang"] == pid
        if answers.get("peserta/id_peserta"):
            assert is_valid_participant_id(answers["peserta/id_peserta"])
