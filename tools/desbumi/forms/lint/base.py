"""What every lint rule family shares: the rule catalogue and the context a rule reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..findings import ERROR, WARNING, Finding
from ..structure import Item, choice_lists, walk
from ..versions import LastBuild
from ..workbook import Row, XLSForm


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    summary: str


CATALOGUE: dict[str, Rule] = {}


def rule(rule_id: str, severity: str, summary: str) -> str:
    """Register a rule id once (ids are stable: scripts and tests rely on them)."""
    assert severity in (ERROR, WARNING), severity
    assert rule_id not in CATALOGUE, f"rule {rule_id} registered twice"
    CATALOGUE[rule_id] = Rule(rule_id, severity, summary)
    return rule_id


@dataclass
class LintContext:
    form: XLSForm
    source_sha256: str = ""
    last_build: LastBuild | None = None
    media_dir: Path | None = None  # files shipped beside the instrument
    generated_media: dict[str, list[str]] = field(default_factory=dict)  # file -> header, made by preload

    @property
    def file(self) -> str:
        return str(self.form.path)

    @cached_property
    def items(self) -> list[Item]:
        return walk(self.form)

    @cached_property
    def fields(self) -> dict[str, Item]:
        """Lower-cased name -> first item holding a value (questions, calculates, metadata)."""
        out: dict[str, Item] = {}
        for item in self.items:
            if item.is_field or item.type.base in ("begin group", "begin repeat"):
                out.setdefault(item.name.lower(), item)
        return out

    @cached_property
    def lists(self) -> dict[str, list[Row]]:
        return choice_lists(self.form)

    def at(self, rule_id: str, row: Row | None, column: str, message: str, *, sheet: str | None = None) -> Finding:
        """A finding of a registered rule at a cell (row None = the header row or the whole sheet)."""
        known = CATALOGUE[rule_id]
        sheet_obj = None
        if row is not None:
            sheet_name = row.sheet
        else:
            sheet_name = sheet or ""
        for s in self.form.sheets.values():
            if s.name == sheet_name:
                sheet_obj = s
        number = row.number if row is not None else (1 if column and sheet_obj else None)
        letter = sheet_obj.letter(column) if sheet_obj and column else ""
        return Finding(rule=rule_id, severity=known.severity, file=self.file, sheet=sheet_name,
                       row=number, column=column, message=message,
                       cell=f"{letter}{number}" if letter and number else "")
