"""The MEL indicator table: what M&E staff edit in Excel, read into Indicator objects and checked.

The table is `xlsform_src/mel_indicators.xlsx`. It lives beside the instruments because every
indicator names an instrument (its source form) and fields of it, but it is not an XLSForm: `forms
check` validates it against the instruments, `forms build` leaves it alone. Its sheets:

  indicators       one row per indicator: code, level, name::id/en, definition::id/en, unit, form,
                   kind, field, key, pre, post, condition, threshold, filter, disaggregate, baseline,
                   baseline_period, date, cumulative, notes
  targets          one row per indicator and period: code, period, target, notes
  disaggregations  how a dimension (sex, disability, age_group, district, migrant_status, …) is read
                   from a form: dimension, form ('*' = any form), field, derive, lookup_form, lookup_key
  settings         setting, value (suppress_below: IPTT cells under this count are suppressed)
  README, kinds    documentation for people; the code never reads them (a test keeps `kinds` true)

This module reads the table (every value keeps its sheet, Excel row and column), parses the filter
language (text -> syntax tree, no eval), and checks the table against the instruments. Computing
the indicators from submissions is `mel report`'s job; the model here carries all it needs.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as _field  # Indicator has an attribute named field
from pathlib import Path

from ..errors import InputError
from ..forms.findings import ERROR, WARNING, Finding, sort_key
from ..forms.sources import INDICATOR_TABLE, instrument_paths  # noqa: F401 (re-exported)
from ..forms.structure import Item, choice_lists, walk
from ..forms.workbook import Row, Sheet, XLSForm, read_sheets, read_xlsform

INDICATORS, TARGETS, DISAGGREGATIONS, SETTINGS = "indicators", "targets", "disaggregations", "settings"

# --------------------------------------------------------------------------- the rule catalogue

RULES: dict[str, tuple[str, str]] = {
    # rule id: (severity, what it means)
    "indicator-sheet-missing": (ERROR, "the workbook has no 'indicators' sheet"),
    "indicator-column-missing": (ERROR, "a sheet lacks a column it needs"),
    "indicator-column-unknown": (WARNING, "a column header the table does not know (a typo?)"),
    "indicator-cell-missing": (ERROR, "a cell that must be filled is empty"),
    "indicator-cell-invalid": (ERROR, "a cell holds a value outside its documented set"),
    "indicator-cell-unused": (WARNING, "a cell the indicator's kind does not use"),
    "indicator-code-invalid": (ERROR, "an indicator code with spaces or odd characters"),
    "indicator-duplicate-code": (ERROR, "two indicators share a code"),
    "indicator-kind-unknown": (ERROR, "an aggregation kind outside the documented set"),
    "indicator-unit-unknown": (ERROR, "a unit outside the documented set"),
    "indicator-unit-mismatch": (ERROR, "a share reported in a unit other than %, or % for a non-share"),
    "indicator-form-unknown": (ERROR, "a source form that is not an instrument in xlsform_src/"),
    "indicator-field-unknown": (ERROR, "a field the source form does not have"),
    "indicator-field-type": (ERROR, "a field whose type does not suit its use (numbers, dates)"),
    "indicator-field-in-repeat": (ERROR, "a field inside a repeat (indicators read one row per submission)"),
    "indicator-filter-invalid": (ERROR, "a filter, condition, pre or post expression that does not parse"),
    "indicator-filter-value-unknown": (ERROR, "a filter compares a choice field with a value it cannot have"),
    "indicator-threshold-invalid": (ERROR, "a threshold that is not a number"),
    "indicator-disaggregation-unknown": (ERROR, "a disaggregation not defined for the indicator's form"),
    "indicator-disaggregation-invalid": (ERROR, "a row of the disaggregations sheet that cannot work"),
    "indicator-baseline-invalid": (ERROR, "a baseline or baseline period that is not valid"),
    "indicator-target-invalid": (ERROR, "a target that is not a valid number for the indicator's unit"),
    "indicator-target-period-invalid": (ERROR, "a target period not written YYYY, YYYY-H1/H2 or YYYY-Q1..Q4"),
    "indicator-target-code-unknown": (ERROR, "a target for a code the indicators sheet does not have"),
    "indicator-target-duplicate": (ERROR, "two targets for the same indicator and period"),
    "indicator-target-missing": (WARNING, "an indicator without any target"),
    "indicator-setting-invalid": (ERROR, "a setting that is unknown or has an invalid value"),
}

# --------------------------------------------------------------------------- the documented sets

LEVELS = ("outcome", "output")
UNITS = ("people", "%", "villages", "stories", "score", "points", "activities", "participations")
SHARE_KINDS = ("share", "share_improved", "share_threshold")


@dataclass(frozen=True)
class Kind:
    name: str
    needs: tuple[str, ...]  # columns that must be filled
    may: tuple[str, ...] = ()  # columns it may use besides 'filter'
    numeric: bool = False  # 'field' must hold a number
    meaning: str = ""


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("count", (), (), meaning="number of submissions matching the filter"),
    Kind("count_unique", ("field",), (), meaning="number of distinct values of field (e.g. id_peserta) "
                                                 "among submissions matching the filter"),
    Kind("sum", ("field",), ("key",), numeric=True,
         meaning="sum of field over submissions matching the filter (one per key when key is given)"),
    Kind("share", ("condition",), ("key",),
         meaning="% of submissions matching the filter (one per key when key is given) that also match the condition"),
    Kind("mean", ("field",), ("key",), numeric=True,
         meaning="mean of field over submissions matching the filter (one per key when key is given)"),
    Kind("mean_change", ("field", "key", "pre", "post"), (), numeric=True,
         meaning="mean of (post - pre) of field over pairs: rows matching pre and post, paired by key"),
    Kind("share_improved", ("field", "key", "pre", "post", "threshold"), (), numeric=True,
         meaning="% of pairs (paired by key) whose post - pre of field is >= threshold"),
    Kind("share_threshold", ("field", "threshold"), ("key",), numeric=True,
         meaning="% of submissions (one per key when key is given) whose field is >= threshold"),
)}
KIND_COLUMNS = ("field", "key", "pre", "post", "condition", "threshold")

# The IPTT disaggregations (DOMAIN.md); the disaggregations sheet says which field(s) carry each,
# per form, and may define more (e.g. activity_type).
STANDARD_DIMENSIONS = ("sex", "disability", "age_group", "district", "migrant_status")
DERIVES = ("value", "wg_ss", "age_band")
AGE_BANDS = ((15, 24, "15-24"), (25, 39, "25-39"), (40, 59, "40-59"), (60, None, "60+"))
WG_DISABLED = frozenset({3, 4})  # WG-SS: any item 'a lot of difficulty' (3) or 'cannot do at all' (4)

NUMERIC_TYPES = frozenset({"integer", "decimal", "range", "calculate"})
DATE_TYPES = frozenset({"date", "datetime", "today", "start", "end", "calculate"})
# Columns the Kobo API adds to every submission; an indicator may read them like fields.
KOBO_META = {"_submission_time": "datetime", "_id": "integer", "_uuid": "text", "_submitted_by": "text"}

SETTINGS_DEFAULTS = {"suppress_below": 5}
PERIOD = re.compile(r"^\d{4}(-(H[12]|Q[1-4]))?$")
CODE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")

INDICATOR_COLUMNS = ("code", "level", "name::id", "name::en", "definition::id", "definition::en", "unit",
                     "form", "kind", *KIND_COLUMNS, "filter", "disaggregate", "baseline", "baseline_period",
                     "date", "cumulative", "notes")
INDICATOR_REQUIRED = ("code", "level", "name::id", "name::en", "unit", "form", "kind")
TARGET_COLUMNS = ("code", "period", "target", "notes")
DISAGGREGATION_COLUMNS = ("dimension", "form", "field", "derive", "lookup_form", "lookup_key", "notes")
SETTING_COLUMNS = ("setting", "value", "notes")


# =========================================================================== the filter language
#
#   expression := or
#   or         := and { "or" and }
#   and        := unary { "and" unary }
#   unary      := "not" unary | "(" expression ")" | test
#   test       := FIELD op VALUE | FIELD ["not"] "in" "(" VALUE { "," VALUE } ")"
#   op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
#   FIELD      := a form field name (letters, digits, _ - .), optionally written ${name}
#   VALUE      := a number (-98, 2.5) or text in quotes ('abc' or "abc")
#
# Keywords are case-insensitive. < <= > >= compare numbers only. A blank answer equals only ''.

class FilterError(ValueError):
    """A filter that does not parse; `position` is the 1-based character where it went wrong."""

    def __init__(self, position: int, reason: str):
        super().__init__(f"at character {position}: {reason}")
        self.position = position
        self.reason = reason


Value = int | float | str


@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # one of = != < <= > >=  ('<>' is read as '!=')
    value: Value
    position: int  # where the field name starts


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[Value, ...]
    negated: bool
    position: int


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


Expr = Compare | In | And | Or | Not

OPERATORS = ("<=", ">=", "!=", "<>", "=", "<", ">")
KEYWORDS = ("and", "or", "not", "in")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")


@dataclass(frozen=True)
class Token:
    kind: str  # name, keyword, number, string, op, '(', ')', ',', end
    text: str
    position: int  # 1-based
    value: Value = ""


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        pos = i + 1
        if ch in "(),":
            tokens.append(Token(ch, ch, pos))
            i += 1
        elif text.startswith("${", i):
            end = text.find("}", i)
            name = text[i + 2:end].strip() if end != -1 else ""
            if end == -1 or not _NAME.fullmatch(name):
                raise FilterError(pos, "'${' must be followed by a field name and '}', like ${jenis_kelamin}")
            tokens.append(Token("name", name, pos))
            i = end + 1
        elif ch in "'\"":
            end = text.find(ch, i + 1)
            if end == -1:
                raise FilterError(pos, f"the text starting with {ch} is never closed; end it with {ch}")
            tokens.append(Token("string", text[i:end + 1], pos, text[i + 1:end]))
            i = end + 1
        elif ch.isdigit() or (ch in "-." and _NUMBER.match(text, i)):
            match = _NUMBER.match(text, i)
            raw = match.group(0)
            number: Value = float(raw) if "." in raw else int(raw)
            tokens.append(Token("number", raw, pos, number))
            i = match.end()
            if i < n and (text[i].isalpha() or text[i] == "_"):
                raise FilterError(pos, f"'{raw}{_NAME.match(text, i).group(0)}' is neither a number nor a "
                                       "field name; field names start with a letter")
        elif ch.isalpha() or ch == "_":
            match = _NAME.match(text, i)
            word = match.group(0)
            kind = "keyword" if word.lower() in KEYWORDS else "name"
            tokens.append(Token(kind, word.lower() if kind == "keyword" else word, pos))
            i = match.end()
        else:
            if text.startswith("==", i):
                raise FilterError(pos, "'==' is not an operator; write '=' to compare")
            op = next((o for o in OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise FilterError(pos, f"unexpected character {ch!r}; "
                                       "allowed: field names, numbers, 'quoted text', = != < <= > >=, "
                                       "and, or, not, in, parentheses and commas")
            tokens.append(Token("op", "!=" if op == "<>" else op, pos))
            i += len(op)
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _shown(token: Token) -> str:
    return "the end of the text" if token.kind == "end" else f"'{token.text}'"


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def keyword(self, word: str) -> bool:
        if self.token.kind == "keyword" and self.token.text == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Expr:
        if self.token.kind == "end":
            raise FilterError(1, "the expression is empty")
        expr = self.or_()
        if self.token.kind != "end":
            t = self.token
            if t.kind == ")":
                raise FilterError(t.position, "')' has no matching '('")
            raise FilterError(t.position, f"unexpected {_shown(t)} after a complete condition; "
                                          "join conditions with 'and' or 'or'")
        return expr

    def or_(self) -> Expr:
        items = [self.and_()]
        while self.keyword("or"):
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Expr:
        items = [self.unary()]
        while self.keyword("and"):
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Expr:
        if self.keyword("not"):
            return Not(self.unary())
        t = self.token
        if t.kind == "(":
            self.take()
            inner = self.or_()
            if self.token.kind != ")":
                raise FilterError(self.token.position, f"expected ')' to close the '(' at character {t.position}, "
                                                       f"found {_shown(self.token)}")
            self.take()
            return inner
        return self.test()

    def test(self) -> Expr:
        t = self.take()
        if t.kind != "name":
            what = {"number": "a number", "string": "a quoted text"}.get(t.kind, _shown(t))
            raise FilterError(t.position, f"expected a field name, found {what}; "
                                          "a condition starts with a field, like jenis_kelamin = 2")
        name = t.text
        if self.keyword("not"):
            if not (self.token.kind == "keyword" and self.token.text == "in"):
                raise FilterError(self.token.position, f"expected 'in' after '{name} not', found {_shown(self.token)}")
            self.take()
            return self.membership(t, negated=True)
        if self.keyword("in"):
            return self.membership(t, negated=False)
        op = self.take()
        if op.kind != "op":
            raise FilterError(op.position, f"expected an operator (= != < <= > >= in) after '{name}', "
                                           f"found {_shown(op)}")
        value = self.value(after=f"'{op.text}'")
        if op.text in ("<", "<=", ">", ">=") and isinstance(value, str):
            raise FilterError(op.position, f"'{op.text}' compares numbers, but '{value}' is text; "
                                           "write a number or use = or !=")
        return Compare(name, op.text, value, t.position)

    def membership(self, name: Token, *, negated: bool) -> In:
        opening = self.take()
        if opening.kind != "(":
            raise FilterError(opening.position, f"expected '(' after 'in', found {_shown(opening)}; "
                                                "write the values like in (1, 2)")
        values = [self.value(after="'('")]
        while self.token.kind == ",":
            self.take()
            values.append(self.value(after="','"))
        if self.token.kind != ")":
            raise FilterError(self.token.position, f"expected ',' or ')' in the list opened at character "
                                                   f"{opening.position}, found {_shown(self.token)}")
        self.take()
        return In(name.text, tuple(values), negated, name.position)

    def value(self, *, after: str) -> Value:
        t = self.take()
        if t.kind in ("number", "string"):
            return t.value
        if t.kind == "name":
            raise FilterError(t.position, f"expected a number or a quoted text after {after}, found '{t.text}'; "
                                          f"put text in quotes ('{t.text}'), compare fields with a value only")
        raise FilterError(t.position, f"expected a number or a quoted text after {after}, found {_shown(t)}")


def parse_filter(text: str) -> Expr:
    """Filter text -> syntax tree; raises FilterError naming the character where it went wrong."""
    return _Parser(text).parse()


def walk_expr(expr: Expr) -> Iterator[Expr]:
    yield expr
    if isinstance(expr, (And, Or)):
        for item in expr.items:
            yield from walk_expr(item)
    elif isinstance(expr, Not):
        yield from walk_expr(expr.item)


def expr_fields(expr: Expr) -> list[tuple[str, int]]:
    """(field, position) for every field the expression reads, in order."""
    return [(n.field, n.position) for n in walk_expr(expr) if isinstance(n, (Compare, In))]


def _literal(value: Value) -> str:
    if isinstance(value, str):
        return "'" + value + "'" if "'" not in value else '"' + value + '"'
    return str(value)


def format_expr(expr: Expr, _outer: str = "") -> str:
    """Canonical text of a syntax tree (parses back to the same tree)."""
    if isinstance(expr, Compare):
        return f"{expr.field} {expr.op} {_literal(expr.value)}"
    if isinstance(expr, In):
        return f"{expr.field} {'not in' if expr.negated else 'in'} ({', '.join(_literal(v) for v in expr.values)})"
    if isinstance(expr, Not):
        return f"not {format_expr(expr.item, 'not')}"  # and/or inside get their parentheses
    word = "and" if isinstance(expr, And) else "or"
    text = f" {word} ".join(format_expr(item, word) for item in expr.items)
    return f"({text})" if _outer and _outer != word else text


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _equals(answer: object, literal: Value, multiple: bool) -> bool:
    text = _text(answer)
    candidates = text.split() if multiple else [text]
    if isinstance(literal, str):
        return literal in candidates if literal or not multiple else text == ""
    for candidate in candidates:
        number = _number(candidate)
        if number is not None and number == float(literal):
            return True
    return False


def evaluate(expr: Expr, row: Mapping[str, object], multiple: frozenset[str] | set[str] = frozenset()) -> bool:
    """Does a submission (field -> answer) match? `multiple` names select_multiple fields, whose
    space-separated answers match '=' and 'in' when any selected choice does. A blank or missing
    answer equals only ''; '!=' is exactly 'not ='; < <= > >= are false unless both sides are numbers."""
    if isinstance(expr, And):
        return all(evaluate(item, row, multiple) for item in expr.items)
    if isinstance(expr, Or):
        return any(evaluate(item, row, multiple) for item in expr.items)
    if isinstance(expr, Not):
        return not evaluate(expr.item, row, multiple)
    answer = row.get(expr.field)
    is_multiple = expr.field in multiple
    if isinstance(expr, In):
        found = any(_equals(answer, v, is_multiple) for v in expr.values)
        return not found if expr.negated else found
    if expr.op == "=":
        return _equals(answer, expr.value, is_multiple)
    if expr.op == "!=":
        return not _equals(answer, expr.value, is_multiple)
    left = _number(answer)
    if left is None or is_multiple:
        return False
    right = float(expr.value)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[expr.op]


# --------------------------------------------------------------------------- derived dimensions

def age_band(age: object) -> str:
    """The IPTT age group of an age in years: '15-24', '25-39', '40-59', '60+'; '' when unknown or under 15."""
    years = _number(age)
    if years is None or years < 0:
        return ""
    for low, high, label in AGE_BANDS:
        if years >= low and (high is None or years < high + 1):
            return label
    return ""


def wg_ss_disability(answers: list[object]) -> bool | None:
    """WG-SS disability identifier: True when any item is 3 or 4; None when no item was answered 1-4."""
    codes = [int(n) for n in (_number(a) for a in answers) if n is not None and n in (1, 2, 3, 4)]
    if not codes:
        return None
    return any(code in WG_DISABLED for code in codes)


# =========================================================================== the table model

@dataclass(frozen=True)
class Cell:
    """One cell of the table: its text and where it sits in Excel."""

    sheet: str
    row: int
    column: str  # the column's header name ('filter', 'name::en')
    letter: str  # Excel column letter, '' when the column is absent
    text: str = ""

    @property
    def address(self) -> str:
        return f"{self.letter}{self.row}" if self.letter else ""


@dataclass
class Indicator:
    code: str
    level: str
    name: dict[str, str]  # language code ('id', 'en') -> text
    definition: dict[str, str]
    unit: str
    form: str
    kind: str
    field: str = ""
    key: str = ""
    pre: Expr | None = None
    post: Expr | None = None
    condition: Expr | None = None
    threshold: float | None = None
    filter: Expr | None = None
    disaggregate: tuple[str, ...] = ()
    baseline: float | None = None
    baseline_period: str = ""
    date: str = ""  # field that places a submission in a period; '' = _submission_time
    cumulative: bool = False  # actual counts everything up to the period's end, not only the period
    notes: str = ""
    targets: dict[str, float] = _field(default_factory=dict)  # period -> target, in sheet order
    cells: dict[str, Cell] = _field(default_factory=dict)  # column -> cell, every column of the row
    target_cells: dict[str, Cell] = _field(default_factory=dict)  # period -> its 'target' cell

    @property
    def row(self) -> int:
        return self.cells["code"].row

    @property
    def is_share(self) -> bool:
        return self.kind in SHARE_KINDS

    def fields(self) -> list[tuple[str, str, int]]:
        """(column, field, position in the cell) for every field the indicator reads; position 0 = whole cell."""
        out = [(column, getattr(self, column), 0) for column in ("field", "key", "date") if getattr(self, column)]
        for column in ("filter", "condition", "pre", "post"):
            expr = getattr(self, column)
            if expr is not None:
                out.extend((column, name, pos) for name, pos in expr_fields(expr))
        return out


@dataclass
class DimensionSource:
    """A row of the disaggregations sheet: how `dimension` is read for `form` ('*' = any form)."""

    dimension: str
    form: str
    fields: tuple[str, ...]
    derive: str  # value | wg_ss | age_band
    lookup_form: str = ""  # read the fields from this form, ...
    lookup_key: str = ""  # ... on the row whose lookup_key equals this form's lookup_key
    cells: dict[str, Cell] = _field(default_factory=dict)

    @property
    def source_form(self) -> str:
        return self.lookup_form or self.form


@dataclass
class IndicatorTable:
    path: Path
    indicators: list[Indicator] = _field(default_factory=list)
    dimensions: list[DimensionSource] = _field(default_factory=list)
    settings: dict[str, int] = _field(default_factory=lambda: dict(SETTINGS_DEFAULTS))
    problems: list[Finding] = _field(default_factory=list)  # found while reading, before any form is seen

    def indicator(self, code: str) -> Indicator | None:
        return next((i for i in self.indicators if i.code == code), None)

    def dimension_for(self, dimension: str, form: str) -> DimensionSource | None:
        """The form's own row for a dimension, else the '*' row, else None."""
        rows = [d for d in self.dimensions if d.dimension == dimension]
        return next((d for d in rows if d.form == form), None) or next((d for d in rows if d.form == "*"), None)

    @property
    def dimension_names(self) -> list[str]:
        return list(dict.fromkeys(d.dimension for d in self.dimensions))


# --------------------------------------------------------------------------- reading

def _finding(rule: str, file: str, cell: Cell | None, message: str, *, sheet: str = "") -> Finding:
    """A finding of a catalogued rule at a cell (None: about the whole file, or a sheet)."""
    severity = RULES[rule][0]
    if cell is None:
        return Finding(rule=rule, severity=severity, file=file, sheet=sheet, row=None, column="", message=message)
    return Finding(rule=rule, severity=severity, file=file, sheet=cell.sheet, row=cell.row, column=cell.column,
                   message=message, cell=cell.address)


def _canonical(header: str) -> str:
    return header.strip().lower().replace(" ", "_")


class _SheetReader:
    """A sheet with its headers folded to lower case, handing out Cells."""

    def __init__(self, sheet: Sheet, known: tuple[str, ...]):
        self.sheet = sheet
        self.columns = {_canonical(h): h for h in sheet.headers}
        self.known = known

    def cell(self, row: Row, column: str) -> Cell:
        header = self.columns.get(column, "")
        text = row.get(header).strip() if header else ""
        return Cell(self.sheet.name, row.number, column, self.sheet.letter(header) if header else "", text)

    def header_cell(self, column: str) -> Cell:
        header = self.columns.get(column, "")
        return Cell(self.sheet.name, 1, column, self.sheet.letter(header) if header else "", column)

    def unknown_columns(self) -> list[str]:
        return [c for c in self.columns if c not in self.known and not _is_language_column(c)]


def _is_language_column(column: str) -> bool:
    base, sep, lang = column.partition("::")
    return bool(sep and lang and base in ("name", "definition"))


def _as_number(text: str) -> float | None:
    """A plain number as Excel stores it; typed text such as '1.500' or '2,5' is refused, not guessed."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _split_list(text: str) -> list[str]:
    return [part for part in re.split(r"[,\s;]+", text) if part]


def read_indicator_table(path: str | Path) -> IndicatorTable:
    """Read the table; problems that need no instrument to see are collected in `problems`.

    Raises InputError only when the file cannot be read as a workbook at all.
    """
    path = Path(path)
    file = str(path)
    sheets = read_sheets(path)
    table = IndicatorTable(path=path)
    problems = table.problems
    if INDICATORS not in sheets:
        names = ", ".join(repr(s.name) for s in sheets.values()) or "none"
        problems.append(_finding("indicator-sheet-missing", file, None,
                                 f"the workbook has no sheet named 'indicators' (sheets found: {names}); "
                                 "add it with one row per indicator (see the README sheet)."))
        return table
    if SETTINGS in sheets:
        _read_settings(table, _SheetReader(sheets[SETTINGS], SETTING_COLUMNS), file)
    if DISAGGREGATIONS in sheets:
        _read_dimensions(table, _SheetReader(sheets[DISAGGREGATIONS], DISAGGREGATION_COLUMNS), file)
    if not _read_indicators(table, _SheetReader(sheets[INDICATORS], INDICATOR_COLUMNS), file):
        return table  # without its columns no indicator was read: targets could only restate that
    with_rows = _read_targets(table, _SheetReader(sheets[TARGETS], TARGET_COLUMNS), file) if TARGETS in sheets else set()
    seen: set[str] = set()
    for indicator in table.indicators:
        duplicate = indicator.code in seen  # reported as a duplicate already
        seen.add(indicator.code)
        if indicator.code and indicator.code not in with_rows and not duplicate:
            problems.append(_finding("indicator-target-missing", file, indicator.cells["code"],
                                     f"indicator {indicator.code} has no target; add rows for it in the "
                                     "'targets' sheet (columns code, period, target)."))
    return table


def _check_columns(reader: _SheetReader, required: tuple[str, ...], file: str, problems: list[Finding]) -> bool:
    ok = True
    for column in required:
        if column not in reader.columns:
            ok = False
            present = ", ".join(reader.sheet.raw_headers) or "(empty)"
            problems.append(_finding("indicator-column-missing", file, reader.header_cell(column),
                                     f"sheet '{reader.sheet.name}' has no column '{column}' in row 1 (its headers: "
                                     f"{present}); add it."))
    for column in reader.unknown_columns():
        cell = reader.header_cell(column)
        close = difflib.get_close_matches(column, reader.known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        problems.append(_finding("indicator-column-unknown", file, cell,
                                 f"sheet '{reader.sheet.name}' has a column '{column}' the table does not read; "
                                 f"{hint}known columns: {', '.join(reader.known)}."))
    return ok


def _read_settings(table: IndicatorTable, reader: _SheetReader, file: str) -> None:
    if not _check_columns(reader, ("setting", "value"), file, table.problems):
        return
    for row in reader.sheet.rows:
        name, value = reader.cell(row, "setting"), reader.cell(row, "value")
        if name.text not in SETTINGS_DEFAULTS:
            table.problems.append(_finding("indicator-setting-invalid", file, name,
                                           f"unknown setting '{name.text}'; known: {', '.join(SETTINGS_DEFAULTS)}."))
            continue
        number = _as_number(value.text)
        if number is None or number < 1 or not number.is_integer():
            table.problems.append(_finding("indicator-setting-invalid", file, value,
                                           f"{name.text} must be a whole number of 1 or more (IPTT cells with "
                                           f"fewer people are suppressed), not '{value.text}'."))
            continue
        table.settings[name.text] = int(number)


def _read_dimensions(table: IndicatorTable, reader: _SheetReader, file: str) -> None:
    if not _check_columns(reader, ("dimension", "form", "field", "derive"), file, table.problems):
        return
    seen: dict[tuple[str, str], int] = {}
    for row in reader.sheet.rows:
        cells = {c: reader.cell(row, c) for c in DISAGGREGATION_COLUMNS}
        bad = False
        for column in ("dimension", "form", "field"):
            if not cells[column].text:
                bad = True
                table.problems.append(_finding("indicator-cell-missing", file, cells[column],
                                               f"'{column}' is empty; every disaggregation row needs dimension, "
                                               "form ('*' for any form) and field."))
        dimension, form = cells["dimension"].text, cells["form"].text
        derive = cells["derive"].text.lower() or "value"
        if derive not in DERIVES:  # reported; the row still defines the dimension
            table.problems.append(_finding("indicator-disaggregation-invalid", file, cells["derive"],
                                           f"derive '{cells['derive'].text}' is not one of {', '.join(DERIVES)} "
                                           "(value: the answer itself; wg_ss: disabled when any WG-SS item is 3 or 4; "
                                           "age_band: 15-24, 25-39, 40-59, 60+)."))
        fields = tuple(_split_list(cells["field"].text))
        if derive in ("value", "age_band") and len(fields) > 1:
            table.problems.append(_finding("indicator-disaggregation-invalid", file, cells["field"],
                                           f"derive {derive} reads one field, but {len(fields)} are named; "
                                           "name one field (wg_ss takes several)."))
        if bool(cells["lookup_form"].text) != bool(cells["lookup_key"].text):
            empty = cells["lookup_key"] if cells["lookup_form"].text else cells["lookup_form"]
            table.problems.append(_finding("indicator-disaggregation-invalid", file, empty,
                                           "lookup_form and lookup_key go together: fill both (e.g. mel_registrasi "
                                           "and id_peserta) or neither."))
        if dimension and form:
            if (dimension, form) in seen:
                bad = True
                table.problems.append(_finding("indicator-disaggregation-invalid", file, cells["dimension"],
                                               f"dimension '{dimension}' for form '{form}' is already defined in row "
                                               f"{seen[(dimension, form)]}; keep one row."))
            seen.setdefault((dimension, form), row.number)
        if bad:
            continue
        table.dimensions.append(DimensionSource(
            dimension=dimension, form=form, fields=fields, derive=derive,
            lookup_form=cells["lookup_form"].text, lookup_key=cells["lookup_key"].text, cells=cells))


def _read_indicators(table: IndicatorTable, reader: _SheetReader, file: str) -> bool:
    """Read every indicator row; False when the sheet lacks a required column (nothing read)."""
    problems = table.problems
    if not _check_columns(reader, INDICATOR_REQUIRED, file, problems):
        return False
    first_row: dict[str, int] = {}
    for row in reader.sheet.rows:
        cells = {c: reader.cell(row, c) for c in INDICATOR_COLUMNS}
        for column in reader.columns:
            if _is_language_column(column):
                cells[column] = reader.cell(row, column)
        text = {c: cell.text for c, cell in cells.items()}

        def problem(rule: str, column: str, message: str, cells: dict[str, Cell] = cells) -> None:
            problems.append(_finding(rule, file, cells[column], message))

        for column in INDICATOR_REQUIRED:
            if not text[column]:
                problem("indicator-cell-missing", column, f"'{column}' is empty; every indicator needs "
                                                          f"{', '.join(INDICATOR_REQUIRED)}.")
        code = text["code"]
        if code and not CODE.fullmatch(code):
            problem("indicator-code-invalid", "code", f"code '{code}' must start with a letter and hold only "
                                                      "letters, digits, '.', '_' or '-' (e.g. OC1.1, OP2.3).")
        if code in first_row:
            problem("indicator-duplicate-code", "code", f"code {code} is already used in row {first_row[code]}; "
                                                        "give this indicator its own code.")
        elif code:
            first_row[code] = row.number
        level = text["level"].lower()
        if text["level"] and level not in LEVELS:
            problem("indicator-cell-invalid", "level", f"level '{text['level']}' must be one of {', '.join(LEVELS)}.")
        unit = text["unit"]
        if unit and unit not in UNITS:
            close = difflib.get_close_matches(unit.lower(), UNITS, n=1)
            problem("indicator-unit-unknown", "unit", f"unit '{unit}' is not one of {', '.join(UNITS)}"
                                                      + (f"; did you mean '{close[0]}'?" if close else "."))
        kind_name = text["kind"].lower()
        kind = KINDS.get(kind_name)
        if text["kind"] and kind is None:
            close = difflib.get_close_matches(kind_name, KINDS, n=1)
            problem("indicator-kind-unknown", "kind", f"kind '{text['kind']}' is not one of {', '.join(KINDS)}"
                                                      + (f"; did you mean '{close[0]}'?" if close else "")
                                                      + " (see the 'kinds' sheet).")
        if kind is not None:
            for column in kind.needs:
                if not text[column]:
                    problem("indicator-cell-missing", column,
                            f"kind {kind.name} needs '{column}' ({', '.join(kind.needs)}); {_column_help(column)}")
            for column in KIND_COLUMNS:
                if text[column] and column not in kind.needs and column not in kind.may:
                    problem("indicator-cell-unused", column,
                            f"kind {kind.name} does not use '{column}'; empty the cell or choose the kind that "
                            "uses it (see the 'kinds' sheet).")
            if unit in UNITS and (kind.name in SHARE_KINDS) != (unit == "%"):
                problem("indicator-unit-mismatch", "unit",
                        f"kind {kind.name} gives a percentage, so the unit must be '%', not '{unit}'."
                        if kind.name in SHARE_KINDS else
                        f"kind {kind.name} does not give a percentage; use a share kind or a unit other than '%'.")
        exprs: dict[str, Expr | None] = {}
        for column in ("filter", "condition", "pre", "post"):
            exprs[column] = None
            if text[column]:
                try:
                    exprs[column] = parse_filter(text[column])
                except FilterError as exc:
                    problem("indicator-filter-invalid", column,
                            f"{column} '{text[column]}' does not parse {exc}. Write conditions like "
                            "jenis_pelatihan = 2 and status_migran in (1, 2) (see the README sheet).")
        threshold = None
        if text["threshold"]:
            threshold = _as_number(text["threshold"])
            if threshold is None:
                problem("indicator-threshold-invalid", "threshold",
                        f"threshold '{text['threshold']}' is not a number; write e.g. 20 or 3.")
        dims = tuple(_split_list(text["disaggregate"]))
        twice = [d for d in dict.fromkeys(dims) if dims.count(d) > 1]
        if twice:
            problem("indicator-cell-invalid", "disaggregate", f"disaggregation '{twice[0]}' is listed twice; "
                                                              "name each once.")
        baseline = None
        if text["baseline"]:
            baseline = _as_number(text["baseline"])
            if baseline is None:
                problem("indicator-baseline-invalid", "baseline",
                        f"baseline '{text['baseline']}' is not a number; write a number (0 when nothing yet), "
                        "or leave it empty when not measured.")
            elif unit == "%" and not 0 <= baseline <= 100:
                problem("indicator-baseline-invalid", "baseline",
                        f"baseline {text['baseline']} is a percentage and must lie between 0 and 100.")
        if text["baseline_period"] and not PERIOD.fullmatch(text["baseline_period"]):
            problem("indicator-baseline-invalid", "baseline_period",
                    f"baseline_period '{text['baseline_period']}' must be written YYYY, YYYY-H1/H2 or YYYY-Q1..Q4.")
        cumulative = text["cumulative"].lower()
        if cumulative and cumulative not in ("yes", "no", "ya", "tidak"):
            problem("indicator-cell-invalid", "cumulative",
                    f"cumulative '{text['cumulative']}' must be yes or no (blank = no).")
        names = {c.partition("::")[2]: t for c, t in text.items() if c.startswith("name::") and t}
        definitions = {c.partition("::")[2]: t for c, t in text.items() if c.startswith("definition::") and t}
        table.indicators.append(Indicator(
            code=code, level=level, name=names, definition=definitions, unit=unit, form=text["form"],
            kind=kind_name, field=text["field"], key=text["key"], pre=exprs["pre"], post=exprs["post"],
            condition=exprs["condition"], threshold=threshold, filter=exprs["filter"], disaggregate=dims,
            baseline=baseline, baseline_period=text["baseline_period"], date=text["date"],
            cumulative=cumulative in ("yes", "ya"), notes=text["notes"], cells=cells))
    return True


def _column_help(column: str) -> str:
    return {
        "field": "name the form field it reads (e.g. skor).",
        "key": "name the field that identifies a unit (e.g. id_peserta, desa).",
        "pre": "write the condition of a pre-test row (e.g. fase = 1).",
        "post": "write the condition of a post-test row (e.g. fase = 2).",
        "condition": "write the condition a row must meet to count (e.g. jenis_kelamin = 2).",
        "threshold": "write the number to reach (e.g. 20 or 3).",
    }[column]


def _read_targets(table: IndicatorTable, reader: _SheetReader, file: str) -> set[str]:
    """Attach targets to indicators; returns the codes that have a target row (valid or not)."""
    problems = table.problems
    with_rows: set[str] = set()
    if not _check_columns(reader, ("code", "period", "target"), file, problems):
        return {i.code for i in table.indicators}  # the missing column is the finding
    by_code = {}
    for indicator in table.indicators:
        by_code.setdefault(indicator.code, indicator)
    first: dict[tuple[str, str], int] = {}
    for row in reader.sheet.rows:
        code, period, target = (reader.cell(row, c) for c in ("code", "period", "target"))
        indicator = by_code.get(code.text)
        if not code.text:
            problems.append(_finding("indicator-cell-missing", file, code, "'code' is empty; name the indicator "
                                                                           "this target belongs to."))
            continue
        if indicator is None:
            close = difflib.get_close_matches(code.text, list(by_code), n=1)
            problems.append(_finding("indicator-target-code-unknown", file, code,
                                     f"no indicator has the code '{code.text}'"
                                     + (f"; did you mean '{close[0]}'?" if close else
                                        "; add it to the 'indicators' sheet or correct the code.")))
            continue
        with_rows.add(code.text)
        if not PERIOD.fullmatch(period.text):
            problems.append(_finding("indicator-target-period-invalid", file, period,
                                     f"period '{period.text}' must be written YYYY (e.g. 2025), YYYY-H1/H2 or "
                                     "YYYY-Q1..Q4."))
            continue
        if (code.text, period.text) in first:
            problems.append(_finding("indicator-target-duplicate", file, period,
                                     f"{code.text} already has a target for {period.text} in row "
                                     f"{first[(code.text, period.text)]}; keep one."))
            continue
        first[(code.text, period.text)] = row.number
        reason = _target_problem(indicator, target.text)
        if reason:
            problems.append(_finding("indicator-target-invalid", file, target,
                                     f"target '{target.text}' for {code.text} {period.text}: {reason}"))
            continue
        indicator.targets[period.text] = _as_number(target.text)
        indicator.target_cells[period.text] = target
    return with_rows


def _target_problem(indicator: Indicator, text: str) -> str:
    if not text:
        return "the target is empty; write a number."
    value = _as_number(text)
    if value is None:
        return "not a number; write a plain number (no % sign, no text)."
    if indicator.unit == "%" or indicator.is_share:
        return "" if 0 <= value <= 100 else "a percentage must lie between 0 and 100."
    if indicator.kind in ("count", "count_unique", "sum") and (value < 0 or not value.is_integer()):
        return "a count must be a whole number of 0 or more."
    return ""


# =========================================================================== checking against forms

@dataclass
class _FormFields:
    form: XLSForm
    items: dict[str, Item]
    lists: dict[str, list[Row]]

    @classmethod
    def of(cls, form: XLSForm) -> _FormFields:
        items: dict[str, Item] = {}
        for item in walk(form):
            if item.is_field:
                items.setdefault(item.name, item)
        return cls(form, items, choice_lists(form))

    def has(self, name: str) -> bool:
        return name in self.items or name in KOBO_META

    def type_of(self, name: str) -> str:
        return self.items[name].type.base if name in self.items else KOBO_META.get(name, "")

    def unknown(self, name: str) -> str:
        """The tail of a message about a missing field: a near name if there is one."""
        close = difflib.get_close_matches(name, list(self.items), n=3)
        if close:
            return f"did you mean {' or '.join(repr(c) for c in close)}?"
        return "check the name in the form's survey sheet (column 'name')."


def check_indicator_table(path: str | Path, forms: Mapping[str, XLSForm]) -> list[Finding]:
    """Every problem of the table, checked against the instruments `forms` (form_id -> XLSForm)."""
    table = read_indicator_table(path)
    return sorted(set(table.problems + check_table(table, forms)), key=sort_key)


def check_table(table: IndicatorTable, forms: Mapping[str, XLSForm]) -> list[Finding]:
    """The findings that need the instruments: forms, fields, choices and disaggregations exist."""
    file = str(table.path)
    known = {form_id: _FormFields.of(form) for form_id, form in forms.items()}
    findings: list[Finding] = []
    form_list = ", ".join(sorted(known)) or "none"

    def form_problem(cell: Cell, form_id: str) -> None:
        close = difflib.get_close_matches(form_id, list(known), n=1)
        findings.append(_finding("indicator-form-unknown", file, cell,
                                 f"form '{form_id}' is not an instrument in xlsform_src/ "
                                 + (f"(did you mean '{close[0]}'?) " if close else "")
                                 + f"— use a form_id from the instruments' settings sheets: {form_list}."))

    for source in table.dimensions:
        _check_dimension_source(source, known, file, findings, form_problem)
    for indicator in table.indicators:
        if not indicator.form:
            continue
        form = known.get(indicator.form)
        if form is None:
            form_problem(indicator.cells["form"], indicator.form)
            continue
        _check_indicator_fields(indicator, form, file, findings)
        _check_indicator_dimensions(indicator, table, known, file, findings)
    return findings


def _check_dimension_source(source: DimensionSource, known: dict[str, _FormFields], file: str,
                            findings: list[Finding], form_problem) -> None:
    if source.form != "*" and source.form not in known:
        form_problem(source.cells["form"], source.form)
        return
    if source.lookup_form:
        lookup = known.get(source.lookup_form)
        if lookup is None:
            form_problem(source.cells["lookup_form"], source.lookup_form)
            return
        lacking = [(form_id, fields) for form_id, fields in ((source.lookup_form, lookup),
                                                             (source.form, known.get(source.form)))
                   if fields is not None and not fields.has(source.lookup_key)]
        if lacking:
            findings.append(_finding("indicator-field-unknown", file, source.cells["lookup_key"],
                                     f"lookup_key '{source.lookup_key}' is not a field of "
                                     f"{' nor of '.join(f for f, _ in lacking)}; the key must exist in both forms "
                                     f"({source.form} and {source.lookup_form}). "
                                     f"{lacking[0][1].unknown(source.lookup_key)}"))
    target = known.get(source.source_form)
    if target is None:  # '*' without lookup: checked for each indicator that uses it
        return
    for name in source.fields:
        if not target.has(name):
            findings.append(_finding("indicator-field-unknown", file, source.cells["field"],
                                     f"'{name}' is not a field of {source.source_form}; {target.unknown(name)}"))
        elif source.derive == "age_band" and target.type_of(name) not in NUMERIC_TYPES:
            findings.append(_finding("indicator-field-type", file, source.cells["field"],
                                     f"age_band needs a number of years, but '{name}' is a "
                                     f"{target.type_of(name)} question in {source.source_form}."))


def _check_indicator_fields(indicator: Indicator, form: _FormFields, file: str, findings: list[Finding]) -> None:
    kind = KINDS.get(indicator.kind)
    reported: set[tuple[str, str]] = set()
    for column, name, position in indicator.fields():
        if (column, name) in reported:
            continue
        reported.add((column, name))
        cell = indicator.cells[column]
        where = f" (character {position} of the {column})" if position else ""
        if not form.has(name):
            findings.append(_finding("indicator-field-unknown", file, cell,
                                     f"{indicator.code}: '{name}'{where} is not a field of {indicator.form}; "
                                     f"{form.unknown(name)}"))
            continue
        item = form.items.get(name)
        if item is not None and item.repeat:
            findings.append(_finding("indicator-field-in-repeat", file, cell,
                                     f"{indicator.code}: '{name}' is inside the repeat '{item.repeat}' of "
                                     f"{indicator.form}; indicators read one row per submission, so use a field "
                                     "outside repeats (e.g. a calculate that totals the repeat)."))
            continue
        ftype = form.type_of(name)
        if column == "field" and kind is not None and kind.numeric and ftype not in NUMERIC_TYPES \
                and not (indicator.kind == "share_threshold" and ftype == "select_one"):
            findings.append(_finding("indicator-field-type", file, cell,
                                     f"{indicator.code}: kind {indicator.kind} needs a number, but '{name}' is a "
                                     f"{ftype} question; name an integer, decimal or calculate field."))
        if column == "date" and ftype not in DATE_TYPES and ftype != "datetime":
            findings.append(_finding("indicator-field-type", file, cell,
                                     f"{indicator.code}: date '{name}' is a {ftype} question; name a date field "
                                     "(date, today, start, a calculate) or leave it empty for _submission_time."))
    for column in ("filter", "condition", "pre", "post"):
        expr = getattr(indicator, column)
        if expr is None:
            continue
        for node in walk_expr(expr):
            if not isinstance(node, (Compare, In)) or node.field not in form.items:
                continue
            item = form.items[node.field]
            if not item.type.is_select or item.type.argument not in form.lists:
                continue
            choices = [r["name"].strip() for r in form.lists[item.type.argument]]
            values = node.values if isinstance(node, In) else (node.value,) if node.op in ("=", "!=") else ()
            for value in values:
                if _text(value) not in choices:
                    findings.append(_finding(
                        "indicator-filter-value-unknown", file, indicator.cells[column],
                        f"{indicator.code}: {column} compares '{node.field}' with {_literal(value)} (character "
                        f"{node.position}), but its choice list '{item.type.argument}' has only "
                        f"{_choice_summary(form.lists[item.type.argument])}."))


def _choice_summary(rows: list[Row]) -> str:
    parts = []
    for row in rows[:12]:
        label = next((v for k, v in row.values.items() if k.startswith("label")), "")
        parts.append(f"{row['name']} {label}".strip())
    return ", ".join(parts) + (", …" if len(rows) > 12 else "")


def _check_indicator_dimensions(indicator: Indicator, table: IndicatorTable, known: dict[str, _FormFields],
                                file: str, findings: list[Finding]) -> None:
    cell = indicator.cells["disaggregate"]
    defined = table.dimension_names
    for dim in dict.fromkeys(indicator.disaggregate):
        source = table.dimension_for(dim, indicator.form)
        if source is None:
            if dim in defined:
                message = (f"{indicator.code}: '{dim}' is not defined for {indicator.form}; add a row to the "
                           f"'disaggregations' sheet (dimension {dim}, form {indicator.form}, its field).")
            else:
                close = difflib.get_close_matches(dim, defined + list(STANDARD_DIMENSIONS), n=1)
                message = (f"{indicator.code}: '{dim}' is not a disaggregation"
                           + (f" (did you mean '{close[0]}'?)" if close else "")
                           + f"; use {', '.join(defined) or ', '.join(STANDARD_DIMENSIONS)} or define it in the "
                           "'disaggregations' sheet.")
            findings.append(_finding("indicator-disaggregation-unknown", file, cell, message))
            continue
        if source.form != "*":
            continue  # checked once, at its own row
        target = known.get(source.source_form) if source.lookup_form else known.get(indicator.form)
        if target is None:
            continue
        missing = [name for name in source.fields if not target.has(name)]
        if missing:
            findings.append(_finding(
                "indicator-disaggregation-unknown", file, cell,
                f"{indicator.code}: '{dim}' reads {', '.join(missing)} by default ('*' row "
                f"{source.cells['dimension'].row} of 'disaggregations'), but {indicator.form} has no such field; "
                f"add a row for {indicator.form} there (e.g. with lookup_form mel_registrasi, lookup_key id_peserta) "
                "or remove the disaggregation."))


# --------------------------------------------------------------------------- the instruments

def read_instruments(xlsform_src: Path, skip: set[Path] | frozenset[Path] = frozenset()) -> dict[str, XLSForm]:
    """form_id -> XLSForm for every instrument in xlsform_src/ that can be read (the others are
    reported by their own `forms check`), except the resolved paths in `skip`."""
    forms: dict[str, XLSForm] = {}
    for path in instrument_paths(Path(xlsform_src)):
        if path.resolve() in skip:
            continue
        try:
            form = read_xlsform(path)
        except InputError:
            continue
        forms.setdefault(form.form_id, form)
    return forms


def load_indicators(path: str | Path, forms: Mapping[str, XLSForm]) -> IndicatorTable:
    """The table for computing (mel report): raises InputError when it has errors."""
    table = read_indicator_table(path)
    findings = sorted(set(table.problems + check_table(table, forms)), key=sort_key)
    errors = [f for f in findings if f.severity == ERROR]
    if errors:
        first = errors[0]
        raise InputError(f"{path}: {len(errors)} error(s) in the indicator table, first at {first.location()}: "
                         f"{first.message}", hint="Run `desbumi-sync forms check` to see them all.")
    return table
