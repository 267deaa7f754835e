"""Lint families a (names), b (labels) and c (choices): a corpus of broken forms, one fault each.

Every case starts from the clean fixture in xlsforms.py, breaks one thing, and asserts the exact
set of (rule, sheet, row, column) findings of these three families, so a rule that fires too
often fails as surely as one that does not fire.

Clean fixture rows (header = 1) — survey: 2 start, 3 end, 4 today, 5 deviceid, 6 begin group resp,
7 age, 8 worked, 9 apps, 10 age_group, 11 age_note, 12 end group; choices: 2 yesno 1, 3 yesno 0,
4 app 1, 5 app 2; settings: 2.
"""

from __future__ import annotations

import pytest

from desbumi.forms.lint import CATALOGUE, LintContext, lint
from desbumi.forms.lint import choices as choices_rules
from desbumi.forms.lint import labels as label_rules
from desbumi.forms.lint import names as name_rules
from desbumi.forms.workbook import read_xlsform
from desbumi.tables import names as export
from xlsforms import EN, ID, clean_sheets, set_cell, write_xlsform

FAMILY_MODULES = (name_rules, label_rules, choices_rules)
OURS = {value for module in FAMILY_MODULES for key, value in vars(module).items()
        if key.isupper() and isinstance(value, str) and value in CATALOGUE}
LABEL_ID, LABEL_EN = f"label::{ID}", f"label::{EN}"


# --- helpers -------------------------------------------------------------------------------

def run_lint(tmp_path, sheets):
    path = write_xlsform(tmp_path / "form.xlsx", sheets)
    return lint(LintContext(form=read_xlsform(path)))


def ours(findings):
    return [f for f in findings if f.rule in OURS]


def where(findings):
    return {(f.rule, f.sheet, f.row, f.column) for f in ours(findings)}


def row_of(rows, **values):
    """A new row for the sheet whose header is rows[0], from column=value pairs."""
    header = rows[0]
    unknown = set(values) - set(header)
    assert not unknown, unknown
    return [values.get(column, "") for column in header]


def insert(rows, before_name, **values):
    """Insert a row before the first row whose 'name' cell is `before_name` (None: at the end)."""
    new = row_of(rows, **values)
    if before_name is None:
        rows.append(new)
        return rows
    key = rows[0].index("name")
    index = next(i for i, row in enumerate(rows) if i and row[key] == before_name)
    rows.insert(index, new)
    return rows


def add_column(rows, header, values=None):
    """Append a column; `values` maps a row index (1 = first data row) to its cell."""
    rows[0].append(header)
    for i, row in enumerate(rows[1:], start=1):
        row.append((values or {}).get(i, ""))
    return rows


def drop_column(rows, header):
    index = rows[0].index(header)
    for row in rows:
        del row[index]
    return rows


def set_choice(rows, list_name, name, column, value):
    header = rows[0]
    for row in rows[1:]:
        if row[header.index("list_name")] == list_name and row[header.index("name")] == name:
            row[header.index(column)] = value
            return rows
    raise KeyError((list_name, name))


def repeat_block(survey, repeat, *questions):
    """Append `begin repeat` + (type, name) questions + `end repeat` at the end of the survey."""
    insert(survey, None, type="begin repeat", name=repeat, **{LABEL_ID: "Anggota", LABEL_EN: "Member"})
    for type_, name in questions:
        insert(survey, None, type=type_, name=name, **{LABEL_ID: "Tanya", LABEL_EN: "Ask"})
    insert(survey, None, type="end repeat", name=repeat)
    return survey


# --- the corpus: (case id, how to break the clean form, expected findings) -----------------------

def _sheets(change):
    sheets = clean_sheets()
    change(sheets)
    return sheets


S, C, T = "survey", "choices", "settings"

CORPUS = [
    # a. names
    ("name-invalid-hyphen", lambda s: set_cell(s[S], "worked", "name", "worked-last"),
     {("name-invalid", S, 8, "name")}),
    ("name-invalid-leading-digit", lambda s: set_cell(s[S], "age_note", "name", "1note"),
     {("name-invalid", S, 11, "name")}),
    ("name-invalid-inner-space", lambda s: set_cell(s[S], "age_note", "name", "age note"),
     {("name-invalid", S, 11, "name")}),
    ("name-missing", lambda s: insert(s[S], "age_note", type="text", **{LABEL_ID: "Nama desa", LABEL_EN: "Village"}),
     {("name-missing", S, 11, "name")}),
    ("name-duplicate-case", lambda s: set_cell(s[S], "age_note", "name", "AGE"),
     {("name-duplicate", S, 11, "name")}),
    ("name-duplicate-group", lambda s: insert(s[S], None, type="text", name="Resp",
                                              **{LABEL_ID: "Catatan", LABEL_EN: "Remarks"}),
     {("name-duplicate", S, 13, "name")}),
    ("name-too-long-select-multiple", lambda s: set_cell(s[S], "apps", "name", "aplikasi_yang_dipakai_respondenx"),
     {("name-too-long", S, 9, "name")}),
    ("name-too-long-repeat", lambda s: repeat_block(s[S], "member", ("text", "nama_lengkap_anggota_rumah_tangg")),
     {("name-too-long", S, 14, "name")}),
    ("name-too-long-nested-repeats", lambda s: repeat_block(s[S], "member", ("begin repeat", "trip"),
                                                            ("text", "negara_tujuan_bekerja_dahulu"),
                                                            ("end repeat", "trip")),
     {("name-too-long", S, 15, "name")}),
    ("name-reserved-export-column", lambda s: set_cell(s[S], "today", "name", "Submitted_At"),
     {("name-reserved", S, 4, "name")}),
    ("name-reserved-stata-word", lambda s: set_cell(s[S], "age_group", "name", "long"),
     {("name-reserved", S, 10, "name")}),
    ("name-reserved-stata-str", lambda s: set_cell(s[S], "deviceid", "name", "str80"),
     {("name-reserved", S, 5, "name")}),
    ("name-collision-dummy", lambda s: insert(s[S], "age_note", type="integer", name="apps_2",
                                              **{LABEL_ID: "Berapa aplikasi?", LABEL_EN: "How many apps?"}),
     {("name-collision", S, 11, "name")}),
    ("name-collision-wide", lambda s: insert(repeat_block(s[S], "member", ("integer", "child_age")), None,
                                             type="integer", name="child_age_1",
                                             **{LABEL_ID: "Umur anak", LABEL_EN: "Child age"}),
     {("name-collision", S, 16, "name")}),
    # b. labels
    ("label-missing-language", lambda s: set_cell(s[S], "age", LABEL_EN, ""),
     {("label-missing-language", S, 7, LABEL_EN)}),
    ("label-missing-all-languages",
     lambda s: set_cell(set_cell(s[S], "age_note", LABEL_EN, ""), "age_note", LABEL_ID, ""),
     {("label-missing", S, 11, LABEL_ID)}),
    ("label-missing-group-partial", lambda s: set_cell(s[S], "resp", LABEL_ID, ""),
     {("label-missing-language", S, 6, LABEL_ID)}),
    ("hint-missing-language", lambda s: set_cell(s[S], "age", f"hint::{ID}", ""),
     {("hint-missing-language", S, 7, f"hint::{ID}")}),
    ("constraint-message-missing-language", lambda s: set_cell(s[S], "age", f"constraint_message::{EN}", ""),
     {("constraint-message-missing-language", S, 7, f"constraint_message::{EN}")}),
    ("required-message-missing-language", lambda s: set_cell(s[S], "worked", f"required_message::{ID}", ""),
     {("required-message-missing-language", S, 8, f"required_message::{ID}")}),
    ("hint-column-missing-for-language", lambda s: drop_column(s[S], f"hint::{EN}"),
     {("hint-missing-language", S, 1, f"hint::{EN}")}),
    ("choice-label-missing-language", lambda s: set_choice(s[C], "app", "2", LABEL_ID, ""),
     {("label-missing-language", C, 5, LABEL_ID)}),
    ("label-bare-column", lambda s: add_column(s[S], "label", {7: "How old?"}),
     {("label-bare-column", S, 1, "label")}),
    ("hint-bare-column-choices", lambda s: add_column(s[C], "hint"),
     {("label-bare-column", C, 1, "hint")}),
    ("whitespace-trailing-name", lambda s: set_cell(s[S], "age_note", "name", "age_note "),
     {("whitespace", S, 11, "name")}),
    ("whitespace-nbsp-type", lambda s: set_cell(s[S], "worked", "type", "select_one\u00a0yesno"),
     {("whitespace", S, 8, "type")}),
    ("whitespace-leading-label", lambda s: set_cell(s[S], "age", LABEL_EN, " How old are you?"),
     {("whitespace", S, 7, LABEL_EN)}),
    ("whitespace-list-name", lambda s: set_choice(s[C], "app", "2", "list_name", "app\u202f"),
     {("whitespace", C, 5, "list_name")}),
    ("whitespace-header", lambda s: s[S][0].__setitem__(1, "name\u00a0"),
     {("whitespace", S, 1, "name")}),
    # c. choices
    ("choices-list-undefined", lambda s: set_cell(s[S], "worked", "type", "select_one yes_no"),
     {("choices-list-undefined", S, 8, "type"), ("choices-list-unused", C, 2, "list_name")}),
    ("choices-list-unused", lambda s: s[C].extend([["colour", "1", "Merah", "Red"], ["colour", "2", "Biru", "Blue"]]),
     {("choices-list-unused", C, 6, "list_name")}),
    ("choices-duplicate-name", lambda s: set_choice(s[C], "app", "2", "name", "1"),
     {("choices-duplicate-name", C, 5, "name")}),
    ("choices-duplicate-name-leading-zero", lambda s: set_choice(s[C], "app", "2", "name", "01"),
     {("choices-duplicate-name", C, 5, "name")}),
    ("choices-duplicate-label", lambda s: set_choice(s[C], "app", "2", LABEL_EN, "Whatsapp"),
     {("choices-duplicate-label", C, 5, LABEL_EN)}),
    ("choices-label-missing",
     lambda s: set_choice(set_choice(s[C], "app", "2", LABEL_EN, ""), "app", "2", LABEL_ID, ""),
     {("choices-label-missing", C, 5, LABEL_ID)}),
    ("choices-non-integer", lambda s: set_choice(s[C], "yesno", "0", "name", "no"),
     {("choices-non-integer", C, 3, "name")}),
    ("choices-code-out-of-range", lambda s: set_choice(s[C], "app", "2", "name", "3201010001"),
     {("choices-code-out-of-range", C, 5, "name")}),
    ("choices-text-coded-unknown", lambda s: add_column(s[T], "text_coded_lists", {1: "yesno, colours"}),
     {("choices-text-coded-unknown", T, 2, "text_coded_lists")}),
    ("choices-list-name-missing", lambda s: s[C].append(["", "3", "Instagram", "Instagram"]),
     {("choices-list-name-missing", C, 6, "list_name")}),
    ("choices-name-missing", lambda s: s[C].append(["app", "", "Instagram", "Instagram"]),
     {("choices-name-missing", C, 6, "name")}),
]


@pytest.mark.parametrize(("case", "change", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_broken_form_gives_exactly_its_findings(tmp_path, case, change, expected):
    findings = run_lint(tmp_path, _sheets(change))
    assert where(findings) == expected
    for finding in ours(findings):
        assert finding.severity == "error"
        assert finding.message and finding.file.endswith("form.xlsx")


def test_corpus_is_large_enough_and_covers_every_rule():
    assert len(CORPUS) >= 16
    fired = {rule for _, _, expected in CORPUS for rule, *_ in expected}
    assert fired == OURS


def test_clean_form_has_no_findings_at_all(tmp_path):
    assert lint(LintContext(form=read_xlsform(write_xlsform(tmp_path / "clean.xlsx", clean_sheets())))) == []


def test_rule_ids_are_registered_as_errors():
    assert OURS >= {"name-invalid", "name-duplicate", "name-too-long", "name-reserved", "name-collision",
                    "label-missing", "label-bare-column", "whitespace", "choices-list-undefined",
                    "choices-list-unused", "choices-duplicate-name", "choices-duplicate-label",
                    "choices-label-missing", "choices-non-integer"}
    assert {CATALOGUE[r].severity for r in OURS} == {"error"}


# --- messages: what is wrong, naming the value, and how to fix it --------------------------------

def only(tmp_path, change, rule_id):
    found = [f for f in run_lint(tmp_path, _sheets(change)) if f.rule == rule_id]
    assert len(found) == 1, found
    return found[0]


def test_duplicate_message_names_both_rows(tmp_path):
    f = only(tmp_path, lambda s: set_cell(s[S], "age_note", "name", "AGE"), "name-duplicate")
    assert "'AGE'" in f.message and "row 11" in f.message and "row 7" in f.message and "Rename" in f.message
    assert f.cell == "B11"


def test_too_long_message_gives_exported_name_length_and_cut(tmp_path):
    f = only(tmp_path, lambda s: set_cell(s[S], "apps", "name", "aplikasi_yang_dipakai_respondenx"), "name-too-long")
    assert "'aplikasi_yang_dipakai_respondenx_1'" in f.message
    assert "(34 characters)" in f.message and "by at least 2 characters" in f.message


def test_too_long_uses_longest_code(tmp_path):
    def change(s):
        set_cell(s[S], "apps", "name", "a" * 28)
        set_choice(s[C], "app", "2", "name", "-998")  # dummy a…a__998: 28 + 5 = 33
    f = only(tmp_path, change, "name-too-long")
    assert f"'{'a' * 28}__998'" in f.message and "(33 characters)" in f.message


def test_name_of_exactly_32_after_suffix_passes(tmp_path):
    sheets = _sheets(lambda s: repeat_block(s[S], "member", ("text", "n" * 29)))
    assert where(run_lint(tmp_path, sheets)) == set()


def test_collision_message_names_generating_field(tmp_path):
    f = only(tmp_path, lambda s: insert(s[S], "age_note", type="integer", name="apps_2",
                                        **{LABEL_ID: "Berapa?", LABEL_EN: "How many?"}), "name-collision")
    assert "'apps_2'" in f.message and "choice 2" in f.message and "'apps' (row 9)" in f.message


def test_collision_with_wide_dummy_of_select_multiple_in_repeat(tmp_path):
    def change(s):
        repeat_block(s[S], "member", ("select_multiple app", "member_apps"))  # rows 13-15
        insert(s[S], None, type="integer", name="member_apps_2_3", **{LABEL_ID: "Berapa?", LABEL_EN: "How many?"})
    f = only(tmp_path, change, "name-collision")
    assert (f.row, f.column) == (16, "name")
    assert "choice 2, repeat instance 3 (reshaped wide), of select_multiple 'member_apps' (row 14)" in f.message


def test_reserved_message_says_why(tmp_path):
    f = only(tmp_path, lambda s: set_cell(s[S], "today", "name", "submission_id"), "name-reserved")
    assert "column the export adds itself" in f.message and "Rename" in f.message


def test_missing_language_message_names_language_and_text(tmp_path):
    f = only(tmp_path, lambda s: set_cell(s[S], "age", LABEL_EN, ""), "label-missing-language")
    assert f"'{EN}'" in f.message and "'Berapa umur Anda?'" in f.message and "'age'" in f.message


def test_whitespace_message_names_the_character(tmp_path):
    f = only(tmp_path, lambda s: set_cell(s[S], "worked", "type", "select_one\u00a0yesno"), "whitespace")
    assert "U+00A0" in f.message and "retype" in f.message


def test_non_integer_message_offers_both_fixes(tmp_path):
    f = only(tmp_path, lambda s: set_choice(s[C], "yesno", "0", "name", "no"), "choices-non-integer")
    assert "'no'" in f.message and "'yesno'" in f.message and "text_coded_lists" in f.message


# --- things that must NOT be findings -----------------------------------------------------------

def test_text_coded_list_accepts_word_codes(tmp_path):
    def change(s):
        set_choice(s[C], "yesno", "0", "name", "no")
        add_column(s[T], "text_coded_lists", {1: "app yesno"})
    assert where(run_lint(tmp_path, _sheets(change))) == set()


def test_negative_missing_codes_are_integers(tmp_path):
    sheets = _sheets(lambda s: s[C].append(["yesno", "-98", "Tidak tahu", "Don't know"]))
    assert where(run_lint(tmp_path, sheets)) == set()


def test_group_without_any_label_is_fine(tmp_path):
    sheets = _sheets(lambda s: set_cell(set_cell(s[S], "resp", LABEL_EN, ""), "resp", LABEL_ID, ""))
    assert where(run_lint(tmp_path, sheets)) == set()


def test_choice_filter_lists_may_repeat_labels_across_filter_values(tmp_path):
    def change(s):
        add_column(s[S], "choice_filter", {})
        insert(s[S], "age_note", type="select_one village", name="village", choice_filter="district = 1",
               **{LABEL_ID: "Desa", LABEL_EN: "Village"})
        add_column(s[C], "district", {})
        s[C].extend([["village", "1", "Sukamaju", "Sukamaju", "1"], ["village", "2", "Sukamaju", "Sukamaju", "2"]])
    assert where(run_lint(tmp_path, _sheets(change))) == set()


def test_choice_filter_does_not_change_the_list_used(tmp_path):
    def change(s):
        add_column(s[S], "choice_filter", {7: "name != 0"})  # data row 7 = Excel row 8, 'worked'
    assert where(run_lint(tmp_path, _sheets(change))) == set()


def test_select_without_choices_sheet(tmp_path):
    sheets = clean_sheets()
    del sheets[C]
    found = where(run_lint(tmp_path, sheets))
    assert found == {("choices-list-undefined", S, 8, "type"), ("choices-list-undefined", S, 9, "type")}


# --- desbumi.tables.names -------------------------------------------------------------------

def test_dummy_names():
    assert export.dummy_names("apps", ["1", "2", "-98"]) == ["apps_1", "apps_2", "apps__98"]
    assert export.dummy_name("occ", "farm worker") == "occ_farm_worker"


def test_wide_names():
    assert export.wide_suffix([]) == ""
    assert export.wide_suffix([2, 10]) == "_2_10"
    assert export.wide_name("age", [3]) == "age_3"


def test_export_names_combine_dummies_and_wide_suffix():
    assert export.export_names("age") == ["age"]
    assert export.export_names("apps", ["1", "2"], [4]) == ["apps_1_4", "apps_2_4"]


def test_longest_export_name_costs_three_characters_per_repeat_level():
    assert export.longest_export_name("age", repeat_depth=2) == "age_99_99"
    assert export.longest_export_name("apps", ["1", "10", "-98"], 1) == "apps__98_99"


@pytest.mark.parametrize("name", ["submission_id", "Instance_ID", "in", "long", "strL", "str1", "str2045",
                                  "STR80", "with", "to", "by"])
def test_reserved(name):
    assert export.reserved_reason(name)


@pytest.mark.parametrize("name", ["age", "str2046", "str0", "strength", "in_school", "total"])
def test_not_reserved(name):
    assert export.reserved_reason(name) == ""


def test_constants_are_lower_case():
    assert all(name == name.lower() for name in export.EXPORT_COLUMNS)
    assert {"submission_id", "instance_id", "form_version", "submitted_at", "submitted_by", "validation_status",
            "parent_index", "row_index", "repeat_index", "is_deleted"} <= export.EXPORT_COLUMNS
    assert {"_N", "_n", "strL", "using"} <= export.STATA_RESERVED
