"""The year-two panel instrument (desbumi_ekonomi_y2): compiles clean, carries every module of
DOMAIN.md, and keeps the contracts the preload step, the generator and the panel rely on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from desbumi.forms.check import check_form
from desbumi.forms.structure import walk
from desbumi.forms.workbook import read_xlsform
from desbumi.reference import load_wilayah, village_media_rows
from xlsforms import choice_labels, named_items

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "xlsform_src" / "desbumi_ekonomi_y2.xlsx"
MEDIA_DIR = ROOT / "xlsform_src" / "desbumi_ekonomi_y2-media"
YEAR_ONE = ROOT / "xlsform_src" / "desbumi_ekonomi_y1.xlsx"
ID, EN = "Bahasa Indonesia (id)", "English (en)"

# The preload contract: responden_y1.csv is written by `forms preload`, never shipped beside the form.
RESPONDENT_FILE = "responden_y1.csv"
RESPONDENT_COLUMNS = ["name", "label", "kab", "desa", "nama", "tahun_lahir", "jenis_kelamin",
                      "negara_terakhir", "tahun_pulang", "punya_usaha_y1", "jenis_usaha_y1"]
GENERATED = {RESPONDENT_FILE: RESPONDENT_COLUMNS}

DISTRICTS = {"3212": "Indramayu", "3305": "Kebumen", "3307": "Wonosobo", "3509": "Jember",
             "3510": "Banyuwangi", "5202": "Lombok Tengah", "5313": "Lembata"}
TRACKING = {"1": "interviewed", "2": "moved within", "3": "moved out", "4": "abroad again",
            "5": "deceased", "6": "refused", "7": "not found"}

# module group -> {field name: (type, choice list or file)}: the key questions of each DOMAIN.md module.
MODULES: dict[str, dict[str, tuple[str, str]]] = {
    "m0": {  # identification & tracking
        "enum_kode": ("integer", ""), "kab": ("select_one", "kab"), "sampel": ("select_one", "jenis_sampel"),
        "desa": ("select_one_from_file", "desa.csv"), "resp_id_y1": ("select_one_from_file", RESPONDENT_FILE),
        "y1_nama": ("calculate", ""), "y1_info": ("note", ""), "jml_kunjungan": ("integer", ""),
        "status_lacak": ("select_one", "lacak"), "konfirmasi": ("select_one", "yesno"),
        "pindah_desa": ("select_one_from_file", "desa.csv"), "baru_urut": ("text", ""),
        "resp_id": ("calculate", ""), "persetujuan": ("select_one", "persetujuan"),
        "status_akhir": ("calculate", ""), "lanjut": ("calculate", ""),
        "ubah_rumah": ("select_one", "yesno"), "ubah_art": ("select_one", "ubah_art"),
        "ubah_usaha": ("select_one", "yesno"),
    },
    "m1": {  # household roster
        "resp_jk": ("select_one", "jk"), "resp_lahir": ("integer", ""), "resp_hub": ("select_one", "hub_krt"),
        "resp_kawin": ("select_one", "kawin"), "resp_ijazah": ("select_one", "ijazah"),
        "jml_art": ("integer", ""), "anggota": ("begin repeat", ""), "art_nama": ("text", ""),
        "art_hub": ("select_one", "hub_krt"), "art_jk": ("select_one", "jk"), "art_umur": ("integer", ""),
        "art_kawin": ("select_one", "kawin"), "art_ijazah": ("select_one", "ijazah"),
        "art_kegiatan": ("select_one", "kegiatan"), "art_migran": ("select_one", "status_migran"),
        "krt_perempuan": ("calculate", ""),
    },
    "m2": {  # migration history
        "priv_m2": ("select_multiple", "hadir"), "jml_trip": ("integer", ""), "migrasi": ("begin repeat", ""),
        "trip_thn_pergi": ("integer", ""), "trip_thn_pulang": ("integer", ""),
        "trip_negara": ("select_one", "negara"), "trip_kerja": ("select_one", "kerja_ln"),
        "trip_jalur": ("select_one", "jalur"), "trip_dok": ("select_multiple", "dokumen"),
        "trip_b_dok": ("integer", ""), "trip_b_agen": ("integer", ""), "trip_b_total": ("calculate", ""),
        "trip_pembayar": ("select_multiple", "pembayar"), "trip_dana": ("select_multiple", "dana"),
        "trip_utang": ("integer", ""), "trip_uang": ("select_one", "mata_uang"),
        "trip_gaji_awal": ("integer", ""), "trip_gaji_akhir": ("integer", ""),
        "trip_masalah": ("select_multiple", "masalah"), "trip_kasus": ("select_one", "yesno_dk"),
        "trip_lapor": ("select_multiple", "lapor_ke"),
    },
    "m3": {  # remittances
        "kirim": ("select_one", "yesno"), "kirim_frek": ("select_one", "frekuensi"), "kirim_jml": ("integer", ""),
        "kirim_saluran": ("select_multiple", "saluran"), "kirim_penerima": ("select_one", "penerima"),
        "priv_m3": ("select_multiple", "hadir"), "kirim_putus": ("select_one", "putus"),
        "kirim_guna": ("select_multiple", "guna"), "tabungan_bawa": ("integer", ""),
    },
    "m4": {  # return & reintegration
        "pulang_thn": ("integer", ""), "pulang_alasan": ("select_one", "alasan_pulang"),
        "niat_migrasi": ("select_one", "niat"), "dukungan": ("select_multiple", "dukungan"),
    },
    "m5": {  # current work (SAKERNAS)
        "priv_m5": ("select_multiple", "hadir"), "kerja_1jam": ("select_one", "yesno"),
        "kerja_status": ("select_one", "status_kerja"), "kerja_jam": ("integer", ""),
        "kerja_pendapatan": ("integer", ""),
    },
    "m6": {  # micro-business
        "punya_usaha": ("select_one", "yesno"), "usaha": ("begin repeat", ""),
        "us_jenis": ("select_one", "jenis_usaha"), "us_mulai": ("select_one", "mulai"),
        "us_pemilik": ("select_one", "pemilik"), "us_pengelola": ("select_one", "pengelola"),
        "us_modal_awal": ("integer", ""), "us_modal_sumber": ("select_multiple", "sumber_modal"),
        "us_modal_kini": ("integer", ""), "us_omzet": ("integer", ""), "us_laba": ("integer", ""),
        "us_pkj_bayar": ("integer", ""), "us_pkj_tdkbayar": ("integer", ""), "us_pkj_pr": ("integer", ""),
        "us_pasar": ("select_multiple", "pasar"), "us_catat": ("select_one", "pembukuan"),
        "us_izin": ("select_multiple", "izin"), "us_kelompok": ("select_one", "yesno"),
        "us_aktif": ("select_one", "yesno"), "us_tutup_alasan": ("select_one", "alasan_tutup"),
    },
    "m7": {  # digital use
        "hp_punya": ("select_one", "jenis_hp"), "internet": ("select_one", "yesno"),
        "aplikasi": ("select_multiple", "aplikasi"), "dg_wa_bisnis": ("select_one", "yesno"),
        "dg_toko": ("select_multiple", "marketplace"), "dg_live": ("select_one", "yesno"),
        "dg_bayar": ("select_multiple", "pembayaran"), "dg_porsi": ("integer", ""),
        "dg_penipuan": ("select_one", "penipuan"),
    },
    "m8": {  # finance
        "rek_bank": ("select_one", "yesno"), "tabungan": ("select_multiple", "bentuk_tabungan"),
        "pinjam": ("select_one", "yesno"), "pinjaman": ("begin repeat", ""),
        "pj_sumber": ("select_one", "sumber_pinjam"), "pj_jumlah": ("integer", ""),
        "pj_tujuan": ("select_one", "tujuan_pinjam"), "pj_tunggak": ("select_one", "tunggak"),
    },
    "m9": {  # social protection
        "bpjstk": ("select_multiple", "bpjstk_masa"), "jkn": ("select_one", "jkn"),
        "bansos": ("select_multiple", "bansos"), "dtks": ("select_one", "yesno_dk"),
    },
    "m10": {  # assets & housing
        "rumah_status": ("select_one", "status_rumah"), "rumah_lantai": ("select_one", "lantai"),
        "air_minum": ("select_one", "air"), "jamban": ("select_one", "jamban"),
        "listrik": ("select_one", "listrik"), "lahan": ("select_one", "yesno"),
        "ternak": ("select_multiple", "ternak"), "aset": ("select_multiple", "aset"),
        "emas_gram": ("integer", ""),
    },
    "m11": {  # GEDSI
        "priv_m11": ("select_multiple", "hadir"), "ptsn_sehat": ("select_one", "putus"),
        "ptsn_beli": ("select_one", "putus"), "ptsn_kunjung": ("select_one", "putus"),
        "ptsn_remit": ("select_one", "putus"), "ptsn_usaha": ("select_one", "putus"),
        "ptsn_migrasi": ("select_one", "putus"), "ptsn_pinjam": ("select_one", "putus"),
        "musdes_undang": ("select_one", "yesno"), "musdes_hadir": ("select_one", "yesno"),
        "musdes_bicara": ("select_one", "yesno"), "musdes_usul": ("select_one", "usul"),
        "desbumi_ikut": ("select_multiple", "kegiatan_desbumi"), "jabatan": ("select_multiple", "jabatan"),
    },
    "m12": {  # close
        "hadir_akhir": ("select_multiple", "hadir"), "obs_kerjasama": ("select_one", "kerjasama"),
        "bahasa": ("select_one", "bahasa"), "hp_nomor": ("text", ""), "gps": ("geopoint", ""),
        "obs_catatan": ("text", ""),
    },
}

WG_KEYS = ["lihat", "dengar", "jalan", "ingat", "rawat", "komunikasi"]
WG_WORDS = {  # what each item must ask about, Indonesian and English
    "lihat": ("melihat", "kacamata", "seeing", "glasses"),
    "dengar": ("mendengar", "alat bantu dengar", "hearing", "hearing aid"),
    "jalan": ("berjalan", "naik tangga", "walking", "climbing steps"),
    "ingat": ("mengingat", "berkonsentrasi", "remembering", "concentrating"),
    "rawat": ("mandi", "berpakaian", "washing all over", "dressing"),
    "komunikasi": ("berkomunikasi", "bahasa sehari-hari", "communicating", "usual language"),
}
WG_ANSWERS = {"1": ("Tidak ada kesulitan", "No difficulty"), "2": ("Sedikit kesulitan", "Some difficulty"),
              "3": ("Banyak kesulitan", "A lot of difficulty"), "4": ("Sama sekali tidak bisa", "Cannot do at all")}

MONEY = ["trip_b_dok", "trip_b_medis", "trip_b_latih", "trip_b_agen", "trip_b_tiket", "trip_b_lain",
         "trip_utang", "kirim_jml", "kirim_total", "tabungan_bawa", "kerja_pendapatan", "us_modal_awal",
         "us_modal_kini", "us_omzet", "us_laba", "pj_jumlah", "pj_sisa"]
PII_YES = {"y1_nama", "nama_koreksi", "baru_nama", "art_nama", "hp_nomor", "gps", "obs_catatan"}

# The expression subset the synthetic-data generator evaluates (issue 3): nothing else may appear.
ALLOWED_FUNCTIONS = {"selected", "count-selected", "not", "if", "string-length", "regex", "int", "number",
                     "concat", "coalesce", "today", "format-date", "count", "sum", "position", "pulldata"}
EXPRESSION_COLUMNS = ("relevant", "constraint", "calculation", "choice_filter", "repeat_count", "required")


@pytest.fixture(scope="module")
def form():
    return read_xlsform(SOURCE)


@pytest.fixture(scope="module")
def items(form):
    return named_items(form)


@pytest.fixture(scope="module")
def order(form):
    return [item.name for item in walk(form) if item.name and not item.is_end]


@pytest.fixture(scope="module")
def lists(form):
    return choice_labels(form)


def _row(items, name):
    return items[name].row


# --- compiles clean ------------------------------------------------------------------------------

def test_check_finds_nothing_with_odk_validate():
    result = check_form(SOURCE, forms_dir=ROOT / "forms", validate=True, generated_media=GENERATED)
    assert [f"{f.rule} {f.sheet}!{f.cell}: {f.message}" for f in result.findings] == []
    assert result.validate_skipped == ""
    assert result.xform and 'jr://file-csv/responden_y1.csv' in result.xform


def test_settings(form):
    assert form.form_id == "desbumi_ekonomi_y2"
    assert re.fullmatch(r"20\d{8}", form.version)
    assert form.default_language == ID
    assert set(form.languages) == {ID, EN}


def test_metadata_and_audit(items):
    for name in ("start", "end", "today", "deviceid", "username", "audit"):
        assert items[name].type.base == name


# --- modules -------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", sorted(MODULES, key=lambda m: int(m[1:])))
def test_module_key_questions(items, module):
    assert items[module].type.base == "begin group"
    for name, (kind, argument) in MODULES[module].items():
        assert name in items, f"{module}: {name} missing"
        item = items[name]
        assert item.type.base == kind, f"{name} is {item.type.base}, expected {kind}"
        assert item.type.argument == argument, f"{name} uses {item.type.argument!r}, expected {argument!r}"
        assert item.parents and item.parents[0] == ("group", module), f"{name} not in group {module}"


def test_modules_after_consent_are_skipped_unless_the_interview_goes_on(items):
    assert _row(items, "lanjut")["calculation"] == "if(${persetujuan} = 1 or ${persetujuan} = 2, 1, 0)"
    for number in range(1, 12):
        assert "${lanjut} = 1" in _row(items, f"m{number}")["relevant"], f"m{number}"
    for name in ("m3", "m4"):  # remittances and return only for people who worked abroad
        assert "${jml_trip} >= 1" in _row(items, name)["relevant"]
    closing = [i for i in items.values() if i.parents[:1] == (("group", "m12"),) and i.is_field]
    assert {i.name for i in closing if "${lanjut} = 1" not in i.row["relevant"]} <= {
        "gps", "obs_catatan", "hp_nomor"}  # hp_nomor depends on kontak_lagi, itself behind lanjut
    assert _row(items, "hp_nomor")["relevant"] == "${kontak_lagi} = 1"
    assert "${lanjut} = 1" in _row(items, "kontak_lagi")["relevant"]


def test_consent_written_or_recorded_and_refusal_ends(lists, items):
    assert {c: v["en"] for c, v in lists["persetujuan"].items()} == {
        "1": "Agrees, written consent", "2": "Agrees, verbal consent recorded", "3": "Refuses"}
    assert _row(items, "persetujuan")["relevant"] == "${siap} = 1"
    assert "${persetujuan} = 3" in _row(items, "tolak_alasan")["relevant"]


def test_private_prompts_come_before_sensitive_questions(order, lists):
    assert "1" in lists["hadir"] and "nobody" in lists["hadir"]["1"]["en"].lower()
    for prompt, sensitive in [("priv_m2", "trip_masalah"), ("priv_m2", "trip_kasus"), ("priv_m3", "kirim_putus"),
                              ("priv_m5", "kerja_pendapatan"), ("priv_m5", "us_laba"), ("priv_m11", "ptsn_sehat")]:
        assert order.index(prompt) < order.index(sensitive), (prompt, sensitive)


# --- preload, identity, tracking, resp_id --------------------------------------------------------

def test_district_village_respondent_cascade(items, lists):
    assert {c: v["id"].split(" (")[0] for c, v in lists["kab"].items()} == DISTRICTS
    assert _row(items, "desa")["choice_filter"] == "kab = ${kab}"
    assert _row(items, "resp_id_y1")["choice_filter"] == "kab = ${kab} and desa = ${desa}"
    assert _row(items, "resp_id_y1")["relevant"] == "${sampel} = 1"


def test_pulldata_reads_only_the_preload_contract(form):
    calls = []
    for row in form.survey.rows:
        for column in EXPRESSION_COLUMNS:
            calls += re.findall(r"pulldata\('([^']*)', '([^']*)', '([^']*)', \$\{([^}]*)\}\)", row[column])
    assert {c[1] for c in calls} >= {"nama", "tahun_lahir", "jenis_kelamin", "negara_terakhir", "tahun_pulang",
                                      "punya_usaha_y1", "jenis_usaha_y1"}
    assert all(c[0] == "responden_y1" and c[1] in RESPONDENT_COLUMNS and c[2] == "name"
               and c[3] == "resp_id_y1" for c in calls), calls
    assert not (MEDIA_DIR / RESPONDENT_FILE).exists(), "responden_y1.csv is made by the preload step"


def test_preloaded_facts_are_shown_and_identity_confirmed(items):
    shown = _row(items, "y1_info")[f"label::{ID}"] + _row(items, "y1_info")[f"hint::{ID}"]
    for ref in ("y1_nama", "y1_lahir", "y1_negara_teks", "y1_pulang", "y1_usaha_teks"):
        assert "${" + ref + "}" in shown
    assert "${konfirmasi} = 0, 7" in _row(items, "status_akhir")["calculation"]  # wrong person = not found


def test_tracking_codes(lists, items):
    assert list(lists["lacak"]) == list(TRACKING)
    english = {c: v["en"].lower() for c, v in lists["lacak"].items()}
    assert "interviewed" in english["1"] and "moved within" in english["2"] and "moved out" in english["3"]
    assert "abroad again" in english["4"] and english["5"] == "deceased"
    assert english["6"] == "refused" and english["7"] == "not found"
    interview = "${status_lacak} = 1 or ${status_lacak} = 2"
    assert interview in _row(items, "konfirmasi")["relevant"]


def test_resp_id_rule(items):
    assert _row(items, "resp_id")["calculation"] == (
        "if(${sampel} = 1, ${resp_id_y1}, concat(${kab}, '-9', ${baru_urut}))")
    urut = _row(items, "baru_urut")
    assert urut["constraint"] == "regex(., '^[0-9]{3}$') and . != '000'"
    assert "-9" in urut[f"hint::{ID}"] and "-9" in urut[f"hint::{EN}"]  # the rule is told to the enumerator
    assert _row(items, "baru_urut_ulang")["constraint"] == ". = ${baru_urut}"
    # new ids look like year-one ids (KKKK-NNNN) and never collide with year-one numbers below 9000
    for district in DISTRICTS:
        new_id = f"{district}-9007"
        assert re.fullmatch(r"[0-9]{4}-[0-9]{4}", new_id) and int(new_id[5:]) >= 9001


# --- choices, WG-SS, repeats, money, pii, expressions --------------------------------------------

def test_every_choice_list_integer_coded_and_bilingual(lists):
    assert len(lists) >= 70
    for name, choices in lists.items():
        for code, label in choices.items():
            assert re.fullmatch(r"-?[0-9]+", code), f"{name}: {code!r}"
            assert label["id"].strip() and label["en"].strip(), f"{name} {code}"
        assert "97" not in choices or name == "putus"  # 97 'not applicable' only in the decision list


def test_missing_codes_are_98_and_99(lists):
    for name, choices in lists.items():
        if "98" in choices:
            assert choices["98"]["en"] == "Don't know", name
        if "99" in choices:
            assert choices["99"]["en"] == "Refused", name


def test_wg_ss_six_items_four_answers(items, lists, form):
    assert {c: (v["id"], v["en"]) for c, v in lists["wg"].items()} == WG_ANSWERS
    for prefix in ("wg_", "art_wg_"):
        for key in WG_KEYS:
            row = _row(items, prefix + key)
            assert items[prefix + key].type.base == "select_one" and items[prefix + key].type.argument == "wg"
            text_id = (row[f"label::{ID}"] + " " + row[f"hint::{ID}"]).lower()
            text_en = (row[f"label::{EN}"] + " " + row[f"hint::{EN}"]).lower()
            words = WG_WORDS[key]
            assert all(w in text_id for w in words[:2]) and all(w in text_en for w in words[2:]), prefix + key
    assert [n for n in items if n.startswith("wg_") and n != "wg_intro"] == [f"wg_{k}" for k in WG_KEYS]
    assert all(_row(items, f"art_wg_{k}")["relevant"] == "${art_umur} >= 5" for k in WG_KEYS)
    assert items["art_wg_lihat"].repeat == "anggota"
    assert "HEALTH PROBLEM" in _row(items, "wg_intro")[f"label::{EN}"]
    for row in form.survey.rows:  # never say "disabilitas" to the respondent
        assert "disabilitas" not in row[f"label::{ID}"].lower()


def test_repeats(items):
    counts = {"anggota": "${jml_art_lain}", "migrasi": "${jml_trip}", "usaha": "${jml_usaha}",
              "pinjaman": "${jml_pinjam}"}
    for name, count in counts.items():
        assert items[name].type.base == "begin repeat"
        assert _row(items, name)["repeat_count"] == count
    assert _row(items, "jml_art_lain")["calculation"] == "${jml_art} - 1"  # the respondent is not repeated
    assert items["art_umur"].repeat == "anggota" and items["trip_negara"].repeat == "migrasi"
    assert items["us_omzet"].repeat == "usaha" and items["pj_jumlah"].repeat == "pinjaman"


def test_money_is_whole_rupiah_with_bounds_and_missing_codes(items):
    for name in MONEY:
        row = _row(items, name)
        assert items[name].type.base == "integer", name
        assert ". = -98" in row["constraint"] and ". = -99" in row["constraint"], name
        assert re.search(r"\. <= [0-9]{6,}", row["constraint"]), name
        assert "-98" in row[f"hint::{ID}"] and "-98" in row[f"hint::{EN}"], name
        assert row[f"constraint_message::{ID}"] and row[f"constraint_message::{EN}"], name


def test_pii_filled_on_every_row(form, items):
    for row in form.survey.rows:
        if row["type"].strip():
            assert row["pii"] in ("yes", "no"), f"row {row.number} {row['name']}"
    assert {n for n, i in items.items() if i.row["pii"] == "yes"} == PII_YES


def test_expressions_use_only_the_generator_subset(form):
    texts = [row[column] for row in form.survey.rows for column in EXPRESSION_COLUMNS]
    texts.append(form.settings.get("instance_name", ""))
    seen = set()
    for text in texts:
        text = re.sub(r"'[^']*'", "''", text)  # function-like words inside strings do not count
        seen |= set(re.findall(r"([A-Za-z][\w:-]*)\s*\(", text)) - {"and", "or", "div", "mod"}
    assert seen <= ALLOWED_FUNCTIONS, seen - ALLOWED_FUNCTIONS
    assert "indexed-repeat" not in str(form.survey.rows)


def test_year_one_codes_shown_as_text_match_the_year_one_form(items):
    """The identity note turns year-one codes (as preloaded) into words; the codes are year one's."""
    year_one = read_xlsform(YEAR_ONE)
    codes: dict[str, set[str]] = {}
    for row in year_one.choices.rows:
        codes.setdefault(row["list_name"], set()).add(row["name"])
    for calc, ref, list_name in [("y1_jk_teks", "y1_jk", "jk"), ("y1_negara_teks", "y1_negara", "negara"),
                                 ("y1_usaha_teks", "y1_jenis_usaha", "jenis_usaha")]:
        mapped = set(re.findall(r"\$\{" + ref + r"\} = (-?[0-9]+)", _row(items, calc)["calculation"]))
        assert mapped == codes[list_name], (calc, mapped ^ codes[list_name])


def test_village_media_is_the_reference_list():
    import csv

    with (MEDIA_DIR / "desa.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == village_media_rows(load_wilayah(ROOT / "panel" / "wilayah.csv"))
    assert {r["kab"] for r in rows} == set(DISTRICTS)
    assert all(re.fullmatch(r"\d{2}\.\d{2}\.\d{2}\.\d{4}", r["name"]) for r in rows)
