"""A compiled XLSForm as a tree the generator can walk: fields, groups, repeats, choices, expressions.

The source is pyxform's own result (`convert(...)._pyxform`), because it keeps the XLSForm spelling
of every expression (`${age} > 15`) and the choice lists with their extra columns (the ones a
`choice_filter` reads). Paths are Kobo's: slash-joined below the instance root (`grp/sub/field`),
which are also the keys of a Kobo submission (KOBO_API.md §3.4).

    form = load_form("xlsform_src/desbumi_ekonomi_y2.xlsx")      # or a pyxform dict, or a convert() result
    form.field("resp_id_y1").file                               # 'responden_y1.csv'
    [c.name for c in form.field("kab").choices]                  # ['3212', '3305', ...]
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError

# pyxform's type names -> ours
_TYPE_NAMES = {
    "select one": "select_one",
    "select all that apply": "select_multiple",
    "select one external": "select_one_external",
    "select_one_external": "select_one_external",
    "dateTime": "datetime",
    "photo": "image",
    "select one from map": "select_one",
    "select all that apply from map": "select_multiple",
}
FILE_SUFFIXES = (".csv", ".xml", ".geojson")
STRUCTURE = {"group", "repeat"}
METADATA = {"start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber", "username",
            "email", "audit", "start-geopoint", "background-geopoint", "background-audio", "imei"}
MEDIA = {"image", "audio", "video", "file", "background-audio", "audit"}
NO_VALUE = {"note"}


@dataclass(frozen=True)
class Choice:
    name: str
    label: str  # in the form's default language ('' when none)
    labels: dict[str, str]
    extra: dict[str, str]  # every other column of the choices sheet (read by choice filters)

    def row(self) -> dict[str, str]:
        """The choice as a choice filter sees it: name, label and the extra columns."""
        return {"name": self.name, "label": self.label, **self.extra}


@dataclass
class Node:
    name: str
    path: str  # Kobo key: 'grp/sub/q'
    kind: str  # 'field' | 'group' | 'repeat'
    type: str  # 'integer', 'select_one', 'group', 'repeat', 'calculate', 'start', ...
    label: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    list_name: str = ""
    choices: tuple[Choice, ...] | None = None
    file: str = ""  # select_one_from_file / select_multiple_from_file
    file_value: str = "name"
    file_label: str = "label"
    search: tuple[str, ...] | None = None  # search('file', 'matches', 'column', value) appearance
    choice_filter: str = ""
    relevant: str = ""
    constraint: str = ""
    constraint_message: str = ""
    required: str = ""  # '' or an expression ('true()' for yes)
    calculation: str = ""
    default: str = ""
    read_only: str = ""
    repeat_count: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    appearance: str = ""
    preload: str = ""  # jr:preload (meta/instanceID)
    children: list[Node] = field(default_factory=list)
    repeats: tuple[str, ...] = ()  # paths of the enclosing repeats, outermost first (self excluded)
    parent: str = ""  # path of the enclosing group or repeat, '' at the top

    @property
    def repeat(self) -> str:
        return self.repeats[-1] if self.repeats else ""

    @property
    def is_select(self) -> bool:
        return self.type in ("select_one", "select_multiple", "rank", "select_one_external")

    def walk(self) -> Iterator[Node]:
        for child in self.children:
            yield child
            yield from child.walk()


@dataclass
class Form:
    id_string: str
    title: str
    version: str
    default_language: str
    root: str  # instance root element name ('data' unless the form says otherwise)
    children: list[Node]
    instance_name: str = ""
    source: Any = None  # the pyxform dict
    nodes: dict[str, Node] = field(default_factory=dict)  # path -> node, document order
    by_name: dict[str, list[Node]] = field(default_factory=dict)
    media: dict[str, list[dict]] = field(default_factory=dict)  # CSV media found beside the XLSForm

    def walk(self) -> Iterator[Node]:
        for child in self.children:
            yield child
            yield from child.walk()

    def field(self, name_or_path: str) -> Node:
        """A node by path ('grp/q') or by unique name ('q'); KeyError when unknown or ambiguous."""
        node = self.nodes.get(name_or_path)
        if node is not None:
            return node
        found = self.by_name.get(name_or_path, [])
        if len(found) == 1:
            return found[0]
        if not found:
            raise KeyError(name_or_path)
        raise KeyError(f"{name_or_path} (ambiguous: {', '.join(n.path for n in found)})")

    def has(self, name_or_path: str) -> bool:
        try:
            self.field(name_or_path)
        except KeyError:
            return False
        return True

    @property
    def fields(self) -> list[Node]:
        """Every value-holding node (not groups, repeats or notes), document order."""
        return [n for n in self.nodes.values() if n.kind == "field" and n.type not in NO_VALUE]

    @property
    def repeat_paths(self) -> list[str]:
        return [n.path for n in self.nodes.values() if n.kind == "repeat"]


def load_form(source: Any) -> Form:
    """A Form from an XLSForm file (.xlsx), pyxform's dict, a pyxform convert() result, or a Form."""
    if isinstance(source, Form):
        return source
    if isinstance(source, dict):
        return form_from_pyxform(source)
    if hasattr(source, "_pyxform"):
        return form_from_pyxform(source._pyxform)
    path = Path(source)
    if path.suffix.lower() == ".xml":
        raise InputError(f"{path}: the generator reads the XLSForm (.xlsx), not the compiled XForm XML; "
                         "pass forms/<form_id>/<version>/form.xlsx instead.")
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    try:
        from pyxform.errors import PyXFormError
        from pyxform.xls2xform import convert
    except ImportError as exc:  # pragma: no cover - pyxform is a declared dependency
        raise InputError(f"pyxform cannot be imported ({exc}); reinstall desbumi: pip install -e .") from exc
    warnings: list[str] = []
    try:
        result = convert(str(path), warnings=warnings)
    except PyXFormError as exc:
        raise InputError(f"{path}: pyxform cannot compile the form ({exc}).",
                         hint=f"Run `desbumi-sync forms check {path}` to see every problem with its row.") from exc
    form = form_from_pyxform(result._pyxform)
    form.media = read_media(path)
    return form


def read_media(path: Path) -> dict[str, list[dict]]:
    """CSV media beside an XLSForm: `<stem>-media/` (xlsform_src) or `media/` (a build folder)."""
    media: dict[str, list[dict]] = {}
    for folder in (path.with_name(f"{path.stem}-media"), path.parent / "media"):
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.csv")):
            if file.name not in media:
                with file.open(encoding="utf-8-sig", newline="") as handle:
                    media[file.name] = list(csv.DictReader(handle))
    return media


def form_from_pyxform(data: dict) -> Form:
    """Build the tree from pyxform's dict (the `_pyxform` attribute of a convert() result)."""
    language = data.get("default_language") or "default"
    form = Form(id_string=str(data.get("id_string") or data.get("name") or "form"),
                title=_text(data.get("title"), language), version=str(data.get("version") or ""),
                default_language=language, root=str(data.get("name") or "data"), children=[],
                instance_name=str(data.get("instance_name") or ""), source=data)
    form.children = [_node(child, form, parent="", repeats=()) for child in data.get("children", [])]
    for node in form.walk():
        form.nodes[node.path] = node
        form.by_name.setdefault(node.name, []).append(node)
    return form


def _text(value: Any, language: str) -> str:
    if isinstance(value, dict):
        if language in value:
            return str(value[language])
        return str(next(iter(value.values()), "")) if value else ""
    return "" if value is None else str(value)


def _labels(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {"default": str(value)} if value else {}


def _required(value: Any) -> str:
    text = str(value or "").strip()
    if text.lower() in ("", "no", "false", "false()", "0"):
        return ""
    if text.lower() in ("yes", "true", "true()", "1"):
        return "true()"
    return text


def _choices(raw: list[dict] | None, language: str) -> tuple[Choice, ...] | None:
    if raw is None:
        return None
    out = []
    for item in raw:
        extra = {str(k): _text(v, language) for k, v in item.items()
                 if k not in ("name", "label", "image", "audio", "video", "media")}
        out.append(Choice(name=str(item.get("name", "")), label=_text(item.get("label"), language),
                          labels=_labels(item.get("label")), extra=extra))
    return tuple(out)


def _node(data: dict, form: Form, parent: str, repeats: tuple[str, ...]) -> Node:
    raw_type = str(data.get("type", ""))
    name = str(data.get("name", ""))
    path = f"{parent}/{name}" if parent else name
    language = form.default_language
    bind = data.get("bind") or {}
    control = data.get("control") or {}
    kind = "group" if raw_type == "group" else "repeat" if raw_type == "repeat" else "field"
    node = Node(
        name=name, path=path, kind=kind, type=_TYPE_NAMES.get(raw_type, raw_type),
        label=_text(data.get("label"), language), labels=_labels(data.get("label")),
        relevant=str(bind.get("relevant", "") or ""), constraint=str(bind.get("constraint", "") or ""),
        constraint_message=_text(bind.get("jr:constraintMsg"), language),
        required=_required(bind.get("required")), calculation=str(bind.get("calculate", "") or ""),
        default=str(data.get("default", "") or ""), read_only=_required(bind.get("readonly")),
        repeat_count=str(control.get("jr:count", "") or ""),
        parameters=_parameters(data.get("parameters")),
        appearance=str(control.get("appearance", "") or ""), preload=str(bind.get("jr:preload", "") or ""),
        choice_filter=str(data.get("choice_filter", "") or ""), repeats=repeats, parent=parent,
    )
    if node.type in ("select_one", "select_multiple", "rank"):
        itemset = str(data.get("itemset") or "")
        if itemset.lower().endswith(FILE_SUFFIXES) and not data.get("choices"):
            node.file = itemset
            node.type = node.type if node.type != "rank" else "rank"
            node.file_value = node.parameters.get("value", "name")
            node.file_label = node.parameters.get("label", "label")
        else:
            node.list_name = str(data.get("list_name") or itemset)
            raw = data.get("choices")
            if raw is None and node.list_name:
                raw = (form.source or {}).get("choices", {}).get(node.list_name)
            node.choices = _choices(raw, language)
        search = _parse_search(node.appearance)
        if search:
            node.search = search
    if node.type == "select_one_external":
        node.list_name = str(data.get("itemset") or data.get("list_name") or "")
    if kind != "field":
        inner = (*repeats, path) if kind == "repeat" else repeats
        node.children = [_node(child, form, parent=path, repeats=inner) for child in data.get("children", [])]
    return node


def _parse_search(appearance: str) -> tuple[str, ...] | None:
    """search('file', 'matches', 'column', ${value}) -> ('file', 'matches', 'column', '${value}')."""
    text = appearance.strip()
    start = text.find("search(")
    if start < 0:
        return None
    inner = text[start + len("search("):]
    depth, end = 1, None
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                end = i
                break
    if end is None:
        return None
    parts, current, quote = [], "", ""
    for ch in inner[:end]:
        if quote:
            current += ch
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current += ch
        elif ch == ",":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return tuple(p[1:-1] if len(p) >= 2 and p[0] == p[-1] and p[0] in "'\"" else p for p in parts)


__all__ = ["Choice", "Form", "Node", "form_from_pyxform", "load_form", "read_media", "METADATA", "MEDIA"]


def _parameters(raw) -> dict[str, str]:
    """pyxform gives `parameters` as a dict for selects but as the raw text ('max-pixels=1024') for images."""
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    pairs = (part.split("=", 1) for part in str(raw or "").replace(";", " ").replace(",", " ").split() if "=" in part)
    return {key.strip(): value.strip() for key, value in pairs}
