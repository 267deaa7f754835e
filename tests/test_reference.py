"""panel/wilayah.csv and its loader: the seven districts, their villages, and clear errors for bad rows."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from desbumi.errors import InputError
from desbumi.reference import (
    COLUMNS,
    WILAYAH_CSV,
    default_wilayah_path,
    load_wilayah,
    village_media_rows,
    write_village_media,
)

ROOT = Path(__file__).resolve().parents[1]
WILAYAH = ROOT / WILAYAH_CSV
DISTRICT_CODES = (3212, 3305, 3307, 3509, 3510, 5202, 5313)
# DOMAIN.md's example DESBUMI villages (its spelling), by district choice code.
DOMAIN_VILLAGES = {
    3509: ["Sidomulyo", "Wonoasri", "Sabrang", "Ambulu"],
    3510: ["Kedunggebang", "Wringinpitu", "Tegaldlimo"],
    3305: ["Tambak Progaten", "Pandan Lor", "Jogosimo"],
    3212: ["Juntinyuat", "Majasari"],
    3307: ["Kalimendong"],
    5202: ["Darek", "Pringgarata"],
    5313: ["Kolontobo", "Riangbao"],
}


@pytest.fixture(scope="module")
def wilayah():
    return load_wilayah(WILAYAH)


def _squash(name: str) -> str:
    return name.replace(" ", "").casefold()


# --- the shipped table ----------------------------------------------------------------------------

def test_default_path_is_panel_wilayah_csv():
    assert WILAYAH_CSV == Path("panel") / "wilayah.csv"
    assert default_wilayah_path(ROOT) == WILAYAH
    assert WILAYAH.is_file()


def test_seven_districts_with_kemendagri_choice_codes(wilayah):
    assert wilayah.district_codes == DISTRICT_CODES
    names = {d.code: d.name for d in wilayah.districts}
    assert names == {3212: "Indramayu", 3305: "Kebumen", 3307: "Wonosobo", 3509: "Jember", 3510: "Banyuwangi",
                     5202: "Lombok Tengah", 5313: "Lembata"}
    assert {d.province for d in wilayah.districts} == {"Jawa Barat", "Jawa Tengah", "Jawa Timur",
                                                       "Nusa Tenggara Barat", "Nusa Tenggara Timur"}
    assert all(d.implementer for d in wilayah.districts)
    assert wilayah.district(3307).implementer == "SARI"


def test_lembata_bps_and_kemendagri_codes_differ(wilayah):
    lembata = wilayah.district(5313)
    assert (lembata.name, lembata.kemendagri, lembata.bps) == ("Lembata", "53.13", "5308")
    # BPS 5308 is not a Kemendagri code of any programme district (Kemendagri 53.08 is Ende) ...
    assert wilayah.find_district(5308) is None
    assert wilayah.find_district("53.08") is None
    # ... and reaches Lembata only through the BPS lookup.
    assert wilayah.find_district_by_bps(5308) is lembata
    assert wilayah.find_district_by_bps(5313) is None
    others = [d for d in wilayah.districts if d is not lembata]
    assert all(d.bps == d.kemendagri.replace(".", "") for d in others)


def test_district_lookup_accepts_code_forms(wilayah):
    assert wilayah.district(3509) is wilayah.district("3509") is wilayah.district("35.09")
    with pytest.raises(KeyError, match="3501"):
        wilayah.district(3501)


def test_villages_start_with_their_district_and_kecamatan_codes(wilayah):
    assert wilayah.villages
    for village in wilayah.villages:
        district = wilayah.district(village.district)
        assert village.kemendagri.startswith(district.kemendagri + "."), village
        assert village.kemendagri.startswith(village.kecamatan_kemendagri + "."), village
        assert len(village.kemendagri.replace(".", "")) == 10
        assert village.district_code == district.code
        assert village.kecamatan


def test_every_domain_example_village_is_present(wilayah):
    for code, names in DOMAIN_VILLAGES.items():
        present = {_squash(v.name) for v in wilayah.villages_in(code)}
        assert {_squash(n) for n in names} <= present, code
    assert len(wilayah.villages) == sum(len(n) for n in DOMAIN_VILLAGES.values())


def test_status_and_source_are_honest(wilayah):
    places = [*wilayah.districts, *wilayah.villages]
    assert all(p.status in ("verified", "unverified") and p.source for p in places)
    unverified = [v for v in wilayah.villages if v.status == "unverified"]
    # Jember has two villages called Sidomulyo; the table must say which one it chose is unconfirmed.
    assert [v.name for v in unverified] == ["Sidomulyo"]
    assert "35.09.30.2009" in unverified[0].source


def test_bps_village_codes_blank_or_ten_digits(wilayah):
    assert all(v.bps == "" or (len(v.bps) == 10 and v.bps.isdigit()) for v in wilayah.villages)


# --- bad rows ---------------------------------------------------------------------------------------

def _rows() -> list[list[str]]:
    with WILAYAH.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _write(tmp_path: Path, rows: list[list[str]], name: str = "wilayah.csv") -> Path:
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def _line_of(rows: list[list[str]], code: str) -> int:
    """1-based line number of the row with this Kemendagri code (header is line 1)."""
    column = rows[0].index("kemendagri")
    return next(i + 1 for i, row in enumerate(rows) if row[column] == code)


def _set(rows, code, column, value):
    rows[_line_of(rows, code) - 1][rows[0].index(column)] = value
    return rows


@pytest.mark.parametrize("code, column, value, expected", [
    ("35.09.12.2002", "kemendagri", "33.05.12.2002", "does not start with the Kemendagri code of its district"),
    ("35.09.12.2002", "kecamatan_kemendagri", "35.09.13", "does not lie in kecamatan 35.09.13"),
    ("35.09.12.2002", "kemendagri", "3509122002", "not a desa code like 35.09.12.2002"),
    ("35.09.12.2002", "parent_kemendagri", "35.11", "parent_kemendagri '35.11'"),
    ("35.09.12.2002", "level", "village", "level is 'village'"),
    ("35.09.12.2002", "status", "ok", "status is 'ok'"),
    ("35.09.12.2002", "source", "", "has no source"),
    ("35.09.12.2002", "bps", "350912", "not a 10-digit BPS village code"),
    ("35.09.12.2002", "province", "Jawa Tengah", "differs from its district Jember"),
    ("53.13", "bps", "53.08", "not a 4-digit BPS district code"),
    ("53.13", "kemendagri", "5313", "not a kabupaten code like 35.09"),
    ("53.13", "implementer", "", "has no implementer"),
    ("53.13", "parent_kemendagri", "52", "must be its province's 2-digit code, 53"),
])
def test_bad_row_names_file_and_line(tmp_path, code, column, value, expected):
    rows = _rows()
    line = _line_of(rows, code)
    path = _write(tmp_path, _set(rows, code, column, value))
    with pytest.raises(InputError) as caught:
        load_wilayah(path)
    message = str(caught.value)
    assert f"{path}, line {line}:" in message
    assert expected in message


def test_duplicate_code_lists_both_lines(tmp_path):
    rows = _rows()
    first = _line_of(rows, "35.09.12.2002")
    rows.append(list(rows[first - 1]))
    path = _write(tmp_path, rows)
    with pytest.raises(InputError, match=rf"lines {first}, {len(rows)}: Kemendagri code 35.09.12.2002 appears 2 times"):
        load_wilayah(path)


def test_duplicate_bps_district_code(tmp_path):
    rows = _set(_rows(), "53.13", "bps", "5202")
    with pytest.raises(InputError, match="BPS code 5202 appears 2 times"):
        load_wilayah(_write(tmp_path, rows))


def test_missing_header_column(tmp_path):
    rows = [[c for c in row[:-1]] for row in _rows()]
    with pytest.raises(InputError, match=r"line 1: the header lacks the column source"):
        load_wilayah(_write(tmp_path, rows))


def test_too_many_cells_hints_at_quotes(tmp_path):
    rows = _rows()
    rows[2].append("extra")
    with pytest.raises(InputError, match=r"line 3: has 12 cells but the header has 11 columns"):
        load_wilayah(_write(tmp_path, rows))


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path):
    rows = _rows()
    rows.insert(1, ["", "", ""])
    rows = _set(rows, "32.12.11.2005", "status", "maybe")
    with pytest.raises(InputError, match=r"line 4: status is 'maybe'"):
        load_wilayah(_write(tmp_path, rows))


def test_no_district_rows(tmp_path):
    rows = [rows for rows in _rows() if rows[0] != "kabupaten"]
    with pytest.raises(InputError, match="no 'kabupaten' rows"):
        load_wilayah(_write(tmp_path, rows))


def test_missing_file_and_bad_encoding(tmp_path):
    with pytest.raises(InputError, match="reference file not found"):
        load_wilayah(tmp_path / "nope.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes((",".join(COLUMNS) + "\nkabupaten,35.09,3509,J\xe9mber,35,,,Jawa Timur,X,verified,s\n")
                      .encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_wilayah(latin)


def test_excel_bom_and_extra_columns_are_accepted(tmp_path):
    rows = _rows()
    for row in rows:
        row.append("catatan" if row is rows[0] else "")
    path = _write(tmp_path, rows)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_wilayah(path).district_codes == DISTRICT_CODES


# --- village media ------------------------------------------------------------------------------------

def test_write_village_media(tmp_path, wilayah):
    path = write_village_media(wilayah, tmp_path / "media" / "desa.csv")
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "name,label,kab"
    assert not text.startswith("\ufeff") and "\r" not in text
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(wilayah.villages)
    assert [(int(r["kab"]), r["name"]) for r in rows] == sorted((int(r["kab"]), r["name"]) for r in rows)
    for row in rows:
        village = wilayah.find_village(row["name"])
        assert village is not None and row["label"] == village.name
        assert int(row["kab"]) in DISTRICT_CODES
        assert row["name"].startswith(wilayah.district(int(row["kab"])).kemendagri + ".")
    again = write_village_media(wilayah, tmp_path / "again.csv")
    assert again.read_bytes() == path.read_bytes()


def test_repeated_village_name_gets_its_kecamatan(tmp_path):
    rows = _rows()
    jember = _line_of(rows, "35.09.12.2002")
    extra = list(rows[jember - 1])
    extra[rows[0].index("kemendagri")] = "35.09.30.2009"
    extra[rows[0].index("kecamatan_kemendagri")] = "35.09.30"
    extra[rows[0].index("kecamatan")] = "Silo"
    extra[rows[0].index("name")] = "Sidomulyo"
    rows.append(extra)
    w = load_wilayah(_write(tmp_path, rows))
    labels = {r["name"]: r["label"] for r in village_media_rows(w)}
    assert labels["35.09.07.2006"] == "Sidomulyo (Kec. Semboro)"
    assert labels["35.09.30.2009"] == "Sidomulyo (Kec. Silo)"
    assert labels["35.09.12.2002"] == "Sabrang"
