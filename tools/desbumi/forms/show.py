"""Any .xlsx workbook as canonical plain text: the git textconv driver behind `forms show`.

`git diff` on a spreadsheet is only reviewable when the text is stable and each changed cell
changes one line. The format:

    == survey ==
    columns | A=type | B=name | C=label::English (en)
    type=integer | name=age | label::English (en)=How old are you?

    == choices ==
    ...

- Sheets come in workbook order, each introduced by `== <sheet name> ==`, separated by a blank line.
- The first non-empty row of a sheet is its header, shown once as the `columns` line with each
  column's Excel letter. Every later non-empty row is one line of `header=value` pairs, in column
  order, non-empty cells only; blank rows are skipped. Keying cells by header rather than by letter
  means that inserting a column changes only the `columns` line.
- Excel row numbers are left out by default: with them, inserting one question would renumber, and so
  change, every later line. `row_numbers=True` prefixes each line with `row N |` for reading by eye.
- A cell under an empty header is keyed `[F]` (its column letter); a header used twice is keyed
  `label[C]` so that no two keys of a line are the same.
- Escapes keep one row on one line and the separators unambiguous: `\\` backslash, `\\n` `\\r` `\\t`,
  `\\|` a pipe, `\\=` an equals sign inside a header, `\\x20` a leading or trailing space, and
  `\\xNN`/`\\uNNNN` any other invisible character (a non-breaking space is `\\xa0`), so that
  whitespace a form designer cannot see in Excel is visible in the diff.
- Values are the text pyxform would see (`workbook.cell_text`): 1.0 is `1`, dates ISO, formulas their
  last computed value.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl.utils import get_column_letter

from ..errors import InputError
from .workbook import READ_ERRORS, cell_text, open_workbook

__all__ = ["show_workbook", "escape"]

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "|": "\\|"}


def escape(text: str, *, key: bool = False) -> str:
    """One cell (or header, with key=True) as single-line text; see the module docstring."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif key and ch == "=":
            out.append("\\=")
        elif ch != " " and not ch.isprintable():
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    escaped = "".join(out)
    # Leading/trailing spaces would vanish in a diff (and in a terminal); spell them out.
    core = escaped.strip(" ")
    if core != escaped:
        lead = len(escaped) - len(escaped.lstrip(" "))
        trail = len(escaped) - len(escaped.rstrip(" "))
        if not core:
            return "\\x20" * len(escaped)
        escaped = "\\x20" * lead + core + "\\x20" * trail
    return escaped


def show_workbook(path: str | Path, *, row_numbers: bool = False) -> str:
    """Every sheet of the workbook at `path` as canonical text (ends with a newline).

    Works on any .xlsx, not only XLSForms. A missing or unreadable file raises InputError naming it.
    """
    path = Path(path)
    book = open_workbook(path)
    try:
        blocks = [_show_sheet(ws, row_numbers) for ws in book.worksheets]
    except READ_ERRORS as exc:
        raise InputError(f"{path}: the workbook is damaged and cannot be read — {type(exc).__name__}: {exc}",
                         hint="Open it in Excel or LibreOffice and save it again as an .xlsx workbook.") from exc
    finally:
        book.close()
    if not blocks:
        return "(no sheets)\n"
    return "\n".join(blocks)


def _show_sheet(ws, row_numbers: bool) -> str:
    lines = [f"== {escape(ws.title)} =="]
    # A stale <dimension> tag would make openpyxl cut rows or columns off; read what is there.
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()
    keys: dict[int, str] | None = None
    for number, cells in enumerate(ws.iter_rows(values_only=True), start=1):
        texts = {index: cell_text(value) for index, value in enumerate(cells)}
        texts = {index: text for index, text in texts.items() if text != ""}
        if not texts:
            continue
        prefix = f"row {number} | " if row_numbers else ""
        if keys is None:
            keys = _keys(texts)
            columns = " | ".join(f"{get_column_letter(i + 1)}={escape(t)}" for i, t in sorted(texts.items()))
            lines.append(f"{prefix}columns | {columns}")
            continue
        pairs = []
        for index, text in sorted(texts.items()):
            key = keys.get(index) or f"[{get_column_letter(index + 1)}]"
            pairs.append(f"{key}={escape(text)}")
        lines.append(prefix + " | ".join(pairs))
    if keys is None:
        lines.append("(empty)")
    return "\n".join(lines) + "\n"


def _keys(header: dict[int, str]) -> dict[int, str]:
    """Column index -> the key its cells are shown under; duplicates get their column letter."""
    counts: dict[str, int] = {}
    for text in header.values():
        counts[text] = counts.get(text, 0) + 1
    keys = {}
    for index, text in header.items():
        key = escape(text, key=True)
        keys[index] = f"{key}[{get_column_letter(index + 1)}]" if counts[text] > 1 else key
    return keys
