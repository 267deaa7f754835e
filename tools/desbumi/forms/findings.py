"""A finding: one problem, at one cell, with a stable rule id and a message that says how to fix it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR, WARNING = "error", "warning"
_SEVERITY_ORDER = {ERROR: 0, WARNING: 1}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "error" | "warning"
    file: str
    sheet: str  # "" when the finding is about the whole file
    row: int | None  # Excel row number, header = 1; None when not tied to a row
    column: str  # normalised header name ("name", "label::English (en)"), "" when none
    message: str
    cell: str = ""  # Excel address like "B7" when known

    def to_dict(self) -> dict:
        return asdict(self)

    def location(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'")
        if self.row:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column '{self.column}'" + (f" ({self.cell})" if self.cell else ""))
        return ", ".join(parts)


def sort_key(finding: Finding) -> tuple:
    return (finding.file, finding.sheet != "settings", finding.sheet, finding.row or 0,
            _SEVERITY_ORDER.get(finding.severity, 2), finding.rule, finding.column, finding.message)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)
