"""`desbumi-sync forms …`: check, build, bump, diff and show the XLSForm instruments."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CheckFailed
from ..forms.check import CheckResult, check_form
from ..forms.findings import ERROR, WARNING, Finding
from ..forms.sources import resolve_forms
from .output import AppState, display_path, format_option, pass_state, print_json


@click.group()
def forms():
    """Check, build, compare and show the XLSForm instruments in xlsform_src/."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_finding(finding: Finding) -> str:
    where = finding.file
    if finding.sheet:
        spot = finding.cell or (f"row {finding.row}" if finding.row else "")
        where += f" {finding.sheet}" + (f"!{spot}" if finding.cell else (f" {spot}" if spot else ""))
    return f"{where}: {finding.severity} [{finding.rule}] {finding.message}"


def _summary(result: CheckResult) -> str:
    errors = sum(f.severity == ERROR for f in result.findings)
    warnings = sum(f.severity == WARNING for f in result.findings)
    form = result.form
    label = f"{form.form_id} {form.version}".strip() if form else ""
    line = f"{display_path(result.source)} ({label}): {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    return line + (" — ODK Validate skipped" if result.validate_skipped else "")


def run_checks(state: AppState, names: tuple[str, ...], validate: bool) -> list[CheckResult]:
    cfg = state.config
    results = []
    for source in resolve_forms(names, cfg.xlsform_src):
        results.append(check_form(Path(display_path(source)), forms_dir=cfg.forms_dir, validate=validate))
    return results


@forms.command("check")
@click.argument("names", nargs=-1, metavar="[FORM]...")
@click.option("--no-validate", is_flag=True, help="Skip ODK Validate (JavaRosa); faster, less thorough.")
@format_option("text", "json")
@pass_state
def check_command(state: AppState, names, no_validate, output_format):
    """Lint and compile instruments; exit 1 when any has errors.

    FORM is a form_id in xlsform_src/ or a path to any XLSForm; without FORM every instrument is
    checked. Findings go to stdout, the summary to stderr.
    """
    results = run_checks(state, names, validate=not no_validate)
    findings = [f for r in results for f in r.findings]
    if output_format == "json":
        print_json([f.to_dict() for f in findings])
    else:
        for finding in findings:
            click.echo(render_finding(finding))
    for result in results:
        state.say(_summary(result))
    skipped = next((r.validate_skipped for r in results if r.validate_skipped), "")
    if skipped:
        click.echo(skipped, err=True)
    failed = [r for r in results if not r.ok]
    if failed:
        errors = sum(f.severity == ERROR for f in findings)
        raise CheckFailed(f"{_plural(errors, 'error')} in {_plural(len(failed), 'form')}; fix them and check again.")


@forms.command("show")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def show_command(path: Path):
    """Print every sheet of a workbook as canonical text (the git diff driver for *.xlsx)."""
    from ..forms.show import show_workbook

    click.echo(show_workbook(path), nl=False)
