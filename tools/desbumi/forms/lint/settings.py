"""Lint rules, family e: the settings sheet — identity, language and version of the form.

ODK Collect and Kobo identify a form by form_id and offer an update only when version changes,
so a changed source that keeps its version never reaches the phones that already have it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re

from ..findings import ERROR, WARNING, Finding
from ..versions import is_higher, next_version
from .base import LintContext, rule

SETTINGS_MISSING = rule("settings-missing", ERROR,
                        "the settings sheet lacks form_id, form_title, version or default_language")
SETTINGS_LANGUAGE_UNKNOWN = rule("settings-language-unknown", ERROR,
                                 "default_language is not one of the form's declared languages")
VERSION_NOT_INCREASED = rule("version-not-increased", ERROR,
                             "the source changed since its last build but its version is not higher")
VERSION_FORMAT = rule("version-format", WARNING, "version does not follow ODK's YYYYMMDDNN convention")
RULES = (SETTINGS_MISSING, SETTINGS_LANGUAGE_UNKNOWN, VERSION_NOT_INCREASED, VERSION_FORMAT)

REQUIRED_KEYS = {
    "form_id": "the id Kobo and ODK Collect know the form by, e.g. 'desbumi_y2'",
    "form_title": "the title enumerators see in the form list",
    "version": "ODK's YYYYMMDDNN, e.g. 2026112801; raise it on every change",
    "default_language": "the language shown first and used for the export's labels, e.g. 'Bahasa Indonesia (id)'",
}
_YYYYMMDDNN = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})$")


def check(ctx: LintContext) -> list[Finding]:
    return [*missing(ctx), *language(ctx), *version_increased(ctx), *version_format(ctx)]


def _sheet_name(ctx: LintContext) -> str:
    sheet = ctx.form.sheets.get("settings")
    return sheet.name if sheet else "settings"


def missing(ctx: LintContext) -> list[Finding]:
    """One finding per absent key: at the settings row when the column exists, else at the header."""
    sheet = ctx.form.sheets.get("settings")
    row = ctx.form.settings_row
    found: list[Finding] = []
    for key, meaning in REQUIRED_KEYS.items():
        if ctx.form.settings.get(key, "").strip():
            continue
        if sheet is None:
            where = ("there is no settings sheet: add one with the columns form_id, form_title, version, "
                     "default_language and")
        elif key not in sheet.headers:
            where = f"the settings sheet has no '{key}' column: add it to row 1 and"
        else:
            where = f"'{key}' is empty:"
        at_row = row if sheet is not None and key in sheet.headers else None
        found.append(ctx.at(SETTINGS_MISSING, at_row, key,
                            f"{where} fill in {key} ({meaning}).", sheet=_sheet_name(ctx)))
    return found


def language(ctx: LintContext) -> list[Finding]:
    """pyxform matches default_language against the '::Language (code)' headers letter for letter."""
    declared = ctx.form.languages
    chosen = ctx.form.settings.get("default_language", "").strip()
    if not declared or not chosen or chosen in declared:
        return []
    close = difflib.get_close_matches(chosen, declared, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return [ctx.at(SETTINGS_LANGUAGE_UNKNOWN, ctx.form.settings_row, "default_language",
                   f"default_language '{chosen}' is not a language of this form (declared: "
                   f"{', '.join(repr(x) for x in declared)}); write it exactly as in the '::' column headers.{hint}")]


def suggest_version(after: str) -> str:
    """The next YYYYMMDDNN after `after`, or '' when that version has a shape it cannot follow."""
    try:
        return next_version(after)
    except (ValueError, TypeError):
        return ""


def version_increased(ctx: LintContext) -> list[Finding]:
    """A changed source must carry a higher version than its last build; an unchanged one may keep it."""
    last = ctx.last_build
    version = ctx.form.version.strip()
    if last is None or not version or not ctx.source_sha256 or ctx.source_sha256 == last.source_sha256:
        return []
    if is_higher(version, last.version):
        return []
    upcoming = suggest_version(last.version)
    use = f"set version to {upcoming}" if upcoming else "set a higher version (YYYYMMDDNN)"
    return [ctx.at(VERSION_NOT_INCREASED, ctx.form.settings_row, "version",
                   f"the form changed since its last build (version {last.version}) but its version is "
                   f"'{version}', not higher; ODK Collect will not update a form whose version did not change. "
                   f"{use.capitalize()}, or run `desbumi-sync forms bump {ctx.form.form_id}`.")]


def version_format(ctx: LintContext) -> list[Finding]:
    """YYYYMMDDNN sorts as text and as a number alike and says when the form last changed."""
    version = ctx.form.version.strip()
    if not version or _valid_stamp(version):
        return []
    last = ctx.last_build.version if ctx.last_build else ""
    upcoming = suggest_version(last if last and not is_higher(version, last) else version)
    example = f", e.g. {upcoming}" if upcoming else ""
    return [ctx.at(VERSION_FORMAT, ctx.form.settings_row, "version",
                   f"version '{version}' does not follow ODK's YYYYMMDDNN convention (date of the change and "
                   f"a two-digit counter). Use a higher version of that shape{example}, or run "
                   f"`desbumi-sync forms bump {ctx.form.form_id}`.")]


def _valid_stamp(version: str) -> bool:
    match = _YYYYMMDDNN.match(version)
    if not match:
        return False
    year, month, day, _ = (int(g) for g in match.groups())
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return year >= 2000
