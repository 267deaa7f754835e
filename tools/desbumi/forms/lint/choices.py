"""Lint rules, family c: choice lists that are complete, unambiguous and integer-coded.

Choice codes become value labels in Stata and SPSS, which label integers only; a list whose
codes are words must say so (settings column `text_coded_lists`, a space- or comma-separated
list of list names, which pyxform ignores) so the export keeps it as text on purpose.
"""

from __future__ import annotations

import re

from ..findings import ERROR, Finding
from ..structure import SELECT_TYPES
from ..workbook import SETTINGS, Row
from .base import LintContext, rule

LIST_UNDEFINED = rule("choices-list-undefined", ERROR, "a select names a choice list the choices sheet does not define")
LIST_UNUSED = rule("choices-list-unused", ERROR, "a choice list no select uses")
LIST_NAME_MISSING = rule("choices-list-name-missing", ERROR, "a choices row has no list_name")
NAME_MISSING = rule("choices-name-missing", ERROR, "a choices row has no name (code)")
DUPLICATE_NAME = rule("choices-duplicate-name", ERROR, "two choices of one list share a name (code)")
DUPLICATE_LABEL = rule("choices-duplicate-label", ERROR, "two choices of one list share a label in one language")
LABEL_MISSING = rule("choices-label-missing", ERROR, "a choice has no label in any language")
NON_INTEGER = rule("choices-non-integer", ERROR,
                   "a choice code is not an integer and its list is not marked in settings text_coded_lists")
OUT_OF_RANGE = rule("choices-code-out-of-range", ERROR, "an integer choice code too large for a Stata value label")
TEXT_CODED_UNKNOWN = rule("choices-text-coded-unknown", ERROR,
                          "settings text_coded_lists names a list the choices sheet does not define")

TEXT_CODED_COLUMN = "text_coded_lists"
# Stata value labels take integers from -2,147,483,647 to 2,147,483,620 ([D] label).
STATA_LABEL_MIN, STATA_LABEL_MAX = -2_147_483_647, 2_147_483_620
_INTEGER = re.compile(r"-?[0-9]+")
_MEDIA = ("image", "audio", "video", "big-image")


def check(ctx: LintContext) -> list[Finding]:
    text_coded = text_coded_lists(ctx.form.settings.get(TEXT_CODED_COLUMN, ""))
    return [*_undefined(ctx), *_unused(ctx), *_text_coded_unknown(ctx, text_coded),
            *_missing_keys(ctx), *_duplicate_names(ctx), *_duplicate_labels(ctx),
            *_unlabelled(ctx), *_codes(ctx, text_coded)]


def text_coded_lists(value: str) -> list[str]:
    """'district, village occupation' -> ['district', 'village', 'occupation']."""
    return [name for name in re.split(r"[\s,;]+", value) if name]


def _selects(ctx: LintContext):
    return [item for item in ctx.items if item.type.base in SELECT_TYPES]


def _undefined(ctx: LintContext) -> list[Finding]:
    findings = []
    for item in _selects(ctx):
        name = item.type.argument.strip()
        if not name:
            message = (f"Type '{item.row['type'].strip()}' names no choice list; write "
                       f"'{item.type.base} <list_name>' with a list from the choices sheet.")
        elif name in ctx.lists:
            continue
        elif ctx.form.choices is None:
            message = (f"Choice list '{name}' is used here but the form has no choices sheet; add a sheet "
                       f"'choices' with the rows of list '{name}'.")
        else:
            near = [n for n in ctx.lists if n and n.lower() == name.lower()]
            hint = f" (the choices sheet has '{near[0]}'; list names are case-sensitive)" if near else ""
            message = (f"Choice list '{name}' is used here but not defined on the choices sheet{hint}; add its "
                       f"rows there with list_name '{name}', or fix the list name in the type.")
        findings.append(ctx.at(LIST_UNDEFINED, item.row, "type", message))
    return findings


def _unused(ctx: LintContext) -> list[Finding]:
    used = {item.type.argument.strip() for item in _selects(ctx)}
    return [ctx.at(LIST_UNUSED, rows[0], "list_name",
                   f"Choice list '{name}' ({len(rows)} choice{'s' if len(rows) != 1 else ''}) is not used by any "
                   f"select_one, select_multiple or rank question; delete its rows, or use it in a question's type "
                   f"('select_one {name}').")
            for name, rows in ctx.lists.items() if name and name not in used]


def _text_coded_unknown(ctx: LintContext, text_coded: list[str]) -> list[Finding]:
    row = ctx.form.settings_row
    return [ctx.at(TEXT_CODED_UNKNOWN, row, TEXT_CODED_COLUMN,
                   f"Settings {TEXT_CODED_COLUMN} names '{name}', which is not a list on the choices sheet; "
                   f"correct the list name or remove it from {TEXT_CODED_COLUMN}.", sheet=SETTINGS)
            for name in text_coded if name not in ctx.lists]


def _missing_keys(ctx: LintContext) -> list[Finding]:
    findings = []
    for rows in ctx.lists.values():
        for row in rows:
            if not row["list_name"].strip():
                findings.append(ctx.at(LIST_NAME_MISSING, row, "list_name",
                                       f"Choice '{row['name'].strip()}' has no list_name; write the name of the "
                                       f"list it belongs to, or delete the row."))
            if not row["name"].strip():
                findings.append(ctx.at(NAME_MISSING, row, "name",
                                       f"A choice of list '{row['list_name'].strip()}' has no name (the code "
                                       f"stored in the data); give it a code unique within the list."))
    return findings


def code_key(code: str) -> str:
    """Codes equal in the export: '01' and '1' both become the value 1."""
    code = code.strip()
    return str(int(code)) if _INTEGER.fullmatch(code) else code


def _duplicate_names(ctx: LintContext) -> list[Finding]:
    findings = []
    for name, rows in ctx.lists.items():
        first: dict[str, Row] = {}
        for row in rows:
            code = row["name"].strip()
            if not code:
                continue
            earlier = first.setdefault(code_key(code), row)
            if earlier is not row:
                same = "" if earlier["name"].strip() == code else f" as '{earlier['name'].strip()}' (the same number)"
                findings.append(ctx.at(DUPLICATE_NAME, row, "name",
                                       f"Choice code '{code}' of list '{name}' on row {row.number} is already used "
                                       f"on row {earlier.number}{same}; give one of them a code not used in the list."))
    return findings


def _label_columns(ctx: LintContext) -> list[str]:
    sheet = ctx.form.choices
    return [h for h in sheet.headers if h.partition("::")[0] == "label"] if sheet else []


def _filter_columns(ctx: LintContext) -> list[str]:
    """Extra columns a choice_filter reads (e.g. `district` in a village list): two villages may
    share a name in different districts, so a label repeats only if these agree too."""
    sheet = ctx.form.choices
    skip = {"list_name", "name", "label", "hint", *_MEDIA}
    return [h for h in sheet.headers if h.partition("::")[0] not in skip] if sheet else []


def _normal(label: str) -> str:
    return " ".join(label.split()).casefold()


def _duplicate_labels(ctx: LintContext) -> list[Finding]:
    findings = []
    filters = _filter_columns(ctx)
    for name, rows in ctx.lists.items():
        for column in _label_columns(ctx):
            first: dict[tuple, Row] = {}
            for row in rows:
                label = row[column].strip()
                if not label:
                    continue
                key = (_normal(label), *(row[f].strip() for f in filters))
                earlier = first.setdefault(key, row)
                if earlier is not row:
                    findings.append(ctx.at(DUPLICATE_LABEL, row, column,
                                           f"Label '{label}' of choice '{row['name'].strip()}' in list '{name}' "
                                           f"(row {row.number}) repeats the label of choice "
                                           f"'{earlier['name'].strip()}' on row {earlier.number}; the enumerator "
                                           f"cannot tell them apart. Reword one label, or merge the two choices."))
    return findings


def _unlabelled(ctx: LintContext) -> list[Finding]:
    """A choice with neither a label nor an image/audio/video in any language."""
    sheet = ctx.form.choices
    if sheet is None:
        return []
    labels = _label_columns(ctx)
    shown = labels + [h for h in sheet.headers if h.partition("::")[0] in _MEDIA]
    default = f"label::{ctx.form.default_language}"
    column = default if default in labels else (labels[0] if labels else "label")
    return [ctx.at(LABEL_MISSING, row, column,
                   f"Choice '{row['name'].strip()}' of list '{row['list_name'].strip()}' has no label; the "
                   f"enumerator would see an empty option. Write its label in every language.")
            for rows in ctx.lists.values() for row in rows
            if row["name"].strip() and not any(row[c].strip() for c in shown)]


def _codes(ctx: LintContext, text_coded: list[str]) -> list[Finding]:
    findings = []
    for name, rows in ctx.lists.items():
        if name in text_coded:
            continue
        for row in rows:
            code = row["name"].strip()
            if not code:
                continue
            if not _INTEGER.fullmatch(code):
                findings.append(ctx.at(NON_INTEGER, row, "name",
                                       f"Choice code '{code}' of list '{name}' is not an integer; Stata and SPSS "
                                       f"value labels need integer codes (negative ones like -98 are fine). Recode "
                                       f"the list with integers, or, if the codes must stay text, add '{name}' to "
                                       f"the settings column '{TEXT_CODED_COLUMN}'."))
            elif not STATA_LABEL_MIN <= int(code) <= STATA_LABEL_MAX:
                findings.append(ctx.at(OUT_OF_RANGE, row, "name",
                                       f"Choice code '{code}' of list '{name}' is outside the integers Stata can "
                                       f"label ({STATA_LABEL_MIN} to {STATA_LABEL_MAX}); use smaller codes, or add "
                                       f"'{name}' to the settings column '{TEXT_CODED_COLUMN}' to keep it as text."))
    return findings
