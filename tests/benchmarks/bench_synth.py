"""Benchmark of the synthetic data generator (desbumi.synth).

Run on demand (not part of the default pytest run):

    python tests/benchmarks/bench_synth.py [--n 100000] [--real-n 20000] [--repeat 1]
    python tests/benchmarks/bench_synth.py --n 0 --real-n 20000     # only the real year-two form

What is timed:
- `year_one`: the year-one cross-section (plain rows, and through the real year-one form when it is
  in xlsform_src/);
- `submissions`: Kobo-shaped year-two submissions with the full panel scenario (tracking statuses,
  refresh sample, duplicates, typos, edits) on the small year-two test form of tests/test_synth.py
  (~45 questions, two repeats), `--n` submissions; and on the real year-two instrument
  (xlsform_src/desbumi_ekonomi_y2.xlsx, 228 questions, four repeats) with `--real-n` submissions,
  projected to 100,000. Each also with workers=2 (forked processes; the output is checked to be
  identical) — the machines here have two cores, shared with whatever else runs.

Baseline, measured in the same run so machines compare: `json.dumps` of the same count of fixed
dicts (one generated submission of the form, serialised N times). Each figure is also given as a ratio
to it. Target (issue 3): 100,000 submissions in well under a minute. The last line projects the real
year-two form to 100,000 submissions, single process, with its ratio to that baseline.

Reference figures (this 2-core machine, shared with other jobs, so +-10%): before the generator
compiled forms and expressions to Python, ~690-740 us per real year-two submission (~70 s per 100k,
~75x baseline); after, ~280-300 us (~29 s per 100k, ~32x baseline). See the last line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # tests/ for the fixtures

from desbumi.synth import PanelContract, load_form, preload_rows, submissions, year_one  # noqa: E402
from test_synth import PRELOAD_COLUMNS, village_media, y2_test_form_path  # noqa: E402

Y1_FORM = ROOT / "xlsform_src" / "desbumi_ekonomi_y1.xlsx"
Y2_FORM = ROOT / "xlsform_src" / "desbumi_ekonomi_y2.xlsx"


def best(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def baseline(doc: dict, n: int, repeat: int) -> float:
    fixed = json.loads(json.dumps(doc))
    seconds, _ = best(lambda: [json.dumps(fixed) for _ in range(n)], repeat)
    return seconds


def line(label: str, seconds: float, count: int, base: float, unit: str = "submissions") -> None:
    per = seconds / count * 1e6 if count else 0.0
    print(f"  {label:<52} {seconds:8.2f} s  {count:>7,} {unit:<11} {per:8.1f} us each  "
          f"{seconds / base:6.1f}x baseline  -> 100k in {per * 100_000 / 1e6:6.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="submissions on the test form (default 100000; "
                                                                    "0 = skip)")
    parser.add_argument("--real-n", type=int, default=20_000, help="submissions on the real y2 form (0 = skip)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="desbumi-bench-synth-") as tmp:
        form = load_form(y2_test_form_path(Path(tmp)))
    n_y1 = max(1, int(args.n / 1.08))  # ~0.98 visited + 0.08 refresh + duplicates per year-one respondent
    print(f"desbumi.synth benchmark (python {sys.version.split()[0]})")

    if args.n:
        seconds, rows = best(lambda: year_one(n_y1, seed=1), args.repeat)
        media = {"desa.csv": village_media(), "responden_y1.csv": preload_rows(rows, columns=PRELOAD_COLUMNS)}
        seconds_sub, result = best(lambda: submissions(form, rows, seed=1, contract=PanelContract(consent="setuju"),
                                                       media=media), args.repeat)
        count = len(result.submissions)
        base = baseline(result.submissions[len(result.submissions) // 2], count, args.repeat)
        size = sum(len(json.dumps(d)) for d in result.submissions[:2000]) / min(2000, count)
        print(f"baseline: json.dumps of {count:,} fixed dicts ({size:,.0f} bytes each): {base:.2f} s")
        print("test form (synth_y2_test, ~45 questions, 2 repeats):")
        line("year_one (plain rows)", seconds, n_y1, base, "rows")
        line("submissions (panel scenario, edits included)", seconds_sub, count, base)
        seconds_two, _ = best(lambda: submissions(form, rows, seed=1, contract=PanelContract(consent="setuju"),
                                                  media=media, workers=2), args.repeat)
        line("submissions, workers=2 (same output)", seconds_two, count, base)

    if Y1_FORM.is_file() and args.real_n:
        y1_form = load_form(Y1_FORM)
        n = max(1, args.real_n)
        seconds, rows = best(lambda: year_one(n, seed=1, form=y1_form), args.repeat)
        print("real year-one form (desbumi_ekonomi_y1):")
        print(f"  {'year_one (through the form)':<52} {seconds:8.2f} s  {n:>7,} rows        "
              f"{seconds / n * 1e6:8.1f} us each")
        if Y2_FORM.is_file():
            y2 = load_form(Y2_FORM)
            y1_rows = year_one(max(1, int(args.real_n / 1.08)), seed=2, form=y1_form)
            seconds, result = best(lambda: submissions(y2, y1_rows, seed=2), args.repeat)
            count = len(result.submissions)
            base = baseline(result.submissions[len(result.submissions) // 2], count, args.repeat)
            size = sum(len(json.dumps(d)) for d in result.submissions[:2000]) / min(2000, count)
            print(f"real year-two form (desbumi_ekonomi_y2, {len(y2.fields)} fields); baseline json.dumps of "
                  f"{count:,} fixed dicts ({size:,.0f} bytes each): {base:.2f} s")
            line("submissions (panel scenario, edits included)", seconds, count, base)
            single = seconds
            seconds, again = best(lambda: submissions(y2, y1_rows, seed=2, workers=2), args.repeat)
            assert json.dumps(again.submissions) == json.dumps(result.submissions), "workers=2 differs"
            line("submissions, workers=2 (same output)", seconds, count, base)
            projected = single / count * 100_000
            print(f"real year-two form, 100,000 submissions, single process: {projected:.1f} s projected "
                  f"({single / base:.1f}x the json.dumps baseline; before compiling: ~70 s, ~75x)")


if __name__ == "__main__":
    main()
