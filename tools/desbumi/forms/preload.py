"""`forms preload`: the year-one cross-section -> the year-two form's preload CSV media.

    panel/preload.toml       which media file of which form carries which year-one columns
    year-one file            csv (UTF-8, BOM tolerated), xlsx (first sheet), dta or sav; codes, not labels
        |  read_year1            -> Year1Table: header + rows with their file row numbers (header = 1)
        |  form_reads            -> the columns the form actually reads from the media file
        |  make_preload (pure)   -> checked, sorted rows as CSV bytes, one file or one per district
        v  write_preload         -> forms/<form_id>/<version>/media/<file>  (the newest build), or --out DIR

Where the files go. By default into the media folder of the form's newest build, because that folder is
what `forms deploy` uploads beside the XLSForm, and the build's own form.xlsx is the one whose
references decide the columns. A new build starts without the preload: run preload again after
`forms build`. With `--out DIR` the files go to DIR and the columns follow the source in xlsform_src/
(the newest build when the source is not there), for a form not built yet or a manual upload.

`--split-by district` writes one file per district under the same name, `<media>/<kab>/<file>`
(e.g. media/3509/responden_y1.csv): a form names its media file exactly, so a per-district file must
keep the name and differ by folder; each district's folder is what that district's copy of the form is
deployed with. A run removes the files an earlier run left under the other layout (the combined file
after a split, district files after a combined run), so no stale respondent list is deployed.

What is written is the least the enumerator needs: only the columns the form reads (its pulldata,
select_one_from_file, search() and instance() references, parsed as the offline lint rules parse them),
UTF-8 without BOM, "\\n" line ends, rows ordered by district, village and key. A NIK-like column is
refused in the definitions, and any value that looks like a NIK (16 digits) stops the preload.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .lint.base import LintContext
from .lint.offline import MediaUse, expression_uses, file_selects, search_appearances
from .versions import load_index, version_key
from .workbook import XLSForm, open_workbook, read_xlsform

PRELOAD_TOML = "preload.toml"
WILAYAH_CSV = "wilayah.csv"
FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".dta": "dta", ".sav": "sav"}
SPLITS = ("district",)
SLOW_SELECT_ROWS = 5000  # a select list longer than this is slow on older phones
LIST_LIMIT = 20  # rows or values named per problem in a message

_SPEC_KEYS = {"form", "file", "key", "district", "village", "columns"}
_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")  # a CSV column becomes an XML element name
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.csv$")
_NIK_LIKE = re.compile(r"(?:^|_)(?:no_?|nomor_?)?(?:nik|e_?ktp|ktp|nomor_induk(?:_kependudukan)?)(?:_|$)")
_NIK_VALUE = re.compile(r"(?<!\d)\d{16}(?!\d)")
_VILLAGE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")


# =========================================================================== definitions

@dataclass(frozen=True)
class Field:
    """`{column}` in a template: the value of a year-one column."""

    column: str


@dataclass(frozen=True)
class PreloadSpec:
    """One table of panel/preload.toml: a media file of a form and where its columns come from."""

    name: str  # the table's name, e.g. "responden_y1"
    form: str  # form_id
    file: str  # media file name, e.g. "responden_y1.csv"
    key: str  # year-one column identifying a respondent
    district: str  # year-one column with the district code
    village: str  # year-one column with the village code
    columns: dict[str, tuple[str | Field, ...]]  # output column -> literal text and fields
    origin: str = ""  # "panel/preload.toml [responden_y1]", for messages

    @property
    def available(self) -> list[str]:
        """Every column the file can carry (what `forms check` accepts the form to read)."""
        return list(self.columns)

    def sources(self, output: str) -> list[str]:
        """The year-one columns an output column is made from."""
        return [p.column for p in self.columns[output] if isinstance(p, Field)]


def is_nik_like(name: str) -> bool:
    """nik, no_nik, nik_responden, ktp, no_ktp, noktp, e_ktp, nomor_induk_kependudukan (not status_nikah)."""
    folded = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    return bool(_NIK_LIKE.search(folded))


def parse_template(text: str) -> tuple[str | Field, ...]:
    """'{nama} ({tahun_lahir})' -> (Field('nama'), ' (', Field('tahun_lahir'), ')'); 'kab' -> (Field('kab'),).

    A value without braces names one column; `{{` and `}}` are literal braces. Raises ValueError.
    """
    if "{" not in text and "}" not in text:
        if not text.strip():
            raise ValueError("is empty; name a year-one column or write a template like \"{nama} ({tahun_lahir})\"")
        return (Field(text.strip()),)
    parts: list[str | Field] = []
    literal, index = "", 0
    while index < len(text):
        char = text[index]
        if text.startswith("{{", index) or text.startswith("}}", index):
            literal += char
            index += 2
        elif char == "{":
            end = text.find("}", index)
            name = text[index + 1:end].strip() if end != -1 else ""
            if end == -1 or not name or "{" in name:
                raise ValueError("has an unclosed or empty {…}; write {column} for a year-one column, {{ for a brace")
            if literal:
                parts.append(literal)
                literal = ""
            parts.append(Field(name))
            index = end + 1
        elif char == "}":
            raise ValueError("has a '}' without its '{'; write }} for a literal brace")
        else:
            literal += char
            index += 1
    if literal:
        parts.append(literal)
    if not any(isinstance(p, Field) for p in parts):
        raise ValueError("names no year-one column; a fixed text is not preload data")
    return tuple(parts)


def load_preload_specs(path: Path, *, display: str | None = None) -> list[PreloadSpec]:
    """Read and validate panel/preload.toml; every problem names the file, the table and the key."""
    path = Path(path)
    shown = display or str(path)
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise InputError(f"{shown}: no such file; the preload definitions are missing.",
                         hint="Restore panel/preload.toml from git (it maps year-one columns to each form's "
                              "media file).") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{shown} is not valid TOML: {exc}.") from exc
    except OSError as exc:
        raise InputError(f"{shown}: cannot be read ({exc.strerror}).") from exc
    specs = [_spec(name, body, shown) for name, body in raw.items()]
    seen: dict[tuple[str, str], str] = {}
    for spec in specs:
        other = seen.setdefault((spec.form, spec.file), spec.name)
        if other != spec.name:
            raise InputError(f"{shown}: [{other}] and [{spec.name}] both define '{spec.file}' of form "
                             f"'{spec.form}'; keep one table per media file.")
    return specs


def _spec(name: str, body: object, shown: str) -> PreloadSpec:
    where = f"{shown} [{name}]"
    if not isinstance(body, dict):
        raise InputError(f"{shown}: '{name}' must be a table ([{name}] with form, file, key and columns), "
                         f"not a single value.")
    unknown = sorted(set(body) - _SPEC_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; a preload table takes "
                         f"{', '.join(sorted(_SPEC_KEYS))}.")
    text: dict[str, str] = {}
    for key, default in (("form", None), ("file", None), ("key", None), ("district", "kab"), ("village", "desa")):
        value = body.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where} {key} must be a non-empty text, got {value!r}.")
        text[key] = value.strip()
    if not _FILE_NAME.match(text["file"]):
        raise InputError(f"{where} file = {text['file']!r} must be a plain CSV file name like 'responden_y1.csv' "
                         f"(no folder; letters, digits, '_', '.', '-').")
    for key in ("key", "district", "village"):
        if is_nik_like(text[key]):
            raise InputError(f"{where} {key} = {text[key]!r}: a NIK is never preloaded (UU PDP 27/2022); "
                             f"use resp_id.")
    columns = body.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise InputError(f"{where}: needs a [{name}.columns] table: output column = \"year-one column\" "
                         f"or \"{{template}}\".")
    parsed: dict[str, tuple[str | Field, ...]] = {}
    for output, value in columns.items():
        spot = f"{shown} [{name}.columns] {output}"
        if not _OUTPUT_NAME.match(output):
            raise InputError(f"{spot}: '{output}' cannot be a media column (the form reads it as an XML name); "
                             f"use letters, digits and '_', starting with a letter.")
        if not isinstance(value, str):
            raise InputError(f"{spot} = {value!r} must be a text: a year-one column or a template.")
        try:
            parts = parse_template(value)
        except ValueError as exc:
            raise InputError(f"{spot} = {value!r} {exc}.") from None
        nik = [p.column for p in parts if isinstance(p, Field) and is_nik_like(p.column)]
        if is_nik_like(output) or nik:
            named = nik[0] if nik else output
            raise InputError(f"{spot} = {value!r}: '{named}' is a NIK-like column, and a NIK is never preloaded "
                             f"(UU PDP 27/2022; it encodes region, birth date and sex). Remove this line.")
        parsed[output] = parts
    return PreloadSpec(name=name, form=text["form"], file=text["file"], key=text["key"],
                       district=text["district"], village=text["village"], columns=parsed, origin=where)


def specs_for(panel_dir: Path, form_id: str | None = None) -> list[PreloadSpec]:
    """The definitions in <panel>/preload.toml, of one form or of all; an InputError for an unknown form."""
    path = Path(panel_dir) / PRELOAD_TOML
    specs = load_preload_specs(path)
    if form_id is None:
        return specs
    chosen = [s for s in specs if s.form == form_id]
    if not chosen:
        known = ", ".join(sorted({s.form for s in specs})) or "none"
        raise InputError(f"{path}: no preload is defined for form '{form_id}' (forms with a preload: {known}).")
    return chosen


def generated_media_for(form_id: str | None, panel_dir: Path) -> dict[str, list[str]]:
    """Media file -> the columns preload can write, for `forms check` / `forms build`.

    form_id None gives every form's files (the check does not know a source's form_id before reading it).
    No panel/preload.toml means no generated media; a broken one is an InputError.
    """
    path = Path(panel_dir) / PRELOAD_TOML
    if not path.is_file():
        return {}
    media: dict[str, list[str]] = {}
    for spec in load_preload_specs(path):
        if form_id is None or spec.form == form_id:
            known = media.setdefault(spec.file, [])
            known.extend(c for c in spec.available if c not in known)
    return media


# =========================================================================== the year-one file

@dataclass
class Year1Table:
    """A year-one file as text cells: every value as the CSV writer would write it, codes not labels."""

    path: Path
    format: str  # csv | xlsx | dta | sav
    columns: list[str]
    rows: list[tuple[int, list[str]]]  # (file row number, header = 1; cells aligned with columns)
    note: str = ""  # something the reader chose, said once (e.g. which sheet)

    def where(self, rows: list[int]) -> str:
        """'row 7' / 'rows 7, 9 and 12', with '… and N more' past the limit."""
        return ("row " if len(rows) == 1 else "rows ") + _enumerate([str(r) for r in rows])

    @property
    def row_note(self) -> str:
        if self.format in ("dta", "sav"):
            return ("Row numbers count the variable names as row 1, so row N is observation N-1 in "
                    f"{'Stata' if self.format == 'dta' else 'SPSS'}.")
        return "Row numbers are the file's (the header is row 1)."


def read_year1(path: Path) -> Year1Table:
    """Read a year-one file by its extension: .csv, .xlsx, .dta or .sav."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: cannot read a '{path.suffix or 'extensionless'}' file as year one; give a "
                         f".csv (UTF-8), .xlsx, .dta or .sav file.")
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    table = {"csv": _read_csv, "xlsx": _read_xlsx, "dta": _read_stat, "sav": _read_stat}[kind](path)
    if not table.columns:
        raise InputError(f"{path}: has no header row (no column names).")
    if not table.rows:
        raise InputError(f"{path}: has column names but no respondents.")
    return table


def cell_value(value: object, *, single_precision: bool = False) -> str:
    """The text of one value, the same whichever format it came from: 3509.0 -> '3509', None/NaN -> ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
        if single_precision:  # a Stata/SPSS 'float': print the float32 it was, not its float64 widening
            import numpy

            return str(numpy.float32(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    try:
        import numpy

        if isinstance(value, numpy.generic):
            return cell_value(value.item(), single_precision=isinstance(value, numpy.float32))
    except ImportError:  # pragma: no cover
        pass
    return str(value).strip()


def _header(path: Path, cells: list[str]) -> list[str]:
    header = [c.strip() for c in cells]
    while header and not header[-1]:
        header.pop()
    seen: dict[str, int] = {}
    for index, name in enumerate(header):
        if name and name.lower() in seen:
            raise InputError(f"{path}: column '{name}' appears twice in the header (columns "
                             f"{seen[name.lower()] + 1} and {index + 1}); rename one.")
        seen[name.lower()] = index
    return header


def _read_csv(path: Path) -> Year1Table:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        raise InputError(f"{path}: contains NUL bytes; it is not a text CSV (UTF-16 or a binary file?).",
                         hint="Save it from Excel as 'CSV UTF-8 (Comma delimited)'.")
    text = data.decode("utf-8", errors="surrogateescape")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count) if first else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise InputError(f"{path}: not a well-formed CSV ({exc}).",
                         hint="Check quotes in that row, or save it again from Excel as 'CSV UTF-8'.") from exc
    if not records:
        return Year1Table(path, "csv", [], [])
    header = _header(path, records[0])
    undecodable: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for number, record in enumerate(records, start=1):
        for index, cell in enumerate(record):
            if any("\udc80" <= ch <= "\udcff" for ch in cell):
                column = header[index] if index < len(header) and header[index] else f"column {index + 1}"
                bad = next(ch for ch in cell if "\udc80" <= ch <= "\udcff")  # shown as a byte, not the text
                undecodable.append(f"row {number}, column '{column}' (byte 0x{ord(bad) - 0xDC00:02X})")
        if number == 1:
            continue
        cells = [c.strip() for c in record]
        extra = [c for c in cells[len(header):] if c]
        if extra:
            raise InputError(f"{path}: row {number} has {len(cells)} cells but the header names {len(header)} "
                             f"columns (extra: {', '.join(repr(e) for e in extra[:3])}).",
                             hint="A value with the separator in it must be quoted; save it again from Excel.")
        cells = (cells + [""] * len(header))[:len(header)]
        if any(cells):
            rows.append((number, cells))
    if undecodable:
        shown = "; ".join(undecodable[:LIST_LIMIT]) + (f"; and {len(undecodable) - LIST_LIMIT} more"
                                                          if len(undecodable) > LIST_LIMIT else "")
        raise InputError(f"{path}: text that is not UTF-8 at {shown}. The file was probably saved as Windows-1252 "
                         f"('CSV' rather than 'CSV UTF-8'), which garbles names.",
                         hint="Open it in Excel or LibreOffice and save it as 'CSV UTF-8 (Comma delimited)'.")
    return Year1Table(path, "csv", header, rows,
                      note=f"separator '{delimiter}'" if delimiter != "," else "")


def _read_xlsx(path: Path) -> Year1Table:
    book = open_workbook(path)
    try:
        sheets = book.worksheets
        if not sheets:
            return Year1Table(path, "xlsx", [], [])
        ws = sheets[0]
        values = ws.iter_rows(values_only=True)
        header = _header(path, [cell_value(c) for c in next(values, ()) or ()])
        rows: list[tuple[int, list[str]]] = []
        for number, record in enumerate(values, start=2):
            cells = [cell_value(c) for c in record]
            extra = [c for c in cells[len(header):] if c]
            if extra:
                raise InputError(f"{path} sheet '{ws.title}': row {number} has values beyond the last named "
                                 f"column ({', '.join(repr(e) for e in extra[:3])}); name that column or clear it.")
            cells = (cells + [""] * len(header))[:len(header)]
            if any(cells):
                rows.append((number, cells))
        note = f"sheet '{ws.title}' (first of {len(sheets)})" if len(sheets) > 1 else ""
        return Year1Table(path, "xlsx", header, rows, note=note)
    finally:
        book.close()


def _read_stat(path: Path) -> Year1Table:
    try:
        import pyreadstat
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise InputError(f"{path}: reading Stata/SPSS files needs pyreadstat (pip install pyreadstat).") from exc
    kind = FORMATS[path.suffix.lower()]
    try:
        if kind == "dta":
            frame, meta = pyreadstat.read_dta(str(path), apply_value_formats=False)
        else:  # user-missing codes (98, 99) stay the codes they are in a CSV of the same data
            frame, meta = pyreadstat.read_sav(str(path), apply_value_formats=False, user_missing=True)
    except Exception as exc:  # pyreadstat raises its own errors and UnicodeDecodeError
        program = "Stata" if kind == "dta" else "SPSS"
        raise InputError(f"{path}: cannot be read as a {program} file ({type(exc).__name__}: {exc}).",
                         hint=("Save it again from Stata 14 or later (`save`, format 118, UTF-8)."
                               if kind == "dta" else "Save it again from SPSS or PSPP as a .sav file.")) from exc
    header = _header(path, [str(c) for c in frame.columns])
    types = getattr(meta, "readstat_variable_types", {}) or {}
    single = {n for n in header if types.get(n) == "float"}
    columns = [frame[n].tolist() for n in header]
    count = len(columns[0]) if columns else 0
    rows: list[tuple[int, list[str]]] = []
    for index in range(count):
        cells = [cell_value(col[index], single_precision=name in single) for name, col in zip(header, columns)]
        if any(cells):
            rows.append((index + 2, cells))
    return Year1Table(path, kind, header, rows)


# =========================================================================== reference codes

@dataclass(frozen=True)
class AreaCodes:
    """Codes the preload checks against (Kemendagri; BPS only to explain a wrong code). Pure data, so
    the core can be tested without panel/wilayah.csv."""

    districts: dict[str, str]  # '3509' -> 'Jember'
    villages: dict[str, str] = field(default_factory=dict)  # '35.09.13.2003' -> village name
    bps_districts: dict[str, str] = field(default_factory=dict)  # BPS '5308' -> Kemendagri '5313'

    def name(self, district: str) -> str:
        return self.districts.get(district, "")


def load_area_codes(panel_dir: Path) -> AreaCodes:
    """The codes of <panel>/wilayah.csv, read and checked by desbumi.reference."""
    from .. import reference

    return area_codes_from_reference(reference.load_wilayah(Path(panel_dir) / WILAYAH_CSV))


def area_codes_from_reference(ref) -> AreaCodes:
    """A desbumi.reference.Wilayah as the lookups preload needs (district codes without the dot)."""
    districts = {str(d.code): d.name for d in ref.districts}
    bps = {d.bps: str(d.code) for d in ref.districts if d.bps and d.bps != str(d.code)}
    return AreaCodes(districts=districts, villages={v.kemendagri: v.name for v in ref.villages},
                   bps_districts=bps)


# =========================================================================== what the form reads

@dataclass(frozen=True)
class FormRead:
    """A column of the media file that the form reads, and the first cell that reads it."""

    column: str
    where: str  # "survey!H12" or "survey row 12, column calculation"


def form_reads(form: XLSForm, file: str, available: list[str] | None = None) -> list[FormRead]:
    """The columns `form` reads from media `file`, in the order the form first reads them.

    The same parsing as the offline lint rules: select_*_from_file (value, label, choice_filter
    columns), search() appearances, pulldata() and instance('…')/root/item paths.
    """
    ctx = LintContext(form=form, generated_media={file: list(available or [])})
    uses: list[MediaUse] = [u for u in (*file_selects(ctx), *search_appearances(ctx), *expression_uses(ctx))
                            if u.file == file]
    reads: dict[str, FormRead] = {}
    for use in uses:
        for read in use.reads:
            if read.name not in reads:
                reads[read.name] = FormRead(read.name, _cell(form, read.row, read.column))
    return list(reads.values())


def form_uses_file(form: XLSForm, file: str) -> bool:
    ctx = LintContext(form=form, generated_media={file: []})
    return any(u.file == file for u in (*file_selects(ctx), *search_appearances(ctx), *expression_uses(ctx)))


def _cell(form: XLSForm, row, column: str) -> str:
    sheet = next((s for s in form.sheets.values() if s.name == row.sheet), None)
    letter = sheet.letter(column) if sheet else ""
    return f"{row.sheet}!{letter}{row.number}" if letter else f"{row.sheet} row {row.number}, column {column}"


def columns_to_write(spec: PreloadSpec, reads: list[FormRead], form_label: str) -> list[str]:
    """The spec's columns the form reads, in the spec's order; an InputError for a read it cannot make."""
    unknown = [r for r in reads if r.column not in spec.columns]
    if unknown:
        listed = "; ".join(f"'{r.column}' at {r.where}" for r in unknown)
        raise InputError(f"{form_label} reads {listed} from '{spec.file}', but {spec.origin} does not define "
                         f"{'it' if len(unknown) == 1 else 'them'} (it defines: {', '.join(spec.columns)}).",
                         hint=f"Add a line to [{spec.name}.columns] (output column = \"year-one column\"), or "
                              f"correct the form.")
    wanted = {r.column for r in reads}
    return [c for c in spec.columns if c in wanted]


# =========================================================================== the pure core

@dataclass(frozen=True)
class PreloadFile:
    """One CSV to write: its path under the target folder, its rows and its bytes."""

    relpath: str  # "responden_y1.csv" or "3509/responden_y1.csv"
    district: str  # '' for the combined file
    rows: int
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class PreloadResult:
    """What a preload made for one media file; write_preload fills in where it went."""

    spec: PreloadSpec
    year1: Path
    year1_format: str
    columns: list[str]  # written, in order
    files: list[PreloadFile]
    districts: dict[str, int]  # district code -> respondents, in code order
    district_names: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    form_path: Path | None = None  # the XLSForm whose references chose the columns
    target: Path | None = None  # the folder the files go into
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.districts.values())

    def to_dict(self) -> dict:
        target = self.target
        return {
            "form_id": self.spec.form,
            "file": self.spec.file,
            "year1": str(self.year1),
            "year1_format": self.year1_format,
            "form": str(self.form_path) if self.form_path else None,
            "columns": self.columns,
            "rows": self.rows,
            "districts": [{"code": c, "name": self.district_names.get(c, ""), "rows": n}
                          for c, n in self.districts.items()],
            "files": [{"path": str(target / f.relpath) if target else f.relpath, "district": f.district or None,
                       "rows": f.rows, "bytes": f.size, "sha256": f.sha256} for f in self.files],
            "removed": [str(p) for p in self.removed],
            "warnings": self.warnings,
        }


def _enumerate(items: list[str]) -> str:
    shown = items[:LIST_LIMIT]
    more = len(items) - len(shown)
    if more:
        return ", ".join(shown) + f" and {more} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def natural_key(text: str) -> tuple:
    """'R-10' after 'R-9': digit runs compare as numbers."""
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in re.split(r"(\d+)", text) if p)


def _resolve_columns(table: Year1Table, needed: list[str]) -> tuple[dict[str, int], list[str]]:
    """Year-one column name -> index (exact, else case-insensitive), and the names not found."""
    exact = {name: i for i, name in enumerate(table.columns) if name}
    folded: dict[str, list[int]] = {}
    for i, name in enumerate(table.columns):
        if name:
            folded.setdefault(name.lower(), []).append(i)
    found, missing = {}, []
    for name in needed:
        if name in exact:
            found[name] = exact[name]
        elif len(folded.get(name.lower(), [])) == 1:
            found[name] = folded[name.lower()][0]
        else:
            missing.append(name)
    return found, missing


def make_preload(spec: PreloadSpec, table: Year1Table, columns: list[str], wilayah: AreaCodes,
                 *, split_by: str | None = None) -> PreloadResult:
    """Check the year-one rows and make the preload CSV(s) of `columns` (data in, data out).

    Every problem found is listed in one InputError (duplicates, empty keys, unknown or misplaced
    codes, NIK-like values), each with its file row numbers; nothing is made unless all rows pass.
    """
    if split_by not in (None, *SPLITS):
        raise InputError(f"--split-by {split_by!r}: only 'district' is known.")
    if not columns:
        raise InputError(f"{spec.origin}: the form reads no column of '{spec.file}'; nothing to preload.")
    index = locate_columns(spec, table, columns)
    problems = row_problems(spec, table, columns, index, wilayah)
    if problems:
        note = f" ({table.note})" if table.note else ""
        raise InputError(f"{table.path}{note}: {len(problems)} problem{'s' if len(problems) > 1 else ''}; nothing was "
                         f"written.\n" + "\n".join(f"  - {p}" for p in problems) + f"\n{table.row_note}")

    key_i, district_i, village_i = index[spec.key], index[spec.district], index[spec.village]
    ordered = [cells for _, cells in sorted(table.rows, key=lambda r: (r[1][district_i], r[1][village_i],
                                                                      natural_key(r[1][key_i]), r[1][key_i]))]
    districts: dict[str, int] = {}
    for cells in ordered:
        districts[cells[district_i]] = districts.get(cells[district_i], 0) + 1
    if split_by == "district":
        groups = [(d, [c for c in ordered if c[district_i] == d]) for d in districts]
    else:
        groups = [("", ordered)]
    files = []
    for district, rows in groups:
        content = _csv_bytes(columns, [[_render(spec.columns[out], cells, index) for out in columns]
                                       for cells in rows])
        relpath = f"{district}/{spec.file}" if district else spec.file
        files.append(PreloadFile(relpath=relpath, district=district, rows=len(rows), content=content))
    warnings = []
    for item in files:
        if item.rows > SLOW_SELECT_ROWS:
            which = f"the district {item.district} file" if item.district else spec.file
            advice = "filter the list by village (choice_filter)" if item.district else "use --split-by district"
            warnings.append(f"{which} has {item.rows:,} rows; a select list of more than about {SLOW_SELECT_ROWS:,} "
                            f"rows is slow on older phones — {advice}.")
    return PreloadResult(spec=spec, year1=table.path, year1_format=table.format, columns=list(columns),
                         files=files, districts=districts,
                         district_names={d: wilayah.name(d) for d in districts}, warnings=warnings)


def locate_columns(spec: PreloadSpec, table: Year1Table, columns: list[str]) -> dict[str, int]:
    """Year-one column -> index, for the key, district, village and every column `columns` are made
    from; an InputError naming each missing one and what needs it."""
    needed = list(dict.fromkeys([spec.key, spec.district, spec.village,
                                 *(c for out in columns for c in spec.sources(out))]))
    index, missing = _resolve_columns(table, needed)
    if missing:
        roles = {spec.key: "the key", spec.district: "the district", spec.village: "the village"}
        uses = {m: [out for out in columns if m in spec.sources(out)] for m in missing}
        detail = "; ".join(f"'{m}' (for {', '.join(uses[m])})" if uses[m] else f"'{m}' ({roles[m]})"
                           for m in missing)
        raise InputError(f"{table.path}: missing column(s) {detail}, which {spec.origin} of {spec.file} needs. "
                         f"The file's columns are: {', '.join(c for c in table.columns if c)}.",
                         hint="Give the year-one file with the year-one instrument's variable names, or correct "
                              "panel/preload.toml.")
    return index


def row_problems(spec: PreloadSpec, table: Year1Table, columns: list[str], index: dict[str, int],
                 wilayah: AreaCodes) -> list[str]:
    """One sentence per kind of problem in the rows, each naming its rows; [] when every row is fine."""
    key_i, district_i, village_i = index[spec.key], index[spec.district], index[spec.village]
    seen: dict[str, list[int]] = {}
    empty_key: list[int] = []
    bad_district: dict[str, list[int]] = {}
    bad_village: dict[str, list[int]] = {}
    misplaced: dict[tuple[str, str], list[int]] = {}
    unreadable: list[str] = []
    nik_values: list[str] = []
    fields = [(out, index[p.column]) for out in columns for p in spec.columns[out] if isinstance(p, Field)]
    for number, cells in table.rows:
        key = cells[key_i]
        if key:
            seen.setdefault(key, []).append(number)
        else:
            empty_key.append(number)
        district, village = cells[district_i], cells[village_i]
        if district not in wilayah.districts:
            bad_district.setdefault(district, []).append(number)
        if not _VILLAGE.match(village) or (wilayah.villages and village not in wilayah.villages):
            bad_village.setdefault(village, []).append(number)
        elif village[:2] + village[3:5] != district and district in wilayah.districts:
            misplaced.setdefault((village, district), []).append(number)
        for i in sorted(set(index.values())):
            if "\ufffd" in cells[i]:
                unreadable.append(f"row {number}, column '{table.columns[i]}'")
        for out, i in fields:
            if _NIK_VALUE.search(cells[i]):
                nik_values.append(f"row {number}, column '{table.columns[i]}' (for {out})")

    def first_row(item):
        return item[1][0]

    problems: list[str] = []
    key_name = table.columns[key_i]
    duplicates = {k: rows for k, rows in seen.items() if len(rows) > 1}
    if duplicates:
        listed = [f"'{k}' in {table.where(rows)}" for k, rows in sorted(duplicates.items(), key=first_row)]
        problems.append(f"column '{key_name}' must identify one respondent, but {len(duplicates)} "
                        f"value{'s appear' if len(duplicates) > 1 else ' appears'} more than once: "
                        f"{_enumerate(listed)}.")
    if empty_key:
        problems.append(f"column '{key_name}' is empty in {table.where(empty_key)}; every respondent needs one.")
    if bad_district:
        known = ", ".join(f"{c} {n}".strip() for c, n in sorted(wilayah.districts.items()))
        listed = []
        for code, rows in sorted(bad_district.items(), key=first_row):
            hint = ""
            if code in wilayah.bps_districts:
                hint = f" (a BPS code; the Kemendagri code is {wilayah.bps_districts[code]})"
            elif re.fullmatch(r"\d{2}\.\d{2}", code):
                hint = f" (write it without the dot: {code.replace('.', '')})"
            listed.append(f"'{code}'{hint} in {table.where(rows)}" if code else f"empty in {table.where(rows)}")
        problems.append(f"column '{table.columns[district_i]}' has district codes that are not DESBUMI districts: "
                        f"{_enumerate(listed)}. Known (Kemendagri, without dots): {known}.")
    if bad_village:
        listed = []
        for code, rows in sorted(bad_village.items(), key=first_row):
            shape = ""
            if re.fullmatch(r"\d{10}", code):
                shape = " (a BPS-style code? use Kemendagri's dotted 35.09.13.2003)"
            listed.append(f"'{code}'{shape} in {table.where(rows)}" if code else f"empty in {table.where(rows)}")
        where = " in panel/wilayah.csv" if wilayah.villages else ""
        problems.append(f"column '{table.columns[village_i]}' has village codes that are not Kemendagri village "
                        f"codes{where}: {_enumerate(listed)}.")
    if misplaced:
        listed = [f"'{v}' (district {v[:2]}{v[3:5]}) with {table.columns[district_i]} {d} in {table.where(rows)}"
                  for (v, d), rows in sorted(misplaced.items(), key=first_row)]
        problems.append(f"villages outside the row's district: {_enumerate(listed)}.")
    if unreadable:
        problems.append(f"text that was garbled before it reached this file (U+FFFD replacement characters) at "
                        f"{_enumerate(unreadable)}.")
    if nik_values:
        problems.append(f"values that look like a NIK (16 digits), which is never preloaded, at "
                        f"{_enumerate(nik_values)}.")
    return problems


def _render(parts: tuple[str | Field, ...], cells: list[str], index: dict[str, int]) -> str:
    text = "".join(cells[index[p.column]] if isinstance(p, Field) else p for p in parts)
    return re.sub(r"[\r\n]+", " ", text)


def _csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


# =========================================================================== where, and writing

def newest_build(forms_dir: Path, form_id: str) -> Path | None:
    """forms/<form_id>/<version>/ of the highest version in forms/index.json, if it exists."""
    builds = [b for b in load_index(forms_dir) if b.get("form_id") == form_id]
    if not builds:
        return None
    newest = max(builds, key=lambda b: version_key(str(b.get("version", ""))))
    folder = Path(forms_dir) / str(newest.get("path") or f"{form_id}/{newest['version']}")
    return folder if folder.is_dir() else None


def _form_and_target(spec: PreloadSpec, *, forms_dir: Path, xlsform_src: Path,
                     out: Path | None) -> tuple[Path, Path]:
    build = newest_build(forms_dir, spec.form)
    if out is None:
        if build is None:
            raise InputError(f"form '{spec.form}' has no build in {forms_dir}, so its media folder does not exist yet.",
                             hint=f"Run `desbumi-sync forms build {spec.form}` first, or write the files elsewhere "
                                  f"with --out DIR.")
        return build / "form.xlsx", build / "media"
    from .sources import form_ids

    source = form_ids(xlsform_src).get(spec.form) if Path(xlsform_src).is_dir() else None
    if source is None and build is not None:
        source = build / "form.xlsx"
    if source is None:
        raise InputError(f"form '{spec.form}' ({spec.origin}) is neither in {xlsform_src} nor built in {forms_dir}; "
                         f"its references decide which columns to write.")
    return source, Path(out)


def plan_preload(year1: Path, *, panel_dir: Path, forms_dir: Path, xlsform_src: Path,
                 form: str | None = None, split_by: str | None = None, out: Path | None = None,
                 wilayah: AreaCodes | None = None) -> list[PreloadResult]:
    """Everything but writing: read and check year one, read each form, make the files' bytes."""
    specs = specs_for(panel_dir, form)
    if out is not None:
        names = [s.file for s in specs]
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise InputError(f"--out {out}: '{clash[0]}' is defined for more than one form; name one with --form.")
    table = read_year1(year1)
    wilayah = wilayah or load_area_codes(panel_dir)
    results = []
    for spec in specs:
        form_path, target = _form_and_target(spec, forms_dir=forms_dir, xlsform_src=xlsform_src, out=out)
        xlsform = read_xlsform(form_path)
        label = f"form '{spec.form}' ({form_path})"
        reads = form_reads(xlsform, spec.file, spec.available)
        if not reads:
            used = form_uses_file(xlsform, spec.file)
            raise InputError(f"{label} " + ("names" if used else "does not read") + f" '{spec.file}'"
                             + (" but no column of it that could be followed" if used else
                                " (no pulldata, select_one_from_file, search or instance names it)")
                             + "; nothing to preload.",
                             hint=f"Check 'file' in {spec.origin}, or the form's references.")
        columns = columns_to_write(spec, reads, label)
        result = make_preload(spec, table, columns, wilayah, split_by=split_by)
        result.form_path, result.target = form_path, target
        results.append(result)
    return results


def write_preload(results: list[PreloadResult]) -> list[PreloadResult]:
    """Write each result's files into its target (atomically, file by file) and remove stale ones."""
    for result in results:
        if result.target is None:
            raise ValueError("a preload result needs a target folder before it is written")
        target = result.target
        target.mkdir(parents=True, exist_ok=True)
        wanted = {target / f.relpath for f in result.files}
        for item in result.files:
            path = target / item.relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            try:
                tmp.write_bytes(item.content)
                os.replace(tmp, path)
            finally:
                if tmp.exists():
                    tmp.unlink()
            result.written.append(path)
        stale = [target / result.spec.file] + sorted(target.glob(f"[0-9][0-9][0-9][0-9]/{result.spec.file}"))
        for path in stale:
            if path not in wanted and path.is_file():
                path.unlink()
                result.removed.append(path)
                if path.parent != target and not any(path.parent.iterdir()):
                    path.parent.rmdir()
    return results


def preload(year1: Path, **options) -> list[PreloadResult]:
    """plan_preload, then write_preload: nothing is written unless every form's files could be made."""
    return write_preload(plan_preload(year1, **options))


__all__ = ["PRELOAD_TOML", "SLOW_SELECT_ROWS", "Field", "FormRead", "PreloadFile", "PreloadResult", "PreloadSpec",
           "AreaCodes", "Year1Table", "cell_value", "columns_to_write", "form_reads", "generated_media_for",
           "is_nik_like", "load_preload_specs", "load_area_codes", "locate_columns", "make_preload", "newest_build",
           "parse_template", "plan_preload", "preload", "read_year1", "row_problems", "specs_for",
           "area_codes_from_reference", "write_preload"]
