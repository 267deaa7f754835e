"""Benchmark of the forms toolchain: check + build per form, with and without ODK Validate.

Run on demand (not part of the default pytest run):

    python tests/benchmarks/bench_forms.py [--repeat N]

Two clean instruments are generated at run time into a temporary directory: ~50 and 500 questions,
bilingual (Bahasa Indonesia / English), integer-coded choices, groups, a household roster repeat,
range constraints with messages. Each timing is the best of N runs. To compare machines, every figure
is also given as a ratio to a baseline measured in the same run: pyxform's plain `convert` of the same
file (no lint, no ODK Validate, no files written).

Targets (issue 2): a no-change rebuild of every form under 0.5 s; the 500-question form checked
with ODK Validate under 3 s.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/ for the fixture writer

from desbumi.forms.build import build_forms  # noqa: E402
from desbumi.forms.check import check_form  # noqa: E402
from desbumi.forms.compile import find_java  # noqa: E402
from desbumi.forms.workbook import read_xlsform  # noqa: E402
from xlsforms import write_xlsform  # noqa: E402

ID, EN = "Bahasa Indonesia (id)", "English (en)"
SURVEY_HEADER = ["type", "name", f"label::{ID}", f"label::{EN}", f"hint::{ID}", f"hint::{EN}",
                 "constraint", f"constraint_message::{ID}", f"constraint_message::{EN}",
                 "required", f"required_message::{ID}", f"required_message::{EN}",
                 "relevant", "calculation", "repeat_count", "pii"]
LISTS = {  # list_name -> [(code, label id, label en)]
    "yesno": [(1, "Ya", "Yes"), (0, "Tidak", "No")],
    "freq": [(1, "Tidak pernah", "Never"), (2, "Kadang-kadang", "Sometimes"), (3, "Sering", "Often"),
             (4, "Selalu", "Always")],
    "sector": [(1, "Pertanian", "Agriculture"), (2, "Rumah tangga", "Domestic work"),
               (3, "Konstruksi", "Construction"), (4, "Pabrik", "Factory"), (5, "Perikanan", "Fishing"),
               (6, "Lainnya", "Other")],
    "country": [(1, "Malaysia", "Malaysia"), (2, "Taiwan", "Taiwan"), (3, "Hong Kong", "Hong Kong"),
                (4, "Arab Saudi", "Saudi Arabia"), (5, "Singapura", "Singapore")],
    "relation": [(1, "Kepala keluarga", "Head"), (2, "Pasangan", "Spouse"), (3, "Anak", "Child"),
                 (4, "Orang tua", "Parent"), (5, "Lainnya", "Other relative")],
}


def _row(**cells) -> list[str]:
    row = {h: "" for h in SURVEY_HEADER}
    row["pii"] = "no"
    row.update(cells)
    return [row[h] for h in SURVEY_HEADER]


def _question(index: int, section: int) -> list[list[str]]:
    """One question (sometimes with a calculate that uses it), cycling through the common types."""
    name = f"s{section:02d}q{index:03d}"
    kind = index % 6
    req = dict(required="yes", **{f"required_message::{ID}": "Wajib diisi", f"required_message::{EN}": "Required"})
    base = dict(name=name, **{f"label::{ID}": f"Pertanyaan {index} bagian {section}",
                              f"label::{EN}": f"Question {index} of section {section}"})
    if kind == 0:
        return [_row(type="integer", constraint=". >= 0 and . <= 100",
                     **{f"constraint_message::{ID}": "Antara 0 dan 100", f"constraint_message::{EN}": "Between 0 and 100",
                        f"hint::{ID}": "Angka bulat", f"hint::{EN}": "A whole number"}, **base, **req)]
    if kind == 1:
        return [_row(type="select_one yesno", **base, **req)]
    if kind == 2:
        return [_row(type="select_one freq", relevant=f"${{s{section:02d}q{index - 1:03d}}} = 1", **base, **req)]
    if kind == 3:
        return [_row(type="select_multiple sector", **base)]
    if kind == 4:
        return [_row(type="decimal", constraint=". >= 0 and . <= 1000000",
                     **{f"constraint_message::{ID}": "Antara 0 dan 1.000.000",
                        f"constraint_message::{EN}": "Between 0 and 1,000,000"}, **base)]
    calc = f"c{section:02d}q{index:03d}"
    return [_row(type="select_one country", **base),
            _row(type="calculate", name=calc, calculation=f"if(${{{name}}} = 1, 1, 0)"),
            _row(type="note", name=f"n{section:02d}q{index:03d}",
                 **{f"label::{ID}": f"Malaysia: ${{{calc}}}", f"label::{EN}": f"Malaysia: ${{{calc}}}"})]


def make_form(path: Path, questions: int, form_id: str, version: str = "2026112801") -> Path:
    survey: list[list[str]] = [SURVEY_HEADER]
    for meta in ("start", "end", "today", "deviceid"):
        survey.append(_row(type=meta, name=meta))
    survey.append(_row(type="integer", name="hh_size", constraint=". >= 1 and . <= 20",
                       **{f"label::{ID}": "Jumlah anggota rumah tangga", f"label::{EN}": "Household size",
                          f"constraint_message::{ID}": "Antara 1 dan 20", f"constraint_message::{EN}": "Between 1 and 20",
                          "required": "yes", f"required_message::{ID}": "Wajib diisi",
                          f"required_message::{EN}": "Required"}))
    survey.append(_row(type="begin repeat", name="member", repeat_count="${hh_size}",
                       **{f"label::{ID}": "Anggota rumah tangga", f"label::{EN}": "Household member"}))
    survey.append(_row(type="select_one relation", name="m_relation",
                       **{f"label::{ID}": "Hubungan dengan kepala keluarga", f"label::{EN}": "Relation to head"}))
    survey.append(_row(type="integer", name="m_age", constraint=". >= 0 and . <= 110",
                       **{f"label::{ID}": "Umur anggota", f"label::{EN}": "Member's age",
                          f"constraint_message::{ID}": "Antara 0 dan 110", f"constraint_message::{EN}": "Between 0 and 110"}))
    survey.append(_row(type="select_one yesno", name="m_migrant",
                       **{f"label::{ID}": "Pernah bekerja di luar negeri?", f"label::{EN}": "Ever worked abroad?"}))
    survey.append(_row(type="end repeat", name="member"))
    made, section = 4, 0  # the roster counts as four questions
    while made < questions:
        section += 1
        survey.append(_row(type="begin group", name=f"sec{section:02d}",
                           **{f"label::{ID}": f"Bagian {section}", f"label::{EN}": f"Section {section}"}))
        for index in range(1, 26):
            if made >= questions:
                break
            rows = _question(index, section)
            survey.extend(rows)
            made += sum(1 for r in rows if r[0] != "calculate")
        survey.append(_row(type="end group", name=f"sec{section:02d}"))
    choices = [["list_name", "name", f"label::{ID}", f"label::{EN}"]]
    for list_name, options in LISTS.items():
        choices.extend([list_name, str(code), lid, len_] for code, lid, len_ in options)
    settings = [["form_id", "form_title", "version", "default_language"],
                [form_id, f"Benchmark {questions} questions", version, ID]]
    return write_xlsform(path, {"survey": survey, "choices": choices, "settings": settings})


def best_of(repeat: int, func) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        best = min(best, time.perf_counter() - start)
    return best, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing; the best is kept (default 3)")
    args = parser.parse_args(argv)
    from pyxform.xls2xform import convert

    java = find_java()
    print(f"ODK Validate: {'java at ' + java if java else 'SKIPPED (no java on PATH)'}")
    with tempfile.TemporaryDirectory(prefix="desbumi-bench-") as tmp:
        root = Path(tmp)
        src = root / "xlsform_src"
        sources = [make_form(src / "bench50.xlsx", 50, "bench50"), make_form(src / "bench500.xlsx", 500, "bench500")]
        rows = []
        notes: dict[str, str] = {}
        for source in sources:
            base, _ = best_of(args.repeat, lambda s=source: convert(str(s), pretty_print=True))
            figures = {"pyxform convert (baseline)": base}
            for validate in (False, True):
                label = "with ODK Validate" if validate else "without ODK Validate"
                took, result = best_of(args.repeat, lambda s=source, v=validate: check_form(s, forms_dir=None, validate=v))
                errors = [f for f in result.findings if f.severity == "error"]
                if validate:
                    notes[source.name] = (f"{len(errors)} error(s), {len(result.findings) - len(errors)} warning(s)"
                                          + (f"; ODK Validate skipped: {result.validate_skipped}" if result.validate_skipped else ""))
                if errors:
                    print(f"  ! {source.name}: check found {len(errors)} error(s), e.g. {errors[0].rule}: {errors[0].message}")
                figures[f"check {label}"] = took

                def fresh_build(s=source, v=validate):
                    out = root / "forms-fresh"
                    shutil.rmtree(out, ignore_errors=True)
                    return build_forms([s], out, validate=v)

                took, outcomes = best_of(args.repeat, fresh_build)
                if outcomes[0].status != "built":
                    print(f"  ! {source.name}: build {outcomes[0].status}: {'; '.join(outcomes[0].reasons)}")
                figures[f"check + build {label}"] = took
            rows.append((source, figures))

        forms_dir = root / "forms"
        first = build_forms(sources, forms_dir, validate=True)
        took_rebuild, again = best_of(max(args.repeat, 5), lambda: build_forms(sources, forms_dir, validate=True))
        statuses = sorted({o.status for o in again})

        print()
        for source, figures in rows:
            base = figures["pyxform convert (baseline)"]
            questions = sum(1 for r in read_xlsform(source).survey.rows
                            if r["type"].split()[0] not in ("begin", "end", "calculate", "start", "today", "deviceid"))
            print(f"{source.name}: {questions} questions, {source.stat().st_size / 1024:.0f} KiB; check found {notes[source.name]}")
            for label, seconds in figures.items():
                print(f"  {label:<40} {seconds * 1000:8.1f} ms  {seconds / base:6.2f} x baseline")
        base_all = sum(f["pyxform convert (baseline)"] for _, f in rows)
        print(f"no-change rebuild of all {len(sources)} forms {'':<13} {took_rebuild * 1000:8.1f} ms  "
              f"{took_rebuild / base_all:6.2f} x baseline (sum of both)   statuses: {', '.join(statuses)}; "
              f"first build: {', '.join(o.status for o in first)}")
        check500 = rows[-1][1]["check with ODK Validate"]
        print()
        print(f"target: no-change rebuild < 0.5 s      -> {took_rebuild:.3f} s  {'OK' if took_rebuild < 0.5 else 'MISSED'}")
        print(f"target: 500-question check + Validate < 3 s -> {check500:.3f} s  {'OK' if check500 < 3 else 'MISSED'}"
              + ("" if java else "  (ODK Validate skipped: no java)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
