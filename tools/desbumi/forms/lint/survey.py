"""Lint rules, family d: the survey sheet — nesting, messages, ranges, references, dead calculates.

These are the mistakes that reach the phone: an enumerator sees a bare "Constraint violated", a
typo in ${name} breaks the form at the first relevance check, a label longer than Stata keeps is
cut in the export.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from ..findings import ERROR, WARNING, Finding
from ..structure import Item, references
from ..workbook import Row
from .base import LintContext, rule

STRUCTURE_MISMATCH = rule("structure-mismatch", ERROR,
                          "an end group/repeat row does not match the innermost open begin row (name or type)")
STRUCTURE_UNCLOSED = rule("structure-unclosed", ERROR, "a begin group/repeat row is never closed")
STRUCTURE_UNOPENED = rule("structure-unopened", ERROR, "an end group/repeat row has no open begin row")
CONSTRAINT_MESSAGE_MISSING = rule("constraint-message-missing", ERROR,
                                  "a constraint without a constraint_message in any language")
REQUIRED_MESSAGE_MISSING = rule("required-message-missing", WARNING,
                                "a required question without a required_message")
RANGE_MISSING = rule("range-missing", WARNING, "an integer/decimal question without a range constraint")
OUTDATED_SYNTAX = rule("outdated-syntax", ERROR, "position() or jr:choice-name() where a sturdier form exists")
REFERENCE_UNKNOWN = rule("reference-unknown", ERROR, "${x} names a field that does not exist")
CALCULATE_UNUSED = rule("calculate-unused", WARNING, "a calculate that nothing references and that has no label")
LABEL_TOO_LONG = rule("label-too-long", WARNING,
                      "a variable label longer than 80 characters in the export language (Stata truncates)")
RULES = (STRUCTURE_MISMATCH, STRUCTURE_UNCLOSED, STRUCTURE_UNOPENED, CONSTRAINT_MESSAGE_MISSING,
         REQUIRED_MESSAGE_MISSING, RANGE_MISSING, OUTDATED_SYNTAX, REFERENCE_UNKNOWN, CALCULATE_UNUSED,
         LABEL_TOO_LONG)

# Columns whose cells are XPath expressions (or, like appearance/parameters, may embed ${x}).
EXPRESSION_COLUMNS = ("relevant", "constraint", "calculation", "required", "choice_filter", "repeat_count",
                      "default", "read_only", "trigger", "appearance", "parameters")
# Columns whose cells are text shown to people, in every language; ${x} is allowed in them.
TEXT_COLUMNS = ("label", "hint", "guidance_hint", "constraint_message", "required_message")
STATA_LABEL_LIMIT = 80
_FALSE = {"", "no", "false", "false()", "0"}


def check(ctx: LintContext) -> list[Finding]:
    return [*structure(ctx), *messages(ctx), *ranges(ctx), *outdated(ctx), *unknown_references(ctx),
            *unused_calculates(ctx), *long_labels(ctx)]


# --- shared helpers (offline.py reads the same cells) -------------------------------------------

def _base(column: str) -> str:
    return column.partition("::")[0]


def expression_cells(ctx: LintContext, *, sheets: tuple[str, ...] = ("survey", "choices", "settings")
                     ) -> Iterator[tuple[Row, str, str]]:
    """(row, column, text) of every non-empty cell that can hold an expression or a ${x} reference.

    Survey: expression columns and every translation of label/hint/messages; choices: labels;
    settings: instance_name.
    """
    for key in sheets:
        sheet = ctx.form.sheets.get(key)
        if sheet is None:
            continue
        if key == "survey":
            wanted = [c for c in sheet.headers if c in EXPRESSION_COLUMNS or _base(c) in TEXT_COLUMNS]
        elif key == "choices":
            wanted = [c for c in sheet.headers if _base(c) == "label"]
        else:
            wanted = [c for c in sheet.headers if c == "instance_name"]
        for row in sheet.rows:
            for column in wanted:
                text = row[column]
                if text.strip():
                    yield row, column, text


def label_column(ctx: LintContext) -> str:
    """The survey label column of the export (default) language: 'label::<lang>' or bare 'label'."""
    headers = ctx.form.survey.headers
    translated = f"label::{ctx.form.default_language}"
    if ctx.form.default_language and translated in headers:
        return translated
    return "label" if "label" in headers else ""


def message_columns(ctx: LintContext, base: str) -> str:
    """How to name the columns a designer should fill: one per declared language."""
    languages = ctx.form.languages
    if not languages:
        return f"'{base}'"
    return ", ".join(f"'{base}::{lang}'" for lang in languages)


def _has_any(row: Row, base: str) -> bool:
    return any(_base(column) == base and text.strip() for column, text in row.values.items())


# --- begin/end nesting ---------------------------------------------------------------------------

def structure(ctx: LintContext) -> list[Finding]:
    """Every end row must close the innermost open block of its type (and name, when it has one).

    An end row with an empty name is normal XLSForm style and closes the innermost block of its
    type. When the innermost block does not match but a deeper one does, the blocks in between were
    left unclosed; otherwise the end row and the innermost begin row are reported together.
    """
    found: list[Finding] = []
    stack: list[Item] = []
    for item in ctx.items:
        if item.is_begin:
            stack.append(item)
        elif item.is_end:
            found.extend(_close(ctx, stack, item))
    for begin in stack:
        found.append(ctx.at(STRUCTURE_UNCLOSED, begin.row, "type",
                            f"'{_describe(begin)}' (row {begin.row.number}) is never closed: add an "
                            f"'end {_kind(begin)}' row after its last question (name it '{begin.name}' "
                            f"or leave the name empty)."))
    return found


def _kind(item: Item) -> str:
    """'group' or 'repeat'."""
    return item.type.base.split()[1]


def _describe(item: Item) -> str:
    return f"{item.type.base} {item.name}".strip()


def _matches(begin: Item, kind: str, name: str) -> bool:
    return _kind(begin) == kind and (not name or name == begin.name)


def _close(ctx: LintContext, stack: list[Item], end: Item) -> list[Finding]:
    """Pop what `end` closes from `stack`; findings when it is not the innermost open block."""
    kind = _kind(end)
    if not stack:
        return [ctx.at(STRUCTURE_UNOPENED, end.row, "type",
                       f"'{_describe(end)}' (row {end.row.number}) closes nothing: no {kind} is open here. "
                       f"Delete this row or add the matching 'begin {kind}' row above the questions it should hold.")]
    top = stack[-1]
    if _matches(top, kind, end.name):
        stack.pop()
        return []
    deeper = next((i for i in range(len(stack) - 2, -1, -1) if _matches(stack[i], kind, end.name)), None)
    if deeper is not None:
        closed, unclosed = stack[deeper], stack[deeper + 1:]
        del stack[deeper:]
        return [ctx.at(STRUCTURE_UNCLOSED, begin.row, "type",
                       f"'{_describe(begin)}' (row {begin.row.number}) is still open when '{_describe(end)}' "
                       f"(row {end.row.number}) closes '{_describe(closed)}' (row {closed.row.number}): add an "
                       f"'end {_kind(begin)}' row for it before row {end.row.number}.")
                for begin in unclosed]
    stack.pop()
    if _kind(top) != kind:
        column, what = "type", f"'end {kind}' cannot close a {_kind(top)}"
        fix = f"change row {end.row.number} to 'end {_kind(top)}', or close the {_kind(top)} before it"
    else:
        column, what = "name", f"the names differ ('{end.name}' vs '{top.name}')"
        fix = f"rename row {end.row.number} to '{top.name}' or leave its name empty"
    return [ctx.at(STRUCTURE_MISMATCH, end.row, column,
                   f"'{_describe(end)}' (row {end.row.number}) does not match '{_describe(top)}' "
                   f"(row {top.row.number}), the innermost open block: {what}. To fix, {fix}.")]


# --- messages, ranges ----------------------------------------------------------------------------

def messages(ctx: LintContext) -> list[Finding]:
    """A constraint or required flag without a message leaves the enumerator with ODK's generic text."""
    found: list[Finding] = []
    for item in ctx.items:
        row = item.row
        constraint = row["constraint"].strip()
        if constraint and not _has_any(row, "constraint_message"):
            found.append(ctx.at(CONSTRAINT_MESSAGE_MISSING, row, "constraint",
                                f"'{item.name}' has the constraint '{constraint}' but no constraint_message, so "
                                f"ODK Collect only says the answer is invalid. Write what is allowed "
                                f"(e.g. 'Umur 15 sampai 99') in {message_columns(ctx, 'constraint_message')}."))
        required = row["required"].strip()
        if required.lower() not in _FALSE and not _has_any(row, "required_message"):
            found.append(ctx.at(REQUIRED_MESSAGE_MISSING, row, "required",
                                f"'{item.name}' is required ('{required}') but has no required_message, so "
                                f"ODK Collect shows its generic 'Sorry, this response is required'. Say why or "
                                f"what to enter in {message_columns(ctx, 'required_message')}."))
    return found


# `.` as the current value (not part of '..', '0.5', './x' or a path), compared with < <= > >=.
_DOT = r"(?<![\w.}/])\.(?![\w./])"
_COMPARE = r"(?:<=|>=|<|>|&lt;=?|&gt;=?)"
_RANGE = re.compile(rf"{_DOT}\s*{_COMPARE}|{_COMPARE}\s*{_DOT}|\bbetween\s*\(", re.IGNORECASE)


def has_range(constraint: str, name: str) -> bool:
    """True when the constraint bounds the value: `. >= 0`, `120 > .`, `between(., …)`; ${self} counts as `.`."""
    text = constraint.replace("${" + name + "}", ".") if name else constraint
    return bool(_RANGE.search(text))


def ranges(ctx: LintContext) -> list[Finding]:
    """An unbounded number lets 2000 for 20 through; a range catches it at the interview."""
    found: list[Finding] = []
    for item in ctx.items:
        row = item.row
        if item.type.base not in ("integer", "decimal") or row["calculation"].strip():
            continue
        if row["read_only"].strip().lower() not in _FALSE:
            continue
        constraint = row["constraint"]
        if has_range(constraint, item.name):
            continue
        now = (f"its constraint '{constraint.strip()}' does not bound it" if constraint.strip()
               else "it has no constraint")
        found.append(ctx.at(RANGE_MISSING, row, "constraint",
                            f"'{item.name}' is {item.type.base} but {now}, so a typo like 2000 for 20 is "
                            f"accepted. Add a plausible range, e.g. '. >= 0 and . <= 120', with a "
                            f"constraint_message."))
    return found


# --- outdated syntax -----------------------------------------------------------------------------

_POSITION = re.compile(r"\bposition\s*\(")
_CHOICE_NAME = re.compile(r"\bjr:choice-name\s*\(")
_PARENT_PATH = re.compile(r"^\s*\.\.(?:\s*/\s*\.\.)*\s*$")


def call_argument_text(text: str, open_paren: int) -> str:
    """The text between the '(' at `open_paren` and its matching ')' (to the end when unbalanced)."""
    depth, quote = 0, ""
    for index in range(open_paren, len(text)):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[open_paren + 1:index]
    return text[open_paren + 1:]


def outdated(ctx: LintContext) -> list[Finding]:
    """Older idioms that ODK still parses but that break or mislead: see the two messages.

    Only expression columns are read: labels and hints cannot evaluate functions, so the words
    there are plain text (a hint may well say "position (job title)").
    """
    found: list[Finding] = []
    for row, column, text in expression_cells(ctx, sheets=("survey",)):
        if _base(column) in TEXT_COLUMNS:
            continue
        for match in _POSITION.finditer(text):
            argument = call_argument_text(text, match.end() - 1)
            if _PARENT_PATH.match(argument):
                continue  # position(..) is ODK's documented way to number the current repeat instance
            found.append(ctx.at(OUTDATED_SYNTAX, row, column,
                                f"'position({argument.strip()})' in {column} '{text.strip()}' is the older XPath "
                                f"style. Use position(..) inside a repeat for the current instance number, and "
                                f"indexed-repeat(${{field}}, ${{repeat}}, n) to read the n-th instance of a repeat "
                                f"instead of a [position() = n] predicate."))
        if _CHOICE_NAME.search(text):
            found.append(ctx.at(OUTDATED_SYNTAX, row, column,
                                f"jr:choice-name() in {column} '{text.strip()}' stores the choice label in the "
                                f"enumerator's current language (the data changes with the language), is easy to "
                                f"call with its arguments swapped and fails for choice lists used inside repeats. "
                                f"Keep the choice code (${{x}}) as the data — the export attaches the value "
                                f"labels; if a note must show the chosen label, write one note per choice with a "
                                f"relevant such as selected(${{x}}, '1')."))
    return found


# --- references ----------------------------------------------------------------------------------

def known_names(ctx: LintContext) -> set[str]:
    """Every name ${x} may point at: questions, calculates, metadata, notes, groups and repeats."""
    return {item.name for item in ctx.items if item.name and not item.is_end}


def unknown_references(ctx: LintContext) -> list[Finding]:
    """A ${x} with no field x stops pyxform (or worse, a relevance silently never fires)."""
    names = known_names(ctx)
    lowered = {n.lower(): n for n in names}
    found: list[Finding] = []
    for row, column, text in expression_cells(ctx):
        for ref in dict.fromkeys(references(text)):
            target = ref.split("#", 1)[1] if ref.startswith("last-saved#") else ref
            if target in names:
                continue
            found.append(ctx.at(REFERENCE_UNKNOWN, row, column,
                                f"'${{{ref}}}' in {column} names no question of this form. "
                                f"{_suggest(target, names, lowered)}"))
    return found


def _suggest(name: str, names: set[str], lowered: dict[str, str]) -> str:
    if not name:
        return "Write the question's name between the braces, e.g. ${age}."
    if name.lower() in lowered:
        return f"Names are case-sensitive: write '${{{lowered[name.lower()]}}}'."
    close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.75)
    if close:
        return f"Did you mean '${{{close[0]}}}'? Fix the name or add the question."
    return "Fix the name or add the question it should refer to."


def unused_calculates(ctx: LintContext) -> list[Finding]:
    """A calculate no expression, label or setting references is usually left over from an edit.

    Calculates are exported as data too, so one carrying a label in the export language counts as
    deliberately kept for analysis.
    """
    used_by: dict[str, set[tuple[str, int]]] = {}
    for key in ("survey", "choices", "settings"):
        sheet = ctx.form.sheets.get(key)
        for row in sheet.rows if sheet else []:
            for text in row.values.values():
                for ref in references(text):
                    used_by.setdefault(ref.split("#", 1)[-1], set()).add((row.sheet, row.number))
    label = label_column(ctx)
    found: list[Finding] = []
    for item in ctx.items:
        if item.type.base != "calculate" or not item.name:
            continue
        if used_by.get(item.name, set()) - {(item.row.sheet, item.row.number)}:
            continue
        if label and item.row[label].strip():
            continue
        found.append(ctx.at(CALCULATE_UNUSED, item.row, "name",
                            f"calculate '{item.name}' is not referenced as ${{{item.name}}} anywhere in the form. "
                            f"Reference it, delete it, or give it a label"
                            f"{' in ' + repr(label) if label else ''} if it is kept for analysis."))
    return found


def long_labels(ctx: LintContext) -> list[Finding]:
    """Stata keeps 80 characters of a variable label; the export language's label is what it gets."""
    column = label_column(ctx)
    if not column:
        return []
    found: list[Finding] = []
    for item in ctx.items:
        text = item.row[column].strip()
        if not item.is_field or len(text) <= STATA_LABEL_LIMIT:
            continue
        found.append(ctx.at(LABEL_TOO_LONG, item.row, column,
                            f"the label of '{item.name}' has {len(text)} characters; Stata truncates variable "
                            f"labels at {STATA_LABEL_LIMIT}, cutting it to '{text[:STATA_LABEL_LIMIT]}'. Shorten it "
                            f"and move the rest into a hint."))
    return found
