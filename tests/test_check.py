from desbumi.forms.check import check_form
from xlsforms import clean_sheets, set_cell, write_xlsform


def test_lint_explains_a_cell_once_even_when_pyxform_also_fails(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "worked", "relevant", "${agee} > 3")
    result = check_form(write_xlsform(tmp_path / "f.xlsx", sheets), forms_dir=None, validate=False)
    at_cell = [f.rule for f in result.findings if (f.sheet, f.row, f.column) == ("survey", 8, "relevant")]
    assert at_cell == ["reference-unknown"]
    assert not result.ok


def test_pyxform_errors_lint_does_not_know_are_reported(tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age", "type", "integr")
    result = check_form(write_xlsform(tmp_path / "f.xlsx", sheets), forms_dir=None, validate=False)
    pyxform = [f for f in result.findings if f.rule == "pyxform-error"]
    assert pyxform and pyxform[0].row == 7 and "integr" in pyxform[0].message
    assert result.xform is None and not result.ok
