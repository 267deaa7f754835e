"""Lint rules over an XLSForm: one module per rule family, one catalogue of stable rule ids."""

from __future__ import annotations

from ..findings import Finding, sort_key
from . import choices, labels, names, offline, personal, settings, survey
from .base import CATALOGUE, LastBuild, LintContext, Rule

FAMILIES = (settings, names, labels, choices, survey, offline, personal)


def lint(context: LintContext) -> list[Finding]:
    """Every finding of every rule family, in sheet/row order."""
    findings: list[Finding] = []
    for family in FAMILIES:
        findings.extend(family.check(context))
    return sorted(set(findings), key=sort_key)


__all__ = ["CATALOGUE", "LastBuild", "LintContext", "Rule", "lint"]
