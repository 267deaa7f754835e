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


def test_demo_on_the_project_instruments_seeds_serves_preloads_and_pulls(run_cli, tmp_path):
    """From a folder with no instruments of its own, the demo uses the project's: the real chain."""
    import csv

    from desbumi.store import Store

    result = run_cli("demo", "--out", "out", "--no-validate", "--respondents", "40", "--seed", "7", cwd=tmp_path)
    assert result.code == 0, result
    out = tmp_path / "out"
    assert {p.name for p in (out / "sandbox" / "year1").iterdir()} == {"year1.csv", "year1.xlsx", "year1.dta",
                                                                      "year1.sav"}
    y2_build = next((out / "forms" / "desbumi_ekonomi_y2").iterdir())
    with (y2_build / "media" / "responden_y1.csv").open(encoding="utf-8") as fh:
        preload = list(csv.DictReader(fh))
    assert len(preload) == 40
    assert "name" in preload[0] and "nik" not in preload[0]
    with Store.open(out / "store", create=False) as store:
        status = {row["form_id"]: row for row in store.status()}
    for form_id in ("desbumi_ekonomi_y2", "mel_registrasi", "mel_tes_gedsi", "mel_tes_digital", "mel_kegiatan",
                    "mel_kapasitas_desa", "mel_msc"):
        assert status[form_id]["submissions"] > 0, form_id
        assert status[form_id]["attachments_pending"] == 0
    assert status["desbumi_ekonomi_y2"]["submissions"] >= 30
    assert "Pulled from the sandbox at http://127.0.0.1:" in result.out
