"""Reference data: the programme's districts and villages, read from panel/wilayah.csv.

One CSV holds both levels, one row per place (see panel/README.md):

    level,kemendagri,bps,name,parent_kemendagri,kecamatan_kemendagri,kecamatan,province,implementer,status,source

- `kabupaten` rows: Kemendagri code `NN.NN`, BPS code `NNNN`, the province and the implementer.
- `desa` rows: Kemendagri code `NN.NN.NN.NNNN`, its kecamatan (code `NN.NN.NN` and name) and, in
  `parent_kemendagri`, the district it belongs to; `bps` may stay empty.

Kemendagri is the key everywhere. BPS codes are carried for linking to national surveys and are
never compared with Kemendagri codes: for Lembata they differ (BPS 5308, Kemendagri 53.13, while
Kemendagri 53.08 is Ende), so a join on the wrong list silently moves respondents. A district's
choice code in the forms is its Kemendagri code without the dot, as an integer (35.09 -> 3509).

`status` says whether the code was checked against a source (`verified`) or not (`unverified`);
`source` says where it came from.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

# Where the reference table lives, relative to the project root (Config.root).
WILAYAH_CSV = Path("panel") / "wilayah.csv"

COLUMNS = ("level", "kemendagri", "bps", "name", "parent_kemendagri", "kecamatan_kemendagri", "kecamatan",
           "province", "implementer", "status", "source")
KABUPATEN, DESA = "kabupaten", "desa"
STATUSES = ("verified", "unverified")
MEDIA_COLUMNS = ("name", "label", "kab")

_KEMENDAGRI = {
    KABUPATEN: re.compile(r"\d{2}\.\d{2}"),
    "kecamatan": re.compile(r"\d{2}\.\d{2}\.\d{2}"),
    DESA: re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}"),
}
_EXAMPLE = {KABUPATEN: "35.09", "kecamatan": "35.09.12", DESA: "35.09.12.2002"}
_BPS = {KABUPATEN: re.compile(r"\d{4}"), DESA: re.compile(r"\d{10}")}
_PROVINCE_CODE = re.compile(r"\d{2}")


def default_wilayah_path(root: Path | str) -> Path:
    """panel/wilayah.csv under a project root."""
    return Path(root) / WILAYAH_CSV


@dataclass(frozen=True)
class District:
    kemendagri: str  # '35.09'
    bps: str  # '3509'
    name: str
    province: str
    implementer: str
    status: str
    source: str
    row: int  # line in the CSV (header = 1)

    @property
    def code(self) -> int:
        """The district's choice code in the forms: Kemendagri without the dot (35.09 -> 3509)."""
        return int(self.kemendagri.replace(".", ""))


@dataclass(frozen=True)
class Village:
    kemendagri: str  # '35.09.12.2002'
    bps: str  # '' when not known
    name: str
    district: str  # Kemendagri code of the district, '35.09'
    kecamatan_kemendagri: str  # '35.09.12'
    kecamatan: str
    status: str
    source: str
    row: int

    @property
    def district_code(self) -> int:
        return int(self.district.replace(".", ""))


@dataclass(frozen=True)
class Wilayah:
    districts: tuple[District, ...]
    villages: tuple[Village, ...]
    path: Path | None = None

    @property
    def district_codes(self) -> tuple[int, ...]:
        """Choice codes of the districts, in file order."""
        return tuple(d.code for d in self.districts)

    @property
    def village_codes(self) -> frozenset[str]:
        return frozenset(v.kemendagri for v in self.villages)

    def find_district(self, code: int | str) -> District | None:
        """The district with this Kemendagri code: 3509, '3509' or '35.09' (never a BPS code)."""
        key = _kemendagri_key(code)
        return next((d for d in self.districts if d.kemendagri == key), None)

    def district(self, code: int | str) -> District:
        found = self.find_district(code)
        if found is None:
            known = ", ".join(str(c) for c in self.district_codes)
            raise KeyError(f"no district with Kemendagri code {code!r} (known: {known})")
        return found

    def find_district_by_bps(self, code: int | str) -> District | None:
        """The district with this BPS code (4 digits), for linking to BPS data only."""
        text = str(code).strip()
        return next((d for d in self.districts if d.bps == text), None)

    def find_village(self, code: str) -> Village | None:
        text = str(code).strip()
        return next((v for v in self.villages if v.kemendagri == text), None)

    def villages_in(self, district: District | int | str) -> tuple[Village, ...]:
        key = district.kemendagri if isinstance(district, District) else _kemendagri_key(district)
        return tuple(v for v in self.villages if v.district == key)

    def village_label(self, village: Village) -> str:
        """The village name, with its kecamatan added when the name repeats within the district."""
        same = [v for v in self.villages_in(village.district) if v.name.casefold() == village.name.casefold()]
        return village.name if len(same) < 2 else f"{village.name} (Kec. {village.kecamatan})"


def _kemendagri_key(code: int | str) -> str:
    """3509 / '3509' / '35.09' -> '35.09'; anything else is returned stripped (and will not match)."""
    text = str(code).strip()
    if re.fullmatch(r"\d{4}", text):
        return f"{text[:2]}.{text[2:]}"
    return text


# --- reading ------------------------------------------------------------------------------------

def load_wilayah(path: Path | str) -> Wilayah:
    """Read and check panel/wilayah.csv; every problem is an InputError naming the file and line."""
    path = Path(path)
    rows = _read_rows(path)
    districts: list[District] = []
    pending: list[tuple[int, dict[str, str]]] = []
    for line, row in rows:
        level = row["level"]
        if level == KABUPATEN:
            districts.append(_district(path, line, row))
        elif level == DESA:
            pending.append((line, row))
        else:
            raise _error(path, line, f"level is {row['level']!r}; write '{KABUPATEN}' or '{DESA}'.")
    if not districts:
        raise InputError(f"{path}: no '{KABUPATEN}' rows, so no district is defined.",
                         hint="Each district needs a row with level 'kabupaten' (see panel/README.md).")
    _unique(path, [(d.row, d.kemendagri) for d in districts], "Kemendagri code")
    _unique(path, [(d.row, d.bps) for d in districts], "BPS code")
    by_code = {d.kemendagri: d for d in districts}
    villages = [_village(path, line, row, by_code) for line, row in pending]
    _unique(path, [(v.row, v.kemendagri) for v in villages], "Kemendagri code")
    _unique(path, [(v.row, v.bps) for v in villages if v.bps], "BPS code")
    return Wilayah(districts=tuple(districts), villages=tuple(villages), path=path)


def _read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: the file is empty; it needs the header {','.join(COLUMNS)}.")
            names = [h.strip().lower() for h in header]
            missing = [c for c in COLUMNS if c not in names]
            if missing:
                raise InputError(f"{path}, line 1: the header lacks the column{'s' if len(missing) > 1 else ''} "
                                 f"{', '.join(missing)}; the file needs {','.join(COLUMNS)}.")
            rows = []
            for record in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in record):
                    continue
                if len(record) > len(names):
                    raise _error(path, line, f"has {len(record)} cells but the header has {len(names)} columns; "
                                             f"a name with a comma must be in double quotes.")
                values = {name: (record[i].strip() if i < len(record) else "") for i, name in enumerate(names)}
                rows.append((line, values))
            return rows
    except FileNotFoundError:
        raise InputError(f"{path}: reference file not found.",
                         hint="It ships with the project as panel/wilayah.csv; restore it from git.") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as 'CSV UTF-8'.") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc}).") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}).") from None


def _error(path: Path, line: int, message: str) -> InputError:
    return InputError(f"{path}, line {line}: {message}")


def _common(path: Path, line: int, row: dict[str, str], level: str) -> None:
    """Checks both levels share: the code's shape, a name, status and source."""
    code = row["kemendagri"]
    if not _KEMENDAGRI[level].fullmatch(code):
        raise _error(path, line, f"kemendagri {code!r} is not a {level} code like {_EXAMPLE[level]} "
                                 f"(Kemendagri, dotted).")
    if not row["name"]:
        raise _error(path, line, f"the {level} {code} has no name.")
    if row["status"] not in STATUSES:
        raise _error(path, line, f"status is {row['status']!r}; write 'verified' (checked against the source "
                                 f"named in 'source') or 'unverified'.")
    if not row["source"]:
        raise _error(path, line, f"{row['name']} ({code}) has no source; say where the code comes from, "
                                 f"or write 'unverified' in status and why in source.")


def _district(path: Path, line: int, row: dict[str, str]) -> District:
    _common(path, line, row, KABUPATEN)
    code, bps = row["kemendagri"], row["bps"]
    if not _BPS[KABUPATEN].fullmatch(bps):
        raise _error(path, line, f"bps {bps!r} of {row['name']} is not a 4-digit BPS district code.")
    parent = row["parent_kemendagri"]
    if not _PROVINCE_CODE.fullmatch(parent) or not code.startswith(parent + "."):
        raise _error(path, line, f"parent_kemendagri {parent!r} of {row['name']} ({code}) must be its "
                                 f"province's 2-digit code, {code[:2]}.")
    for column in ("province", "implementer"):
        if not row[column]:
            raise _error(path, line, f"{row['name']} ({code}) has no {column}.")
    for column in ("kecamatan_kemendagri", "kecamatan"):
        if row[column]:
            raise _error(path, line, f"{column} is for desa rows; leave it empty on the kabupaten row of "
                                     f"{row['name']}.")
    return District(kemendagri=code, bps=bps, name=row["name"], province=row["province"],
                    implementer=row["implementer"], status=row["status"], source=row["source"], row=line)


def _village(path: Path, line: int, row: dict[str, str], districts: dict[str, District]) -> Village:
    _common(path, line, row, DESA)
    code, name = row["kemendagri"], row["name"]
    parent = row["parent_kemendagri"]
    district = districts.get(parent)
    if district is None:
        known = ", ".join(sorted(districts))
        raise _error(path, line, f"parent_kemendagri {parent!r} of {name} ({code}) is not a district of this "
                                 f"file (known: {known}).")
    if not code.startswith(parent + "."):
        raise _error(path, line, f"{name} ({code}) does not start with the Kemendagri code of its district "
                                 f"{district.name} ({parent}); village names repeat across Indonesia, so check "
                                 f"the code belongs to this district.")
    kecamatan = row["kecamatan_kemendagri"]
    if not _KEMENDAGRI["kecamatan"].fullmatch(kecamatan):
        raise _error(path, line, f"kecamatan_kemendagri {kecamatan!r} of {name} is not a kecamatan code like "
                                 f"{_EXAMPLE['kecamatan']}.")
    if not code.startswith(kecamatan + "."):
        raise _error(path, line, f"{name} ({code}) does not lie in kecamatan {kecamatan}: a village code starts "
                                 f"with its kecamatan's code.")
    if not row["kecamatan"]:
        raise _error(path, line, f"{name} ({code}) has no kecamatan name.")
    bps = row["bps"]
    if bps and not _BPS[DESA].fullmatch(bps):
        raise _error(path, line, f"bps {bps!r} of {name} is not a 10-digit BPS village code; leave it empty "
                                 f"when unknown.")
    for column, expected in (("province", district.province), ("implementer", district.implementer)):
        if row[column] and row[column] != expected:
            raise _error(path, line, f"{column} {row[column]!r} of {name} differs from its district "
                                     f"{district.name} ({expected!r}); leave it empty on desa rows.")
    return Village(kemendagri=code, bps=bps, name=name, district=parent, kecamatan_kemendagri=kecamatan,
                   kecamatan=row["kecamatan"], status=row["status"], source=row["source"], row=line)


def _unique(path: Path, keyed: list[tuple[int, str]], what: str) -> None:
    counts = Counter(key for _, key in keyed)
    for key, count in counts.items():
        if count > 1:
            lines = [str(line) for line, k in keyed if k == key]
            raise InputError(f"{path}, lines {', '.join(lines)}: {what} {key} appears {count} times; "
                             f"each place must appear once.")


# --- form media ---------------------------------------------------------------------------------

def village_media_rows(wilayah: Wilayah) -> list[dict[str, str]]:
    """Rows of the forms' village list: name = Kemendagri code, label = village name, kab = district code.

    Sorted by district code, then village code, so the file is the same on every run.
    """
    ordered = sorted(wilayah.villages, key=lambda v: (v.district_code, v.kemendagri))
    return [{"name": v.kemendagri, "label": wilayah.village_label(v), "kab": str(v.district_code)}
            for v in ordered]


def write_village_media(wilayah: Wilayah, path: Path | str) -> Path:
    """Write the village CSV a form reads offline (select_one_from_file desa.csv, filtered by kab).

    Choice values are Kemendagri codes as text: a 10-digit integer does not fit a Stata value label.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MEDIA_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(village_media_rows(wilayah))
    return path
