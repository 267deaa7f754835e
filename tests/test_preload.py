"""`forms preload`: year one (csv/xlsx/dta/sav) -> the preload CSV in the form's media.

One small synthetic year-one table is written in all four formats; the preload must not care which.
Village codes are taken from the project's panel/wilayah.csv, so the table stays valid when it grows.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from openpyxl import Workbook

from desbumi.errors import InputError
from desbumi.forms import preload as preload_module
from desbumi.forms.check import check_form
from desbumi.forms.preload import (
    AreaCodes,
    form_reads,
    generated_media_for,
    is_nik_like,
    load_area_codes,
    load_preload_specs,
    make_preload,
    plan_preload,
    preload,
    read_year1,
    specs_for,
)
from desbumi.forms.versions import write_index
from desbumi.forms.workbook import read_xlsform
from xlsforms import write_xlsform

ROOT = Path(__file__).resolve().parents[1]
FORM_ID, VERSION, MEDIA = "desbumi_ekonomi_y2", "2026112801", "responden_y1.csv"
CONTRACT = ["name", "label", "kab", "desa", "nama", "tahun_lahir", "jenis_kelamin", "negara_terakhir",
            "tahun_pulang", "punya_usaha_y1", "jenis_usaha_y1"]
# What the small test form reads: select_one_from_file (name, label, kab in its filter) + two pulldata.
READ_BY_FORM = ["name", "label", "kab", "nama", "negara_terakhir"]

YEAR1_COLUMNS = ["resp_id", "kab", "desa", "nama_responden", "tahun_lahir", "jenis_kelamin", "negara_tujuan",
                 "tahun_pulang", "punya_usaha", "jenis_usaha", "no_hp", "nik"]
NUMERIC = {"kab", "tahun_lahir", "jenis_kelamin", "negara_tujuan", "tahun_pulang", "punya_usaha", "jenis_usaha"}
NAMES = ["Siti Aminah", "Sri Wahyuni", "Dewi Lestari", "Nur'aini, S.", "Ni Made Sari", "Yohana Léwotobi",
         "Rina Marlina", "Sumiati", "Tuti Alawiyah", "Maria Goreti", "Budi Santoso", "Kartini",
         "Wartini", "Eko Prasetyo", "Lalu Ahmad", "Baiq Nurul", "Fransiska Ina", "Suparmi", "Warsini",
         "Aisyah Putri"]


@pytest.fixture(scope="module")
def wilayah() -> AreaCodes:
    return load_area_codes(ROOT / "panel")


def year1_rows(wilayah: AreaCodes) -> list[dict]:
    """20 synthetic respondents over every district, in no particular order; one business type unknown."""
    villages = sorted(wilayah.villages)
    rows = []
    for i, name in enumerate(NAMES):
        village = villages[(i * 7) % len(villages)]
        business = i % 3 != 0
        rows.append({
            "resp_id": f"R-{(i * 13) % 20 + 1:03d}",
            "kab": int(village[:2] + village[3:5]),
            "desa": village,
            "nama_responden": name,
            "tahun_lahir": 1970 + i,
            "jenis_kelamin": 2 if i % 4 else 1,
            "negara_tujuan": i % 5 + 1,
            "tahun_pulang": 2018 + i % 4,
            "punya_usaha": 1 if business else 0,
            "jenis_usaha": (99 if i == 4 else i % 6 + 1) if business else None,
            "no_hp": f"08123{i:07d}",
            "nik": f"35091{i:011d}",
        })
    return rows


def write_year1(rows: list[dict], path: Path) -> Path:
    """The same rows as csv (UTF-8 with BOM), xlsx, dta or sav, chosen by the file's extension."""
    kind = path.suffix
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(YEAR1_COLUMNS)
            for row in rows:
                writer.writerow(["" if row[c] is None else row[c] for c in YEAR1_COLUMNS])
    elif kind == ".xlsx":
        book = Workbook()
        sheet = book.active
        sheet.append(YEAR1_COLUMNS)
        for row in rows:
            sheet.append([row[c] for c in YEAR1_COLUMNS])
        book.save(path)
    else:
        import pandas as pd
        import pyreadstat

        frame = pd.DataFrame({c: [r[c] for r in rows] for c in YEAR1_COLUMNS})
        for column in NUMERIC:
            frame[column] = frame[column].astype("float64")
        labels = {"jenis_kelamin": {1: "Laki-laki", 2: "Perempuan"}, "punya_usaha": {0: "Tidak", 1: "Ya"}}
        if kind == ".dta":
            pyreadstat.write_dta(frame, path, variable_value_labels=labels)
        else:
            pyreadstat.write_sav(frame, path, variable_value_labels=labels,
                                 missing_ranges={"jenis_usaha": [99]})
    return path


def write_test_form(path: Path) -> Path:
    """A small year-two form that reads responden_y1.csv the way the real one does."""
    return write_xlsform(path, {
        "survey": """
| type                                  | name      | label             | choice_filter | calculation |
| select_one kab                        | kab       | Kabupaten         | ""            | ""          |
| select_one_from_file responden_y1.csv | resp      | Responden         | kab = ${kab}  | ""          |
| calculate                             | nama_y1   | ""                | ""            | pulldata('responden_y1', 'nama', 'name', ${resp}) |
| calculate                             | negara_y1 | ""                | ""            | pulldata('responden_y1', 'negara_terakhir', 'name', ${resp}) |
| note                                  | cek       | Nama: ${nama_y1}  | ""            | ""          |
""",
        "choices": """
| list_name | name | label   |
| kab       | 3509 | Jember  |
| kab       | 5313 | Lembata |
""",
        "settings": f"""
| form_id   | version   |
| {FORM_ID} | {VERSION} |
""",
    })


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder: panel/ (the real definitions and codes), the test form, and a build of it."""
    shutil.copytree(ROOT / "panel", tmp_path / "panel", ignore=shutil.ignore_patterns("README.md"))
    source = write_test_form(tmp_path / "xlsform_src" / f"{FORM_ID}.xlsx")
    build = tmp_path / "forms" / FORM_ID / VERSION
    build.mkdir(parents=True)
    shutil.copy(source, build / "form.xlsx")
    write_index(tmp_path / "forms", [{"form_id": FORM_ID, "version": VERSION, "path": f"{FORM_ID}/{VERSION}",
                                      "source_sha256": "x"}])
    return tmp_path


def run(project: Path, year1: Path, **options):
    return preload(year1, panel_dir=project / "panel", forms_dir=project / "forms",
                   xlsform_src=project / "xlsform_src", **options)


def parse(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"))))


# --------------------------------------------------------------------------- definitions

def test_project_definitions_match_the_year_two_contract():
    (spec,) = specs_for(ROOT / "panel", FORM_ID)
    assert spec.file == MEDIA and spec.key == "resp_id"
    assert spec.available == CONTRACT
    assert generated_media_for(FORM_ID, ROOT / "panel") == {MEDIA: CONTRACT}
    assert generated_media_for("another_form", ROOT / "panel") == {}
    assert generated_media_for(None, ROOT / "panel") == {MEDIA: CONTRACT}


def test_no_definitions_file_means_no_generated_media(tmp_path):
    assert generated_media_for(FORM_ID, tmp_path) == {}


@pytest.mark.parametrize("line, culprit", [
    ('nik = "nik"', "nik"),
    ('no_ktp_y1 = "no_ktp"', "no_ktp"),
    ('label = "{nama_responden} {NIK}"', "NIK"),
    ('identitas = "nomor_induk_kependudukan"', "nomor_induk_kependudukan"),
])
def test_a_nik_like_column_is_refused_in_a_mapping(tmp_path, line, culprit):
    path = tmp_path / "preload.toml"
    path.write_text(f'[r]\nform = "f"\nfile = "r.csv"\nkey = "resp_id"\n[r.columns]\nname = "resp_id"\n{line}\n',
                    encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_preload_specs(path)
    message = str(caught.value)
    assert str(path) in message and "[r.columns]" in message and culprit in message and "NIK" in message


def test_nik_like_names():
    assert all(is_nik_like(n) for n in ("nik", "NIK", "no_nik", "nik_responden", "no_ktp", "noktp", "e-KTP",
                                        "ktp", "nomor_induk_kependudukan"))
    assert not any(is_nik_like(n) for n in ("status_nikah", "unik", "nama", "teknik", "resp_id"))


@pytest.mark.parametrize("text, expected", [
    ('[r]\nform = "f"\nfile = "r.csv"\nkey = "id"\ncolour = "red"\n[r.columns]\nname = "id"\n',
     "unknown key(s) colour"),
    ('[r]\nform = "f"\nfile = "media/r.csv"\nkey = "id"\n[r.columns]\nname = "id"\n', "plain CSV file name"),
    ('[r]\nform = "f"\nfile = "r.csv"\nkey = "id"\n', "needs a [r.columns] table"),
    ('[r]\nform = "f"\nfile = "r.csv"\nkey = "id"\n[r.columns]\nname = "{id"\n', "unclosed"),
    ('[r]\nform = "f"\nfile = "r.csv"\nkey = "id"\n[r.columns]\n"bad name" = "id"\n', "cannot be a media column"),
    ('[r]\nfile = "r.csv"\nkey = "id"\n[r.columns]\nname = "id"\n', "form must be a non-empty text"),
    ('[r\n', "not valid TOML"),
])
def test_definitions_are_validated_on_load(tmp_path, text, expected):
    path = tmp_path / "preload.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_preload_specs(path)
    assert expected in str(caught.value) and str(path) in str(caught.value)


# --------------------------------------------------------------------------- reading and writing

def test_the_four_formats_give_byte_identical_files(tmp_path, wilayah):
    rows = year1_rows(wilayah)
    (spec,) = specs_for(ROOT / "panel", FORM_ID)
    outputs = {}
    for ext in ("csv", "xlsx", "dta", "sav"):
        table = read_year1(write_year1(rows, tmp_path / f"year1.{ext}"))
        result = make_preload(spec, table, spec.available, wilayah)
        outputs[ext] = result.files[0].content
    assert outputs["csv"] == outputs["xlsx"] == outputs["dta"] == outputs["sav"]
    content = outputs["csv"]
    assert not content.startswith(b"\xef\xbb\xbf") and b"\r" not in content
    table = parse(content)
    assert table[0] == CONTRACT
    by_id = {r[0]: dict(zip(CONTRACT, r)) for r in table[1:]}
    first = by_id["R-001"]
    assert first["label"] == "Siti Aminah (1970)" and first["jenis_kelamin"] == "1"  # a code, not 'Laki-laki'
    assert by_id["R-001"]["jenis_usaha_y1"] == ""  # no business: missing stays empty in every format
    assert by_id[f"R-{(4 * 13) % 20 + 1:03d}"]["jenis_usaha_y1"] == "99"  # SPSS user-missing keeps its code
    assert "Nur'aini, S." in content.decode("utf-8") and "Léwotobi" in content.decode("utf-8")
    assert b"35091" not in content  # the NIK column is present in year one and absent here


def test_rows_are_ordered_by_district_village_and_key(tmp_path, wilayah):
    rows = year1_rows(wilayah)
    (spec,) = specs_for(ROOT / "panel", FORM_ID)
    result = make_preload(spec, read_year1(write_year1(rows, tmp_path / "y.csv")), ["name", "kab", "desa"], wilayah)
    body = parse(result.files[0].content)[1:]
    keys = [(kab, desa, int(name[2:])) for name, kab, desa in body]
    assert keys == sorted(keys) and len(body) == 20
    assert sum(result.districts.values()) == 20 and list(result.districts) == sorted(result.districts)


def test_only_the_columns_the_form_reads_are_written(project, wilayah):
    year1 = write_year1(year1_rows(wilayah), project / "year1.xlsx")
    (result,) = run(project, year1)
    written = project / "forms" / FORM_ID / VERSION / "media" / MEDIA
    assert result.written == [written]
    table = parse(written.read_bytes())
    assert table[0] == READ_BY_FORM
    text = written.read_text(encoding="utf-8")
    assert "0812" not in text and "35091" not in text and "35.09." not in text  # phone, NIK, village: not read


def test_form_reads_uses_the_offline_lint_parsing(project):
    form = read_xlsform(project / "xlsform_src" / f"{FORM_ID}.xlsx")
    reads = form_reads(form, MEDIA, CONTRACT)
    assert [r.column for r in reads] == ["name", "label", "kab", "nama", "negara_terakhir"]
    assert reads[2].where.startswith("survey!") and reads[2].where.endswith("3")  # choice_filter, row 3


def test_check_accepts_the_file_preload_will_write(project):
    source = project / "xlsform_src" / f"{FORM_ID}.xlsx"
    without = check_form(source, forms_dir=None, validate=False)
    assert any(f.rule == "media-missing" for f in without.findings)
    media = generated_media_for(None, project / "panel")
    with_preload = check_form(source, forms_dir=None, validate=False, generated_media=media)
    assert not any(f.rule in ("media-missing", "media-column-missing") for f in with_preload.findings)


def test_a_semicolon_csv_from_indonesian_excel_reads_the_same(tmp_path, wilayah):
    rows = year1_rows(wilayah)
    comma = write_year1(rows, tmp_path / "comma.csv")
    semicolon = tmp_path / "semicolon.csv"
    text = comma.read_text(encoding="utf-8-sig")
    semicolon.write_text("\n".join(";".join(r) for r in csv.reader(io.StringIO(text))) + "\n", encoding="utf-8")
    (spec,) = specs_for(ROOT / "panel", FORM_ID)
    first = make_preload(spec, read_year1(comma), ["name", "kab", "desa"], wilayah)
    second = make_preload(spec, read_year1(semicolon), ["name", "kab", "desa"], wilayah)
    assert first.files[0].content == second.files[0].content


# --------------------------------------------------------------------------- refusals, with row numbers

def refusal(project: Path, rows: list[dict], ext: str = "csv") -> str:
    year1 = write_year1(rows, project / f"year1.{ext}")
    with pytest.raises(InputError) as caught:
        run(project, year1)
    assert not (project / "forms" / FORM_ID / VERSION / "media").exists()  # nothing written
    return str(caught.value)


@pytest.mark.parametrize("ext", ["csv", "xlsx", "dta", "sav"])
def test_duplicate_resp_id_is_refused_with_row_numbers(project, wilayah, ext):
    rows = year1_rows(wilayah)
    rows[10]["resp_id"] = rows[2]["resp_id"]
    rows[15]["resp_id"] = rows[2]["resp_id"]
    rows[5]["resp_id"] = rows[0]["resp_id"]
    message = refusal(project, rows, ext)
    assert f"'{rows[2]['resp_id']}' in rows 4, 12 and 17" in message
    assert f"'{rows[0]['resp_id']}' in rows 2 and 7" in message
    assert "2 values appear more than once" in message and "column 'resp_id'" in message
    assert "year1." + ext in message
    if ext in ("dta", "sav"):
        assert "observation N-1" in message


def test_empty_resp_id_is_refused_with_row_numbers(project, wilayah):
    rows = year1_rows(wilayah)
    rows[3]["resp_id"] = ""
    assert "column 'resp_id' is empty in row 5" in refusal(project, rows)


def test_unknown_district_and_village_codes_are_refused_with_row_numbers(project, wilayah):
    rows = year1_rows(wilayah)
    lembata = next(r for r in rows if r["kab"] == 5313)
    lembata["kab"] = 5308  # Lembata's BPS code
    rows[1]["kab"] = 9999
    rows[2]["desa"] = "35.09.99.9999"  # well formed, not a DESBUMI village
    rows[3]["desa"] = "3509120002"  # a BPS-shaped code
    other = next(r for r in rows if r["kab"] != 3509 and r is not lembata and rows.index(r) > 3)
    other["desa"] = "35.09.12.2002"  # a Jember village in another district's row
    message = refusal(project, rows)
    lembata_row = rows.index(lembata) + 2
    assert f"'5308' (a BPS code; the Kemendagri code is 5313) in row {lembata_row}" in message
    assert "'9999' in row 3" in message
    assert "'35.09.99.9999' in row 4" in message
    assert "'3509120002' (a BPS-style code?" in message and "in row 5" in message
    assert f"'35.09.12.2002' (district 3509) with kab {other['kab']} in row {rows.index(other) + 2}" in message
    assert "3 problems; nothing was written" in message


def test_missing_columns_are_named(project, wilayah):
    path = project / "year1.csv"
    path.write_text("resp_id,kab,desa,nama\nR-1,3509,35.09.12.2002,Siti\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        run(project, path)
    message = str(caught.value)
    assert "missing column(s) 'nama_responden' (for label, nama)" in message
    assert "'negara_tujuan' (for negara_terakhir)" in message and "'tahun_lahir' (for label)" in message


def test_undecodable_text_is_refused_with_its_row_and_column(project, wilayah):
    path = write_year1(year1_rows(wilayah), project / "year1.csv")
    lines = path.read_bytes().split(b"\r\n")
    lines[4] = lines[4].replace(b"Nur'aini", "Nur\xe9aini".encode("cp1252"))
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(InputError) as caught:
        run(project, path)
    assert "row 5, column 'nama_responden'" in str(caught.value) and "CSV UTF-8" in str(caught.value)


def test_a_nik_is_never_written_even_when_a_mapping_carries_it(project, wilayah):
    rows = year1_rows(wilayah)
    for row in rows:
        row["nama_responden"] = row["nama_responden"] + " " + row["nik"]  # a NIK typed into the name field
    message = refusal(project, rows)
    assert "look like a NIK" in message and "row 2, column 'nama_responden' (for label)" in message


def test_a_form_reading_a_column_the_definitions_lack_is_refused(project, wilayah):
    write_xlsform(project / "forms" / FORM_ID / VERSION / "form.xlsx", {
        "survey": "| type | name | calculation |\n| calculate | x | pulldata('responden_y1', 'no_hp', 'name', '1') |",
        "settings": f"| form_id | version |\n| {FORM_ID} | {VERSION} |"})
    year1 = write_year1(year1_rows(wilayah), project / "year1.csv")
    with pytest.raises(InputError) as caught:
        run(project, year1)
    assert "'no_hp' at survey!C2" in str(caught.value) and "does not define it" in str(caught.value)


def test_a_form_not_built_needs_a_build_or_out(project, wilayah):
    shutil.rmtree(project / "forms")
    year1 = write_year1(year1_rows(wilayah), project / "year1.csv")
    with pytest.raises(InputError, match="has no build"):
        run(project, year1)
    (result,) = run(project, year1, out=project / "out")  # --out reads the source in xlsform_src/
    assert result.form_path == project / "xlsform_src" / f"{FORM_ID}.xlsx"
    assert parse((project / "out" / MEDIA).read_bytes())[0] == READ_BY_FORM


# --------------------------------------------------------------------------- split by district

def test_split_by_district_writes_one_file_per_district(project, wilayah):
    year1 = write_year1(year1_rows(wilayah), project / "year1.dta")
    media = project / "forms" / FORM_ID / VERSION / "media"
    run(project, year1)
    assert (media / MEDIA).is_file()
    (result,) = run(project, year1, split_by="district")
    assert not (media / MEDIA).exists() and media / MEDIA in result.removed  # no stale combined file
    districts = sorted(p.parent.name for p in media.glob(f"*/{MEDIA}"))
    assert districts == sorted(wilayah.districts) == list(result.districts)
    total = 0
    for code in districts:
        table = parse((media / code / MEDIA).read_bytes())
        assert table[0] == READ_BY_FORM and {r[2] for r in table[1:]} == {code}
        total += len(table) - 1
    assert total == 20 == result.rows
    run(project, year1)  # and back: the district files go
    assert not list(media.glob(f"*/{MEDIA}")) and (media / MEDIA).is_file()


def test_a_long_select_list_is_warned_about(tmp_path, wilayah, monkeypatch):
    monkeypatch.setattr(preload_module, "SLOW_SELECT_ROWS", 5)
    (spec,) = specs_for(ROOT / "panel", FORM_ID)
    table = read_year1(write_year1(year1_rows(wilayah), tmp_path / "y.csv"))
    assert "use --split-by district" in make_preload(spec, table, ["name"], wilayah).warnings[0]
    split = make_preload(spec, table, ["name"], wilayah, split_by="district")
    assert all(r.rows <= 5 for r in split.files) and split.warnings == []


def test_plan_writes_nothing(project, wilayah):
    year1 = write_year1(year1_rows(wilayah), project / "year1.csv")
    (result,) = plan_preload(year1, panel_dir=project / "panel", forms_dir=project / "forms",
                             xlsform_src=project / "xlsform_src")
    assert result.files[0].rows == 20 and not (project / "forms" / FORM_ID / VERSION / "media").exists()


# --------------------------------------------------------------------------- the CLI

def test_cli_preload_writes_the_media_and_reports_counts(project, wilayah, run_cli):
    write_year1(year1_rows(wilayah), project / "year1.sav")
    result = run_cli("forms", "preload", "--year1", "year1.sav", cwd=project)
    assert result.code == 0, result
    assert f"forms/{FORM_ID}/{VERSION}/media/{MEDIA}  20 rows" in result.out
    assert "3509 Jember" in result.out and "total" in result.out
    assert "columns: name, label, kab, nama, negara_terakhir" in result.err


def test_cli_preload_json_equals_the_library_result(project, wilayah, run_cli):
    write_year1(year1_rows(wilayah), project / "year1.csv")
    result = run_cli("forms", "preload", "--year1", "year1.csv", "--split-by", "district", "--format", "json",
                     cwd=project)
    assert result.code == 0, result
    (data,) = json.loads(result.out)
    assert data["form_id"] == FORM_ID and data["columns"] == READ_BY_FORM and data["rows"] == 20
    assert len(data["files"]) == len(wilayah.districts) and all(f["bytes"] > 0 for f in data["files"])
    assert {d["code"] for d in data["districts"]} == set(wilayah.districts)


@pytest.mark.parametrize("args, expected", [
    (("--year1", "missing.csv"), "missing.csv: no such file"),
    (("--year1", "year1.txt"), "give a .csv (UTF-8), .xlsx, .dta or .sav file"),
    (("--year1", "dupes.csv"), "in rows 2 and 3"),
    (("--year1", "year1.csv", "--form", "nope"), "no preload is defined for form 'nope'"),
    (("--year1", "year1.csv", "--split-by", "village"), "Invalid value for '--split-by'"),
])
def test_cli_preload_bad_input_exits_2(project, wilayah, run_cli, args, expected):
    write_year1(year1_rows(wilayah), project / "year1.csv")
    (project / "year1.txt").write_text("x", encoding="utf-8")
    (project / "dupes.csv").write_text("resp_id,kab,desa\nR-1,3509,35.09.12.2002\nR-1,3509,35.09.12.2002\n",
                                       encoding="utf-8")
    if "dupes.csv" in args:  # a form reading only what dupes.csv has
        write_xlsform(project / "forms" / FORM_ID / VERSION / "form.xlsx", {
            "survey": "| type | name | calculation |\n| calculate | x | pulldata('responden_y1', 'kab', 'name', '1') |",
            "settings": f"| form_id | version |\n| {FORM_ID} | {VERSION} |"})
    result = run_cli("forms", "preload", *args, cwd=project)
    assert result.code == 2, result
    assert expected in result.err


def test_cli_check_accepts_the_preloaded_file(project, run_cli):
    result = run_cli("forms", "check", "--no-validate", "--format", "json", f"xlsform_src/{FORM_ID}.xlsx",
                     cwd=project)
    rules = {f["rule"] for f in json.loads(result.out)}
    assert "media-missing" not in rules and "media-column-missing" not in rules
