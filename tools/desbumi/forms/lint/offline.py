"""Lint rules, family f: media files the form reads offline — pulldata, *_from_file, search, instance.

In a village with no signal a missing CSV or a misspelt column shows up only as an empty preload
or a blank choice list in the middle of an interview. Here every reference is resolved to a file
beside the instrument (or one the preload step writes) and every column it reads to that file's
header. Expressions are parsed with small regexes and a bracket scanner; what cannot be parsed is
skipped, never guessed at and never allowed to crash the check.
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..findings import ERROR, Finding
from ..structure import FILE_SELECT_TYPES
from ..workbook import Row
from .base import LintContext, rule
from .survey import TEXT_COLUMNS, call_argument_text, expression_cells

MEDIA_MISSING = rule("media-missing", ERROR,
                     "a media file named by pulldata/select_*_from_file/search/instance is not beside the form "
                     "nor made by the preload step")
MEDIA_COLUMN_MISSING = rule("media-column-missing", ERROR, "a column read from a media CSV is not in its header")
MEDIA_UNREADABLE = rule("media-unreadable", ERROR, "a media CSV cannot be read as UTF-8 text")
RULES = (MEDIA_MISSING, MEDIA_COLUMN_MISSING, MEDIA_UNREADABLE)

_INTERNAL_INSTANCES = {"last-saved", "__last-saved"}
_KEYWORDS = {"and", "or", "div", "mod"}
_EXTENSIONS = (".csv", ".xml", ".geojson")


@dataclass(frozen=True)
class Read:
    """A column read from a media file, and the cell that names it."""

    row: Row
    column: str  # the cell's column, e.g. "choice_filter"
    name: str  # the media file's column


@dataclass(frozen=True)
class MediaUse:
    """One reference to a media file: where it is written, which file, which of its columns it reads."""

    row: Row
    column: str
    file: str
    how: str  # the reference as a designer wrote it, shortened, for messages
    reads: tuple[Read, ...] = field(default=())


def check(ctx: LintContext) -> list[Finding]:
    uses = [*file_selects(ctx), *search_appearances(ctx), *expression_uses(ctx)]
    headers: dict[str, list[str] | None | Exception] = {}
    found: list[Finding] = []
    reported_unreadable: set[str] = set()
    for use in uses:
        if use.file not in headers:
            headers[use.file] = media_header(ctx, use.file)
        header = headers[use.file]
        if header is _MISSING:
            found.append(_missing(ctx, use))
        elif isinstance(header, Exception):
            if use.file not in reported_unreadable:
                reported_unreadable.add(use.file)
                found.append(ctx.at(MEDIA_UNREADABLE, use.row, use.column,
                                    f"{use.how} reads '{use.file}', which cannot be read as a UTF-8 CSV ({header}). "
                                    f"Save it as 'CSV UTF-8' from Excel and check it again."))
        elif header is not None:
            found.extend(_columns(ctx, use, header))
    return found


# --- where the form names media ------------------------------------------------------------------

def file_selects(ctx: LintContext) -> list[MediaUse]:
    """select_one_from_file f.csv reads its value and label columns and the columns its filter names."""
    uses: list[MediaUse] = []
    for item in ctx.items:
        if item.type.base not in FILE_SELECT_TYPES or not item.type.argument:
            continue
        row, file = item.row, item.type.argument
        reads: list[Read] = []
        if file.lower().endswith(".csv"):
            params = _parameters(row["parameters"])
            for key, default in (("value", "name"), ("label", "label")):
                reads.append(Read(row, "parameters" if key in params else "type", params.get(key, default)))
            reads.extend(Read(row, "choice_filter", n) for n in bare_names(row["choice_filter"]))
        uses.append(MediaUse(row, "type", file, f"'{item.type.base} {file}'", tuple(reads)))
    return uses


def search_appearances(ctx: LintContext) -> list[MediaUse]:
    """search('f', 'matches', 'col', ${x}) reads f.csv; the choices of the select name its columns."""
    uses: list[MediaUse] = []
    for item in ctx.items:
        text = item.row["appearance"]
        for match in re.finditer(r"\bsearch\s*\(", text):
            args = split_arguments(call_argument_text(text, match.end() - 1))
            name = _literal(args[0]) if args else None
            if not name:
                continue
            reads = [Read(item.row, "appearance", c) for c in (_literal(a) for a in args[2:3] + args[4:5]) if c]
            reads.extend(_choice_columns(ctx, item.type.argument))
            file = _with_extension(name)
            uses.append(MediaUse(item.row, "appearance", file, f"search('{name}', …)", tuple(reads)))
    return uses


def _choice_columns(ctx: LintContext, list_name: str) -> list[Read]:
    """With search(), the list's choice row holds column names: 'name' the value, labels the label."""
    rows = ctx.lists.get(list_name, [])
    if not rows:
        return []
    first = rows[0]
    return [Read(first, column, text.strip()) for column, text in first.values.items()
            if (column == "name" or column.partition("::")[0] == "label") and text.strip()]


def expression_uses(ctx: LintContext) -> list[MediaUse]:
    """pulldata('f', 'col', 'key', …) and instance('f')/root/item[…]/col in every expression cell."""
    uses: list[MediaUse] = []
    for row, column, text in expression_cells(ctx, sheets=("survey", "settings")):
        if column.partition("::")[0] in TEXT_COLUMNS:
            continue
        uses.extend(_pulldata(row, column, text))
        uses.extend(_instances(ctx, row, column, text))
    return uses


def _pulldata(row: Row, column: str, text: str) -> list[MediaUse]:
    uses = []
    for match in re.finditer(r"\bpulldata\s*\(", text):
        args = split_arguments(call_argument_text(text, match.end() - 1))
        name = _literal(args[0]) if args else None
        if not name:
            continue
        reads = tuple(Read(row, column, c) for c in (_literal(a) for a in args[1:3]) if c)
        uses.append(MediaUse(row, column, _with_extension(name), f"pulldata('{name}', …)", reads))
    return uses


def _instances(ctx: LintContext, row: Row, column: str, text: str) -> list[MediaUse]:
    uses = []
    for match in re.finditer(r"\binstance\s*\(\s*(['\"])(.*?)\1\s*\)", text):
        name = match.group(2).strip()
        file = instance_file(ctx, name)
        if not file:
            continue
        path = _path_after(text, match.end())
        reads = tuple(Read(row, column, c) for c in path_columns(path)) if file.lower().endswith(".csv") else ()
        uses.append(MediaUse(row, column, file, f"instance('{name}')", reads))
    return uses


def instance_file(ctx: LintContext, name: str) -> str:
    """The media file behind instance('name'), or '' for a choice list or a built-in instance."""
    if not name or name in _INTERNAL_INSTANCES or name in ctx.lists:
        return ""
    if name.lower().endswith(_EXTENSIONS):
        return name
    for item in ctx.items:
        if item.type.base in ("csv-external", "xml-external") and item.name == name:
            return f"{name}.{item.type.base.split('-')[0]}"
        if item.type.base in FILE_SELECT_TYPES and Path(item.type.argument).stem == name:
            return item.type.argument
    for extension in _EXTENSIONS:
        candidate = f"{name}{extension}"
        if candidate in ctx.generated_media or (ctx.media_dir and (ctx.media_dir / candidate).is_file()):
            return candidate
    return f"{name}.csv"


# --- small parsers -------------------------------------------------------------------------------

def split_arguments(text: str) -> list[str]:
    """Top-level comma-separated arguments of a call (quotes and nested brackets respected)."""
    args, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            args.append(text[start:index].strip())
            start = index + 1
    args.append(text[start:].strip())
    return args if any(args) else []


def _literal(arg: str) -> str | None:
    """The string inside 'quotes', or None when the argument is an expression."""
    match = re.fullmatch(r"\s*(['\"])(.*)\1\s*", arg or "", re.DOTALL)
    return match.group(2).strip() if match else None


def _with_extension(name: str) -> str:
    return name if name.lower().endswith(_EXTENSIONS) else f"{name}.csv"


def _parameters(text: str) -> dict[str, str]:
    """'value=code label=nama' -> {'value': 'code', 'label': 'nama'}."""
    return {k.lower(): v for k, v in re.findall(r"([\w-]+)\s*=\s*([^\s,;]+)", text or "")}


_STRIP = re.compile(r"'[^']*'|\"[^\"]*\"|\$\{[^}]*\}")
_NAME = re.compile(r"(?<![\w/@.:$-])([A-Za-z_][\w-]*)(?![\w:-])(?!\s*\()")


def bare_names(expression: str) -> list[str]:
    """Element names an expression reads relative to a choice item: `district = ${d} and aktif = 1`.

    Quoted strings, ${x}, function names and path steps after '/' (as in current()/../x) are not
    columns of the file.
    """
    text = _STRIP.sub(" ", expression or "")
    names = [m.group(1) for m in _NAME.finditer(text)]
    return list(dict.fromkeys(n for n in names if n.lower() not in _KEYWORDS))


def _path_after(text: str, start: int) -> str:
    """The location path following instance('f'): steps and balanced [predicates], up to an operator."""
    index, depth = start, 0
    while index < len(text):
        char = text[index]
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                break
        elif depth == 0 and not (char.isalnum() or char in "/_.-:@*"):
            break
        index += 1
    return text[start:index]


def path_columns(path: str) -> list[str]:
    """Columns named by '/root/item[col = …]/col2': the predicates' names and the steps below item."""
    steps, predicates, depth, current = [], [], 0, ""
    for char in path:
        if char == "[":
            if depth == 0:
                predicates.append("")
            else:
                predicates[-1] += char
            depth += 1
        elif char == "]":
            depth -= 1
            if depth > 0:
                predicates[-1] += char
        elif depth > 0:
            predicates[-1] += char
        elif char == "/":
            steps.append(current)
            current = ""
        else:
            current += char
    steps.append(current)
    named = [s.strip() for s in steps if s.strip() and s.strip() not in (".", "..", "*")
             and not s.strip().startswith("@")]
    columns = named[2:]
    for predicate in predicates:
        columns.extend(bare_names(predicate))
    return list(dict.fromkeys(columns))


# --- files and headers ---------------------------------------------------------------------------

_MISSING = object()


def media_header(ctx: LintContext, file: str):
    """The file's header list; None when it exists but has no columns to check (xml, geojson);
    _MISSING when it is nowhere; the exception when it cannot be read."""
    path = ctx.media_dir / file if ctx.media_dir else None
    if path is not None and path.is_file():
        if not file.lower().endswith(".csv"):
            return None
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return [h.strip() for h in next(csv.reader(handle), [])]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            return exc
    if file in ctx.generated_media:
        return list(ctx.generated_media[file])
    return _MISSING


def _available(ctx: LintContext) -> list[str]:
    names = set(ctx.generated_media)
    if ctx.media_dir and ctx.media_dir.is_dir():
        names.update(p.name for p in ctx.media_dir.iterdir() if p.is_file())
    return sorted(names)


def _missing(ctx: LintContext, use: MediaUse) -> Finding:
    available = _available(ctx)
    close = difflib.get_close_matches(use.file, available, n=1, cutoff=0.6)
    folder = f"{ctx.media_dir.name}/" if ctx.media_dir else "the media folder beside the form"
    known = f" Media known: {', '.join(available)}." if available else ""
    guess = f" Did you mean '{close[0]}'?" if close else ""
    return ctx.at(MEDIA_MISSING, use.row, use.column,
                  f"{use.how} needs the media file '{use.file}', which is neither in {folder} nor made by the "
                  f"preload step, so the phone would have nothing to read offline.{guess}{known} Put the file "
                  f"there or correct the name (it must match exactly, case included).")


def _columns(ctx: LintContext, use: MediaUse, header: list[str]) -> list[Finding]:
    found: list[Finding] = []
    seen: set[tuple] = set()
    for read in use.reads:
        key = (read.row.sheet, read.row.number, read.column, read.name)
        if read.name in header or key in seen:
            continue
        seen.add(key)
        close = difflib.get_close_matches(read.name, header, n=1, cutoff=0.6)
        guess = f" Did you mean '{close[0]}'?" if close else ""
        found.append(ctx.at(MEDIA_COLUMN_MISSING, read.row, read.column,
                            f"{use.how} reads the column '{read.name}' of '{use.file}', but its header has only: "
                            f"{', '.join(header) or '(nothing)'}.{guess} Correct the name, or add the column to "
                            f"the file (or to the preload)."))
    return found
