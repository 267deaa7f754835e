"""Readable XLSForm fixtures: forms written as small markdown tables, saved as real .xlsx files.

    survey = '''
    | type    | name | label::Bahasa Indonesia (id) | label::English (en) |
    | integer | age  | Umur                         | Age                 |
    '''

A cell written as `""` stays empty; leading/trailing spaces of a cell are kept only when the cell
is given through `rows` (lists) instead of markdown, for whitespace tests.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

ID, EN = "Bahasa Indonesia (id)", "English (en)"


def table(markdown: str) -> list[list[str]]:
    """Parse a markdown table into rows of cells (header first); separator lines are skipped."""
    rows = []
    for line in markdown.strip().splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if all(set(c) <= set("-: ") for c in cells):
            continue
        rows.append(["" if c == '""' else c for c in cells])
    return rows


def write_xlsform(path: Path, sheets: dict[str, str | list[list]]) -> Path:
    """Write sheets (markdown or lists of rows, header first) to an .xlsx workbook."""
    book = Workbook()
    book.remove(book.active)
    for name, content in sheets.items():
        ws = book.create_sheet(name)
        rows = table(content) if isinstance(content, str) else content
        for row in rows:
            ws.append([None if c == "" else c for c in row])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


# A small form that every lint rule accepts: bilingual, integer-coded, pii filled, metadata present.
CLEAN_SURVEY = f"""
| type              | name       | label::{ID}              | label::{EN}             | hint::{ID}          | hint::{EN}        | constraint     | constraint_message::{ID} | constraint_message::{EN} | required | required_message::{ID} | required_message::{EN} | relevant          | calculation   | pii |
| start             | start      | ""                       | ""                      | ""                  | ""                | ""             | ""                       | ""                       | ""       | ""                     | ""                     | ""                | ""            | no  |
| end               | end        | ""                       | ""                      | ""                  | ""                | ""             | ""                       | ""                       | ""       | ""                     | ""                     | ""                | ""            | no  |
| today             | today      | ""                       | ""                      | ""                  | ""                | ""             | ""                       | ""                       | ""       | ""                     | ""                     | ""                | ""            | no  |
| deviceid          | deviceid   | ""                       | ""                      | ""                  | ""                | ""             | ""                       | ""                       | ""       | ""                     | ""                     | ""                | ""            | no  |
| begin group       | resp       | Responden                | Respondent              | ""                  | ""                | ""             | ""                       | ""                       | ""       | ""                     | ""                     | ""                | ""            | no  |
| integer           | age        | Berapa umur Anda?        | How old are you?        | Dalam tahun         | In years          | . >= 15 and . <= 99 | Umur 15 sampai 99   | Age 15 to 99             | yes      | Wajib diisi            | Required               | ""                | ""            | no  |
| select_one yesno  | worked     | Bekerja minggu lalu?     | Worked last week?       | ""                  | ""                | ""             | ""                       | ""                       | yes      | Wajib diisi            | Required               | ""                | ""            | no  |
| select_multiple app | apps     | Aplikasi yang dipakai?   | Apps used?              | ""                  | ""                | ""             | ""                       | ""                       | ""       | ""                     | ""                     | ${{worked}} = 1   | ""            | no  |
| calculate         | age_group  | ""                       | ""                      | ""                  | ""                | ""             | ""                       | ""                       | ""       | ""                     | ""                     | ""                | if(${{age}} < 25, 1, 2) | no |
| note              | age_note   | Kelompok umur: ${{age_group}} | Age group: ${{age_group}} | ""          | ""                | ""             | ""                       | ""                       | ""       | ""                     | ""                     | ""                | ""            | no  |
| end group         | resp       | ""                       | ""                      | ""                  | ""                | ""             | ""                       | ""                       | ""       | ""                     | ""                     | ""                | ""            | no  |
"""

CLEAN_CHOICES = f"""
| list_name | name | label::{ID} | label::{EN} |
| yesno     | 1    | Ya          | Yes         |
| yesno     | 0    | Tidak       | No          |
| app       | 1    | WhatsApp    | WhatsApp    |
| app       | 2    | Facebook    | Facebook    |
"""

CLEAN_SETTINGS = f"""
| form_id    | form_title   | version    | default_language |
| lint_clean | Lint clean   | 2026112801 | {ID}             |
"""


def clean_sheets() -> dict[str, list[list[str]]]:
    """The clean form as mutable lists of rows, for tests that break one cell."""
    return {"survey": table(CLEAN_SURVEY), "choices": table(CLEAN_CHOICES), "settings": table(CLEAN_SETTINGS)}


def set_cell(rows: list[list[str]], name: str, column: str, value: str) -> list[list[str]]:
    """Set `column` of the row whose first matching 'name' (or list_name+name) cell equals `name`."""
    header = rows[0]
    col = header.index(column)
    key = header.index("name")
    for row in rows[1:]:
        if row[key] == name:
            row[col] = value
            return rows
    raise KeyError(name)


def named_items(form) -> dict:
    """name -> structure Item of every named survey row but end group/repeat rows."""
    from desbumi.forms.structure import walk

    return {item.name: item for item in walk(form) if item.name and not item.is_end}


def choice_labels(form) -> dict[str, dict[str, dict[str, str]]]:
    """list_name -> code -> {"id": Indonesian label, "en": English label}."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for row in form.choices.rows:
        out.setdefault(row["list_name"], {})[row["name"]] = {"id": row[f"label::{ID}"], "en": row[f"label::{EN}"]}
    return out
