"""The CLI contract: help everywhere, exit codes, one clear paragraph on errors, JSON equals the library."""

import json
from pathlib import Path

import click
import pytest

from desbumi.cli.main import cli
from xlsforms import clean_sheets, set_cell, write_xlsform


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("path", list(all_commands(cli)), ids=" ".join)
def test_every_command_has_help(run_cli, path, tmp_path):
    result = run_cli(*path, "--help", cwd=tmp_path)
    assert result.code == 0
    assert "Usage:" in result.out
    command = cli
    for part in path:
        command = command.commands[part]
    assert command.help and command.help.strip(), f"{' '.join(path)} has no help text"


def test_version(run_cli, tmp_path):
    result = run_cli("--version", cwd=tmp_path)
    assert result.code == 0 and result.out.startswith("desbumi-sync, version ")


def test_usage_error_exits_2(run_cli, tmp_path):
    assert run_cli("forms", "no-such-command", cwd=tmp_path).code == 2
    assert run_cli("-v", "-q", "forms", "check", cwd=tmp_path).code == 2


def test_bad_config_exits_2_naming_the_key(run_cli, tmp_path):
    (tmp_path / "desbumi.toml").write_text('[server]\nurl = "nowhere"\n', encoding="utf-8")
    result = run_cli("forms", "check", cwd=tmp_path)
    assert result.code == 2
    assert "[server] url = 'nowhere' is not a server address" in result.err
    assert "Traceback" not in result.err


def test_unreadable_workbook_exits_2_without_traceback(run_cli, tmp_path):
    (tmp_path / "broken.xlsx").write_text("not a workbook", encoding="utf-8")
    result = run_cli("forms", "check", "broken.xlsx", cwd=tmp_path)
    assert result.code == 2
    assert result.err.startswith("Error: broken.xlsx: not a readable Excel workbook")
    assert "Traceback" not in result.err


def test_traceback_only_with_verbose(run_cli, tmp_path):
    (tmp_path / "broken.xlsx").write_text("not a workbook", encoding="utf-8")
    assert "Traceback" in run_cli("-v", "forms", "check", "broken.xlsx", cwd=tmp_path).err


def test_unknown_form_id_lists_the_known_ones(run_cli, tmp_path):
    write_xlsform(tmp_path / "xlsform_src" / "clean.xlsx", clean_sheets())
    result = run_cli("forms", "check", "nope", cwd=tmp_path)
    assert result.code == 2
    assert "nope: not a form_id" in result.err and "lint_clean" in result.err


def test_clean_form_checks_clean_by_form_id(run_cli, tmp_path):
    write_xlsform(tmp_path / "xlsform_src" / "clean.xlsx", clean_sheets())
    result = run_cli("forms", "check", "lint_clean", "--no-validate", cwd=tmp_path)
    assert result.code == 0, result
    assert result.out == ""
    assert "xlsform_src/clean.xlsx (lint_clean 2026112801): 0 errors, 0 warnings" in result.err


def test_check_json_equals_the_library_and_errors_exit_1(run_cli, tmp_path):
    from desbumi.forms.check import check_form

    sheets = clean_sheets()
    set_cell(sheets["survey"], "age", "name", "2age")
    write_xlsform(tmp_path / "broken.xlsx", sheets)
    result = run_cli("forms", "check", "broken.xlsx", "--no-validate", "--format", "json", cwd=tmp_path)
    assert result.code == 1
    findings = json.loads(result.out)
    library = check_form(Path("broken.xlsx"), forms_dir=tmp_path / "forms", validate=False)
    assert findings == [f.to_dict() for f in library.findings]
    assert findings, "a broken name must be found"
    for finding in findings:
        assert {"rule", "severity", "file", "sheet", "row", "column", "message"} <= set(finding)
        assert finding["severity"] in ("error", "warning")
    assert any(f["rule"] == "name-invalid" and f["row"] == 7 and f["column"] == "name" for f in findings)
    assert "error" in result.err


def test_quiet_silences_the_summary(run_cli, tmp_path):
    path = write_xlsform(tmp_path / "clean.xlsx", clean_sheets())
    result = run_cli("-q", "forms", "check", str(path), "--no-validate", cwd=tmp_path)
    assert result.code == 0 and result.err == ""


def test_show_prints_the_canonical_text(run_cli, tmp_path):
    from desbumi.forms.show import show_workbook

    path = write_xlsform(tmp_path / "clean.xlsx", clean_sheets())
    result = run_cli("forms", "show", "clean.xlsx", cwd=tmp_path)
    assert result.code == 0
    assert result.out == show_workbook(path)
    assert "== survey ==" in result.out and "name=age" in result.out


def test_diff_formats_and_breaking_exit(run_cli, tmp_path):
    write_xlsform(tmp_path / "old.xlsx", clean_sheets())
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age", "type", "text")
    write_xlsform(tmp_path / "new.xlsx", sheets)
    text = run_cli("forms", "diff", "old.xlsx", "new.xlsx", cwd=tmp_path)
    assert text.code == 0 and "breaking" in text.out
    changes = json.loads(run_cli("forms", "diff", "old.xlsx", "new.xlsx", "--format", "json", cwd=tmp_path).out)
    assert any(c["subject"].endswith("age") and c["severity"] == "breaking" for c in changes)
    markdown = run_cli("forms", "diff", "old.xlsx", "new.xlsx", "--format", "markdown", cwd=tmp_path)
    assert markdown.out.count("|") > 4
    assert run_cli("forms", "diff", "old.xlsx", "new.xlsx", "--fail-on-breaking", cwd=tmp_path).code == 1
    assert run_cli("forms", "diff", "old.xlsx", "old.xlsx", "--fail-on-breaking", cwd=tmp_path).code == 0


def test_diff_of_an_unbuilt_version_exits_2(run_cli, tmp_path):
    result = run_cli("forms", "diff", "lint_clean@2026112801", "lint_clean@latest", cwd=tmp_path)
    assert result.code == 2 and "has no build" in result.err
