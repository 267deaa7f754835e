"""The MEL indicator table: the filter language, the checks (each at its exact cell), the real table, the CLI."""

import json
from pathlib import Path

import pytest

from desbumi.errors import InputError
from desbumi.forms.sources import INDICATOR_TABLE, instrument_paths, is_indicator_table
from desbumi.mel.indicators import (
    KINDS,
    RULES,
    STANDARD_DIMENSIONS,
    FilterError,
    age_band,
    check_indicator_table,
    evaluate,
    format_expr,
    load_indicators,
    parse_filter,
    read_indicator_table,
    read_instruments,
    read_sheets,
    wg_ss_disability,
)
from xlsforms import table, write_xlsform

ROOT = Path(__file__).resolve().parents[1]
REAL_TABLE = ROOT / "xlsform_src" / INDICATOR_TABLE


# --------------------------------------------------------------------------- the filter language

@pytest.mark.parametrize("text, canonical", [
    ("jenis_pelatihan = 2 and status_migran = 1", "jenis_pelatihan = 2 and status_migran = 1"),
    ("jenis_pelatihan=2 AND status_migran=1", "jenis_pelatihan = 2 and status_migran = 1"),
    ("izin_cerita != 3", "izin_cerita != 3"),
    ("izin_cerita <> 3", "izin_cerita != 3"),
    ("umur >= 15 and umur <= 24", "umur >= 15 and umur <= 24"),
    ("skor > 69.5 or skor < -1", "skor > 69.5 or skor < -1"),
    ("kab in (3509, 3510)", "kab in (3509, 3510)"),
    ("kab not in (3509,3510)", "kab not in (3509, 3510)"),
    ("not (jenis_kelamin = 1 or umur < 18)", "not (jenis_kelamin = 1 or umur < 18)"),
    ("a = 1 or b = 2 and c = 3", "a = 1 or (b = 2 and c = 3)"),
    ("(a = 1 or b = 2) and c = 3", "(a = 1 or b = 2) and c = 3"),
    ("${jenis_kelamin} = 2", "jenis_kelamin = 2"),
    ("desa = 'Pandan Lor'", "desa = 'Pandan Lor'"),
    ('catatan = ""', "catatan = ''"),
    ("not not x = 1", "not not x = 1"),
])
def test_filter_parses_to_canonical_text(text, canonical):
    expr = parse_filter(text)
    assert format_expr(expr) == canonical
    assert format_expr(parse_filter(canonical)) == canonical  # the canonical text parses back the same


@pytest.mark.parametrize("text, position, reason", [
    ("", 1, "the expression is empty"),
    ("jenis_pelatihan = ", 19, "expected a number or a quoted text after '=', found the end of the text"),
    ("jenis_pelatihan = = 2", 19, "expected a number or a quoted text after '='"),
    ("a == 1", 3, "'==' is not an operator"),
    ("(a = 1", 7, "expected ')' to close the '(' at character 1"),
    ("a = 1)", 6, "')' has no matching '('"),
    ("a = perempuan", 5, "put text in quotes ('perempuan')"),
    ("umur < 'tua'", 6, "'<' compares numbers"),
    ("= 1", 1, "expected a field name"),
    ("a = 1 b = 2", 7, "join conditions with 'and' or 'or'"),
    ("a 1", 3, "expected an operator"),
    ("kab in 3509", 8, "expected '(' after 'in'"),
    ("kab in (3509 3510)", 14, "expected ',' or ')' in the list opened at character 8"),
    ("kab not 3509", 9, "expected 'in' after 'kab not'"),
    ("desa = 'Pandan", 8, "never closed"),
    ("a = 1 & b = 2", 7, "unexpected character '&'"),
    ("2abc = 1", 1, "neither a number nor a field name"),
    ("a = 1 and", 10, "expected a field name, found the end of the text"),
    ("${ = 1", 1, "'${' must be followed by a field name"),
])
def test_filter_errors_name_the_character(text, position, reason):
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    assert caught.value.position == position
    assert reason in str(caught.value)
    assert str(caught.value).startswith(f"at character {position}: ")


def test_filter_is_parsed_not_evaluated_as_python():
    for text in ("__import__('os').system('true')", "a = 1; b = 2", "a = 1 + 2", "len(a) = 1"):
        with pytest.raises(FilterError):
            parse_filter(text)


@pytest.mark.parametrize("text, row, expected", [
    ("jenis_pelatihan = 2 and status_migran = 1", {"jenis_pelatihan": "2", "status_migran": "1"}, True),
    ("jenis_pelatihan = 2 and status_migran = 1", {"jenis_pelatihan": 2, "status_migran": 3}, False),
    ("skor >= 70", {"skor": "70"}, True),
    ("skor >= 70", {"skor": "69.5"}, False),
    ("skor >= 70", {}, False),  # a blank answer is never compared as a number
    ("skor != 70", {}, True),  # '!=' is exactly 'not ='
    ("catatan = ''", {"catatan": None}, True),
    ("kab in (3509, 3510)", {"kab": "3510"}, True),
    ("kab not in (3509, 3510)", {"kab": "3212"}, True),
    ("desa = 'Pandan Lor'", {"desa": "Pandan Lor"}, True),
    ("hari_hadir = 3", {"hari_hadir": "1 3"}, True),  # select_multiple: any chosen value
    ("hari_hadir = 2", {"hari_hadir": "1 3"}, False),
    ("not (jenis_kelamin = 1 or umur < 18)", {"jenis_kelamin": "2", "umur": "30"}, True),
])
def test_filter_semantics(text, row, expected):
    assert evaluate(parse_filter(text), row, multiple={"hari_hadir"}) is expected


def test_derived_dimensions():
    assert [age_band(a) for a in (14, 15, 24, 25, 39, 40, 59, 60, 88, None, "")] == \
        ["", "15-24", "15-24", "25-39", "25-39", "40-59", "40-59", "60+", "60+", "", ""]
    assert wg_ss_disability([1, 2, 2, 1, 1, 1]) is False
    assert wg_ss_disability(["1", "3", None]) is True
    assert wg_ss_disability([1, 4]) is True
    assert wg_ss_disability([None, ""]) is None


# --------------------------------------------------------------------------- a small project

REGISTRASI = {
    "survey": """
| type                 | name            | label       | calculation |
| date                 | tgl_mulai       | Tanggal     | ""          |
| select_one pelatihan | jenis_pelatihan | Pelatihan   | ""          |
| text                 | id_peserta      | ID peserta  | ""          |
| select_one jk        | jenis_kelamin   | Jenis kel.  | ""          |
| integer              | umur            | Umur        | ""          |
| select_one kab       | kab             | Kabupaten   | ""          |
| select_one sm        | status_migran   | Status      | ""          |
| select_one wg        | wg_lihat        | Melihat     | ""          |
| select_one wg        | wg_dengar       | Mendengar   | ""          |
| text                 | catatan         | Catatan     | ""          |
""",
    "choices": """
| list_name | name | label       |
| pelatihan | 1    | GEDSI       |
| pelatihan | 2    | Digital     |
| pelatihan | 96   | Lain        |
| jk        | 1    | Laki-laki   |
| jk        | 2    | Perempuan   |
| kab       | 3509 | Jember      |
| kab       | 3510 | Banyuwangi  |
| sm        | 1    | Purna PMI   |
| sm        | 2    | Keluarga    |
| sm        | 3    | Calon       |
| sm        | 4    | Bukan       |
| wg        | 1    | Tidak       |
| wg        | 2    | Sedikit     |
| wg        | 3    | Banyak      |
| wg        | 4    | Tidak bisa  |
""",
    "settings": """
| form_id        | version |
| mel_registrasi | 1       |
""",
}

TES = {
    "survey": """
| type            | name       | label      | calculation                   |
| text            | id_peserta | ID peserta | ""                            |
| select_one fase | fase       | Fase       | ""                            |
| calculate       | kab        | ""         | substr(${id_peserta}, 0, 4)   |
| integer         | jml_benar  | Benar      | ""                            |
| calculate       | skor       | ""         | ${jml_benar} * 10             |
| text            | catatan    | Catatan    | ""                            |
| begin repeat    | sesi       | Sesi       | ""                            |
| integer         | hari_ke    | Hari ke    | ""                            |
| end repeat      | sesi       | ""         | ""                            |
""",
    "choices": """
| list_name | name | label |
| fase      | 1    | Pre   |
| fase      | 2    | Post  |
""",
    "settings": """
| form_id       | version |
| mel_tes_gedsi | 1       |
""",
}

INDICATORS = """
| code | level   | name::id  | name::en | unit   | form           | kind           | field      | key        | pre      | post     | condition         | threshold | filter                                    | disaggregate               | baseline | date      |
| OP1  | output  | Dilatih   | Trained  | people | mel_registrasi | count_unique   | id_peserta | ""         | ""       | ""       | ""                | ""        | jenis_pelatihan = 2 and status_migran = 1 | sex, disability, age_group | 0        | tgl_mulai |
| OC1  | outcome | Naik      | Improved | %      | mel_tes_gedsi  | share_improved | skor       | id_peserta | fase = 1 | fase = 2 | ""                | 20        | ""                                        | sex, district              | ""       | ""        |
| OC2  | outcome | Perempuan | Women    | %      | mel_registrasi | share          | ""         | id_peserta | ""       | ""       | jenis_kelamin = 2 | ""        | ""                                        | district                   | 50       | ""        |
"""

TARGETS = """
| code | period | target |
| OP1  | 2025   | 100    |
| OC1  | 2025   | 50     |
| OC2  | 2025   | 60     |
"""

DISAGGREGATIONS = """
| dimension  | form          | field               | derive   | lookup_form    | lookup_key |
| sex        | *             | jenis_kelamin       | value    | ""             | ""         |
| disability | *             | wg_lihat, wg_dengar | wg_ss    | ""             | ""         |
| age_group  | *             | umur                | age_band | ""             | ""         |
| district   | *             | kab                 | value    | ""             | ""         |
| sex        | mel_tes_gedsi | jenis_kelamin       | value    | mel_registrasi | id_peserta |
"""

SETTINGS = """
| setting        | value |
| suppress_below | 5     |
"""


def table_sheets() -> dict[str, list[list[str]]]:
    return {"indicators": table(INDICATORS), "targets": table(TARGETS), "disaggregations": table(DISAGGREGATIONS),
            "settings": table(SETTINGS)}


def write_project(root: Path, sheets: dict | None = None) -> Path:
    src = root / "xlsform_src"
    write_xlsform(src / "mel_registrasi.xlsx", REGISTRASI)
    write_xlsform(src / "mel_tes_gedsi.xlsx", TES)
    return write_xlsform(src / INDICATOR_TABLE, sheets or table_sheets())


def set_value(sheets, sheet: str, excel_row: int, column: str, value: str):
    rows = sheets[sheet]
    rows[excel_row - 1][rows[0].index(column)] = value


@pytest.fixture
def project(tmp_path):
    write_project(tmp_path)
    return tmp_path


def check(root: Path) -> list:
    return check_indicator_table(root / "xlsform_src" / INDICATOR_TABLE, read_instruments(root / "xlsform_src"))


def spots(findings) -> list[tuple]:
    return [(f.rule, f.sheet, f.row, f.column, f.cell) for f in findings]


def test_the_small_table_is_clean(project):
    assert check(project) == []
    loaded = read_indicator_table(project / "xlsform_src" / INDICATOR_TABLE)
    op1 = loaded.indicator("OP1")
    assert op1.kind == "count_unique" and op1.field == "id_peserta" and op1.targets == {"2025": 100.0}
    assert format_expr(op1.filter) == "jenis_pelatihan = 2 and status_migran = 1"
    assert op1.disaggregate == ("sex", "disability", "age_group")
    assert op1.cells["filter"].address == "N2" and op1.cells["filter"].sheet == "indicators"
    assert op1.target_cells["2025"].address == "C2"
    oc1 = loaded.indicator("OC1")
    assert (format_expr(oc1.pre), format_expr(oc1.post), oc1.threshold, oc1.key) == ("fase = 1", "fase = 2", 20.0, "id_peserta")
    sex = loaded.dimension_for("sex", "mel_tes_gedsi")
    assert (sex.source_form, sex.lookup_key) == ("mel_registrasi", "id_peserta")
    assert loaded.dimension_for("sex", "mel_registrasi").form == "*"
    assert loaded.settings["suppress_below"] == 5


def _edit(sheet, row, column, value):
    return lambda sheets: set_value(sheets, sheet, row, column, value)


def _append(sheet, *cells):
    return lambda sheets: sheets[sheet].append(list(cells))


# Each case breaks one cell of the clean table and expects exactly one finding, at that cell.
BROKEN = {
    "unknown form": (_edit("indicators", 2, "form", "mel_registrasii"),
                     ("indicator-form-unknown", "indicators", 2, "form", "F2"), "did you mean 'mel_registrasi'"),
    "unknown field": (_edit("indicators", 2, "field", "id_pesreta"),
                      ("indicator-field-unknown", "indicators", 2, "field", "H2"), "did you mean 'id_peserta'"),
    "unknown field in filter": (_edit("indicators", 2, "filter", "jenis_pelatihan = 2 and status_migrn = 1"),
                                ("indicator-field-unknown", "indicators", 2, "filter", "N2"),
                                "'status_migrn' (character 25 of the filter)"),
    "unknown kind": (_edit("indicators", 3, "kind", "share_improve"),
                     ("indicator-kind-unknown", "indicators", 3, "kind", "G3"), "did you mean 'share_improved'"),
    "bad filter": (_edit("indicators", 2, "filter", "jenis_pelatihan = = 2"),
                   ("indicator-filter-invalid", "indicators", 2, "filter", "N2"), "at character 19"),
    "bad pre": (_edit("indicators", 3, "pre", "fase = 1)"),
                ("indicator-filter-invalid", "indicators", 3, "pre", "J3"), "')' has no matching '('"),
    "duplicate code": (_append("indicators", "OC1", "outcome", "Lagi", "Again", "people", "mel_registrasi", "count",
                               "", "", "", "", "", "", "", "", "", ""),
                       ("indicator-duplicate-code", "indicators", 5, "code", "A5"), "already used in row 3"),
    "unknown disaggregation": (_edit("indicators", 2, "disaggregate", "sex, disabilty"),
                               ("indicator-disaggregation-unknown", "indicators", 2, "disaggregate", "O2"),
                               "did you mean 'disability'"),
    "disaggregation the form lacks": (_edit("indicators", 3, "disaggregate", "sex, age_group"),
                                      ("indicator-disaggregation-unknown", "indicators", 3, "disaggregate", "O3"),
                                      "mel_tes_gedsi has no such field"),
    "target not a number": (_edit("targets", 2, "target", "banyak"),
                            ("indicator-target-invalid", "targets", 2, "target", "C2"), "not a number"),
    "share target over 100": (_edit("targets", 3, "target", "150"),
                              ("indicator-target-invalid", "targets", 3, "target", "C3"), "between 0 and 100"),
    "count target not whole": (_edit("targets", 2, "target", "10.5"),
                               ("indicator-target-invalid", "targets", 2, "target", "C2"), "whole number"),
    "target period": (_append("targets", "OP1", "2025/26", "120"),
                      ("indicator-target-period-invalid", "targets", 5, "period", "B5"), "YYYY"),
    "target duplicate": (_append("targets", "OP1", "2025", "120"),
                         ("indicator-target-duplicate", "targets", 5, "period", "B5"), "in row 2"),
    "target for no indicator": (_append("targets", "OP9", "2025", "1"),
                                ("indicator-target-code-unknown", "targets", 5, "code", "A5"), "'OP9'"),
    "kind needs a cell": (_edit("indicators", 3, "threshold", ""),
                          ("indicator-cell-missing", "indicators", 3, "threshold", "M3"), "needs 'threshold'"),
    "cell the kind ignores": (_edit("indicators", 2, "threshold", "5"),
                              ("indicator-cell-unused", "indicators", 2, "threshold", "M2"), "does not use"),
    "unit of a share": (_edit("indicators", 4, "unit", "people"),
                        ("indicator-unit-mismatch", "indicators", 4, "unit", "E4"), "must be '%'"),
    "unknown unit": (_edit("indicators", 2, "unit", "persons"),
                     ("indicator-unit-unknown", "indicators", 2, "unit", "E2"), "not one of"),
    "choice that does not exist": (_edit("indicators", 2, "filter", "jenis_pelatihan = 5"),
                                   ("indicator-filter-value-unknown", "indicators", 2, "filter", "N2"),
                                   "has only 1 GEDSI, 2 Digital, 96 Lain"),
    "text field averaged": (_edit("indicators", 3, "field", "catatan"),
                            ("indicator-field-type", "indicators", 3, "field", "H3"), "needs a number"),
    "field in a repeat": (_edit("indicators", 3, "field", "hari_ke"),
                          ("indicator-field-in-repeat", "indicators", 3, "field", "H3"), "repeat 'sesi'"),
    "date that is not a date": (_edit("indicators", 2, "date", "umur"),
                                ("indicator-field-type", "indicators", 2, "date", "Q2"), "name a date field"),
    "threshold not a number": (_edit("indicators", 3, "threshold", "dua puluh"),
                               ("indicator-threshold-invalid", "indicators", 3, "threshold", "M3"), "not a number"),
    "baseline over 100": (_edit("indicators", 4, "baseline", "120"),
                          ("indicator-baseline-invalid", "indicators", 4, "baseline", "P4"), "between 0 and 100"),
    "level": (_edit("indicators", 2, "level", "impact"),
              ("indicator-cell-invalid", "indicators", 2, "level", "B2"), "outcome, output"),
    "derive": (_edit("disaggregations", 3, "derive", "wgss"),
               ("indicator-disaggregation-invalid", "disaggregations", 3, "derive", "D3"), "wg_ss"),
    "lookup key": (_edit("disaggregations", 6, "lookup_key", "id"),
                   ("indicator-field-unknown", "disaggregations", 6, "lookup_key", "F6"), "both forms"),
    "lookup form": (_edit("disaggregations", 6, "lookup_form", "registrasi"),
                    ("indicator-form-unknown", "disaggregations", 6, "lookup_form", "E6"), "mel_registrasi"),
    "mapped field": (_edit("disaggregations", 6, "field", "jk"),
                     ("indicator-field-unknown", "disaggregations", 6, "field", "C6"), "not a field of mel_registrasi"),
    "setting": (_edit("settings", 2, "value", "0"),
                ("indicator-setting-invalid", "settings", 2, "value", "B2"), "whole number of 1 or more"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_broken_cell_is_named_exactly(tmp_path, case):
    mutate, expected, text = BROKEN[case]
    sheets = table_sheets()
    mutate(sheets)
    write_project(tmp_path, sheets)
    findings = check(tmp_path)
    assert spots(findings) == [expected], [f.message for f in findings]
    assert text in findings[0].message
    assert findings[0].severity == RULES[expected[0]][0]
    assert findings[0].file.endswith(INDICATOR_TABLE)


def test_a_missing_column_is_named_once(tmp_path):
    sheets = table_sheets()
    sheets["indicators"][0][sheets["indicators"][0].index("kind")] = "knd"
    write_project(tmp_path, sheets)
    assert spots(check(tmp_path)) == [
        ("indicator-column-missing", "indicators", 1, "kind", ""),
        ("indicator-column-unknown", "indicators", 1, "knd", "G1"),
    ]


def test_no_indicators_sheet(tmp_path):
    write_project(tmp_path, {"Sheet1": [["code"], ["OP1"]]})
    findings = check(tmp_path)
    assert spots(findings) == [("indicator-sheet-missing", "", None, "", "")]
    assert "'Sheet1'" in findings[0].message


def test_an_indicator_without_targets_is_a_warning(tmp_path):
    sheets = table_sheets()
    del sheets["targets"][3]  # OC2's only target
    write_project(tmp_path, sheets)
    findings = check(tmp_path)
    assert spots(findings) == [("indicator-target-missing", "indicators", 4, "code", "A4")]
    assert findings[0].severity == "warning"


def test_load_indicators_refuses_a_table_with_errors(tmp_path):
    sheets = table_sheets()
    set_value(sheets, "indicators", 2, "kind", "median")
    write_project(tmp_path, sheets)
    with pytest.raises(InputError, match=r"1 error\(s\) in the indicator table, first at .*row 2, column 'kind'"):
        load_indicators(tmp_path / "xlsform_src" / INDICATOR_TABLE, read_instruments(tmp_path / "xlsform_src"))


def test_the_table_is_not_an_instrument(project):
    paths = instrument_paths(project / "xlsform_src")
    assert [p.name for p in paths] == ["mel_registrasi.xlsx", "mel_tes_gedsi.xlsx"]
    assert is_indicator_table(project / "xlsform_src" / INDICATOR_TABLE)


# --------------------------------------------------------------------------- the real table

@pytest.fixture(scope="module")
def real_forms():
    forms = read_instruments(ROOT / "xlsform_src")
    return forms


def test_the_real_table_resolves_to_existing_fields(real_forms):
    assert REAL_TABLE.is_file()
    assert check_indicator_table(REAL_TABLE, real_forms) == []


def test_the_real_table_carries_an_inklusi_report(real_forms):
    loaded = load_indicators(REAL_TABLE, real_forms)
    indicators = loaded.indicators
    assert len(indicators) >= 10
    assert {i.level for i in indicators} == {"outcome", "output"}
    assert {"mel_registrasi", "mel_tes_gedsi", "mel_tes_digital", "mel_kegiatan", "mel_kapasitas_desa",
            "mel_msc"} <= {i.form for i in indicators}
    used = {d for i in indicators for d in i.disaggregate}
    assert set(STANDARD_DIMENSIONS) <= used
    assert {"count", "count_unique", "share", "mean", "mean_change", "share_improved", "share_threshold"} <= \
        {i.kind for i in indicators}
    for indicator in indicators:
        assert indicator.name.get("id") and indicator.name.get("en"), indicator.code
        assert indicator.definition.get("id") and indicator.definition.get("en"), indicator.code
        assert indicator.targets, indicator.code
        # every disaggregation resolves to fields of a real form
        for dim in indicator.disaggregate:
            source = loaded.dimension_for(dim, indicator.form)
            form = real_forms[source.lookup_form or indicator.form]
            names = {r["name"] for r in form.survey.rows}
            assert set(source.fields) <= names, (indicator.code, dim)
    assert loaded.settings["suppress_below"] == 5


def test_the_kinds_sheet_documents_exactly_the_kinds():
    sheets = read_sheets(REAL_TABLE)
    rows = {r["kind"]: r for r in sheets["kinds"].rows}
    assert list(rows) == list(KINDS)
    for name, kind in KINDS.items():
        needs = [n.strip() for n in rows[name]["needs"].split(",") if n.strip() not in ("", "-")]
        assert needs == list(kind.needs), name
        assert rows[name]["bahasa indonesia"] and rows[name]["english"]
    assert "README" in {s.name for s in sheets.values()}


# --------------------------------------------------------------------------- the CLI

def test_forms_check_includes_indicator_findings(run_cli, tmp_path):
    sheets = table_sheets()
    set_value(sheets, "indicators", 2, "field", "id_pesreta")
    write_project(tmp_path, sheets)
    result = run_cli("forms", "check", "--no-validate", "--format", "json", cwd=tmp_path)
    assert result.code == 1, result
    data = json.loads(result.out)
    ours = [f for f in data if f["rule"].startswith("indicator-")]
    assert [(f["rule"], f["file"], f["sheet"], f["row"], f["column"], f["cell"]) for f in ours] == [
        ("indicator-field-unknown", f"xlsform_src/{INDICATOR_TABLE}", "indicators", 2, "field", "H2")]
    assert f"xlsform_src/{INDICATOR_TABLE} (indicator table): 1 error, 0 warnings" in result.err
    assert "xlsform_src/mel_registrasi.xlsx (mel_registrasi 1)" in result.err


def test_forms_check_of_the_table_alone(run_cli, project):
    result = run_cli("forms", "check", "--no-validate", f"xlsform_src/{INDICATOR_TABLE}", cwd=project)
    assert result.code == 0, result
    assert result.out == ""
    assert result.err.strip() == f"xlsform_src/{INDICATOR_TABLE} (indicator table): 0 errors, 0 warnings"
    assert run_cli("forms", "check", "--no-validate", "mel_indicators", cwd=project).code == 0


def test_forms_check_text_names_the_cell(run_cli, tmp_path):
    sheets = table_sheets()
    set_value(sheets, "targets", 3, "target", "lima puluh")
    write_project(tmp_path, sheets)
    result = run_cli("forms", "check", "--no-validate", f"xlsform_src/{INDICATOR_TABLE}", cwd=tmp_path)
    assert result.code == 1
    assert result.out.startswith(f"xlsform_src/{INDICATOR_TABLE} targets!C3: error [indicator-target-invalid] "
                                 "target 'lima puluh' for OC1 2025: not a number")


def test_forms_build_leaves_the_table_alone(run_cli, project):
    result = run_cli("forms", "build", "--no-validate", "mel_indicators", cwd=project)
    assert result.code == 0, result
    assert "is the MEL indicator table, not an instrument: not built" in result.err
    assert not (project / "forms" / "mel_indicators").exists()
