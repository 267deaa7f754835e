"""A generated year-one file, in each of the four formats, preloads into the same CSV for the real year-two form."""

from pathlib import Path

import pytest

from desbumi.forms.preload import plan_preload
from desbumi.synth import load_form, write_year_one, year_one

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("year1")
    form = load_form(ROOT / "xlsform_src" / "desbumi_ekonomi_y1.xlsx")
    rows = year_one(60, seed=11, form=form)
    return rows, {fmt: write_year_one(rows, folder / f"year1.{fmt}", form=form) for fmt in ("csv", "xlsx", "dta", "sav")}


def preload_bytes(path: Path) -> bytes:
    (result,) = plan_preload(path, panel_dir=ROOT / "panel", forms_dir=ROOT / "forms",
                             xlsform_src=ROOT / "xlsform_src", form="desbumi_ekonomi_y2", out=path.parent / "media")
    (file,) = result.files
    return file.content


def test_the_four_formats_preload_identically(generated):
    rows, files = generated
    contents = {fmt: preload_bytes(path) for fmt, path in files.items()}
    assert len(set(contents.values())) == 1, {fmt: c[:200] for fmt, c in contents.items()}
    lines = contents["csv"].decode("utf-8").splitlines()
    assert len(lines) == len(rows) + 1
    header = lines[0].split(",")
    assert header[:2] == ["name", "label"] and "nik" not in header and "no_hp" not in header


def test_generated_year_one_is_plausible(generated):
    rows, _ = generated
    women = sum(str(r["jenis_kelamin"]) == "2" for r in rows) / len(rows)
    assert 0.5 < women < 0.9
    assert len({r["resp_id"] for r in rows}) == len(rows)
    assert {str(r["kab"]) for r in rows} <= {"3212", "3305", "3307", "3509", "3510", "5202", "5313"}
