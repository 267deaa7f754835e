"""desbumi.synth: the expression evaluator, the form model, year-one rows and writers, and Kobo-shaped
year-two submissions with panel dynamics.

The year-two tests run on a small form of our own (below) that keeps the year-two contract: `kab`,
`desa` (from desa.csv filtered by kab), `resp_id_y1` (select_one_from_file responden_y1.csv), a
tracking status, consent and a final calculated `resp_id`. The real instruments in xlsform_src/ are
exercised too when they are there.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from desbumi import reference
from desbumi.errors import InputError
from desbumi.synth import (
    CONTRACT_COLUMNS,
    ENVELOPE_KEYS,
    ExpressionError,
    Fieldwork,
    PanelContract,
    PanelDynamics,
    Plan,
    SynthError,
    evaluate,
    load_form,
    preload_rows,
    read_year_one,
    regexgen,
    submissions,
    write_year_one,
    year_one,
)
from desbumi.synth.vocab import DISTRICT_CODES
from xlsforms import write_xlsform

ROOT = Path(__file__).resolve().parents[1]
Y1_FORM = ROOT / "xlsform_src" / "desbumi_ekonomi_y1.xlsx"
Y2_FORM = ROOT / "xlsform_src" / "desbumi_ekonomi_y2.xlsx"
ID, EN = "Bahasa Indonesia (id)", "English (en)"

# A year-two form in miniature: the contract fields, a roster repeat counted by a question, a
# business repeat without a count, money with 98/99-style codes, dates, re-typed ids, calculations.
Y2_SURVEY = f"""
| type | name | label::{ID} | label::{EN} | relevant | constraint | required | calculation | choice_filter | repeat_count |
| start | start | "" | "" | "" | "" | "" | "" | "" | "" |
| end | end | "" | "" | "" | "" | "" | "" | "" | "" |
| today | today | "" | "" | "" | "" | "" | "" | "" | "" |
| deviceid | deviceid | "" | "" | "" | "" | "" | "" | "" | "" |
| username | username | "" | "" | "" | "" | "" | "" | "" | "" |
| audit | audit | "" | "" | "" | "" | "" | "" | "" | "" |
| begin group | ident | Identifikasi | Identification | "" | "" | "" | "" | "" | "" |
| select_one kab | kab | Kabupaten | District | "" | "" | yes | "" | "" | "" |
| select_one_from_file desa.csv | desa | Desa | Village | "" | "" | yes | "" | kab=${{kab}} | "" |
| select_one yatidak | responden_baru | Responden baru? | New respondent? | "" | "" | yes | "" | "" | "" |
| select_one_from_file responden_y1.csv | resp_id_y1 | Responden tahun 1 | Year-one respondent | ${{responden_baru}} = 0 | "" | yes | "" | kab=${{kab}} and desa=${{desa}} | "" |
| calculate | nama_y1 | "" | "" | "" | "" | "" | pulldata('responden_y1', 'nama', 'name', ${{resp_id_y1}}) | "" | "" |
| select_one lacak | status_lacak | Status pelacakan | Tracking status | ${{responden_baru}} = 0 | "" | yes | "" | "" | "" |
| select_one yatidak | konfirmasi | Orang yang sama? | Same person? | ${{status_lacak}} = 1 | "" | yes | "" | "" | "" |
| calculate | siap | "" | "" | "" | "" | "" | if(${{responden_baru}} = 1 or ${{konfirmasi}} = 1, 1, 0) | "" | "" |
| select_one setuju | setuju | Persetujuan | Consent | ${{siap}} = 1 | "" | yes | "" | "" | "" |
| text | nomor_baru | Nomor responden baru | New respondent number | ${{responden_baru}} = 1 | regex(., '^9[0-9]{{3}}$') | yes | "" | "" | "" |
| text | nomor_ulang | Ketik ulang nomor | Type the number again | ${{responden_baru}} = 1 | . = ${{nomor_baru}} | yes | "" | "" | "" |
| calculate | resp_id | "" | "" | "" | "" | "" | if(${{responden_baru}} = 1, concat(${{kab}}, '-', ${{nomor_baru}}), ${{resp_id_y1}}) | "" | "" |
| end group | ident | "" | "" | "" | "" | "" | "" | "" | "" |
| begin group | utama | Wawancara | Interview | ${{setuju}} = 1 or ${{setuju}} = 2 | "" | "" | "" | "" | "" |
| integer | tahun_lahir | Tahun lahir | Birth year | "" | . >= 1940 and . <= 2008 | yes | "" | "" | "" |
| select_one jk | jenis_kelamin | Jenis kelamin | Sex | "" | "" | yes | "" | "" | "" |
| integer | jml_art | Jumlah anggota rumah tangga | Household size | "" | . >= 1 and . <= 12 | yes | "" | "" | "" |
| begin repeat | art | Anggota | Member | "" | "" | "" | "" | "" | ${{jml_art}} |
| text | art_nama | Nama | Name | "" | "" | yes | "" | "" | "" |
| integer | art_umur | Umur | Age | "" | . >= 0 and . <= 100 | yes | "" | "" | "" |
| select_one yatidak | art_sekolah | Sekolah? | In school? | ${{art_umur}} >= 5 and ${{art_umur}} <= 18 | "" | yes | "" | "" | "" |
| calculate | art_no | "" | "" | "" | "" | "" | position(..) | "" | "" |
| calculate | art_dewasa | "" | "" | "" | "" | "" | if(${{art_umur}} >= 15, 1, 0) | "" | "" |
| end repeat | art | "" | "" | "" | "" | "" | "" | "" | "" |
| calculate | jml_dewasa | "" | "" | "" | "" | "" | sum(${{art_dewasa}}) | "" | "" |
| date | tgl_pulang | Tanggal pulang | Date of return | "" | . <= today() and . >= '2010-01-01' | yes | "" | "" | "" |
| integer | pendapatan | Pendapatan bulan lalu | Income last month | "" | (. >= 0 and . <= 50000000) or . = -98 or . = -99 | yes | "" | "" | "" |
| decimal | luas_lahan | Luas lahan (ha) | Land (ha) | "" | . >= 0 and . <= 10 | "" | "" | "" | "" |
| text | no_hp | Nomor HP | Phone | "" | regex(., '^08[0-9]{{8,11}}$') | "" | "" | "" | "" |
| select_multiple bantuan | bantuan | Bantuan | Support | "" | not(selected(., '0') and count-selected(.) > 1) | yes | "" | "" | "" |
| select_one yatidak | punya_usaha | Punya usaha? | Has a business? | "" | "" | yes | "" | "" | "" |
| begin repeat | usaha | Usaha | Business | ${{punya_usaha}} = 1 | "" | "" | "" | "" | "" |
| select_one jenis_usaha | jenis | Jenis usaha | Type | "" | "" | yes | "" | "" | "" |
| integer | omzet | Omzet | Sales | "" | . >= 0 and . <= 100000000 | yes | "" | "" | "" |
| integer | untung | Untung | Profit | "" | . <= ${{omzet}} and . >= -50000000 | yes | "" | "" | "" |
| end repeat | usaha | "" | "" | "" | "" | "" | "" | "" | "" |
| select_one wg | wg_lihat | Kesulitan melihat | Difficulty seeing | "" | "" | yes | "" | "" | "" |
| calculate | disabilitas | "" | "" | "" | "" | "" | if(${{wg_lihat}} = 3 or ${{wg_lihat}} = 4, 1, 0) | "" | "" |
| geopoint | gps | GPS | GPS | "" | "" | "" | "" | "" | "" |
| end group | utama | "" | "" | "" | "" | "" | "" | "" | "" |
"""

Y2_CHOICES = f"""
| list_name | name | label::{ID} | label::{EN} |
| kab | 3212 | Indramayu | Indramayu |
| kab | 3305 | Kebumen | Kebumen |
| kab | 3307 | Wonosobo | Wonosobo |
| kab | 3509 | Jember | Jember |
| kab | 3510 | Banyuwangi | Banyuwangi |
| kab | 5202 | Lombok Tengah | Central Lombok |
| kab | 5313 | Lembata | Lembata |
| yatidak | 1 | Ya | Yes |
| yatidak | 0 | Tidak | No |
| lacak | 1 | Ditemukan dan diwawancarai | Found and interviewed |
| lacak | 2 | Pindah dalam kabupaten | Moved within district |
| lacak | 3 | Pindah ke luar kabupaten | Moved away |
| lacak | 4 | Bekerja di luar negeri lagi | Working abroad again |
| lacak | 5 | Meninggal | Deceased |
| lacak | 6 | Menolak | Refused |
| lacak | 7 | Tidak ditemukan | Not found |
| setuju | 1 | Ya, tertulis | Yes, written |
| setuju | 2 | Ya, direkam | Yes, recorded |
| setuju | 0 | Tidak setuju | Refused |
| jk | 1 | Laki-laki | Male |
| jk | 2 | Perempuan | Female |
| bantuan | 0 | Tidak ada | None |
| bantuan | 1 | PKH | PKH |
| bantuan | 2 | BPNT | BPNT |
| bantuan | 3 | BLT Dana Desa | BLT Dana Desa |
| bantuan | 98 | Tidak tahu | Don't know |
| jenis_usaha | 1 | Warung | Shop |
| jenis_usaha | 2 | Makanan olahan | Processed food |
| jenis_usaha | 3 | Pertanian | Farming |
| jenis_usaha | 96 | Lainnya | Other |
| wg | 1 | Tidak ada kesulitan | No difficulty |
| wg | 2 | Sedikit kesulitan | Some difficulty |
| wg | 3 | Banyak kesulitan | A lot of difficulty |
| wg | 4 | Sama sekali tidak bisa | Cannot do at all |
| wg | 98 | Tidak tahu | Don't know |
| wg | 99 | Menolak | Refused |
"""

Y2_SETTINGS = f"""
| form_id | form_title | version | default_language | instance_name |
| synth_y2_test | Synth y2 test | 2026030101 | {ID} | concat('Y2 ', ${{resp_id}}) |
"""

# The preload columns, as panel/preload.toml defines them for the real year-two form.
PRELOAD_COLUMNS = {"name": "resp_id", "label": "{nama_responden} ({tahun_lahir})", "kab": "kab", "desa": "desa",
                   "nama": "nama_responden", "tahun_lahir": "tahun_lahir"}
CONTRACT = PanelContract(consent="setuju")


def y2_test_form_path(directory: Path) -> Path:
    return write_xlsform(directory / "synth_y2_test.xlsx",
                         {"survey": Y2_SURVEY, "choices": Y2_CHOICES, "settings": Y2_SETTINGS})


def village_media() -> list[dict]:
    return reference.village_media_rows(reference.load_wilayah(ROOT / "panel" / "wilayah.csv"))


@pytest.fixture(scope="module")
def y2_form(tmp_path_factory):
    return load_form(y2_test_form_path(tmp_path_factory.mktemp("synth")))


@pytest.fixture(scope="module")
def panel(y2_form):
    """Year one (plain rows) and a panel run with rates high enough to see every dynamic."""
    rows = year_one(300, seed=11)
    media = {"desa.csv": village_media(), "responden_y1.csv": preload_rows(rows, columns=PRELOAD_COLUMNS)}
    dynamics = PanelDynamics(typos=0.03, edits=0.08, duplicates=0.03, deletions=0.01)
    result = submissions(y2_form, rows, seed=5, contract=CONTRACT, dynamics=dynamics, media=media)
    return rows, media, result


# =========================================================================== the evaluator


@pytest.mark.parametrize("expression, values, expected", [
    ("1 + 2 * 3", {}, 7.0),
    ("7 mod 3", {}, 1.0),
    ("10 div 4", {}, 2.5),
    ("-${a} + 1", {"a": "3"}, -2.0),
    ("${a} = 1", {"a": "1"}, True),  # a string compared with a number compares numbers
    ("${a} = '01'", {"a": "1"}, False),  # ... with a string, strings
    ("${a} > 5", {"a": ""}, False),  # empty is NaN
    ("${a} != ''", {"a": ""}, False),
    ("${a} >= 15 and ${a} <= 99", {"a": "20"}, True),
    ("${a} < 1 or not(${b} = 2)", {"a": "3", "b": "4"}, True),
    ("selected(${s}, '3')", {"s": "1 3"}, True),
    ("selected(${s}, '2')", {"s": "1 3"}, False),
    ("count-selected(${s})", {"s": "1 3 5"}, 3.0),
    ("if(${a} > 1, 'big', 'small')", {"a": "5"}, "big"),
    ("string-length(${t})", {"t": "Siti"}, 4.0),
    ("regex(${t}, '^[0-9]{4}-[0-9]{4}$')", {"t": "3509-0012"}, True),
    ("regex(${t}, '^[0-9]{4}-[0-9]{4}$')", {"t": "3509-12"}, False),
    ("int(${a})", {"a": "3.9"}, 3.0),
    ("int(-3.9)", {}, -3.0),
    ("number(${a}) + 1", {"a": "2"}, 3.0),
    ("concat(${a}, '-', ${b})", {"a": "3509", "b": "0012"}, "3509-0012"),
    ("coalesce(${a}, ${b})", {"a": "", "b": "x"}, "x"),
    ("count(${m})", {"m": ["a", "b", "c"]}, 3.0),
    ("sum(${m})", {"m": ["1", "2", "4"]}, 7.0),
    ("round(2.456, 2)", {}, 2.46),
    ("substr('35090012', 0, 4)", {}, "3509"),
    ("true() and not(false())", {}, True),
])
def test_evaluator_on_its_own(expression, values, expected):
    assert evaluate(expression, values) == expected


def test_evaluator_dates_and_context():
    assert evaluate(". <= today()", current="2025-12-31", today="2026-01-01") is True
    assert evaluate(". <= today()", current="2026-01-02", today="2026-01-01") is False
    assert evaluate("today() - ${d}", {"d": "2025-12-31"}, today="2026-01-01") == 1.0
    assert evaluate("format-date(today(), '%Y-%m')", today="2026-03-02") == "2026-03"
    assert evaluate("format-date(${d}, '%e %b %Y')", {"d": "2026-03-02"}) == "2 Mar 2026"
    assert evaluate("position(..)", position=3) == 3.0
    assert evaluate(". >= 15 and . <= 99", current="20") is True


def test_evaluator_tables_and_choice_filters():
    tables = {"responden_y1.csv": [{"name": "3509-0001", "nama": "Siti"}, {"name": "3509-0002", "nama": "Sri"}]}
    assert evaluate("pulldata('responden_y1', 'nama', 'name', ${r})", {"r": "3509-0002"}, tables=tables) == "Sri"
    assert evaluate("pulldata('responden_y1', 'nama', 'name', 'none')", tables=tables) == ""
    assert evaluate("instance('responden_y1')/root/item[name = ${r}]/nama", {"r": "3509-0001"}, tables=tables) == ["Siti"]
    # a choice filter: bare names are the choice row's columns
    assert evaluate("kab = ${kab}", {"kab": "3509"}, row={"name": "35.09.12.2002", "kab": "3509"}) is True
    assert evaluate("kab = ${kab}", {"kab": "3510"}, row={"name": "35.09.12.2002", "kab": "3509"}) is False


def test_evaluator_errors_name_where_and_what():
    with pytest.raises(ExpressionError, match=r"foo\(\).*not implement"):
        evaluate("foo(1)")
    with pytest.raises(ExpressionError, match="cannot be read"):
        evaluate("(1 + ")
    with pytest.raises(ExpressionError, match="no table 'missing'"):
        evaluate("pulldata('missing', 'a', 'b', 'c')")


def test_unknown_function_in_a_form_names_the_field_and_expression(tmp_path):
    path = write_xlsform(tmp_path / "bad.xlsx", {
        "survey": "| type | name | label | calculation |\n| calculate | c | \"\" | frobnicate(1) |\n",
        "settings": "| form_id | version |\n| bad | 1 |\n"})
    with pytest.raises(ExpressionError) as info:
        Plan(load_form(path))
    message = str(info.value)
    assert "field 'c' (calculation)" in message and "frobnicate(1)" in message and "frobnicate()" in message


def test_regex_sampler_matches():
    from random import Random

    rng = Random(1)
    for pattern in (r"^08[1-9][0-9]{7,10}$", r"^[0-9]{4}-[0-9]{4}$", r"^(ab|c)\d+[a-z]?$", r"^[A-Z][a-z]{2,5}$"):
        for _ in range(20):
            assert re.search(pattern, regexgen.sample(pattern, rng)), pattern


# =========================================================================== the form model


def test_form_model_paths_types_choices(y2_form):
    form = y2_form
    assert form.id_string == "synth_y2_test" and form.version == "2026030101"
    assert form.field("kab").path == "ident/kab"
    assert [c.name for c in form.field("kab").choices] == list(DISTRICT_CODES)
    desa = form.field("desa")
    assert desa.file == "desa.csv" and desa.choice_filter == "kab=${kab}"
    assert form.field("resp_id_y1").file == "responden_y1.csv"
    assert form.field("resp_id").calculation.startswith("if(")
    art = form.field("art")
    assert art.kind == "repeat" and art.repeat_count == "${jml_art}" and art.path == "utama/art"
    assert form.field("art_umur").path == "utama/art/art_umur" and form.field("art_umur").repeats == ("utama/art",)
    assert form.field("art_sekolah").relevant == "${art_umur} >= 5 and ${art_umur} <= 18"
    assert form.field("tahun_lahir").required == "true()"
    assert form.field("bantuan").type == "select_multiple"
    assert form.field("audit").path == "meta/audit"
    assert form.instance_name == "concat('Y2 ', ${resp_id})"


# =========================================================================== year one


def test_year_one_plain_rows_follow_the_domain():
    rows = year_one(3000, seed=1)
    assert len(rows) == 3000 and list(rows[0]) == list(CONTRACT_COLUMNS)
    ids = [r["resp_id"] for r in rows]
    assert len(set(ids)) == len(ids)
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d{4}", row["resp_id"]) and row["resp_id"][:4] == str(row["kab"])
        assert str(row["kab"]) in DISTRICT_CODES
        assert row["desa"].startswith(f"{str(row['kab'])[:2]}.{str(row['kab'])[2:]}.")
        assert 20 <= 2025 - row["tahun_lahir"] <= 55
        assert (row["jenis_usaha"] is None) == (row["punya_usaha"] == 0)
    women = sum(r["jenis_kelamin"] == 2 for r in rows) / len(rows)
    assert 0.66 < women < 0.74
    owners = [r for r in rows if r["punya_usaha"] == 1]
    assert 0.66 < sum(r["jenis_kelamin"] == 2 for r in owners) / len(owners) < 0.78  # ~72% of businesses
    assert sum(2018 <= r["tahun_pulang"] <= 2021 for r in rows) / len(rows) > 0.7
    assert {r["kab"] for r in rows} == {int(c) for c in DISTRICT_CODES}


def test_year_one_is_deterministic():
    assert year_one(200, seed=4) == year_one(200, seed=4)
    assert year_one(200, seed=4) != year_one(200, seed=5)


def test_year_one_through_the_year_one_form():
    form = load_form(Y1_FORM)
    rows = year_one(400, seed=3, form=form)
    assert rows == year_one(400, seed=3, form=form)
    villages = {r["name"]: r["kab"] for r in form.media["desa.csv"]}
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d{4}", row["resp_id"]) and row["resp_id"][:4] == str(row["kab"])
        assert villages[row["desa"]] == str(row["kab"])
        for name, value in row.items():
            node = form.field(name)
            if value is not None and node.choices:
                codes = {c.name for c in node.choices}
                assert set(str(value).split()) <= codes, (name, value)
    women = [c.name for c in form.field("jenis_kelamin").choices if c.label.lower().startswith("perempuan")][0]
    assert 0.6 < sum(str(r["jenis_kelamin"]) == women for r in rows) / len(rows) < 0.8


@pytest.mark.parametrize("extension", ["csv", "xlsx", "dta", "sav"])
def test_year_one_writers_round_trip(tmp_path, extension):
    rows = year_one(120, seed=9)
    path = write_year_one(rows, tmp_path / f"year1.{extension}")
    back = read_year_one(path)
    assert len(back) == len(rows)
    for original, read in zip(rows, back):
        assert {k: _text(v) for k, v in original.items()} == {k: _text(read.get(k)) for k in original}
    if extension in ("dta", "sav"):
        import pyreadstat

        reader = pyreadstat.read_dta if extension == "dta" else pyreadstat.read_sav
        _, meta = reader(str(path), metadataonly=True)
        assert meta.column_names_to_labels["jenis_kelamin"] == "Jenis kelamin"
        labels = meta.variable_value_labels["jenis_kelamin"]
        assert labels[2] == "Perempuan" and labels[1] == "Laki-laki"
    if extension == "dta":
        assert path.read_bytes()[:60].find(b"<release>11") >= 0  # format 118/119: UTF-8


def test_year_one_form_rows_round_trip_with_form_labels(tmp_path):
    form = load_form(Y1_FORM)
    rows = year_one(60, seed=2, form=form)
    for extension in ("csv", "xlsx", "dta", "sav"):
        back = read_year_one(write_year_one(rows, tmp_path / f"y1.{extension}", form=form))
        assert [{k: _text(v) for k, v in r.items()} for r in rows] == \
               [{k: _text(r.get(k)) for k in rows[0]} for r in back], extension


def _text(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# =========================================================================== year-two submissions


def _answers(doc):
    """Every answer value with its key, repeats included."""
    for key, value in doc.items():
        if key.startswith("_") or key in ("formhub/uuid", "__version__"):
            continue
        if isinstance(value, list):
            for instance in value:
                yield from _answers(instance)
        else:
            yield key, value


def test_submissions_are_deterministic(y2_form, panel):
    rows, media, result = panel
    dynamics = PanelDynamics(typos=0.03, edits=0.08, duplicates=0.03, deletions=0.01)
    again = submissions(y2_form, rows, seed=5, contract=CONTRACT, dynamics=dynamics, media=media)
    assert json.dumps(again.submissions) == json.dumps(result.submissions)
    assert json.dumps(again.history) == json.dumps(result.history) and again.truth == result.truth
    other = submissions(y2_form, rows, seed=6, contract=CONTRACT, dynamics=dynamics, media=media)
    assert json.dumps(other.submissions) != json.dumps(result.submissions)


def test_every_submission_satisfies_the_form(y2_form, panel):
    _, media, result = panel
    plan = Plan(y2_form, media=result.media)
    for doc, truth in zip(result.submissions, result.truth):
        problems = plan.check(doc, {"today": doc["today"]})
        if truth["typo"]:  # a mistyped resp_id no longer equals its calculation, and nothing else is off
            assert all("'ident/resp_id' =" in p or "instanceName" in p for p in problems), problems
        else:
            assert problems == [], (truth, problems)
    for versions in result.history.values():
        for doc in versions:
            problems = plan.check(doc, {"today": doc["today"]})
            assert all("'ident/resp_id' =" in p or "instanceName" in p for p in problems), problems


def test_irrelevant_questions_are_absent(y2_form, panel):
    _, _, result = panel
    for doc in result.submissions:
        if doc["ident/responden_baru"] == "0":
            assert "ident/nomor_baru" not in doc and "ident/status_lacak" in doc
        else:
            assert "ident/resp_id_y1" not in doc and "ident/status_lacak" not in doc
        if doc.get("ident/setuju") not in ("1", "2"):
            assert not any(key.startswith("utama/") for key in doc)
        for member in doc.get("utama/art", []):
            age = int(member["utama/art/art_umur"])
            assert ("utama/art/art_sekolah" in member) == (5 <= age <= 18)


def test_kobo_shape(y2_form, panel):
    _, _, result = panel
    ids = [doc["_id"] for doc in result.submissions]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and all(isinstance(i, int) for i in ids)
    for doc in result.submissions:
        assert set(ENVELOPE_KEYS) <= set(doc)
        assert doc["meta/instanceID"] == f"uuid:{doc['_uuid']}"
        assert doc["meta/rootUuid"].startswith("uuid:")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", doc["_submission_time"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}", doc["start"])
        ended = dt.datetime.fromisoformat(doc["end"]).astimezone(dt.timezone.utc).replace(tzinfo=None)
        assert dt.datetime.fromisoformat(doc["_submission_time"]) >= ended.replace(microsecond=0)
        assert doc["start"] < doc["end"] and doc["today"] == doc["start"][:10]
        assert doc["_status"] == "submitted_via_web" and doc["_validation_status"] == {}
        assert doc["__version__"].startswith("v") and len(doc["formhub/uuid"]) == 32
        assert doc["_xform_id_string"].startswith("a")
        assert isinstance(doc["_geolocation"], list) and len(doc["_geolocation"]) == 2
        assert doc["_submitted_by"].startswith("enum_")
        for key, value in _answers(doc):
            assert isinstance(value, str) and value != "", (key, value)
            assert "/" not in key or key.split("/")[0] in ("ident", "utama", "meta"), key
        for key in ("utama/art", "utama/usaha"):
            if key in doc:
                assert isinstance(doc[key], list) and doc[key]
                assert all(k.startswith(key + "/") for item in doc[key] for k in item)
        if "utama/bantuan" in doc:
            assert re.fullmatch(r"\d+( \d+)*", doc["utama/bantuan"])
        assert doc["_attachments"] and doc["_attachments"][0]["media_file_basename"] == "audit.csv"
        if "utama/gps" in doc:
            assert doc["_geolocation"] == [float(x) for x in doc["utama/gps"].split()[:2]]


def test_edits_keep_the_id_and_point_at_the_replaced_version(panel):
    _, _, result = panel
    assert result.history, "no edited submissions"
    current = {doc["_id"]: doc for doc in result.submissions}
    for sub_id, versions in result.history.items():
        chain = [*versions, current[sub_id]]
        assert "meta/deprecatedID" not in chain[0]
        for before, after in zip(chain, chain[1:]):
            assert after["_id"] == before["_id"]
            assert after["meta/deprecatedID"] == before["meta/instanceID"]
            assert after["_uuid"] != before["_uuid"]
            for key in ("_submission_time", "_submitted_by", "meta/rootUuid", "_validation_status"):
                assert after[key] == before[key]
        assert chain[-1]["meta/rootUuid"] == chain[0]["meta/instanceID"]
    edited = [t for t in result.truth if t["edits"]]
    assert len(edited) == len(result.history)
    assert all(len(result.history[t["_id"]]) == t["edits"] for t in edited)
    assert len(result.versions()) == len(result.submissions) + sum(len(v) for v in result.history.values())


def test_panel_dynamics(panel):
    rows, _, result = panel
    kinds = Counter(t["kind"] for t in result.truth)
    assert kinds["panel"] > 0.9 * 0.98 * len(rows) * 0.95 and kinds["new"] == round(0.08 * len(rows))
    assert kinds["duplicate"] >= 1
    statuses = Counter(t["status"] for t in result.truth if t["kind"] == "panel")
    assert statuses["1"] / sum(statuses.values()) > 0.7 and len(statuses) >= 4
    by_id = {doc["_id"]: doc for doc in result.submissions}
    for doc, truth in zip(result.submissions, result.truth):
        if truth["kind"] in ("panel", "duplicate"):
            assert doc["ident/resp_id_y1"] == truth["resp_id_true"]
            assert doc["ident/status_lacak"] == truth["status"]
            if not truth["typo"]:
                assert doc["ident/resp_id"] == truth["resp_id_true"]
        if truth["kind"] == "new":
            assert re.fullmatch(r"\d{4}-9\d{3}", truth["resp_id_true"]) and "ident/resp_id_y1" not in doc
            assert truth["typo"] or doc["ident/resp_id"] == truth["resp_id_true"]
        if truth["kind"] == "duplicate":
            original = by_id[truth["duplicate_of"]]
            assert original["ident/resp_id_y1"] == doc["ident/resp_id_y1"]
        if truth["typo"]:
            assert doc["ident/resp_id"] != truth["resp_id_true"] and truth["resp_id_true"]
    assert sum(t["typo"] for t in result.truth) >= 3
    assert result.deleted and all(by_id[i] for i in result.deleted)
    y1_ids = {r["resp_id"] for r in rows}
    assert {t["resp_id_true"] for t in result.truth if t["kind"] == "panel"} <= y1_ids


def test_consent_refusal_ends_the_interview(y2_form):
    rows = year_one(150, seed=21)
    media = {"desa.csv": village_media(), "responden_y1.csv": preload_rows(rows, columns=PRELOAD_COLUMNS)}
    result = submissions(y2_form, rows, seed=2, contract=CONTRACT, media=media,
                         dynamics=PanelDynamics(refusal=0.5, edits=0, typos=0))
    refused = [d for d, t in zip(result.submissions, result.truth) if t["consent"] == "0"]
    assert refused and all(not any(k.startswith("utama/") for k in d) for d in refused)


def test_workers_give_the_same_result(y2_form, panel):
    rows, media, result = panel
    dynamics = PanelDynamics(typos=0.03, edits=0.08, duplicates=0.03, deletions=0.01)
    parallel = submissions(y2_form, rows, seed=5, contract=CONTRACT, dynamics=dynamics, media=media, workers=2)
    assert json.dumps(parallel.submissions) == json.dumps(result.submissions)
    assert parallel.truth == result.truth


def test_plain_submissions_without_year_one(y2_form):
    media = {"desa.csv": village_media(),
             "responden_y1.csv": preload_rows(year_one(100, seed=1), columns=PRELOAD_COLUMNS)}
    result = submissions(y2_form, n=80, seed=3, media=media, fieldwork=Fieldwork(first_id=5))
    assert len(result.submissions) == 80 and result.submissions[0]["_id"] == 5
    plan = Plan(y2_form, media=result.media)
    assert all(plan.check(doc, {"today": doc["today"]}) == [] for doc in result.submissions)


def test_missing_media_and_contract_fields_are_named(y2_form):
    with pytest.raises(SynthError, match="'ident/desa'.*desa.csv"):
        submissions(y2_form, n=1, seed=1, media={})
    with pytest.raises(InputError, match="tracking status 'pelacakan'"):
        submissions(y2_form, year_one(5, seed=1), seed=1, contract=PanelContract(tracking="pelacakan"),
                    media={"desa.csv": village_media()})


def test_real_instruments_end_to_end():
    y1_form, y2 = load_form(Y1_FORM), load_form(Y2_FORM)
    rows = year_one(250, seed=8, form=y1_form)
    result = submissions(y2, rows, seed=8)
    plan = Plan(y2, media=result.media)
    for doc, truth in zip(result.submissions, result.truth):
        problems = plan.check(doc, {"today": doc["today"]})
        if not truth["typo"]:
            assert problems == [], (truth, problems[:5])
    assert Counter(t["kind"] for t in result.truth)["new"] > 0


def test_image_parameters_given_as_text_are_read(tmp_path):
    """pyxform passes an image's `parameters` as raw text, not a dict (the activity report's photos)."""
    from desbumi.synth.model import _parameters

    assert _parameters("max-pixels=1024") == {"max-pixels": "1024"}
    assert _parameters({"value": "name"}) == {"value": "name"}
    assert _parameters(None) == {}
