"""forms show (canonical text of any workbook) and forms diff (semantic diff of two XLSForms)."""

from __future__ import annotations

import difflib
import json
import zipfile

import pytest
from openpyxl import Workbook

from desbumi.errors import InputError
from desbumi.forms.diff import (
    BREAKING,
    COSMETIC,
    JSON_KEYS,
    REVIEW,
    available_versions,
    diff_files,
    render_markdown,
    render_text,
    resolve_side,
    summary,
    to_json,
)
from desbumi.forms.show import escape, show_workbook
from xlsforms import EN, ID, clean_sheets, set_cell, write_xlsform

# ------------------------------------------------------------------------------------------ show

SMALL = {
    "survey": """
| type    | name | label::English (en) | hint::English (en) |
| integer | age  | How old are you?    | ""                 |
| text    | note | ""                  | In words           |
""",
    "choices": """
| list_name | name | label |
| yesno     | 1    | Yes   |
""",
}

SMALL_TEXT = """\
== survey ==
columns | A=type | B=name | C=label::English (en) | D=hint::English (en)
type=integer | name=age | label::English (en)=How old are you?
type=text | name=note | hint::English (en)=In words

== choices ==
columns | A=list_name | B=name | C=label
list_name=yesno | name=1 | label=Yes
"""


def test_show_small_workbook_exact_text(tmp_path):
    path = write_xlsform(tmp_path / "small.xlsx", SMALL)
    assert show_workbook(path) == SMALL_TEXT


def test_show_is_stable_across_reads_and_resaves(tmp_path):
    first = write_xlsform(tmp_path / "a.xlsx", clean_sheets())
    second = write_xlsform(tmp_path / "b.xlsx", clean_sheets())
    text = show_workbook(first)
    assert show_workbook(first) == text
    assert show_workbook(second) == text


def test_show_one_cell_change_changes_one_line(tmp_path):
    before = clean_sheets()
    after = clean_sheets()
    set_cell(after["survey"], "age", f"label::{EN}", "What is your age?")
    old = show_workbook(write_xlsform(tmp_path / "old.xlsx", before)).splitlines()
    new = show_workbook(write_xlsform(tmp_path / "new.xlsx", after)).splitlines()
    delta = [line for line in difflib.unified_diff(old, new, lineterm="", n=0)
             if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(delta) == 2
    assert delta[0].startswith("-type=integer | name=age |") and "How old are you?" in delta[0]
    assert delta[1].startswith("+type=integer | name=age |") and "What is your age?" in delta[1]


def test_show_inserted_row_adds_one_line(tmp_path):
    before = clean_sheets()
    after = clean_sheets()
    row = ["text"] + ["occupation"] + [""] * (len(after["survey"][0]) - 2)
    after["survey"].insert(6, row)
    old = show_workbook(write_xlsform(tmp_path / "old.xlsx", before)).splitlines()
    new = show_workbook(write_xlsform(tmp_path / "new.xlsx", after)).splitlines()
    delta = [line for line in difflib.unified_diff(old, new, lineterm="", n=0)
             if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert delta == ["+type=text | name=occupation"]


def test_show_any_workbook_with_escapes_gaps_and_empty_sheets(tmp_path):
    book = Workbook()
    ws = book.active
    ws.title = "data"
    ws["A1"], ws["B1"], ws["D1"], ws["E1"] = "note", "a=b", "note", "x"
    ws["A3"] = "two\nlines\tand | pipe \\ slash"
    ws["B3"] = " padded\u00a0"
    ws["C3"] = 7.0
    ws["D3"] = "dup"
    book.create_sheet("blank")
    path = tmp_path / "any.xlsx"
    book.save(path)
    assert show_workbook(path) == (
        "== data ==\n"
        "columns | A=note | B=a=b | D=note | E=x\n"
        "note[A]=two\\nlines\\tand \\| pipe \\\\ slash | a\\=b=\\x20padded\\xa0 | [C]=7 | note[D]=dup\n"
        "\n"
        "== blank ==\n"
        "(empty)\n")
    assert show_workbook(path, row_numbers=True).splitlines()[1:3] == [
        "row 1 | columns | A=note | B=a=b | D=note | E=x",
        "row 3 | note[A]=two\\nlines\\tand \\| pipe \\\\ slash | a\\=b=\\x20padded\\xa0 | [C]=7 | note[D]=dup"]


def test_escape_spells_out_invisible_whitespace():
    assert escape("  ") == "\\x20\\x20"
    assert escape("a b") == "a b"
    assert escape("x\u200b") == "x\\u200b"


@pytest.mark.parametrize("content", [b"not a spreadsheet", b""])
def test_show_unreadable_file_is_input_error_naming_it(tmp_path, content):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        show_workbook(path)
    assert str(path) in str(info.value)
    assert "not a readable Excel workbook" in str(info.value)


def test_show_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(InputError, match="fake.xlsx"):
        show_workbook(path)


def test_show_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"missing\.xlsx: no such file"):
        show_workbook(tmp_path / "missing.xlsx")


# ------------------------------------------------------------------------------------------ diff

def _diff(tmp_path, before: dict, after: dict):
    old = write_xlsform(tmp_path / "old.xlsx", before)
    new = write_xlsform(tmp_path / "new.xlsx", after)
    return diff_files(old, new)


def _changed(tmp_path, edit):
    """Diff the clean form against a copy that `edit` modifies in place."""
    after = clean_sheets()
    edit(after)
    return _diff(tmp_path, clean_sheets(), after)


def _kinds(result) -> list[tuple[str, str, str]]:
    return [(c.kind, c.severity, c.subject) for c in result.changes]


def _without_version(result) -> list[tuple[str, str, str]]:
    return [k for k in _kinds(result) if k[2] != "settings:version"]


def _survey_row(sheets: dict, name: str) -> list[str]:
    return next(r for r in sheets["survey"] if r[1] == name)


def test_identical_forms_have_no_changes(tmp_path):
    result = _diff(tmp_path, clean_sheets(), clean_sheets())
    assert result.changes == ()
    assert result.counts == {BREAKING: 0, REVIEW: 0, COSMETIC: 0}
    assert summary(result) == "no changes"
    assert to_json(result) == []
    assert "No changes." in render_markdown(result)
    assert "no changes" in render_text(result)


def test_removed_question_is_breaking(tmp_path):
    result = _changed(tmp_path, lambda s: s["survey"].remove(_survey_row(s, "age_group")))
    assert _kinds(result) == [("question_removed", BREAKING, "resp/age_group")]
    change = result.changes[0]
    assert (change.old, change.new, change.old_row, change.new_row) == ("calculate", None, 10, None)


def test_removed_note_is_only_review(tmp_path):
    result = _changed(tmp_path, lambda s: s["survey"].remove(_survey_row(s, "age_note")))
    assert _kinds(result) == [("question_removed", REVIEW, "resp/age_note")]


def test_added_question_is_review(tmp_path):
    def edit(s):
        s["survey"].insert(7, ["text", "job", "Pekerjaan", "Job"] + [""] * 10 + ["no"])

    result = _changed(tmp_path, edit)
    assert _kinds(result) == [("question_added", REVIEW, "resp/job")]
    assert result.changes[0].new_row == 8


def test_type_change_is_breaking(tmp_path):
    result = _changed(tmp_path, lambda s: set_cell(s["survey"], "age", "type", "text"))
    assert _kinds(result) == [("type_changed", BREAKING, "resp/age")]
    assert (result.changes[0].old, result.changes[0].new) == ("integer", "text")


@pytest.mark.parametrize("old_type, new_type, severity", [
    ("integer", "decimal", REVIEW),  # widening: every old value still fits
    ("decimal", "integer", BREAKING),
    ("select_one yesno", "select_multiple yesno", BREAKING),
    ("select_one yesno", "select one yesno", COSMETIC),  # same type, older spelling
    ("select_one yesno", "select_one yesno or_other", REVIEW),
    ("select_one yesno or_other", "select_one yesno", BREAKING),
    ("note", "text", REVIEW),  # a note held no data
])
def test_type_change_severities(tmp_path, old_type, new_type, severity):
    before, after = clean_sheets(), clean_sheets()
    set_cell(before["survey"], "worked", "type", old_type)
    set_cell(after["survey"], "worked", "type", new_type)
    result = _diff(tmp_path, before, after)
    assert _kinds(result) == [("type_changed", severity, "resp/worked")]


def test_select_list_changed_is_breaking(tmp_path):
    def edit(s):
        set_cell(s["survey"], "worked", "type", "select_one yn")
        s["choices"] += [["yn", "1", "Ya", "Yes"], ["yn", "2", "Tidak", "No"]]

    result = _changed(tmp_path, edit)
    assert ("choice_list_changed", BREAKING, "resp/worked") in _kinds(result)
    assert ("choice_list_added", REVIEW, "choices:yn") in _kinds(result)


def test_select_list_renamed_with_same_codes_is_review(tmp_path):
    def edit(s):
        set_cell(s["survey"], "worked", "type", "select_one yn")
        s["choices"] += [["yn", "1", "Ya", "Yes"], ["yn", "0", "Tidak", "No"]]

    result = _changed(tmp_path, edit)
    assert ("choice_list_changed", REVIEW, "resp/worked") in _kinds(result)


REPEAT_OLD = f"""
| type         | name    | label::{ID}  | label::{EN}  |
| begin group  | hh      | Rumah tangga | Household    |
| integer      | size    | Jumlah       | Size         |
| text         | head    | Kepala       | Head         |
| end group    | hh      | ""           | ""           |
| begin repeat | member  | Anggota      | Member       |
| text         | mname   | Nama         | Name         |
| integer      | mage    | Umur         | Age          |
| end repeat   | member  | ""           | ""           |
| begin group  | other   | Lain         | Other        |
| end group    | other   | ""           | ""           |
"""

REPEAT_NEW = f"""
| type         | name    | label::{ID}  | label::{EN}  |
| begin group  | hh      | Rumah tangga | Household    |
| text         | head    | Kepala       | Head         |
| end group    | hh      | ""           | ""           |
| begin repeat | member  | Anggota      | Member       |
| text         | mname   | Nama         | Name         |
| integer      | size    | Jumlah       | Size         |
| end repeat   | member  | ""           | ""           |
| begin group  | other   | Lain         | Other        |
| integer      | mage    | Umur         | Age          |
| end group    | other   | ""           | ""           |
"""


def test_moves_into_and_out_of_a_repeat_are_breaking(tmp_path):
    result = _diff(tmp_path, {"survey": REPEAT_OLD}, {"survey": REPEAT_NEW})
    assert _kinds(result) == [("question_moved", BREAKING, "member/size"),
                              ("question_moved", BREAKING, "other/mage")]
    into, out = result.changes
    assert into.detail.startswith("moved into repeat member")
    assert (into.old, into.new, into.old_row, into.new_row) == ("hh", "member", 3, 7)
    assert out.detail.startswith("moved out of repeat member")


def test_move_between_groups_is_review_and_reorder_is_cosmetic(tmp_path):
    size = "| integer      | size    | Jumlah       | Size         |\n"
    head = "| text         | head    | Kepala       | Head         |\n"
    result = _diff(tmp_path, {"survey": REPEAT_OLD}, {"survey": REPEAT_OLD.replace(size + head, head + size)})
    assert len(result.changes) == 1
    assert result.changes[0].kind == "question_reordered" and result.changes[0].severity == COSMETIC

    def edit(s):
        row = _survey_row(s, "worked")
        s["survey"].remove(row)
        s["survey"].insert(1, row)  # out of group resp, to the top level

    result = _changed(tmp_path, edit)
    assert _kinds(result) == [("question_moved", REVIEW, "worked")]


def test_group_moved_reports_the_group_not_each_question(tmp_path):
    moved = REPEAT_OLD.replace("| begin group  | other   | Lain         | Other        |\n"
                               "| end group    | other   | \"\"           | \"\"           |\n", "")
    moved = moved.replace("| begin group  | hh      |", "| begin group  | other   | Lain         | Other        |\n"
                          "| begin group  | hh      |")
    moved = moved.replace("| end group    | hh      | \"\"           | \"\"           |\n",
                          "| end group    | hh      | \"\"           | \"\"           |\n"
                          "| end group    | other   | \"\"           | \"\"           |\n")
    result = _diff(tmp_path, {"survey": REPEAT_OLD}, {"survey": moved})
    assert _kinds(result) == [("group_moved", REVIEW, "other/hh"), ("group_reordered", COSMETIC, "other")]


def test_repeat_removed_and_group_turned_repeat_are_breaking(tmp_path):
    without_repeat = "\n".join(line for line in REPEAT_OLD.splitlines()
                               if "member" not in line and "mname" not in line and "mage" not in line)
    result = _diff(tmp_path, {"survey": REPEAT_OLD}, {"survey": without_repeat})
    assert _kinds(result) == [("repeat_removed", BREAKING, "member"), ("question_removed", BREAKING, "member/mname"),
                              ("question_removed", BREAKING, "member/mage")]
    as_repeat = REPEAT_OLD.replace("begin group  | hh", "begin repeat | hh").replace("end group    | hh",
                                                                                      "end repeat   | hh")
    result = _diff(tmp_path, {"survey": REPEAT_OLD}, {"survey": as_repeat})
    assert _kinds(result) == [("type_changed", BREAKING, "hh"), ("question_moved", BREAKING, "hh/size"),
                              ("question_moved", BREAKING, "hh/head")]


def test_forms_without_choices_or_settings_and_bare_labels(tmp_path):
    before = {"survey": "| type | name | label |\n| integer | a | A |\n| text | b | B |"}
    after = {"survey": "| type | name | label |\n| integer | a | a. |\n| text | c | C |",
             "choices": "| list_name | name | label |\n| x | 1 | One |"}
    result = _diff(tmp_path, before, after)
    assert _kinds(result) == [("question_removed", BREAKING, "b"), ("question_added", REVIEW, "c"),
                              ("choice_list_added", REVIEW, "choices:x"), ("label_changed", COSMETIC, "a")]
    assert result.changes[2].detail == "choice list x added (1 code)"
    assert result.changes[0].detail.startswith("question removed (text, at the top level)")


def test_choice_relabelled_in_default_language_is_breaking(tmp_path):
    def edit(s):
        s["choices"][1][2] = "Tidak pernah"  # yesno/1 was "Ya" in the default language (Bahasa Indonesia)

    result = _changed(tmp_path, edit)
    assert _kinds(result) == [("choice_relabelled", BREAKING, "choices:yesno/1")]
    assert (result.changes[0].old, result.changes[0].new) == ("Ya", "Tidak pernah")


def test_choice_relabelled_in_other_language_is_review_and_spelling_is_cosmetic(tmp_path):
    def edit(s):
        s["choices"][1][3] = "Yes, always"  # English is not the default language
        s["choices"][2][2] = " tidak. "  # case, spaces, punctuation only

    result = _changed(tmp_path, edit)
    assert _kinds(result) == [("choice_relabelled", REVIEW, "choices:yesno/1"),
                              ("choice_relabelled", COSMETIC, "choices:yesno/0")]


def test_choice_added_is_review_and_removed_is_breaking(tmp_path):
    def edit(s):
        s["choices"].append(["app", "3", "Instagram", "Instagram"])
        del s["choices"][4]  # app/2 Facebook

    result = _changed(tmp_path, edit)
    assert _kinds(result) == [("choice_removed", BREAKING, "choices:app/2"),
                              ("choice_added", REVIEW, "choices:app/3")]


def test_choice_reordered_is_cosmetic(tmp_path):
    def edit(s):
        s["choices"][1], s["choices"][2] = s["choices"][2], s["choices"][1]

    result = _changed(tmp_path, edit)
    assert [(c.kind, c.severity) for c in result.changes] == [("choice_reordered", COSMETIC)]


def test_relevance_change_is_review_whitespace_only_is_cosmetic(tmp_path):
    result = _changed(tmp_path, lambda s: set_cell(s["survey"], "apps", "relevant", "${worked} = 0"))
    assert _kinds(result) == [("relevant_changed", REVIEW, "resp/apps")]
    assert (result.changes[0].old, result.changes[0].new) == ("${worked} = 1", "${worked} = 0")
    result = _changed(tmp_path, lambda s: set_cell(s["survey"], "apps", "relevant", "${worked}=1"))
    assert _kinds(result) == [("relevant_changed", COSMETIC, "resp/apps")]


@pytest.mark.parametrize("column, value, kind, severity", [
    ("constraint", ". >= 18 and . <= 99", "constraint_changed", REVIEW),
    ("required", "", "required_changed", REVIEW),
    ("required", "TRUE", "required_changed", COSMETIC),
    ("calculation", "", "calculation_changed", REVIEW),
    ("pii", "yes", "property_changed", REVIEW),
    (f"hint::{EN}", "In whole years", "hint_changed", COSMETIC),
    (f"constraint_message::{EN}", "From 18 to 99", "message_changed", COSMETIC),
    (f"label::{EN}", "  how OLD are you  ", "label_changed", COSMETIC),
    (f"label::{EN}", "How old were you at your first job?", "label_changed", REVIEW),
])
def test_column_change_severities(tmp_path, column, value, kind, severity):
    name = "age_group" if column == "calculation" else "age"
    result = _changed(tmp_path, lambda s: set_cell(s["survey"], name, column, value))
    assert _kinds(result) == [(kind, severity, f"resp/{name}")]


def test_language_added_is_one_change_not_one_per_label(tmp_path):
    def edit(s):
        s["survey"][0].append("label::Français (fr)")
        for row in s["survey"][1:]:
            row.append("")
        set_cell(s["survey"], "age", "label::Français (fr)", "Quel âge avez-vous ?")

    result = _changed(tmp_path, edit)
    assert _kinds(result) == [("language_added", REVIEW, "language:Français (fr)")]


def test_settings_changes(tmp_path):
    def edit(s):
        s["settings"][1][0] = "lint_clean_v2"  # form_id
        s["settings"][1][1] = "Lint clean, second round"  # form_title
        s["settings"][1][2] = "2026112802"  # version
        s["settings"][1][3] = EN  # default_language

    result = _changed(tmp_path, edit)
    assert _kinds(result) == [
        ("setting_changed", BREAKING, "settings:form_id"),
        ("setting_changed", REVIEW, "settings:default_language"),
        ("setting_changed", COSMETIC, "settings:form_title"),
        ("setting_changed", COSMETIC, "settings:version"),
    ]


def test_changes_are_ordered_by_severity_then_position(tmp_path):
    def edit(s):
        set_cell(s["survey"], "apps", f"hint::{EN}", "Tick all")  # cosmetic, row 9
        set_cell(s["survey"], "worked", "relevant", "${age} > 15")  # review, row 8
        set_cell(s["survey"], "age", "type", "text")  # breaking, row 7
        set_cell(s["survey"], "age_note", f"label::{ID}", "Kelompok: ${age_group}")  # review, row 11
        s["choices"].append(["app", "3", "Instagram", "Instagram"])  # review, choices row 6
        s["settings"][1][2] = "2026112802"  # cosmetic, settings

    result = _changed(tmp_path, edit)
    assert _kinds(result) == [
        ("type_changed", BREAKING, "resp/age"),
        ("relevant_changed", REVIEW, "resp/worked"),
        ("label_changed", REVIEW, "resp/age_note"),
        ("choice_added", REVIEW, "choices:app/3"),
        ("setting_changed", COSMETIC, "settings:version"),
        ("hint_changed", COSMETIC, "resp/apps"),
    ]
    assert result.counts == {BREAKING: 1, REVIEW: 3, COSMETIC: 2}
    assert result.has_breaking
    assert summary(result) == "6 changes: 1 breaking, 3 review, 2 cosmetic"


def test_json_has_stable_keys_and_round_trips(tmp_path):
    result = _changed(tmp_path, lambda s: set_cell(s["survey"], "age", "type", "text"))
    data = to_json(result)
    assert json.loads(json.dumps(data)) == data
    assert data == [{"kind": "type_changed", "severity": "breaking", "subject": "resp/age",
                     "detail": "type changed, integer became text: old and new values are not comparable",
                     "old": "integer", "new": "text", "old_row": 7, "new_row": 7}]
    assert tuple(data[0]) == JSON_KEYS


def test_text_and_markdown_renderings(tmp_path):
    def edit(s):
        set_cell(s["survey"], "age", "type", "text")
        set_cell(s["survey"], "apps", "relevant", "${worked} = 1 or ${age} > 20")
        set_cell(s["survey"], "age_note", f"label::{EN}", "Group | ${age_group}\nnext line")

    result = _changed(tmp_path, edit)
    text = render_text(result)
    assert "3 changes: 1 breaking, 2 review, 0 cosmetic" in text
    assert "BREAKING (1)\n  resp/age  [type_changed]  type changed" in text
    assert "      - integer\n      + text" in text
    assert "+ Group | ${age_group}\\nnext line" in text
    markdown = render_markdown(result)
    assert "| severity | change | subject | detail | old | new | where |" in markdown
    assert ("| **breaking** | type_changed | `resp/age` | type changed, integer became text: old and new "
            "values are not comparable | `integer` | `text` | survey row 7 |") in markdown
    assert "`Group \\| ${age_group}\\nnext line`" in markdown
    assert "**1** breaking · **2** review · **0** cosmetic" in markdown


def test_diff_of_unreadable_side_is_input_error(tmp_path):
    good = write_xlsform(tmp_path / "good.xlsx", clean_sheets())
    bad = tmp_path / "bad.xlsx"
    bad.write_text("nope")
    with pytest.raises(InputError, match="bad.xlsx"):
        diff_files(good, bad)


# ------------------------------------------------------------------------------------- FORM@VERSION

@pytest.fixture
def forms_dir(tmp_path):
    root = tmp_path / "forms"
    for version in ("2026112801", "2026112902", "2026113001"):
        write_xlsform(root / "lint_clean" / version / "form.xlsx", clean_sheets())
    (root / "lint_clean" / "2026120101").mkdir()  # a folder without form.xlsx is not a build
    write_xlsform(root / "other" / "2026010101" / "form.xlsx", clean_sheets())
    return root


def test_resolve_form_at_version(forms_dir, tmp_path):
    assert available_versions(forms_dir, "lint_clean") == ["2026112801", "2026112902", "2026113001"]
    assert resolve_side("lint_clean@2026112902", forms_dir, tmp_path) == \
        forms_dir / "lint_clean" / "2026112902" / "form.xlsx"
    assert resolve_side("lint_clean@latest", "forms", tmp_path) == forms_dir / "lint_clean" / "2026113001" / "form.xlsx"


def test_resolve_plain_path_relative_to_cwd(forms_dir, tmp_path):
    path = write_xlsform(tmp_path / "src" / "x@y.xlsx", clean_sheets())
    assert resolve_side("src/x@y.xlsx", forms_dir, tmp_path) == path


def test_resolve_unknown_version_lists_available(forms_dir, tmp_path):
    with pytest.raises(InputError) as info:
        resolve_side("lint_clean@2026120101", forms_dir, tmp_path)
    message = str(info.value)
    assert "lint_clean@2026120101" in message
    assert "available versions: 2026112801, 2026112902, 2026113001" in message


def test_resolve_unknown_form_lists_built_forms(forms_dir, tmp_path):
    with pytest.raises(InputError, match=r"'nosuch' has no build .*forms built there: lint_clean, other"):
        resolve_side("nosuch@1", forms_dir, tmp_path)
    with pytest.raises(InputError, match="nothing has been built there yet"):
        resolve_side("nosuch@1", tmp_path / "empty", tmp_path)


def test_resolve_missing_file(forms_dir, tmp_path):
    with pytest.raises(InputError, match=r"missing\.xlsx: no such file") as info:
        resolve_side("missing.xlsx", forms_dir, tmp_path)
    assert "FORM@VERSION" in str(info.value)


def test_diff_between_two_builds(forms_dir, tmp_path):
    newer = clean_sheets()
    set_cell(newer["survey"], "worked", "relevant", "${age} >= 15")
    write_xlsform(forms_dir / "lint_clean" / "2026113001" / "form.xlsx", newer)
    old = resolve_side("lint_clean@2026112801", forms_dir, tmp_path)
    new = resolve_side("lint_clean@latest", forms_dir, tmp_path)
    result = diff_files(old, new, old_label="lint_clean@2026112801", new_label="lint_clean@latest")
    assert _kinds(result) == [("relevant_changed", REVIEW, "resp/worked")]
    assert render_text(result).startswith("old: lint_clean@2026112801 (version 2026112801)\n"
                                          "new: lint_clean@latest (version 2026112801)\n")
