"""Lint families d (survey), e (settings), f (offline media) and g (personal data).

Each broken form is the clean fixture with one thing changed; each test asserts the exact rule id,
sheet, Excel row and column of every finding these four families report (findings of the other
families are left to their own tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from desbumi.forms.lint import (
    CATALOGUE,
    LastBuild,
    LintContext,
    lint,
    offline,
    personal,
    settings,
    survey,
)
from desbumi.forms.versions import next_version, sha256_file
from desbumi.forms.workbook import read_xlsform
from xlsforms import EN, ID, clean_sheets, set_cell, table, write_xlsform

MINE = {*survey.RULES, *settings.RULES, *offline.RULES, *personal.RULES}
LABEL_ID, LABEL_EN = f"label::{ID}", f"label::{EN}"


# --- helpers -------------------------------------------------------------------------------------

def run(tmp_path: Path, sheets: dict, *, media: dict[str, str] | None = None, generated=None,
        last_build: LastBuild | None = None, sha: str | None = None) -> list:
    """Write the form (and its media folder), lint it, keep this file's families."""
    path = write_xlsform(tmp_path / "form.xlsx", sheets)
    media_dir = path.with_name(f"{path.stem}-media")
    for name, text in (media or {}).items():
        media_dir.mkdir(exist_ok=True)
        (media_dir / name).write_text(text, encoding="utf-8")
    context = LintContext(form=read_xlsform(path), source_sha256=sha or sha256_file(path),
                          last_build=last_build, media_dir=media_dir, generated_media=dict(generated or {}))
    return [f for f in lint(context) if f.rule in MINE]


def where(findings) -> list[tuple]:
    return [(f.rule, f.sheet, f.row, f.column) for f in findings]


def new_row(rows: list[list[str]], **cells: str) -> list[str]:
    """A survey row for the clean header; pii defaults to 'no' so only the tested rule fires."""
    header = rows[0]
    values = {"pii": "no", **{k.replace("__", "::"): v for k, v in cells.items()}}
    unknown = set(values) - set(header)
    assert not unknown, unknown
    return [values.get(column, "") for column in header]


def insert_before(rows: list[list[str]], name: str, *new: list[str]) -> int:
    """Insert rows before the first row named `name`; returns the Excel row of the first one."""
    key = rows[0].index("name")
    index = next(i for i, row in enumerate(rows) if i and row[key] == name)
    rows[index:index] = list(new)
    return index + 1


def drop_column(rows: list[list[str]], column: str) -> None:
    col = rows[0].index(column)
    for row in rows:
        del row[col]


def add_column(rows: list[list[str]], column: str, value: str = "") -> None:
    rows[0].append(column)
    for row in rows[1:]:
        row.append(value)


def clean_with(edit) -> dict:
    sheets = clean_sheets()
    edit(sheets)
    return sheets


# Excel rows of the clean survey (header = 1).
START, END, TODAY, DEVICEID, RESP, AGE, WORKED, APPS, AGE_GROUP, AGE_NOTE, END_RESP = range(2, 13)


# --- clean ---------------------------------------------------------------------------------------

def test_clean_form_gives_no_findings_from_these_families(tmp_path):
    assert run(tmp_path, clean_sheets()) == []


def test_every_rule_is_registered_with_the_severity_the_issue_gives():
    warnings = {"required-message-missing", "range-missing", "calculate-unused", "label-too-long",
                "version-format", "pii-unmarked", "pii-column-missing", "metadata-missing"}
    for rule_id in MINE:
        expected = "warning" if rule_id in warnings else "error"
        assert CATALOGUE[rule_id].severity == expected, rule_id


# --- d: structure --------------------------------------------------------------------------------

def test_end_group_with_other_name_names_both_rows(tmp_path):
    sheets = clean_with(lambda s: s["survey"][END_RESP - 1].__setitem__(1, "respx"))
    found = run(tmp_path, sheets)
    assert where(found) == [("structure-mismatch", "survey", END_RESP, "name")]
    assert f"row {END_RESP}" in found[0].message and f"row {RESP}" in found[0].message
    assert "'respx'" in found[0].message and "'resp'" in found[0].message


def test_group_closed_by_end_repeat_is_a_type_mismatch(tmp_path):
    sheets = clean_with(lambda s: s["survey"][END_RESP - 1].__setitem__(0, "end repeat"))
    found = run(tmp_path, sheets)
    assert where(found) == [("structure-mismatch", "survey", END_RESP, "type")]
    assert "end group" in found[0].message and f"row {RESP}" in found[0].message


def test_end_group_with_empty_name_closes_the_innermost_group(tmp_path):
    sheets = clean_with(lambda s: s["survey"][END_RESP - 1].__setitem__(1, ""))
    assert run(tmp_path, sheets) == []


def test_begin_group_never_closed(tmp_path):
    sheets = clean_with(lambda s: s["survey"].pop(END_RESP - 1))
    found = run(tmp_path, sheets)
    assert where(found) == [("structure-unclosed", "survey", RESP, "type")]
    assert "end group" in found[0].message


def test_end_group_without_begin(tmp_path):
    sheets = clean_sheets()
    sheets["survey"].append(new_row(sheets["survey"], type="end group"))
    assert where(run(tmp_path, sheets)) == [("structure-unopened", "survey", END_RESP + 1, "type")]


def test_inner_group_left_open_is_reported_at_its_begin_row(tmp_path):
    sheets = clean_sheets()
    rows = sheets["survey"]
    inner = insert_before(rows, "age_group", new_row(rows, type="begin group", name="inner",
                                                     **{"label__" + ID: "Dalam", "label__" + EN: "Inner"}))
    found = run(tmp_path, sheets)
    assert where(found) == [("structure-unclosed", "survey", inner, "type")]
    assert f"row {END_RESP + 1}" in found[0].message and "'begin group resp'" in found[0].message


# --- d: messages and ranges ----------------------------------------------------------------------

def test_constraint_without_any_message(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age", f"constraint_message::{ID}", "")
    set_cell(sheets["survey"], "age", f"constraint_message::{EN}", "")
    found = run(tmp_path, sheets)
    assert where(found) == [("constraint-message-missing", "survey", AGE, "constraint")]
    assert ". >= 15 and . <= 99" in found[0].message and f"constraint_message::{ID}" in found[0].message


def test_required_without_message_is_a_warning(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "worked", f"required_message::{ID}", "")
    set_cell(sheets["survey"], "worked", f"required_message::{EN}", "")
    found = run(tmp_path, sheets)
    assert where(found) == [("required-message-missing", "survey", WORKED, "required")]
    assert found[0].severity == "warning"


def test_required_by_expression_needs_a_message_too(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "apps", "required", "${worked} = 1")
    assert where(run(tmp_path, sheets)) == [("required-message-missing", "survey", APPS, "required")]


def test_integer_without_constraint_has_no_range(tmp_path):
    sheets = clean_sheets()
    for column in ("constraint", f"constraint_message::{ID}", f"constraint_message::{EN}"):
        set_cell(sheets["survey"], "age", column, "")
    found = run(tmp_path, sheets)
    assert where(found) == [("range-missing", "survey", AGE, "constraint")]
    assert "'age' is integer" in found[0].message


def test_decimal_constraint_that_bounds_nothing(tmp_path):
    sheets = clean_sheets()
    rows = sheets["survey"]
    messages = {f"constraint_message__{ID}": "Salah", f"constraint_message__{EN}": "Wrong"}
    row = insert_before(rows, "age_group",
                        new_row(rows, type="decimal", name="income", constraint=". != 99", **messages,
                                **{"label__" + ID: "Pendapatan", "label__" + EN: "Income"}),
                        new_row(rows, type="decimal", name="weight", constraint="${weight} > 0.5", **messages,
                                **{"label__" + ID: "Berat", "label__" + EN: "Weight"}))
    assert where(run(tmp_path, sheets)) == [("range-missing", "survey", row, "constraint")]


# --- d: outdated syntax, references, calculates, labels ------------------------------------------

def test_position_predicate_is_outdated_but_position_of_parent_is_not(tmp_path):
    sheets = clean_sheets()
    rows = sheets["survey"]
    row = insert_before(rows, "age_note",
                        new_row(rows, type="calculate", name="first_age", calculation="${age}[position() = 1]",
                                **{"label__" + ID: "Umur pertama"}),
                        new_row(rows, type="calculate", name="pos", calculation="position(..)",
                                **{"label__" + ID: "Urutan"}))
    found = run(tmp_path, sheets)
    assert where(found) == [("outdated-syntax", "survey", row, "calculation")]
    assert "indexed-repeat(" in found[0].message


def test_choice_name_is_outdated(tmp_path):
    sheets = clean_sheets()
    rows = sheets["survey"]
    row = insert_before(rows, "age_note",
                        new_row(rows, type="calculate", name="worked_label",
                                calculation="jr:choice-name(${worked}, '${worked}')", **{"label__" + ID: "Label"}))
    found = run(tmp_path, sheets)
    assert where(found) == [("outdated-syntax", "survey", row, "calculation")]
    assert "jr:choice-name()" in found[0].message and "value labels" in found[0].message


def test_unknown_reference_in_relevant_suggests_the_name(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "apps", "relevant", "${workd} = 1")
    found = run(tmp_path, sheets)
    assert where(found) == [("reference-unknown", "survey", APPS, "relevant")]
    assert "${workd}" in found[0].message and "${worked}" in found[0].message


def test_unknown_reference_in_a_translated_label(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age_note", LABEL_EN, "Age group: ${age_grp}")
    assert where(run(tmp_path, sheets)) == [("reference-unknown", "survey", AGE_NOTE, LABEL_EN)]


def test_reference_with_wrong_case_is_unknown(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age_group", "calculation", "if(${Age} < 25, 1, 2)")
    found = run(tmp_path, sheets)
    assert where(found) == [("reference-unknown", "survey", AGE_GROUP, "calculation")]
    assert "case-sensitive" in found[0].message


def test_unknown_reference_in_settings_instance_name(tmp_path):
    sheets = clean_sheets()
    add_column(sheets["settings"], "instance_name", "concat('R-', ${agee})")
    assert where(run(tmp_path, sheets)) == [("reference-unknown", "settings", 2, "instance_name")]


def test_calculate_nothing_uses(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age_note", LABEL_ID, "Terima kasih")
    set_cell(sheets["survey"], "age_note", LABEL_EN, "Thank you")
    found = run(tmp_path, sheets)
    assert where(found) == [("calculate-unused", "survey", AGE_GROUP, "name")]
    assert "give it a label" in found[0].message


def test_unused_calculate_with_a_label_is_kept_for_analysis(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age_note", LABEL_ID, "Terima kasih")
    set_cell(sheets["survey"], "age_note", LABEL_EN, "Thank you")
    set_cell(sheets["survey"], "age_group", LABEL_ID, "Kelompok umur")
    assert run(tmp_path, sheets) == []


def test_label_longer_than_stata_keeps_in_the_export_language(tmp_path):
    sheets = clean_sheets()
    long_text = "Berapa umur Anda pada ulang tahun terakhir, menurut dokumen identitas yang Anda miliki?"
    assert len(long_text) > 80
    set_cell(sheets["survey"], "age", LABEL_ID, long_text)
    set_cell(sheets["survey"], "worked", LABEL_EN, "x" * 90)  # not the export language
    found = run(tmp_path, sheets)
    assert where(found) == [("label-too-long", "survey", AGE, LABEL_ID)]
    assert f"{len(long_text)} characters" in found[0].message


# --- e: settings ---------------------------------------------------------------------------------

def test_settings_without_version_column(tmp_path):
    sheets = clean_with(lambda s: drop_column(s["settings"], "version"))
    found = run(tmp_path, sheets)
    assert where(found) == [("settings-missing", "settings", 1, "version")]
    assert "'version'" in found[0].message


def test_settings_with_empty_title(tmp_path):
    sheets = clean_with(lambda s: s["settings"][1].__setitem__(1, ""))
    assert where(run(tmp_path, sheets)) == [("settings-missing", "settings", 2, "form_title")]


def test_form_without_settings_sheet_misses_every_key(tmp_path):
    sheets = clean_with(lambda s: s.pop("settings"))
    assert where(run(tmp_path, sheets)) == [("settings-missing", "settings", None, key)
                                            for key in ("default_language", "form_id", "form_title", "version")]


def test_default_language_not_declared(tmp_path):
    sheets = clean_with(lambda s: s["settings"][1].__setitem__(3, "Bahasa Indonesia (ID)"))
    found = run(tmp_path, sheets)
    assert where(found) == [("settings-language-unknown", "settings", 2, "default_language")]
    assert f"'{ID}'" in found[0].message


def test_version_not_of_the_odk_shape(tmp_path):
    sheets = clean_with(lambda s: s["settings"][1].__setitem__(2, "3"))
    found = run(tmp_path, sheets)
    assert where(found) == [("version-format", "settings", 2, "version")]
    assert found[0].severity == "warning" and "YYYYMMDDNN" in found[0].message


def test_unchanged_source_may_keep_its_version(tmp_path):
    path = write_xlsform(tmp_path / "v.xlsx", clean_sheets())
    build = LastBuild(version="2026112801", source_sha256=sha256_file(path))
    assert run(tmp_path, clean_sheets(), last_build=build, sha=build.source_sha256) == []


def test_changed_source_with_the_same_version_is_refused(tmp_path):
    build = LastBuild(version="2026112801", source_sha256="0" * 64)
    found = run(tmp_path, clean_sheets(), last_build=build)
    assert where(found) == [("version-not-increased", "settings", 2, "version")]
    message = found[0].message
    assert "ODK Collect will not update" in message and next_version("2026112801") in message
    assert "desbumi-sync forms bump lint_clean" in message


def test_changed_source_with_a_lower_version_is_refused(tmp_path):
    build = LastBuild(version="2026120105", source_sha256="0" * 64)
    found = run(tmp_path, clean_sheets(), last_build=build)
    assert where(found) == [("version-not-increased", "settings", 2, "version")]
    assert f"Set version to {next_version('2026120105')}" in found[0].message


def test_changed_source_with_a_higher_version_is_fine(tmp_path):
    build = LastBuild(version="2026112701", source_sha256="0" * 64)
    assert run(tmp_path, clean_sheets(), last_build=build) == []


# --- f: offline media ----------------------------------------------------------------------------

def _preload_rows(sheets: dict, calculation: str) -> int:
    """Add resp_id and a labelled calculate reading the preload; returns the calculate's row."""
    rows = sheets["survey"]
    return insert_before(rows, "age_group",
                         new_row(rows, type="text", name="resp_id", **{"label__" + ID: "ID responden",
                                                                       "label__" + EN: "Respondent ID"}),
                         new_row(rows, type="calculate", name="y1_age", calculation=calculation,
                                 **{"label__" + ID: "Umur tahun lalu"})) + 1


PULLDATA = "pulldata('preload', 'umur', 'resp_id', ${resp_id})"


def test_pulldata_file_missing(tmp_path):
    sheets = clean_sheets()
    row = _preload_rows(sheets, PULLDATA)
    found = run(tmp_path, sheets)
    assert where(found) == [("media-missing", "survey", row, "calculation")]
    assert "'preload.csv'" in found[0].message and "form-media/" in found[0].message


def test_pulldata_column_missing_from_the_csv_header(tmp_path):
    sheets = clean_sheets()
    row = _preload_rows(sheets, PULLDATA)
    found = run(tmp_path, sheets, media={"preload.csv": "\ufeffresp_id,age\nR1,30\n"})
    assert where(found) == [("media-column-missing", "survey", row, "calculation")]
    assert "'umur'" in found[0].message and "resp_id, age" in found[0].message


def test_pulldata_file_made_by_the_preload_step_is_fine(tmp_path):
    sheets = clean_sheets()
    _preload_rows(sheets, PULLDATA)
    assert run(tmp_path, sheets, generated={"preload.csv": ["resp_id", "umur"]}) == []


def test_select_one_from_file_missing(tmp_path):
    sheets = clean_sheets()
    rows = sheets["survey"]
    row = insert_before(rows, "age_group", new_row(rows, type="select_one_from_file desa.csv", name="desa",
                                                   **{"label__" + ID: "Desa", "label__" + EN: "Village"}))
    assert where(run(tmp_path, sheets)) == [("media-missing", "survey", row, "type")]


def test_select_one_from_file_reads_parameters_and_filter_columns(tmp_path):
    sheets = clean_sheets()
    rows = sheets["survey"]
    add_column(rows, "parameters")
    add_column(rows, "choice_filter")
    first = insert_before(rows, "age_group",
                          new_row(rows, type="text", name="kab", **{"label__" + ID: "Kabupaten",
                                                                    "label__" + EN: "District"}),
                          new_row(rows, type="select_one_from_file desa.csv", name="desa",
                                  parameters="value=kode label=nama_desa", choice_filter="kab = ${kab}",
                                  **{"label__" + ID: "Desa", "label__" + EN: "Village"}))
    media = {"desa.csv": "kode,nama,kabupaten\n1,Sukamaju,Lombok Timur\n"}
    assert where(run(tmp_path, sheets, media=media)) == [
        ("media-column-missing", "survey", first + 1, "choice_filter"),
        ("media-column-missing", "survey", first + 1, "parameters"),
    ]


def test_search_appearance_reads_columns_from_the_choice_row(tmp_path):
    sheets = clean_sheets()
    rows = sheets["survey"]
    add_column(rows, "appearance")
    row = insert_before(rows, "age_group",
                        new_row(rows, type="text", name="kab", **{"label__" + ID: "Kabupaten",
                                                                  "label__" + EN: "District"}),
                        new_row(rows, type="select_one resp", name="resp_pick",
                                appearance="search('preload', 'matches', 'kabupaten', ${kab})",
                                **{"label__" + ID: "Pilih responden", "label__" + EN: "Pick respondent"})) + 1
    sheets["choices"].append(["resp", "resp_id", "nama_lengkap", "nama_lengkap"])
    media = {"preload.csv": "resp_id,nama,kabupaten\nR1,Siti,Lombok Timur\n"}
    assert where(run(tmp_path, sheets, media=media)) == [
        ("media-column-missing", "choices", 6, LABEL_ID),
        ("media-column-missing", "choices", 6, LABEL_EN),
    ]
    sheets["survey"][row - 1][rows[0].index("appearance")] = "search('preload_y1')"
    assert where(run(tmp_path / "again", sheets, media=media)) == [("media-missing", "survey", row, "appearance")]


def test_instance_path_columns_and_internal_lists(tmp_path):
    sheets = clean_sheets()
    rows = sheets["survey"]
    row = insert_before(rows, "age_note",
                        new_row(rows, type="calculate", name="desa_nama",
                                calculation="instance('desa')/root/item[name = ${age_group}]/labl",
                                **{"label__" + ID: "Nama desa"}),
                        new_row(rows, type="calculate", name="yes_label",
                                calculation="instance('yesno')/root/item[name = ${worked}]/label",
                                **{"label__" + ID: "Ya/tidak"}))
    found = run(tmp_path, sheets, media={"desa.csv": "name,label\n1,Sukamaju\n"})
    assert where(found) == [("media-column-missing", "survey", row, "calculation")]
    assert "'labl'" in found[0].message and "Did you mean 'label'?" in found[0].message


def test_media_csv_that_is_not_utf8(tmp_path):
    sheets = clean_sheets()
    row = _preload_rows(sheets, PULLDATA)
    media_dir = tmp_path / "form-media"
    media_dir.mkdir()
    (media_dir / "preload.csv").write_bytes("resp_id,umur\nR1,\xe9\n".encode("utf-16"))
    assert where(run(tmp_path, sheets)) == [("media-unreadable", "survey", row, "calculation")]


def test_weird_expressions_do_not_crash(tmp_path):
    sheets = clean_sheets()
    _preload_rows(sheets, "pulldata(${x}, 'a' + instance(')/root[[ 'unterminated")
    found = run(tmp_path, sheets)
    assert {f.rule for f in found} <= MINE


# --- g: personal data ----------------------------------------------------------------------------

def test_pii_value_other_than_yes_or_no(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age", "pii", "true")
    found = run(tmp_path, sheets)
    assert where(found) == [("pii-invalid", "survey", AGE, "pii")]
    assert "'true'" in found[0].message


def test_identifying_questions_without_pii_and_the_false_positives_left_alone(tmp_path):
    sheets = clean_sheets()
    rows = sheets["survey"]
    ask = {"required": ""}
    unmarked = [
        new_row(rows, type="text", name="nama_resp", pii="", **{"label__" + ID: "Nama lengkap responden"}, **ask),
        new_row(rows, type="text", name="q12", pii="", **{"label__" + EN: "Mobile phone number"}),
        new_row(rows, type="geopoint", name="rumah", pii="", **{"label__" + ID: "Titik rumah"}),
        new_row(rows, type="text", name="q14", pii="", **{"label__" + ID: "Nomor KTP"}),
        new_row(rows, type="text", name="alamatRumah", pii="", **{"label__" + EN: "Home"}),
        new_row(rows, type="text", name="no_paspor", pii="", **{"label__" + EN: "Travel document"}),
    ]
    fine = [
        new_row(rows, type="text", name="nama_usaha", pii="", **{"label__" + ID: "Nama usaha"}),
        new_row(rows, type="text", name="q21", pii="", **{"label__" + EN: "What is the name of your village?"}),
        new_row(rows, type="select_one yesno", name="punya_hp", pii="", **{"label__" + ID: "Apakah punya HP?"}),
        new_row(rows, type="integer", name="jam_hp", pii="", constraint=". >= 0 and . <= 24",
                **{f"constraint_message__{ID}": "0-24", "label__" + ID: "Berapa jam pakai HP per hari?"}),
    ]
    first = insert_before(rows, "age_group", *unmarked, *fine)
    found = run(tmp_path, sheets)
    assert where(found) == [("pii-unmarked", "survey", first + i, "pii") for i in range(len(unmarked))]
    assert "a person's name" in found[0].message and "a GPS location" in found[2].message


def test_survey_without_pii_column(tmp_path):
    sheets = clean_with(lambda s: drop_column(s["survey"], "pii"))
    found = run(tmp_path, sheets)
    assert where(found) == [("pii-column-missing", "survey", 1, "pii")]


def test_missing_metadata_questions(tmp_path):
    sheets = clean_sheets()
    del sheets["survey"][DEVICEID - 1]
    del sheets["survey"][START - 1]
    found = run(tmp_path, sheets)
    assert where(found) == [("metadata-missing", "survey", None, ""), ("metadata-missing", "survey", None, "")]
    assert ["'start'" in f.message or "'deviceid'" in f.message for f in found] == [True, True]
    assert any("'start'" in f.message for f in found) and any("'deviceid'" in f.message for f in found)


# --- the small parsers ---------------------------------------------------------------------------

@pytest.mark.parametrize("constraint, bounded", [
    (". >= 15 and . <= 99", True), ("120 > .", True), ("${age} < 120", True), ("between(., 1, 9)", True),
    (". != 99", False), ("regex(., '^[0-9]+$')", False), ("${other} > 0.5", False), ("", False),
])
def test_range_detection(constraint, bounded):
    assert survey.has_range(constraint, "age") is bounded


def test_instance_path_columns():
    assert offline.path_columns("/root/item[kab = ${k} and aktif = 1]/nama") == ["nama", "kab", "aktif"]
    assert offline.path_columns("/root/item[name = current()/../x]") == ["name"]
    assert offline.bare_names("starts-with(nama, 'A') or kab = ${kab}") == ["nama", "kab"]


def test_table_helper_still_parses_fixture():
    assert table(f"| a | b |\n| 1 | {ID} |") == [["a", "b"], ["1", ID]]
