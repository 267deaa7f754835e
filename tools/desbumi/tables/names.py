"""The column names the exports write: one place, so `forms check` and the exports agree.

A form's field names become Stata/SPSS variable names, but not unchanged: a select_multiple
`apps` becomes one 0/1 dummy per choice (`apps_1`, `apps_2`, …) and a question inside a repeat,
reshaped wide, gets one `_<instance>` suffix per repeat level (`age_3`, `age_2_10`). The lint
rules check names against what these functions produce, and the exports call the same
functions, so a name `forms check` accepts is a name the export can write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

STATA_MAX_NAME = 32  # Stata's limit on a variable name, in characters

# The exports assume at most this many instances per repeat level when reshaping wide, so a
# wide suffix costs 1 + len(str(WIDE_MAX_INSTANCES)) = 3 characters per level ("_99").
WIDE_MAX_INSTANCES = 99

# Columns the exports add themselves, beside the form's own fields. Lower case; a field whose
# name equals one of these (ignoring case: SPSS folds case, and names are unique ignoring case)
# would be overwritten or make the export fail.
EXPORT_COLUMNS = frozenset({
    "submission_id",      # Kobo's integer _id, the submission's identity across edits
    "instance_id",        # meta/instanceID (_uuid) of the version exported
    "deprecated_id",      # meta/deprecatedID: the instanceID an edit replaced
    "form_id",            # which instrument the row came from (tables of several forms are stacked)
    "form_version",       # settings.version the submission was made with
    "submitted_at",       # _submission_time
    "submitted_by",       # _submitted_by (the server account)
    "validation_status",  # Kobo's approve / not approved / on hold
    "is_deleted",         # the store keeps deletions and marks them
    "parent_index",       # a repeat row's link to its parent row
    "row_index",          # a row's position in its own table
    "repeat_index",       # the instance number inside its repeat (1, 2, …), the wide suffix
    "wave",               # panel outputs stack year one and year two with this column
})

# Stata's reserved names ([U] 11.3 Naming conventions); str1 … str2045 are matched by pattern.
STATA_RESERVED = frozenset({
    "_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long",
    "_n", "_N", "_pi", "_pred", "_rc", "_skip", "strL", "using", "with",
})
STATA_STR_MAX = 2045
_STATA_STR = re.compile(r"str([1-9][0-9]{0,3})", re.IGNORECASE)

# SPSS reserved keywords: a variable may not be named after one (the .sav export would fail).
SPSS_RESERVED = frozenset({"all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with"})

_NOT_NAME_CHAR = re.compile(r"[^A-Za-z0-9_]")


def code_suffix(code: str) -> str:
    """The part a choice code adds to a dummy name: '1' -> '1', '-98' -> '_98', 'a.b' -> 'a_b'.

    A variable name holds only letters, digits and underscore, so any other character
    (the minus of a missing code, a dot, a space) becomes an underscore.
    """
    return _NOT_NAME_CHAR.sub("_", code.strip())


def dummy_name(name: str, code: str) -> str:
    """The 0/1 column a select_multiple `name` gets for one choice: ('apps', '1') -> 'apps_1'."""
    return f"{name}_{code_suffix(code)}"


def dummy_names(name: str, codes: Iterable[str]) -> list[str]:
    """One dummy per choice code, in the order of the codes."""
    return [dummy_name(name, code) for code in codes]


def wide_suffix(indexes: Sequence[int]) -> str:
    """The suffix of a repeat instance reshaped wide, outermost repeat first: (2, 10) -> '_2_10'."""
    return "".join(f"_{index}" for index in indexes)


def wide_name(name: str, indexes: Sequence[int]) -> str:
    """('age', (3,)) -> 'age_3'; no indexes (a field outside repeats) -> the name unchanged."""
    return name + wide_suffix(indexes)


def export_names(name: str, codes: Iterable[str] = (), indexes: Sequence[int] = ()) -> list[str]:
    """The column(s) one field becomes: dummies if it has choice codes (select_multiple),
    else the name itself, each with the wide suffix of `indexes` (empty outside repeats)."""
    bases = dummy_names(name, codes) or [name]
    return [wide_name(base, indexes) for base in bases]


def longest_export_name(name: str, codes: Iterable[str] = (), repeat_depth: int = 0) -> str:
    """The longest column a field can become: its longest dummy, reshaped wide with the
    largest instance number (WIDE_MAX_INSTANCES) at every repeat level."""
    names = export_names(name, codes, [WIDE_MAX_INSTANCES] * repeat_depth)
    return max(names, key=len)


def reserved_reason(name: str) -> str:
    """Why `name` cannot be an export column ('' if it can). Compared ignoring case, because
    SPSS folds case and the exports keep names unique ignoring case."""
    folded = name.lower()
    if folded in EXPORT_COLUMNS:
        return "a column the export adds itself"
    if folded in {word.lower() for word in STATA_RESERVED}:
        return "a reserved word in Stata"
    match = _STATA_STR.fullmatch(name)
    if match and int(match.group(1)) <= STATA_STR_MAX:
        return "a reserved word in Stata (a string storage type)"
    if folded in SPSS_RESERVED:
        return "a reserved word in SPSS"
    return ""
