from desbumi.demo import MARKER
from xlsforms import clean_sheets, set_cell, write_xlsform


def test_demo_builds_every_instrument_into_a_fresh_folder(run_cli, tmp_path):
    write_xlsform(tmp_path / "xlsform_src" / "clean.xlsx", clean_sheets())
    result = run_cli("demo", "--out", "out", cwd=tmp_path)
    assert result.code == 0, result
    build = tmp_path / "out" / "forms" / "lint_clean" / "2026112801"
    assert {p.name for p in build.iterdir()} >= {"form.xlsx", "form.xml", "manifest.json"}
    assert (tmp_path / "out" / "forms" / "index.json").is_file()
    assert "built    lint_clean 2026112801" in result.out
    # a second run starts fresh again (the folder is the demo's own)
    again = run_cli("demo", "--out", "out", "--no-validate", cwd=tmp_path)
    assert again.code == 0 and "built    lint_clean" in again.out


def test_demo_never_empties_a_folder_it_did_not_make(run_cli, tmp_path):
    write_xlsform(tmp_path / "xlsform_src" / "clean.xlsx", clean_sheets())
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.docx").write_text("years of work")
    result = run_cli("demo", "--out", "precious", cwd=tmp_path)
    assert result.code == 2 and "nothing was deleted" in result.err
    assert (tmp_path / "precious" / "thesis.docx").exists()
    assert not (tmp_path / "precious" / MARKER).exists()


def test_demo_reports_a_broken_instrument_and_exits_1(run_cli, tmp_path):
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age", "name", "2age")
    write_xlsform(tmp_path / "xlsform_src" / "broken.xlsx", sheets)
    result = run_cli("demo", "--out", "out", "--no-validate", cwd=tmp_path)
    assert result.code == 1
    assert "name-invalid" in result.out and "refused" in result.out
