"""The survey sheet as a tree walk: each row's parsed type and the groups/repeats around it.

Rules, diff and build all need "which repeat is this question in?"; parsing once here keeps the
answer identical everywhere. Parsing is tolerant: a broken begin/end nesting is reported by lint,
not raised here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .workbook import Row, XLSForm

# Types that never show a label to the enumerator (metadata and hidden values).
METADATA_TYPES = {
    "start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber", "username",
    "email", "audit", "start-geopoint", "background-geopoint", "background-audio", "imei", "uri:deviceid",
    "uri:username", "uri:email", "uri:phonenumber", "uri:simserial", "uri:subscriberid",
}
HIDDEN_TYPES = METADATA_TYPES | {"calculate", "hidden", "xml-external", "csv-external"}
STRUCTURE_TYPES = {"begin group", "end group", "begin repeat", "end repeat"}
SELECT_TYPES = {"select_one", "select_multiple", "rank"}
FILE_SELECT_TYPES = {"select_one_from_file", "select_multiple_from_file"}


@dataclass(frozen=True)
class ParsedType:
    base: str  # "integer", "select_one", "begin group", ...
    argument: str = ""  # list name or file name
    or_other: bool = False

    @property
    def is_select(self) -> bool:
        return self.base in SELECT_TYPES or self.base in FILE_SELECT_TYPES


def parse_type(text: str) -> ParsedType:
    """'select_one yn' -> ParsedType('select_one', 'yn'); 'begin_group' -> 'begin group'."""
    words = text.strip().split()
    if not words:
        return ParsedType("")
    head = words[0].lower()
    if head in ("begin", "end") and len(words) > 1:
        return ParsedType(f"{head} {words[1].lower()}")
    if head in ("begin_group", "end_group", "begin_repeat", "end_repeat"):
        return ParsedType(head.replace("_", " "))
    or_other = len(words) >= 3 and words[-1].lower() == "or_other"
    argument = words[1] if len(words) > 1 else ""
    # "select_one yn" or the older "select one yn"
    if head in ("select", "select1") and len(words) > 1 and words[1].lower() in ("one", "multiple", "all"):
        head = "select_one" if words[1].lower() == "one" else "select_multiple"
        argument = words[2] if len(words) > 2 else ""
    return ParsedType(head, argument, or_other)


@dataclass(frozen=True)
class Item:
    """One survey row in context."""

    row: Row
    type: ParsedType
    name: str
    parents: tuple[tuple[str, str], ...]  # (("group"|"repeat", name), ...) outermost first

    @property
    def repeat_depth(self) -> int:
        return sum(1 for kind, _ in self.parents if kind == "repeat")

    @property
    def repeat(self) -> str:
        """Name of the innermost enclosing repeat, '' at top level."""
        for kind, name in reversed(self.parents):
            if kind == "repeat":
                return name
        return ""

    @property
    def path(self) -> str:
        return "/".join([*(n for _, n in self.parents), self.name])

    @property
    def is_begin(self) -> bool:
        return self.type.base.startswith("begin ")

    @property
    def is_end(self) -> bool:
        return self.type.base.startswith("end ")

    @property
    def is_field(self) -> bool:
        """A row that holds a value in the submission (not begin/end, not a note)."""
        return bool(self.name) and self.type.base not in STRUCTURE_TYPES and self.type.base != "note"


def walk(form: XLSForm) -> list[Item]:
    """Every survey row with its enclosing groups; unmatched 'end' rows pop what they can."""
    stack: list[tuple[str, str]] = []
    items: list[Item] = []
    for row in form.survey.rows:
        parsed = parse_type(row["type"])
        name = row["name"].strip()
        if parsed.base.startswith("end ") and stack:
            stack.pop()
        items.append(Item(row=row, type=parsed, name=name, parents=tuple(stack)))
        if parsed.base in ("begin group", "begin repeat"):
            stack.append((parsed.base.split()[1], name))
    return items


def choice_lists(form: XLSForm) -> dict[str, list[Row]]:
    """list_name -> its choice rows, in sheet order."""
    lists: dict[str, list[Row]] = {}
    if form.choices is not None:
        for row in form.choices.rows:
            lists.setdefault(row["list_name"].strip(), []).append(row)
    return lists


_REF = re.compile(r"\$\{([^}]*)\}")


def references(text: str) -> list[str]:
    """Names referenced as ${name} in an expression or label."""
    return [m.strip() for m in _REF.findall(text or "")]
