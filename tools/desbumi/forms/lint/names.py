"""Lint rules, family a: field names that survive the trip into Stata, SPSS and the exports.

A survey name becomes a variable name in every export. Stata allows letters, digits and
underscore, 32 characters at most, and the export lengthens some names (select_multiple
dummies, wide repeat suffixes), so the checks here use the very functions the exports use
(desbumi.tables.names) rather than a copy of their rules.
"""

from __future__ import annotations

import re

from ...tables.names import (
    STATA_MAX_NAME,
    code_suffix,
    longest_export_name,
    reserved_reason,
)
from ..findings import ERROR, Finding
from ..structure import Item
from .base import LintContext, rule

NAME_MISSING = rule("name-missing", ERROR, "a survey row that needs a name has none")
NAME_INVALID = rule("name-invalid", ERROR, "a name uses characters other than letters, digits and underscore, "
                                           "or does not start with a letter")
NAME_DUPLICATE = rule("name-duplicate", ERROR, "two survey rows share a name (ignoring case)")
NAME_TOO_LONG = rule("name-too-long", ERROR, "a name exceeds Stata's 32 characters once the export adds "
                                             "its dummy or wide-repeat suffixes")
NAME_RESERVED = rule("name-reserved", ERROR, "a name equals a column the export adds or a Stata/SPSS reserved word")
NAME_COLLISION = rule("name-collision", ERROR, "a name equals a column the export generates for another field "
                                               "(select_multiple dummy or wide repeat suffix)")

_VALID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_WIDE_REST = re.compile(r"[0-9]+(?:_[0-9]+)*")


def check(ctx: LintContext) -> list[Finding]:
    named = _named_items(ctx)
    return [*_missing(ctx), *_invalid(ctx, named), *_duplicates(ctx, named),
            *_too_long(ctx), *_reserved(ctx), *_collisions(ctx)]


def _named_items(ctx: LintContext) -> list[Item]:
    """Rows whose name lands in the form (every typed row but end group / end repeat)."""
    return [item for item in ctx.items if item.name and _needs_name(item)]


def _needs_name(item: Item) -> bool:
    return bool(item.type.base) and not item.is_end


def _fields(ctx: LintContext) -> list[Item]:
    """Rows that become export columns."""
    return [item for item in ctx.items if item.is_field and item.type.base]


def _missing(ctx: LintContext) -> list[Finding]:
    return [ctx.at(NAME_MISSING, item.row, "name",
                   f"The '{item.row['type'].strip()}' row has no name; give it a unique name of letters, "
                   f"digits and underscore, starting with a letter.")
            for item in ctx.items if _needs_name(item) and not item.name]


def suggest_name(name: str) -> str:
    """A valid name close to `name`: other characters become '_', a leading non-letter gets 'q'."""
    fixed = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return fixed if fixed[:1].isalpha() and fixed[:1].isascii() else f"q{fixed}"


def _invalid(ctx: LintContext, named: list[Item]) -> list[Finding]:
    findings = []
    for item in named:
        if _VALID.fullmatch(item.name):
            continue
        bad = sorted({c for c in item.name if not (c.isascii() and (c.isalnum() or c == "_"))})
        if bad:
            problem = "contains " + ", ".join(repr(c) for c in bad)
        else:
            problem = f"starts with {item.name[0]!r}"
        findings.append(ctx.at(NAME_INVALID, item.row, "name",
                               f"Name '{item.name}' {problem}; names may use only letters A–Z, digits and "
                               f"underscore and must start with a letter (Stata and SPSS accept nothing else). "
                               f"Rename it, e.g. to '{suggest_name(item.name)}'."))
    return findings


def _duplicates(ctx: LintContext, named: list[Item]) -> list[Finding]:
    first: dict[str, Item] = {}
    findings = []
    for item in named:
        earlier = first.setdefault(item.name.lower(), item)
        if earlier is not item:
            same = "" if earlier.name == item.name else f" (as '{earlier.name}'; case does not count)"
            findings.append(ctx.at(NAME_DUPLICATE, item.row, "name",
                                   f"Name '{item.name}' on row {item.row.number} is already used on row "
                                   f"{earlier.row.number}{same}; names must be unique across the whole form, "
                                   f"groups and repeats included. Rename one of the two rows."))
    return findings


def _codes(ctx: LintContext, item: Item) -> list[str]:
    """Choice codes a field turns into dummies: those of a select_multiple's list, else none."""
    if item.type.base != "select_multiple":
        return []
    return [code for row in ctx.lists.get(item.type.argument.strip(), []) if (code := row["name"].strip())]


def _too_long(ctx: LintContext) -> list[Finding]:
    findings = []
    for item in _fields(ctx):
        longest = longest_export_name(item.name, _codes(ctx, item), item.repeat_depth)
        if len(longest) <= STATA_MAX_NAME:
            continue
        why = []
        if item.type.base == "select_multiple":
            why.append("a select_multiple gets one dummy per choice code (longest code used)")
        if item.repeat_depth:
            levels = "a repeat" if item.repeat_depth == 1 else f"{item.repeat_depth} nested repeats"
            why.append(f"it sits in {levels}, reshaped wide with '_<instance>' per level")
        because = f" because {' and '.join(why)}" if why else ""
        cut = len(longest) - STATA_MAX_NAME
        findings.append(ctx.at(NAME_TOO_LONG, item.row, "name",
                               f"Name '{item.name}' exports as '{longest}' ({len(longest)} characters){because}; "
                               f"Stata allows {STATA_MAX_NAME}. Shorten the name by at least {cut} "
                               f"character{'s' if cut > 1 else ''}."))
    return findings


def _reserved(ctx: LintContext) -> list[Finding]:
    findings = []
    for item in _fields(ctx):
        reason = reserved_reason(item.name)
        if reason:
            findings.append(ctx.at(NAME_RESERVED, item.row, "name",
                                   f"Name '{item.name}' is {reason}; the export cannot write a question of "
                                   f"that name. Rename it, e.g. to '{item.name}_q'."))
    return findings


def _collisions(ctx: LintContext) -> list[Finding]:
    """A field whose name equals a column generated from another field: `apps_1` beside a
    select_multiple `apps` with code 1, or `age_2` beside `age` in a repeat reshaped wide."""
    fields = _fields(ctx)
    by_name = {item.name.lower(): item for item in reversed(fields)}
    findings = []
    for item in fields:
        lowered = item.name.lower()
        for cut in (i for i, char in enumerate(lowered) if char == "_"):
            source = by_name.get(lowered[:cut])
            if source is None or source is item:
                continue
            what = _generated_as(lowered[cut + 1:], [code_suffix(c).lower() for c in _codes(ctx, source)],
                                 source.repeat_depth)
            if what:
                findings.append(ctx.at(NAME_COLLISION, item.row, "name",
                                       f"Name '{item.name}' is also the column the export makes for {what} "
                                       f"of {source.type.base} '{source.name}' (row {source.row.number}); rename "
                                       f"'{item.name}' or '{source.name}' so the two columns differ."))
                break
    return findings


def _generated_as(rest: str, codes: list[str], depth: int) -> str:
    """What generated `<source>_<rest>` (the dummy of a code, a wide instance), '' if nothing."""
    for code in codes:
        if rest == code:
            return f"choice {code}"
        if depth and rest.startswith(f"{code}_") and _wide_levels(rest[len(code) + 1:]) == depth:
            return f"choice {code}, repeat instance {rest[len(code) + 1:]} (reshaped wide),"
    if depth and _wide_levels(rest) == depth:
        return f"repeat instance {rest} (reshaped wide)"
    return ""


def _wide_levels(text: str) -> int:
    """How many '_<instance>' levels `text` (without its first '_') spells: '2_10' -> 2, else 0."""
    return text.count("_") + 1 if _WIDE_REST.fullmatch(text) else 0
