"""Lint rules, family b: texts in every language, no stray columns, no invisible spaces.

Enumerators switch language in ODK Collect; a text missing in one language shows them an empty
label or a bare field name. A bare `label` column beside translated ones makes pyxform invent a
language called "default". Spaces at the ends of a type, name or list name, and non-breaking
spaces pasted from Word, are invisible in Excel but make names and list references not match.
"""

from __future__ import annotations

from ..findings import ERROR, Finding
from ..structure import HIDDEN_TYPES, parse_type
from ..workbook import CHOICES, SURVEY, Row, Sheet
from .base import LintContext, rule

LABEL_MISSING = rule("label-missing", ERROR, "a question shown to the enumerator has no label in any language")
LABEL_MISSING_LANGUAGE = rule("label-missing-language", ERROR,
                              "a label is given in some declared languages but not in this one")
HINT_MISSING_LANGUAGE = rule("hint-missing-language", ERROR,
                             "a hint is given in some declared languages but not in this one")
CONSTRAINT_MESSAGE_MISSING_LANGUAGE = rule("constraint-message-missing-language", ERROR,
                                           "a constraint_message is given in some declared languages "
                                           "but not in this one")
REQUIRED_MESSAGE_MISSING_LANGUAGE = rule("required-message-missing-language", ERROR,
                                         "a required_message is given in some declared languages but not in this one")
LABEL_BARE_COLUMN = rule("label-bare-column", ERROR,
                         "an untranslated text column (label, hint, …) beside translated ones")
WHITESPACE = rule("whitespace", ERROR,
                  "leading/trailing or non-breaking spaces in a type, name, list_name, label or header")

# Text columns that must be complete in every language, and the rule that says one is not.
TRANSLATED = {
    "label": LABEL_MISSING_LANGUAGE,
    "hint": HINT_MISSING_LANGUAGE,
    "constraint_message": CONSTRAINT_MESSAGE_MISSING_LANGUAGE,
    "required_message": REQUIRED_MESSAGE_MISSING_LANGUAGE,
}
# Every column pyxform translates; any of them bare beside translations adds a "default" language.
TRANSLATABLE = ("label", "hint", "constraint_message", "required_message", "guidance_hint",
                "image", "audio", "video", "big-image")
NON_BREAKING = {"\u00a0": "U+00A0 no-break space", "\u2007": "U+2007 figure space",
                "\u202f": "U+202F narrow no-break space"}
_SPACED = ("type", "name", "list_name")  # plus every label column


def check(ctx: LintContext) -> list[Finding]:
    findings = [*_bare_columns(ctx), *_whitespace(ctx)]
    languages = ctx.form.languages
    for key in (SURVEY, CHOICES):
        sheet = ctx.form.sheets.get(key)
        if sheet is not None:
            findings += _translations(ctx, sheet, languages)
    findings += _unlabelled_questions(ctx, languages)
    return findings


def _column(base: str, language: str) -> str:
    return f"{base}::{language}" if language else base


def _bare_columns(ctx: LintContext) -> list[Finding]:
    """A bare `label`/`hint`/… column in a form that declares languages."""
    languages = ctx.form.languages
    if not languages:
        return []
    default = ctx.form.default_language or languages[0]
    findings = []
    for key in (SURVEY, CHOICES):
        sheet = ctx.form.sheets.get(key)
        for base in TRANSLATABLE if sheet else ():
            if base in sheet.headers:
                findings.append(ctx.at(LABEL_BARE_COLUMN, None, base, sheet=sheet.name, message=(
                    f"Column '{base}' has no language while the form declares {_quoted(languages)}; pyxform "
                    f"would add a language called 'default'. Rename it to '{base}::{default}' if it holds "
                    f"that language's texts; otherwise move its texts into the '{base}::…' columns and delete it.")))
    return findings


def _translations(ctx: LintContext, sheet: Sheet, languages: list[str]) -> list[Finding]:
    """Each translated text present in one language is present in all of them."""
    findings = []
    for base, rule_id in TRANSLATED.items():
        present = [lang for lang in languages if _column(base, lang) in sheet.headers]
        if not present:
            continue
        absent = [lang for lang in languages if lang not in present]
        if absent and (base == "label" or any(_text(row, base, present) for row in sheet.rows)):
            findings += [ctx.at(rule_id, None, _column(base, lang), sheet=sheet.name, message=(
                f"Sheet '{sheet.name}' has {base} columns for {_quoted(present)} but none for '{lang}', "
                f"a language the form declares; add the column '{base}::{lang}' and fill it in."))
                for lang in absent]
        for row in sheet.rows:
            given = _text(row, base, present)
            if not given:
                continue
            example = f" (in '{given[0]}' it reads '{row[_column(base, given[0])].strip()}')"
            findings += [ctx.at(rule_id, row, _column(base, lang), message=(
                f"{_what(row)} has a {base} in {_quoted(given)} but not in '{lang}'{example}; "
                f"write the '{lang}' {base} in this cell."))
                for lang in present if lang not in given]
    return findings


def _unlabelled_questions(ctx: LintContext, languages: list[str]) -> list[Finding]:
    """A question the enumerator sees needs a label at all (partial labels are reported above)."""
    sheet = ctx.form.survey
    default = ctx.form.default_language
    ordered = sorted(languages, key=lambda lang: lang != default)  # the default language's cell first
    columns = [_column("label", lang) for lang in ordered] or ["label"]
    columns = [c for c in columns if c in sheet.headers] or columns
    findings = []
    for item in ctx.items:
        base = item.type.base
        if not base or base in HIDDEN_TYPES or item.is_begin or item.is_end:
            continue
        if not any(item.row[c].strip() for c in columns + ["label"]):
            findings.append(ctx.at(LABEL_MISSING, item.row, columns[0], message=(
                f"{_what(item.row)} is shown to the enumerator but has no label; write its label in "
                f"{_quoted(languages) if languages else 'the label column'}.")))
    return findings


def _whitespace(ctx: LintContext) -> list[Finding]:
    findings = []
    for key in (SURVEY, CHOICES):
        sheet = ctx.form.sheets.get(key)
        if sheet is None:
            continue
        for raw, header in zip(sheet.raw_headers, sheet.headers):
            problem = whitespace_problem(raw)
            if problem:
                findings.append(ctx.at(WHITESPACE, None, header, sheet=sheet.name, message=(
                    f"Header '{raw}' {problem}; retype the header cell without it.")))
        columns = [h for h in sheet.headers if h in _SPACED or h.partition("::")[0] == "label"]
        for row in sheet.rows:
            for column in columns:
                problem = whitespace_problem(row[column])
                if problem:
                    findings.append(ctx.at(WHITESPACE, row, column, message=_whitespace_message(
                        column, row[column], problem)))
    return findings


def _whitespace_message(column: str, value: str, problem: str) -> str:
    base, _, language = column.partition("::")
    if base == "label":
        what = f"The label in '{language}'" if language else "The label"
        why = "the phone shows the stray space, and texts that look equal stop matching"
    else:
        what = f"The {column}"
        why = "invisible in Excel, but it makes names and list references not match"
    return f"{what} '{value}' {problem}; retype the cell without it ({why})."


def whitespace_problem(text: str) -> str:
    """'' if clean, else what is wrong: 'has a trailing space', 'contains a U+00A0 no-break space'."""
    problems = [f"contains a {label}" for char, label in NON_BREAKING.items() if char in text]
    if text and text[0].isspace() and text[0] not in NON_BREAKING:
        problems.append("has a leading space")
    if text and text[-1].isspace() and text[-1] not in NON_BREAKING:
        problems.append("has a trailing space")
    return " and ".join(problems)


def _text(row: Row, base: str, languages: list[str]) -> list[str]:
    """The languages in which `row` has a non-blank `base` text."""
    return [lang for lang in languages if row[_column(base, lang)].strip()]


def _what(row: Row) -> str:
    """How a message names a row: "Question 'age'" / "Choice 'yesno' 1"."""
    if row.sheet.lower() == CHOICES:
        return f"Choice '{row['name'].strip()}' of list '{row['list_name'].strip()}'"
    kind = parse_type(row["type"]).base or "row"
    name = row["name"].strip()
    return f"The {kind} '{name}'" if name else f"The {kind} row"


def _quoted(languages: list[str]) -> str:
    return ", ".join(f"'{lang}'" for lang in languages)
