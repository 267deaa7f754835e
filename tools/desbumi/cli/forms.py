"""`desbumi-sync forms …`: check, build, bump, diff and show the XLSForm instruments."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CheckFailed
from ..forms.check import CheckResult, check_form
from ..forms.findings import ERROR, WARNING, Finding
from ..forms.sources import INDICATOR_TABLE, is_indicator_table, resolve_forms
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
    label = f"{form.form_id} {form.version}".strip() if form else "indicator table"
    line = f"{display_path(result.source)} ({label}): {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    return line + (" — ODK Validate skipped" if result.validate_skipped else "")


def run_checks(state: AppState, names: tuple[str, ...], validate: bool) -> list[CheckResult]:
    from ..forms.preload import generated_media_for

    cfg = state.config
    results = []
    media = generated_media_for(None, cfg.panel_dir)  # files `forms preload` writes count as present
    sources = resolve_forms(names, cfg.xlsform_src)
    tables = [s for s in sources if is_indicator_table(s)]
    if not names and (cfg.xlsform_src / INDICATOR_TABLE).is_file():
        tables.append(cfg.xlsform_src / INDICATOR_TABLE)
    for source in sources:
        if not is_indicator_table(source):
            results.append(check_form(Path(display_path(source)), forms_dir=cfg.forms_dir, validate=validate,
                                      generated_media=media))
    if tables:
        results.extend(_check_indicator_tables(tables, cfg.xlsform_src, results))
    return results


def _check_indicator_tables(tables: list[Path], xlsform_src: Path, checked: list[CheckResult]) -> list[CheckResult]:
    """The MEL indicator table, against the instruments in xlsform_src/ (as just read, when checked)."""
    from ..mel.indicators import check_indicator_table, read_instruments

    instruments = {r.form.form_id: r.form for r in checked if r.form is not None}
    for form_id, form in read_instruments(xlsform_src, skip={r.source.resolve() for r in checked}).items():
        instruments.setdefault(form_id, form)
    return [CheckResult(source=Path(display_path(t)), form=None,
                        findings=check_indicator_table(Path(display_path(t)), instruments)) for t in tables]


@forms.command("check")
@click.argument("names", nargs=-1, metavar="[FORM]...")
@click.option("--no-validate", is_flag=True, help="Skip ODK Validate (JavaRosa); faster, less thorough.")
@format_option("text", "json")
@pass_state
def check_command(state: AppState, names, no_validate, output_format):
    """Lint and compile instruments; exit 1 when any has errors.

    FORM is a form_id in xlsform_src/ or a path to any XLSForm; without FORM every instrument is
    checked, and so is the MEL indicator table xlsform_src/mel_indicators.xlsx (against the
    instruments there; a path to it checks it alone). Findings go to stdout, the summary to stderr.
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


@forms.command("diff")
@click.argument("old")
@click.argument("new")
@format_option("text", "markdown", "json")
@click.option("--fail-on-breaking", is_flag=True, help="Exit 1 when any change is breaking (for CI).")
@pass_state
def diff_command(state: AppState, old: str, new: str, output_format: str, fail_on_breaking: bool):
    """Semantic diff of two XLSForms: what changed, and whether it breaks the panel and exports.

    OLD and NEW are paths or FORM@VERSION (a build in forms/; FORM@latest is the newest).
    """
    from ..forms import diff

    forms_dir = state.config.forms_dir
    result = diff.diff_files(diff.resolve_side(old, forms_dir), diff.resolve_side(new, forms_dir),
                             old_label=old, new_label=new)
    if output_format == "json":
        print_json(diff.to_json(result))
    elif output_format == "markdown":
        click.echo(diff.render_markdown(result), nl=False)
    else:
        click.echo(diff.render_text(result), nl=False)
    state.say(diff.summary(result))
    if fail_on_breaking and result.has_breaking:
        raise CheckFailed(f"{result.counts['breaking']} breaking change(s) between {old} and {new}.")


def _outcome_dict(outcome) -> dict:
    return {"form_id": outcome.form_id, "version": outcome.version, "status": outcome.status,
            "source": display_path(outcome.source), "path": display_path(outcome.path) if outcome.path else None,
            "reasons": outcome.reasons, "next_version": outcome.next_version or None,
            "findings": [f.to_dict() for f in outcome.findings]}


def report_builds(state: AppState, outcomes, output_format: str) -> None:
    """Print build outcomes (data on stdout); raise CheckFailed when any form was refused."""
    if output_format == "json":
        print_json([_outcome_dict(o) for o in outcomes])
    else:
        for outcome in outcomes:
            if outcome.status == "refused":
                for finding in outcome.findings:
                    if finding.severity == ERROR:
                        click.echo(render_finding(finding))
            where = display_path(outcome.path) if outcome.path else display_path(outcome.source)
            line = f"{outcome.status:8} {outcome.form_id} {outcome.version}  {where}"
            click.echo(line)
            for reason in outcome.reasons:
                state.say(f"         {reason}")
    skipped = next((o.validate_skipped for o in outcomes if o.validate_skipped), "")
    if skipped:
        click.echo(skipped, err=True)
    refused = [o for o in outcomes if o.status == "refused"]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("built", "updated", "skipped", "refused")}
    updated = f"{counts['updated']} with new media, " if counts["updated"] else ""
    state.say(f"{counts['built']} built, {updated}{counts['skipped']} unchanged, {counts['refused']} refused.")
    if refused:
        raise CheckFailed(f"{_plural(len(refused), 'form')} not built: "
                          + "; ".join(f"{o.form_id or display_path(o.source)}" for o in refused) + ".")


@forms.command("build")
@click.argument("names", nargs=-1, metavar="[FORM]...")
@click.option("--no-validate", is_flag=True, help="Skip ODK Validate (not for forms going to phones).")
@format_option("text", "json")
@pass_state
def build_command(state: AppState, names, no_validate, output_format):
    """Check, then write versioned builds into forms/<form_id>/<version>/.

    A source already built (same sha256) is skipped without rewriting anything; a changed source
    must carry a higher settings.version (see `forms bump`). Exit 1 when any form was refused.
    The MEL indicator table (mel_indicators.xlsx) is not an instrument and is never built.
    """
    from ..forms.build import build_forms
    from ..forms.preload import generated_media_for

    cfg = state.config
    sources = resolve_forms(names, cfg.xlsform_src)
    for table in (s for s in sources if is_indicator_table(s)):
        state.say(f"{display_path(table)} is the MEL indicator table, not an instrument: not built.")
    sources = [s for s in sources if not is_indicator_table(s)]
    outcomes = build_forms(sources, cfg.forms_dir, validate=not no_validate, project_root=cfg.root,
                           generated_media=generated_media_for(None, cfg.panel_dir))
    report_builds(state, outcomes, output_format)


@forms.command("bump")
@click.argument("name", metavar="FORM")
@pass_state
def bump_command(state: AppState, name: str):
    """Set settings.version of FORM to the next YYYYMMDDNN (above its last build too)."""
    from ..forms.build import bump_version

    cfg = state.config
    (source,) = resolve_forms((name,), cfg.xlsform_src)
    old, new = bump_version(source, forms_dir=cfg.forms_dir)
    click.echo(new)
    state.say(f"{display_path(source)}: settings.version {old or '(none)'} -> {new}")


# --------------------------------------------------------------------------- forms preload

@forms.command("preload")
@click.option("--year1", "year1", required=True, metavar="FILE", type=click.Path(path_type=Path, dir_okay=False),
              help="The year-one cross-section: .csv (UTF-8), .xlsx, .dta or .sav.")
@click.option("--form", "form_id", metavar="FORM",
              help="Only this form_id (default: every form in panel/preload.toml).")
@click.option("--split-by", "split_by", type=click.Choice(["district"]),
              help="One file per district: <media>/<kab>/<file>, for one deployment per district.")
@click.option("--out", "out", metavar="DIR", type=click.Path(path_type=Path, file_okay=False),
              help="Write here instead of the media folder of the form's newest build.")
@format_option("text", "json")
@pass_state
def preload_command(state: AppState, year1: Path, form_id, split_by, out, output_format):
    """Year-one respondents -> the preload CSV in the form's media (only the columns the form reads).

    Checks the year-one file first (resp_id unique and present, district and village codes known)
    and writes nothing when a row fails: the message names the rows. panel/preload.toml says which
    year-one columns each media file may carry; NIK is never one of them. Files go into
    forms/<form_id>/<version>/media/ of the newest build (run `forms build` first), or into --out DIR.
    """
    from ..forms.preload import preload

    cfg = state.config
    results = preload(year1, panel_dir=cfg.panel_dir, forms_dir=cfg.forms_dir, xlsform_src=cfg.xlsform_src,
                      form=form_id, split_by=split_by, out=out)
    if output_format == "json":
        print_json([r.to_dict() for r in results])
    for result in results:
        state.say(f"{result.spec.form}: {result.spec.file} from {display_path(result.year1)} "
                  f"({result.year1_format}); columns: {', '.join(result.columns)}")
        if output_format != "json":
            for item in result.files:
                click.echo(f"{display_path(result.target / item.relpath)}  {_plural(item.rows, 'row')}  "
                           f"{item.size:,} bytes")
            for code, count in result.districts.items():
                click.echo(f"  {code} {result.district_names.get(code, ''):<16} {count:>6}")
            click.echo(f"  {'total':<21} {result.rows:>6}")
        for path in result.removed:
            state.say(f"removed stale {display_path(path)}")
        for warning in result.warnings:
            click.echo(f"Warning: {warning}", err=True)


# --------------------------------------------------------------------------- forms deploy

@forms.command("deploy")
@click.argument("form_id", metavar="FORM")
@click.option("--force", is_flag=True,
              help="Import the XLSForm even when the server has this version, and replace an asset that "
                   "holds another form.")
@click.option("--allow-missing-media", is_flag=True,
              help="Deploy even when a media file the form reads (e.g. the preload CSV) is missing.")
@format_option("text", "json")
@pass_state
def deploy_command(state: AppState, form_id: str, force: bool, allow_missing_media: bool, output_format: str):
    """Put the newest build of FORM (forms/<FORM>/<version>/) on the Kobo server and (re)deploy it.

    Imports form.xlsx into the project under [assets] in desbumi.toml (a new project the first time),
    uploads the files in media/ whose md5 changed, deploys (a media-only change redeploys the same
    version) and remembers the project's asset uid in desbumi.toml and the local store. With nothing
    changed it does nothing. The token comes from KOBO_TOKEN or the keyring.
    """
    from ..config import CONFIG_NAME
    from ..deploy import (
        check_media,
        deploy_build,
        find_build,
        remember_in_store,
        remembered_in_store,
        set_asset_in_config,
    )
    from .sync import _client

    cfg = state.config
    build = find_build(cfg.forms_dir, form_id)  # no build, or missing media: exit 2 before any network
    check_media(build, allow_missing_media)
    config_path = cfg.source or (cfg.root / CONFIG_NAME)
    uid, source = cfg.assets.get(form_id), "config"
    if not uid:
        uid, source = remembered_in_store(cfg.store_dir, form_id), "store"
    remembered: dict = {}

    def remember(new_uid: str) -> None:
        changed = set_asset_in_config(config_path, form_id, new_uid)
        remembered["config"] = display_path(config_path)
        remembered["config_changed"] = remembered.get("config_changed", False) or changed

    state.say(f"Deploying {form_id} {build.version} ({display_path(build.folder)}) to {cfg.server_url}"
              + (f", asset {uid}" + (" (remembered in the store)" if source == "store" else "") if uid
                 else ", as a new project") + " …")
    with _client(state) as client:
        report = deploy_build(client, build, uid, asset_source=source, force=force,
                              allow_missing_media=allow_missing_media, on_asset=remember)
    remember(report.asset_uid)
    remembered["store"] = display_path(remember_in_store(cfg.store_dir, report.asset, form_id))
    report.remembered = remembered

    if output_format == "json":
        print_json(report.to_dict())
        return
    click.echo(f"{form_id} {build.version} -> asset {report.asset_uid}  {report.asset_url}")
    form_line = {"created": "imported as a new project",
                 "replaced": "imported into the project (content replaced)",
                 "unchanged": f"unchanged (the server has version {build.version})"}[report.form]
    click.echo(f"  form:       {form_line}")
    media = [f"uploaded {', '.join(report.uploaded)}" if report.uploaded else "",
             f"replaced {', '.join(report.replaced)}" if report.replaced else "",
             f"kept {', '.join(report.kept)}" if report.kept else "",
             f"on the server only (left alone) {', '.join(report.server_only)}" if report.server_only else ""]
    click.echo(f"  media:      {'; '.join(m for m in media if m) or 'none'}")
    deployment = {"deployed": f"deployed version {report.version_id} (first deployment)",
                  "redeployed": f"redeployed version {report.version_id}",
                  "unchanged": f"unchanged, version {report.version_id} is deployed"}[report.deployment]
    click.echo(f"  deployment: {deployment}")
    entry = f"{remembered['config']} [assets] {form_id} = \"{report.asset_uid}\""
    where = [entry + (" (written)" if remembered.get("config_changed") else " (already there)"),
             f"store {remembered['store']}"]
    click.echo(f"  remembered: {'; '.join(where)}")
    for note in report.notes:
        state.say(f"  note: {note}")
    if not report.changed:
        state.say(f"Nothing to do: the server already has {form_id} {build.version} and its media "
                  f"({report.requests} requests, nothing written).")
    else:
        state.say(f"Done in {report.requests} requests.")
