"""Read any XLSForm into plain rows that remember their sheet, Excel row and column.

Every later tool (lint, build, diff, show) works on this model, so a finding can always point
a form designer at the exact cell to fix in Excel.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from ..errors import InputError

SURVEY, CHOICES, SETTINGS = "survey", "choices", "settings"

# pyxform accepts several spellings of a column; we fold them to one so rules look in one place.
_ALIASES = {
    "list name": "list_name",
    "constraint message": "constraint_message",
    "jr:constraintmsg": "constraint_message",
    "required message": "required_message",
    "jr:requiredmsg": "required_message",
    "relevance": "relevant",
    "calculate": "calculation",
    "choice filter": "choice_filter",
    "read only": "read_only",
    "readonly": "read_only",
    "repeat count": "repeat_count",
    "jr:count": "repeat_count",
    "default": "default",
    "form id": "form_id",
    "id_string": "form_id",
    "form title": "form_title",
    "title": "form_title",
    "default language": "default_language",
    "instance name": "instance_name",
}
_TRANSLATABLE = ("label", "hint", "constraint_message", "required_message", "guidance_hint",
                 "image", "audio", "video", "big-image")


def normalise_header(header: str) -> str:
    """'Label::English (en)' -> 'label::English (en)'; 'constraint message' -> 'constraint_message'.

    The column part is folded to pyxform's canonical lower-case name; a language keeps its spelling,
    because pyxform treats 'English (en)' and 'english (en)' as different languages.
    """
    text = header.strip()
    base, sep, lang = text.partition("::")
    if not sep:
        base, sep, lang = text.partition(":") if text.lower().startswith(tuple(f"{t}:" for t in _TRANSLATABLE)) else (text, "", "")
    base = base.strip().lower()
    base = _ALIASES.get(base, base)
    return f"{base}::{lang.strip()}" if sep else base


def cell_text(value: object) -> str:
    """The string pyxform would see for a cell: integers without '.0', dates as ISO, None as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Row:
    """One non-empty data row: values by normalised header, plus where it sits in Excel."""

    sheet: str
    number: int  # Excel row number, header = 1
    values: dict[str, str]

    def get(self, column: str, default: str = "") -> str:
        return self.values.get(column, default)

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass(frozen=True)
class Sheet:
    name: str  # as written in the workbook
    headers: list[str]  # normalised, in column order
    raw_headers: list[str]  # as written, for whitespace checks
    letters: dict[str, str]  # normalised header -> Excel column letter
    rows: list[Row]

    def letter(self, column: str) -> str:
        return self.letters.get(column, "")


@dataclass
class XLSForm:
    path: Path
    sheets: dict[str, Sheet] = field(default_factory=dict)  # keyed by lower-case sheet name

    @property
    def survey(self) -> Sheet:
        return self.sheets[SURVEY]

    @property
    def choices(self) -> Sheet | None:
        return self.sheets.get(CHOICES)

    @property
    def settings(self) -> dict[str, str]:
        sheet = self.sheets.get(SETTINGS)
        return dict(sheet.rows[0].values) if sheet and sheet.rows else {}

    @property
    def settings_row(self) -> Row | None:
        sheet = self.sheets.get(SETTINGS)
        return sheet.rows[0] if sheet and sheet.rows else None

    @property
    def form_id(self) -> str:
        return self.settings.get("form_id") or self.path.stem

    @property
    def version(self) -> str:
        return self.settings.get("version", "")

    @property
    def languages(self) -> list[str]:
        """Declared languages in first-seen order over survey then choices headers."""
        seen: dict[str, None] = {}
        for name in (SURVEY, CHOICES):
            sheet = self.sheets.get(name)
            for header in sheet.headers if sheet else []:
                base, sep, lang = header.partition("::")
                if sep and base in _TRANSLATABLE and lang:
                    seen.setdefault(lang, None)
        return list(seen)

    @property
    def default_language(self) -> str:
        langs = self.languages
        return self.settings.get("default_language") or (langs[0] if langs else "")


# What openpyxl raises on a file that is not a workbook (or a damaged one).
READ_ERRORS = (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, EOFError,
                IndexError, AttributeError, SyntaxError)


def open_workbook(path: Path):
    """openpyxl's read-only workbook, or one InputError that names the file and what to do."""
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    if path.suffix.lower() == ".xls":
        raise InputError(f"{path}: old .xls workbooks are not read; open it in Excel and save it as .xlsx.")
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except READ_ERRORS as exc:
        raise InputError(f"{path}: not a readable Excel workbook (.xlsx) — {type(exc).__name__}: {exc}".rstrip(),
                         hint="Open it in Excel or LibreOffice and save it as an .xlsx workbook.") from exc


def read_sheets(path: str | Path) -> dict[str, Sheet]:
    """Every sheet of a workbook keyed by lower-case name, rows keeping their Excel numbers."""
    path = Path(path)
    book = open_workbook(path)
    try:
        return {ws.title.strip().lower(): read_sheet(path, ws) for ws in book.worksheets}
    except READ_ERRORS as exc:
        raise InputError(f"{path}: the workbook is damaged and cannot be read — {type(exc).__name__}: {exc}",
                         hint="Open it in Excel or LibreOffice and save it again as an .xlsx workbook.") from exc
    finally:
        book.close()


def read_xlsform(path: str | Path) -> XLSForm:
    """Load an XLSForm; anything unreadable becomes one InputError that names the file."""
    path = Path(path)
    form = XLSForm(path=path, sheets=read_sheets(path))
    if SURVEY not in form.sheets:
        names = ", ".join(repr(ws) for ws in form.sheets) or "none"
        raise InputError(f"{path}: has no 'survey' sheet (sheets found: {names}).",
                         hint="An XLSForm needs a sheet named 'survey' with at least the columns 'type' and 'name'.")
    missing = [c for c in ("type", "name") if c not in form.survey.headers]
    if missing:
        raise InputError(f"{path}: sheet 'survey' row 1 lacks the column(s) {', '.join(missing)}; "
                         f"its header row reads: {', '.join(form.survey.raw_headers) or '(empty)'}.",
                         hint="The first row of the survey sheet must be the header: type, name, label::…")
    return form


def read_sheet(path: Path, ws) -> Sheet:
    rows_iter = ws.iter_rows(values_only=True)
    header_cells = next(rows_iter, ()) or ()
    raw_headers: list[str] = []
    headers: list[str] = []
    letters: dict[str, str] = {}
    positions: list[tuple[int, str]] = []
    for index, value in enumerate(header_cells):
        text = cell_text(value)
        if not text.strip():
            continue
        key = normalise_header(text)
        letter = get_column_letter(index + 1)
        if key in letters:
            raise InputError(f"{path}: sheet '{ws.title}' has the column '{key}' twice "
                             f"(cells {letters[key]}1 and {letter}1); delete or rename one of them.")
        raw_headers.append(text)
        headers.append(key)
        letters[key] = letter
        positions.append((index, key))
    rows: list[Row] = []
    for number, cells in enumerate(rows_iter, start=2):
        values = {}
        for index, key in positions:
            if index < len(cells):
                text = cell_text(cells[index])
                if text != "":
                    values[key] = text
        if any(v.strip() for v in values.values()):
            rows.append(Row(sheet=ws.title, number=number, values=values))
    return Sheet(name=ws.title, headers=headers, raw_headers=raw_headers, letters=letters, rows=rows)

