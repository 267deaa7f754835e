"""The year-one instrument (desbumi_ekonomi_y1): compiles clean and carries the fields the panel relies on."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest

from desbumi.forms.check import check_form
from desbumi.forms.workbook import read_xlsform
from desbumi.reference import WILAYAH_CSV, load_wilayah, village_media_rows
from xlsforms import choice_labels, named_items

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "xlsform_src" / "desbumi_ekonomi_y1.xlsx"
MEDIA = ROOT / "xlsform_src" / "desbumi_ekonomi_y1-media" / "desa.csv"
ID, EN = "Bahasa Indonesia (id)", "English (en)"

# name -> (type, choice list or file); the preload step and the generator rely on these exactly.
REQUIRED_FIELDS = {
    "resp_id": ("text", ""),
    "kab": ("select_one", "kab"),
    "desa": ("select_one_from_file", "desa.csv"),
    "nama_responden": ("text", ""),
    "tahun_lahir": ("integer", ""),
    "jenis_kelamin": ("select_one", "jk"),
    "negara_tujuan": ("select_one", "negara"),
    "tahun_pulang": ("integer", ""),
    "punya_usaha": ("select_one", "yatidak"),
    "jenis_usaha": ("select_one", "jenis_usaha"),
    "no_hp": ("text", ""),
}
PII_YES = {"nama_responden", "no_hp", "art_nama", "gps_rumah"}


@pytest.fixture(scope="module")
def form():
    return read_xlsform(SOURCE)


@pytest.fixture(scope="module")
def items(form):
    return named_items(form)


@pytest.fixture(scope="module")
def lists(form):
    return choice_labels(form)


def test_compiles_clean_with_odk_validate():
    result = check_form(SOURCE, forms_dir=ROOT / "forms", validate=True)
    assert [f"{f.rule} {f.sheet}!{f.cell}: {f.message}" for f in result.findings] == []
    assert result.xform
    if shutil.which("java"):
        assert result.validate_skipped == ""


def test_settings(form):
    assert form.form_id == "desbumi_ekonomi_y1"
    assert form.settings["form_title"] == "DESBUMI Survei Ekonomi Purna PMI — Tahun 1"
    assert form.version == "2026112801"
    assert form.default_language == ID
    assert set(form.languages) == {ID, EN}


def test_required_fields_exist_with_their_types(items):
    for name, (base, argument) in REQUIRED_FIELDS.items():
        assert name in items, name
        assert (items[name].type.base, items[name].type.argument) == (base, argument), name
        assert items[name].repeat_depth == 0, name


def test_resp_id_rule_is_district_code_hyphen_four_digits(items):
    constraint = items["resp_id"].row["constraint"]
    assert "regex(., '^[0-9]{4}-[0-9]{4}$')" in constraint
    assert "substr(., 0, 4) = ${kab}" in constraint
    assert "3509-0012" in items["resp_id"].row[f"hint::{ID}"]


def test_codes_of_the_fields_the_panel_joins_on(lists, items):
    assert lists["jk"] == {"1": {"id": "Laki-laki", "en": "Male"}, "2": {"id": "Perempuan", "en": "Female"}}
    assert set(lists["yatidak"]) == {"1", "0"}
    assert re.search(r"\. >= 1950 and \. <= 2008", items["tahun_lahir"].row["constraint"])
    assert "${tahun_berangkat}" in items["tahun_pulang"].row["constraint"]
    assert items["jenis_usaha"].row["relevant"] == "${punya_usaha} = 1"


def test_district_list_is_kemendagri_from_wilayah(lists):
    wilayah = load_wilayah(ROOT / WILAYAH_CSV)
    assert {int(code): labels["id"] for code, labels in lists["kab"].items()} == \
        {d.code: d.name for d in wilayah.districts}
    assert "5308" not in lists["kab"]  # Lembata's BPS code must never be a choice


def test_village_media_matches_wilayah(items):
    assert items["desa"].row["choice_filter"] == "kab=${kab}"
    with MEDIA.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == village_media_rows(load_wilayah(ROOT / WILAYAH_CSV))


def test_every_choice_list_is_integer_coded_and_bilingual(form):
    assert form.choices.rows
    for row in form.choices.rows:
        assert re.fullmatch(r"-?\d+", row["name"]), (row["list_name"], row["name"])
        assert row[f"label::{ID}"].strip() and row[f"label::{EN}"].strip(), (row["list_name"], row["name"])


def test_every_question_is_bilingual_and_marked_for_pii(form, items):
    for row in form.survey.rows:
        assert row["pii"] in ("yes", "no"), row["name"]
    assert {name for name, item in items.items() if item.row["pii"] == "yes"} == PII_YES
    for name, item in items.items():
        if item.row[f"label::{ID}"]:
            assert item.row[f"label::{EN}"], name


def test_income_and_money_are_asked_in_thousands(items):
    money = [name for name in items if name.endswith("_ribu")]
    assert {"pendapatan_ribu", "biaya_ribu", "gaji_ribu", "kiriman_ribu", "tabungan_ribu", "modal_awal_ribu",
            "omzet_ribu", "untung_ribu"} <= set(money)
    for name in money:
        assert items[name].type.base == "integer"
        assert "RIBU" in items[name].row[f"hint::{ID}"] and "THOUSANDS" in items[name].row[f"hint::{EN}"]
        assert "-98" in items[name].row["constraint"] and "-99" in items[name].row["constraint"]


def test_year_one_modules(items):
    groups = {name for name, item in items.items() if item.type.base == "begin group"}
    assert groups == {"pembuka", "identitas", "ruta", "migrasi", "remitansi", "kepulangan", "kerja", "usaha",
                      "digital", "wgss", "penutup"}
    repeats = {name for name, item in items.items() if item.type.base == "begin repeat"}
    assert repeats == {"art"}  # last trip and one business only: no repeat of trips or businesses
    assert {"start", "end", "today", "deviceid"} <= {i.type.base for i in items.values()}


def test_wg_ss_six_items_four_answers_and_no_disability_word(form, items, lists):
    wg = ["wg_lihat", "wg_dengar", "wg_jalan", "wg_ingat", "wg_rawat", "wg_komunikasi"]
    assert all(items[name].type.argument == "wg" for name in wg)
    assert [lists["wg"][c]["id"] for c in ("1", "2", "3", "4")] == [
        "Tidak ada kesulitan", "Sedikit kesulitan", "Banyak kesulitan", "Sama sekali tidak bisa"]
    assert "MASALAH KESEHATAN" in items["info_wgss"].row[f"label::{ID}"]
    texts = [value for sheet in (form.survey, form.choices) for row in sheet.rows
             for column, value in row.values.items() if column.endswith(f"::{ID}")]
    assert not [t for t in texts if "disabilitas" in t.lower()]
