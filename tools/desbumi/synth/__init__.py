"""Synthetic data generated from the real instruments, for tests, the sandbox server and training.

    from desbumi.synth import load_form, year_one, write_year_one, submissions

    y1_form = load_form("xlsform_src/desbumi_ekonomi_y1.xlsx")        # pyxform's view of the XLSForm
    rows = year_one(400, seed=1, form=y1_form)                        # the year-one cross-section
    write_year_one(rows, "out/year1.dta", form=y1_form)               # .csv .xlsx .dta .sav
    result = submissions(load_form("xlsform_src/desbumi_ekonomi_y2.xlsx"), rows, seed=1)
    result.submissions                                                 # Kobo JSON (KOBO_API.md §3.4)

Pieces, each usable alone:
- model.py    a compiled form as a tree (paths, types, choices, expressions, media);
- xpath.py    the XLSForm/XPath expression evaluator (`evaluate("${a} + 1", {"a": "2"})`);
- engine.py   Plan: fill a form honouring relevance, choice filters, constraints, calculations;
              Plan.check: re-validate a submission against the form;
- kobo.py     the Kobo envelope (_id, _uuid, meta/instanceID, edits with meta/deprecatedID);
- yearone.py  year_one() and the csv/xlsx/dta/sav writers;
- panel.py    submissions(): the year-two panel scenario (tracking, refresh, duplicates, typos, edits).

Everything is a pure function of its inputs and the seed: random.Random(seed), never the global
generator, never the clock.
"""

from .engine import Options, Plan, SynthError, validate_submissions
from .kobo import ENVELOPE_KEYS, KoboIds, kobo_ids
from .model import Choice, Form, Node, load_form
from .panel import (
           Fieldwork,
           PanelContract,
           PanelDynamics,
           SynthResult,
           preload_rows,
           submissions,
)
from .xpath import ExpressionError, compile_expression, evaluate
from .yearone import (
           CONTRACT_COLUMNS,
           YearOneFields,
           read_year_one,
           villages,
           write_year_one,
           year_one,
)

__all__ = ["CONTRACT_COLUMNS", "Choice", "ENVELOPE_KEYS", "ExpressionError", "Fieldwork", "Form", "KoboIds", "Node",
           "Options", "PanelContract", "PanelDynamics", "Plan", "SynthError", "SynthResult", "YearOneFields",
           "compile_expression", "evaluate", "kobo_ids", "load_form", "preload_rows", "read_year_one", "submissions",
           "validate_submissions", "villages", "write_year_one", "year_one"]
