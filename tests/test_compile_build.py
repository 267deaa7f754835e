"""Compile (pyxform + ODK Validate), `forms build` and `forms bump`.

Only the tests about ODK Validate run Java; everything else uses validate=False to stay fast.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

import desbumi.forms.build as build_module
import desbumi.forms.compile as compile_module
from desbumi.forms.build import (
    BUILT,
    REFUSED,
    SKIPPED,
    UPDATED,
    build_form,
    build_forms,
    bump_version,
    next_version_for,
    version_to_use,
)
from desbumi.forms.check import CheckResult
from desbumi.forms.compile import (
    JAVA_MISSING,
    ValidateRun,
    clean_javarosa,
    compile_xlsform,
)
from desbumi.forms.findings import Finding
from desbumi.forms.versions import load_index
from desbumi.forms.workbook import read_xlsform
from xlsforms import clean_sheets, set_cell, write_xlsform

ENGINE_RULES = {"pyxform-error", "pyxform-warning", "odk-validate", "odk-validate-warning"}
TODAY = dt.date(2026, 11, 28)


def engine(findings):
    return [f for f in findings if f.rule in ENGINE_RULES]


def form_file(tmp_path: Path, mutate=None, name="clean.xlsx") -> Path:
    sheets = clean_sheets()
    if mutate:
        mutate(sheets)
    return write_xlsform(tmp_path / "xlsform_src" / name, sheets)


# --------------------------------------------------------------------------- compile: pyxform

def test_clean_form_compiles_without_findings(tmp_path):
    result = compile_xlsform(form_file(tmp_path), validate=False)
    assert result.findings == []
    assert result.xform and "<h:html" in result.xform and "lint_clean" in result.xform
    assert result.validate_skipped == ""


def test_pyxform_error_names_sheet_row_and_column(tmp_path):
    source = form_file(tmp_path, lambda s: set_cell(s["survey"], "worked", "type", "select_one nolist"))
    result = compile_xlsform(source, validate=False)
    assert result.xform is None
    [finding] = result.findings
    assert (finding.rule, finding.severity, finding.sheet, finding.row, finding.column, finding.cell) == \
        ("pyxform-error", "error", "survey", 8, "type", "A8")
    assert finding.message == "List name not in choices sheet: nolist"
    assert finding.file == str(source)


def test_pyxform_error_on_the_choices_sheet(tmp_path):
    source = form_file(tmp_path, lambda s: s["choices"].append(["yesno", "1", "Ya lagi", "Yes again"]))
    [finding] = compile_xlsform(source, validate=False).findings
    assert (finding.rule, finding.sheet, finding.row, finding.column) == ("pyxform-error", "choices", 6, "name")
    assert not finding.message.startswith("[row")


def test_pyxform_error_without_row_is_located_by_its_type(tmp_path):
    source = form_file(tmp_path, lambda s: set_cell(s["survey"], "age", "type", "integr"))
    [finding] = compile_xlsform(source, validate=False).findings
    assert (finding.rule, finding.sheet, finding.row, finding.column) == ("pyxform-error", "survey", 7, "type")
    assert "integr" in finding.message


def test_pyxform_warning_names_the_row(tmp_path):
    def unlabelled_choice(sheets):
        sheets["choices"][1][2:4] = ["", ""]
    [finding] = compile_xlsform(form_file(tmp_path, unlabelled_choice), validate=False).findings
    assert (finding.rule, finding.severity, finding.sheet, finding.row, finding.column) == \
        ("pyxform-warning", "warning", "choices", 2, "label")


def test_any_other_pyxform_exception_is_a_finding_not_a_traceback(tmp_path, monkeypatch):
    import pyxform.xls2xform

    def explode(*args, **kwargs):
        raise KeyError("label")
    monkeypatch.setattr(pyxform.xls2xform, "convert", explode)
    [finding] = compile_xlsform(form_file(tmp_path), validate=True).findings
    assert (finding.rule, finding.severity, finding.row) == ("pyxform-error", "error", None)
    assert "KeyError" in finding.message and "'label'" in finding.message


# --------------------------------------------------------------------------- compile: ODK Validate

def test_clean_form_passes_odk_validate(tmp_path):
    result = compile_xlsform(form_file(tmp_path), validate=True)
    assert result.validate_skipped == ""
    assert result.findings == []


def test_odk_validate_catches_a_broken_constraint_pyxform_lets_through(tmp_path):
    source = form_file(tmp_path, lambda s: set_cell(s["survey"], "age", "constraint", ". > "))
    assert compile_xlsform(source, validate=False).findings == []  # pyxform is happy
    [finding] = compile_xlsform(source, validate=True).findings
    assert (finding.rule, finding.severity, finding.sheet, finding.row, finding.column, finding.cell) == \
        ("odk-validate", "error", "survey", 7, "constraint", "G7")
    assert "invalid constraint expression [. >]" in finding.message
    assert "${age}" in finding.message
    for noise in ("org.javarosa", "\tat ", "Exception", "@", "/data/"):
        assert noise not in finding.message


def test_odk_validate_catches_an_unknown_function_in_relevant(tmp_path):
    source = form_file(tmp_path, lambda s: set_cell(s["survey"], "apps", "relevant", "foo(${worked})"))
    [finding] = compile_xlsform(source, validate=True).findings
    assert (finding.rule, finding.row, finding.column) == ("odk-validate", 9, "relevant")
    assert "cannot handle function 'foo'" in finding.message
    assert finding.message.count("Condition expression") == 1  # 'Caused by' repeats are dropped


def test_java_missing_skips_validate_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_module, "find_java", lambda: None)
    ran = []
    monkeypatch.setattr(compile_module, "run_odk_validate", lambda *a, **k: ran.append(a))
    result = compile_xlsform(form_file(tmp_path), validate=True)
    assert result.findings == [] and result.xform and not ran
    assert result.validate_skipped == JAVA_MISSING
    for needle in ("ODK Validate was skipped because Java was not found",
                   "apt-get install default-jre-headless", "Temurin from adoptium.net"):
        assert needle in result.validate_skipped


def test_validate_not_asked_runs_no_java(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_module, "run_odk_validate", lambda *a, **k: pytest.fail("java was started"))
    assert compile_xlsform(form_file(tmp_path), validate=False).validate_skipped == ""


def test_validate_warnings_keep_the_form_and_drop_jvm_noise(tmp_path, monkeypatch):
    stderr = ("Picked up JAVA_TOOL_OPTIONS: -Dfile.encoding=UTF-8\n"
              "XForm Parse Warning: Warning: 1 Unrecognized attributes found in Element [bind] and will be "
              "ignored: [odk-length] Location:\n"
              "    Problem found at nodeset: /html/head/model/bind\n"
              "    With element <bind nodeset=\"/data/resp/age\" odk-length=\"3\"/>\n")
    monkeypatch.setattr(compile_module, "find_java", lambda: "java")
    monkeypatch.setattr(compile_module, "run_odk_validate", lambda *a, **k: ValidateRun(0, "", stderr))
    [finding] = compile_xlsform(form_file(tmp_path), validate=True).findings
    assert (finding.rule, finding.severity, finding.sheet, finding.row) == ("odk-validate-warning", "warning", "survey", 7)
    assert "Unrecognized attributes" in finding.message and "Picked up" not in finding.message


def test_only_noise_on_stderr_gives_no_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_module, "find_java", lambda: "java")
    monkeypatch.setattr(compile_module, "run_odk_validate",
                        lambda *a, **k: ValidateRun(0, ">> Xform is valid!", "Picked up _JAVA_OPTIONS: -Xmx1g\n"))
    assert compile_xlsform(form_file(tmp_path), validate=True).findings == []


def test_a_java_too_old_for_the_jar_is_a_skip_not_a_form_error(tmp_path, monkeypatch):
    stderr = ("Error: LinkageError occurred while loading main class org.opendatakit.validate.FormValidator\n"
              "\tjava.lang.UnsupportedClassVersionError: org/opendatakit/validate/FormValidator has been "
              "compiled by a more recent version of the Java Runtime\n")
    monkeypatch.setattr(compile_module, "find_java", lambda: "java")
    monkeypatch.setattr(compile_module, "run_odk_validate", lambda *a, **k: ValidateRun(1, "", stderr))
    result = compile_xlsform(form_file(tmp_path), validate=True)
    assert result.findings == []
    assert result.validate_skipped.startswith("ODK Validate was skipped because Java could not run it")


def test_clean_javarosa_text():
    raw = ("\n>> XForm is invalid.\n"
           "org.javarosa.xform.parse.XFormParseException: bind for /data/g/age contains invalid constraint "
           "expression [. >] Bad node: org.javarosa.xpath.parser.ast.ASTNodeAbstractExpr@69ea3742\n"
           "\tat org.javarosa.xform.parse.XFormParser.parse(XFormParser.java:418)\n"
           "\t... 10 more\n\nThe following files failed validation:\nform.xml\n\nResult: Invalid\n")
    assert clean_javarosa(raw) == "bind for ${age} contains invalid constraint expression [. >]"


# --------------------------------------------------------------------------- build

@pytest.fixture
def project(tmp_path):
    source = form_file(tmp_path)
    return source, tmp_path / "forms"


def all_files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(folder.rglob("*"))}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_writes_the_version_folder_manifest_and_index(project):
    source, forms_dir = project
    media = source.with_name("clean-media")
    media.mkdir()
    (media / "villages.csv").write_text("name,label\n1,Desa A\n", encoding="utf-8")
    outcome = build_form(source, forms_dir, validate=False)
    assert outcome.status == BUILT, outcome.reasons
    folder = forms_dir / "lint_clean" / "2026112801"
    assert outcome.path == folder and (outcome.form_id, outcome.version) == ("lint_clean", "2026112801")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == \
        ["form.xlsx", "form.xml", "manifest.json", "media/villages.csv"]
    assert (folder / "form.xlsx").read_bytes() == source.read_bytes()
    assert "<h:html" in (folder / "form.xml").read_text(encoding="utf-8")

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["form_id"] == "lint_clean" and manifest["version"] == "2026112801"
    assert manifest["title"] == "Lint clean"
    assert manifest["languages"] == ["Bahasa Indonesia (id)", "English (en)"]
    assert manifest["default_language"] == "Bahasa Indonesia (id)"
    assert manifest["source"] == {"path": "xlsform_src/clean.xlsx", "sha256": sha(source)}
    assert manifest["pyxform_version"].startswith("4.") and manifest["desbumi_version"]
    assert set(manifest["files"]) == {"form.xlsx", "form.xml", "media/villages.csv"}
    for name, entry in manifest["files"].items():
        assert entry == {"sha256": sha(folder / name), "size": (folder / name).stat().st_size}

    assert load_index(forms_dir) == [{"form_id": "lint_clean", "version": "2026112801", "title": "Lint clean",
                                      "source": "xlsform_src/clean.xlsx", "source_sha256": sha(source),
                                      "path": "lint_clean/2026112801"}]
    assert not [p for p in (forms_dir / "lint_clean").iterdir() if p.name.startswith(".")]


def test_second_build_writes_nothing_and_compiles_nothing(project, monkeypatch):
    source, forms_dir = project
    assert build_form(source, forms_dir, validate=False).status == BUILT
    before = all_files(forms_dir)
    for name in ("check_form", "read_xlsform"):
        monkeypatch.setattr(build_module, name, lambda *a, **k: pytest.fail("the skip compiled or read the form"))
    [outcome] = build_forms([source], forms_dir, validate=True)
    assert outcome.status == SKIPPED and outcome.version == "2026112801"
    assert "unchanged" in outcome.reasons[0]
    assert all_files(forms_dir) == before


def test_changed_media_beside_an_unchanged_source_updates_the_build_and_keeps_preloaded_files(project):
    """New village lists must reach the build (and a deploy) without a new version; preload output stays."""
    source, forms_dir = project
    media = source.with_name(f"{source.stem}-media")
    media.mkdir()
    (media / "villages.csv").write_text("name,label\n1,Desa A\n", encoding="utf-8")
    assert build_form(source, forms_dir, validate=False).status == BUILT
    folder = forms_dir / "lint_clean" / "2026112801"
    (folder / "media" / "responden_y1.csv").write_text("name,label\n1,A\n", encoding="utf-8")  # by preload
    (media / "villages.csv").write_text("name,label\n35.09.13.2003,Rowotamtu\n", encoding="utf-8")
    (media / "extra.csv").write_text("name,label\n1,x\n", encoding="utf-8")

    outcome = build_form(source, forms_dir, validate=False)
    assert outcome.status == UPDATED and outcome.version == "2026112801"
    assert "extra.csv" in outcome.reasons[0] and "villages.csv" in outcome.reasons[0]
    assert (folder / "media" / "villages.csv").read_text(encoding="utf-8").endswith("Rowotamtu\n")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"]["media/villages.csv"]["sha256"] == sha(folder / "media" / "villages.csv")
    assert "media/extra.csv" in manifest["files"]
    assert (folder / "media" / "responden_y1.csv").is_file(), "preloaded respondents are not the source's"

    (media / "extra.csv").unlink()
    assert build_form(source, forms_dir, validate=False).status == UPDATED
    assert not (folder / "media" / "extra.csv").exists()
    assert build_form(source, forms_dir, validate=False).status == SKIPPED


def test_changed_source_with_the_same_version_is_refused_with_the_version_to_use(project):
    source, forms_dir = project
    assert build_form(source, forms_dir, validate=False).status == BUILT
    before = all_files(forms_dir)
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age", "label::English (en)", "Age in years?")
    write_xlsform(source, sheets)
    outcome = build_form(source, forms_dir, validate=False)
    assert outcome.status == REFUSED and not outcome.ok
    assert outcome.next_version == version_to_use("2026112801", "2026112801")
    [reason] = outcome.reasons
    assert "form 'lint_clean' (clean.xlsx)" in reason
    assert "settings.version is 2026112801, not higher" in reason
    assert f"Set settings.version to {outcome.next_version}" in reason
    assert all_files(forms_dir) == before


def test_bumped_source_builds_a_second_version(project):
    source, forms_dir = project
    assert build_form(source, forms_dir, validate=False).status == BUILT
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age", "label::English (en)", "Age in years?")
    write_xlsform(source, sheets)
    old, new = bump_version(source, TODAY, forms_dir=forms_dir)
    assert (old, new) == ("2026112801", "2026112802")
    outcome = build_form(source, forms_dir, validate=False)
    assert outcome.status == BUILT and outcome.version == "2026112802"
    assert [(b["version"], b["path"]) for b in load_index(forms_dir)] == \
        [("2026112801", "lint_clean/2026112801"), ("2026112802", "lint_clean/2026112802")]
    assert (forms_dir / "lint_clean" / "2026112801" / "form.xlsx").read_bytes() != source.read_bytes()
    assert (forms_dir / "lint_clean" / "2026112802" / "form.xlsx").read_bytes() == source.read_bytes()


def test_a_form_with_check_errors_is_not_built(project):
    source, forms_dir = project
    sheets = clean_sheets()
    set_cell(sheets["survey"], "apps", "name", "worked")  # a duplicate name: lint and pyxform both object
    write_xlsform(source, sheets)
    outcome = build_form(source, forms_dir, validate=False)
    assert outcome.status == REFUSED
    assert "form 'lint_clean' (clean.xlsx) was not built" in outcome.reasons[0]
    assert any(f.severity == "error" for f in outcome.findings)
    assert not forms_dir.exists() or not any(forms_dir.rglob("*"))


def test_a_lint_error_alone_refuses_the_build(project, monkeypatch):
    source, forms_dir = project
    lint_error = Finding(rule="constraint-without-message", severity="error", file=str(source),
                         sheet="survey", row=7, column="constraint_message::English (en)", message="add one")

    def fake_check(path, **options):
        return CheckResult(source=path, form=read_xlsform(path), findings=[lint_error], xform="<h:html/>",
                           source_sha256=sha(path))
    monkeypatch.setattr(build_module, "check_form", fake_check)
    outcome = build_form(source, forms_dir, validate=False)
    assert outcome.status == REFUSED and outcome.findings == [lint_error]
    assert "1 error(s) found by the check" in outcome.reasons[0]
    assert load_index(forms_dir) == []


def test_an_interrupted_build_leaves_no_folder(project, monkeypatch):
    source, forms_dir = project

    def crash():
        raise RuntimeError("disk full")
    monkeypatch.setattr(build_module, "_pyxform_version", crash)
    with pytest.raises(RuntimeError):
        build_form(source, forms_dir, validate=False)
    assert list((forms_dir / "lint_clean").iterdir()) == []
    assert load_index(forms_dir) == []


def test_a_form_without_version_is_refused_with_one_to_use(project):
    source, forms_dir = project
    sheets = clean_sheets()
    sheets["settings"][1][2] = ""
    write_xlsform(source, sheets)
    outcome = build_form(source, forms_dir, validate=False)
    assert outcome.status == REFUSED and outcome.next_version
    assert f"has no settings.version; set it to {outcome.next_version}" in outcome.reasons[0]


def test_build_with_odk_validate(project):
    source, forms_dir = project
    outcome = build_form(source, forms_dir, validate=True)
    assert outcome.status == BUILT and outcome.validate_skipped == ""
    assert engine(outcome.findings) == []


# --------------------------------------------------------------------------- bump

def test_bump_version_changes_only_the_version_cell(tmp_path):
    source = form_file(tmp_path)
    before = load_workbook(source)
    old, new = bump_version(source, TODAY)
    assert (old, new) == ("2026112801", "2026112802")
    assert read_xlsform(source).version == "2026112802"
    after = load_workbook(source)
    assert after.sheetnames == before.sheetnames
    for name in before.sheetnames:
        cells_before = [[c.value for c in row] for row in before[name].iter_rows()]
        cells_after = [[c.value for c in row] for row in after[name].iter_rows()]
        if name == "settings":
            cells_before[1][2] = "2026112802"
        assert cells_after == cells_before, name
    assert not [p for p in source.parent.iterdir() if p.name.startswith(".")]


def test_bump_version_on_a_new_day_and_above_the_last_build(tmp_path):
    source = form_file(tmp_path)
    assert bump_version(source, dt.date(2026, 12, 3)) == ("2026112801", "2026120301")
    forms_dir = tmp_path / "forms"
    forms_dir.mkdir()
    (forms_dir / "index.json").write_text(json.dumps({"builds": [
        {"form_id": "lint_clean", "version": "2026120307", "source_sha256": "x", "path": "lint_clean/2026120307"}]}))
    assert next_version_for(source, forms_dir, dt.date(2026, 12, 3)) == "2026120308"
    assert bump_version(source, dt.date(2026, 12, 3), forms_dir=forms_dir) == ("2026120301", "2026120308")


def test_bump_version_adds_a_missing_version_column(tmp_path):
    def no_version(sheets):
        sheets["settings"] = [["form_id", "form_title", "default_language"],
                              ["lint_clean", "Lint clean", "Bahasa Indonesia (id)"]]
    source = form_file(tmp_path, no_version)
    assert bump_version(source, TODAY) == ("", "2026112801")
    form = read_xlsform(source)
    assert form.version == "2026112801" and form.settings["form_title"] == "Lint clean"
    assert form.sheets["settings"].headers == ["form_id", "form_title", "default_language", "version"]


def test_version_to_use():
    assert version_to_use("", None, TODAY) == "2026112801"
    assert version_to_use("2026112801", None, TODAY) == "2026112802"
    assert version_to_use("2026112801", "2026112805", TODAY) == "2026112806"
    assert version_to_use("2026010101", None, TODAY) == "2026112801"
    assert version_to_use("v2", None, TODAY) == "2026112801"
