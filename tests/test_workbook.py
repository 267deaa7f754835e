from pathlib import Path

import pytest

from desbumi.errors import InputError
from desbumi.forms.structure import parse_type, walk
from desbumi.forms.workbook import normalise_header, read_xlsform
from xlsforms import EN, ID, clean_sheets, write_xlsform


@pytest.mark.parametrize("raw, expected", [
    ("Label::English (en)", "label::English (en)"),
    (" constraint message::Bahasa Indonesia (id) ", "constraint_message::Bahasa Indonesia (id)"),
    ("jr:constraintMsg", "constraint_message"),
    ("list name", "list_name"),
    ("label:English", "label::English"),
    ("bind::odk:length", "bind::odk:length"),
    ("Type", "type"),
])
def test_headers_fold_to_pyxform_names(raw, expected):
    assert normalise_header(raw) == expected


def test_rows_keep_excel_numbers_and_skip_blank_rows(tmp_path):
    path = write_xlsform(tmp_path / "f.xlsx", {
        "survey": [["type", "name", "label"], ["integer", "age", "Age"], ["", "", ""], ["text", "town", "Town"]],
    })
    form = read_xlsform(path)
    assert [(r.number, r["name"]) for r in form.survey.rows] == [(2, "age"), (4, "town")]
    assert form.survey.letter("label") == "C"


def test_languages_and_settings(tmp_path):
    form = read_xlsform(write_xlsform(tmp_path / "f.xlsx", clean_sheets()))
    assert form.languages == [ID, EN]
    assert form.default_language == ID
    assert form.form_id == "lint_clean" and form.version == "2026112801"


def test_structure_walk_knows_the_enclosing_groups(tmp_path):
    form = read_xlsform(write_xlsform(tmp_path / "f.xlsx", {"survey": """
| type         | name  | label |
| begin group  | g     | G     |
| begin repeat | r     | R     |
| integer      | n     | N     |
| end repeat   |       |       |
| end group    |       |       |
| text         | after | A     |
"""}))
    items = {i.name: i for i in walk(form) if i.name}
    assert items["n"].parents == (("group", "g"), ("repeat", "r"))
    assert items["n"].repeat == "r" and items["n"].repeat_depth == 1
    assert items["after"].parents == ()


@pytest.mark.parametrize("text, base, argument", [
    ("select_one yesno", "select_one", "yesno"),
    ("select one yesno", "select_one", "yesno"),
    ("select_multiple app or_other", "select_multiple", "app"),
    ("select_one_from_file resp.csv", "select_one_from_file", "resp.csv"),
    ("begin_group", "begin group", ""),
    ("End Repeat", "end repeat", ""),
])
def test_parse_type(text, base, argument):
    parsed = parse_type(text)
    assert (parsed.base, parsed.argument) == (base, argument)


def test_not_a_workbook(tmp_path):
    path = tmp_path / "notes.xlsx"
    path.write_text("just text", encoding="utf-8")
    with pytest.raises(InputError, match=r"notes.xlsx: not a readable Excel workbook"):
        read_xlsform(path)


def test_old_xls_is_refused_with_advice(tmp_path):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match="save it as .xlsx"):
        read_xlsform(path)


def test_no_survey_sheet(tmp_path):
    path = write_xlsform(tmp_path / "f.xlsx", {"Sheet1": [["a"], ["b"]]})
    with pytest.raises(InputError, match=r"f.xlsx: has no 'survey' sheet \(sheets found: 'sheet1'\)"):
        read_xlsform(path)


def test_broken_header(tmp_path):
    path = write_xlsform(tmp_path / "f.xlsx", {"survey": [["integer", "age", "How old?"], ["text", "x", "X"]]})
    with pytest.raises(InputError, match=r"sheet 'survey' row 1 lacks the column\(s\) type, name"):
        read_xlsform(path)


def test_duplicate_column(tmp_path):
    path = write_xlsform(tmp_path / "f.xlsx", {"survey": [["type", "name", "Label", "label"], ["text", "x", "X", "Y"]]})
    with pytest.raises(InputError, match=r"column 'label' twice \(cells C1 and D1\)"):
        read_xlsform(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_xlsform(Path(tmp_path / "absent.xlsx"))
