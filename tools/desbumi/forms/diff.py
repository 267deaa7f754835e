"""The semantic diff of two XLSForms: what changed for enumerators, the panel and the exports.

`diff_forms(old, new)` compares two read forms and returns a `DiffResult` (a list of `Change`s,
ordered by severity then position); `render_text`, `render_markdown` and `to_json` turn it into
output. `resolve_side` turns a command-line side (a path, or `FORM@VERSION` for a build in forms/)
into a file. Nothing here prints.

Identity: a survey row is the same question in both forms when it has the same `name` (the n-th row
of a name pairs with the n-th, should a broken form repeat a name); a choice is the same when it has
the same code (`name`) in the same list. Renaming is therefore a removal plus an addition, which is
what it is for the data: the export column changes.

Severity rules
--------------
breaking  the panel or the exports change meaning or shape; an analyst must act:
          - a question that holds data removed (`question_removed`), a repeat removed (its dataset);
          - a type change (`type_changed`), except: integer -> decimal (widening, review), a note
            becoming a data question (review), `or_other` added (review), a spelling of the same
            type (`select one` -> `select_one`, `int` -> `integer`; cosmetic);
          - a group turned into a repeat or back;
          - a move into, out of or between repeats (`*_moved` with a different repeat path): the
            value moves to another dataset;
          - a select's choice list changed (`choice_list_changed`), unless the two lists hold the
            same codes with the same labels in the meaning language (then review);
          - a choice code removed (`choice_removed`);
          - a choice code relabelled in the form's meaning language — its default language — in a
            way that is more than case, whitespace, punctuation or formatting (`choice_relabelled`):
            the stored code now means something else, so its value label is wrong for old data;
          - `form_id` changed: the server and the store see a different form.
review    someone should look, nothing is broken by itself:
          - a question, group, repeat or choice code added; a note or group removed;
          - relevant / constraint / required / calculation / choice_filter / repeat_count /
            appearance / default / read_only / pii or any other non-text column changed;
          - a question's label changed beyond case/whitespace/punctuation (any language); a choice
            label so changed in a language other than the meaning language (a translation fix);
          - a move between groups outside repeats (same repeat path, other enclosing group);
          - a language added or removed; a choice list added or removed; `default_language` or any
            setting other than version and title changed.
cosmetic  no effect on data:
          - any label change that only touches case, whitespace, punctuation, HTML tags or markdown
            emphasis (the "spelling" rule: both texts are equal after NFKC, casefold, tags removed,
            punctuation turned into spaces and whitespace collapsed);
          - hints, guidance hints, constraint/required messages and media columns changed;
          - an expression changed only in whitespace outside string literals; `required` spelled
            differently (yes / TRUE / true());
          - rows reordered within the same group or list (`*_reordered`);
          - `version` and `form_title` changed.

Kinds: question_added, question_removed, question_moved, question_reordered (and group_* / repeat_*
for begin group / begin repeat rows), type_changed, choice_list_changed, label_changed,
hint_changed, message_changed, media_changed, relevant_changed, constraint_changed, required_changed,
calculation_changed, choice_filter_changed, appearance_changed, repeat_count_changed,
property_changed, language_added, language_removed, choice_list_added, choice_list_removed,
choice_added, choice_removed, choice_relabelled, choice_reordered, choice_property_changed,
setting_changed.

Subjects: a survey row's path (`resp/age`, groups and repeats included), `choices:<list>` and
`choices:<list>/<code>`, `settings:<key>`, `language:<name>`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .structure import Item, ParsedType, choice_lists, walk
from .versions import version_key
from .workbook import _TRANSLATABLE, Row, XLSForm, read_xlsform

__all__ = [
    "BREAKING", "REVIEW", "COSMETIC", "SEVERITIES", "Change", "DiffResult", "diff_forms", "diff_files",
    "resolve_side", "available_versions", "summary", "render_text", "render_markdown", "to_json",
]

BREAKING, REVIEW, COSMETIC = "breaking", "review", "cosmetic"
SEVERITIES = (BREAKING, REVIEW, COSMETIC)
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_SECTION = {"settings": 0, "languages": 1, "survey": 2, "choices": 3}
JSON_KEYS = ("kind", "severity", "subject", "detail", "old", "new", "old_row", "new_row")

BUILD_FILE = "form.xlsx"
LATEST = "latest"

# Columns whose change gets its own kind; everything else on the survey sheet is property_changed.
_EXPRESSIONS = ("relevant", "constraint", "calculation", "choice_filter", "repeat_count")
_TEXT_KINDS = {"label": "label_changed", "hint": "hint_changed", "guidance_hint": "hint_changed",
               "constraint_message": "message_changed", "required_message": "message_changed"}
_TYPE_ALIASES = {"int": "integer", "select_all_that_apply": "select_multiple", "select1": "select_one"}
_NO_DATA = {"note", "begin group"}
_WIDENING = {("integer", "decimal")}
_TRUE = {"yes", "true", "true()", "1"}
_FALSE = {"", "no", "false", "false()", "0"}


# ---------------------------------------------------------------------------------------- model

@dataclass(frozen=True)
class Change:
    """One difference between the two forms."""

    kind: str
    severity: str  # breaking | review | cosmetic
    subject: str  # "resp/age", "choices:yesno/1", "settings:version", "language:English (en)"
    detail: str  # one sentence a reviewer reads
    old: str | None = None  # the old value (None: not there)
    new: str | None = None
    old_row: int | None = None  # Excel row in the old form (header = 1)
    new_row: int | None = None
    sheet: str = field(default="", compare=False)  # survey | choices | settings | "" (form-wide)

    def to_dict(self) -> dict:
        return {key: getattr(self, key) for key in JSON_KEYS}

    @property
    def row(self) -> int:
        return self.new_row if self.new_row is not None else (self.old_row or 0)


@dataclass(frozen=True)
class DiffResult:
    old: str  # how the old side was named (path or FORM@VERSION)
    new: str
    changes: tuple[Change, ...]
    old_version: str = ""
    new_version: str = ""

    @property
    def counts(self) -> dict[str, int]:
        """{'breaking': n, 'review': n, 'cosmetic': n}, always all three keys."""
        counts = dict.fromkeys(SEVERITIES, 0)
        for change in self.changes:
            counts[change.severity] += 1
        return counts

    @property
    def has_breaking(self) -> bool:
        return any(c.severity == BREAKING for c in self.changes)


def _sort_key(change: Change) -> tuple:
    section = _SECTION.get(change.sheet, 1)
    return (_RANK[change.severity], section, change.row, change.kind, change.subject, change.detail)


# ------------------------------------------------------------------------------------- entry points

def diff_files(old_path: str | Path, new_path: str | Path, *, old_label: str | None = None,
               new_label: str | None = None) -> DiffResult:
    """Read two XLSForms (InputError if either is unreadable) and diff them."""
    return diff_forms(read_xlsform(old_path), read_xlsform(new_path), old_label=old_label, new_label=new_label)


def diff_forms(old: XLSForm, new: XLSForm, *, old_label: str | None = None,
               new_label: str | None = None) -> DiffResult:
    """Every change from `old` to `new`, ordered by severity, then section, then row."""
    old_langs, new_langs = _languages(old), _languages(new)
    common = [lang for lang in new_langs if lang in old_langs]
    meaning = _meaning_language(new, new_langs)
    changes: list[Change] = []
    changes += _settings_changes(old, new)
    changes += _language_changes(old_langs, new_langs)
    changes += _survey_changes(old, new, common)
    changes += _choice_changes(old, new, common, meaning)
    changes.sort(key=_sort_key)
    return DiffResult(old=old_label or str(old.path), new=new_label or str(new.path), changes=tuple(changes),
                      old_version=old.version, new_version=new.version)


# ------------------------------------------------------------------------------------- resolution

def available_versions(forms_dir: str | Path, form_id: str) -> list[str]:
    """Versions of `form_id` built in forms_dir (those with a form.xlsx), oldest first."""
    folder = Path(forms_dir) / form_id
    if not folder.is_dir():
        return []
    versions = [d.name for d in folder.iterdir() if d.is_dir() and (d / BUILD_FILE).is_file()]
    return sorted(versions, key=version_key)


def resolve_side(spec: str, forms_dir: str | Path, cwd: str | Path | None = None) -> Path:
    """A diff side -> the XLSForm file it means.

    `spec` is a path (relative to cwd) or `FORM@VERSION`, meaning forms/<FORM>/<VERSION>/form.xlsx;
    `FORM@latest` is the highest built version. An existing file always wins, so a file name that
    contains '@' still works.
    """
    cwd = Path(cwd) if cwd is not None else Path.cwd()
    forms_dir = Path(forms_dir)
    if not forms_dir.is_absolute():
        forms_dir = cwd / forms_dir
    candidate = Path(spec)
    if not candidate.is_absolute():
        candidate = cwd / candidate
    if candidate.is_file():
        return candidate
    form_id, at, version = spec.rpartition("@")
    if not at or not form_id or not version or _unsafe_part(form_id) or _unsafe_part(version):
        if candidate.exists():
            raise InputError(f"{spec}: is a folder, not an XLSForm file.")
        raise InputError(f"{spec}: no such file.",
                         hint="Give the path of an .xlsx file, or FORM@VERSION for a build in "
                              f"{forms_dir} (for example my_form@2026112801 or my_form@latest).")
    versions = available_versions(forms_dir, form_id)
    if not versions:
        built = sorted(d.name for d in forms_dir.iterdir() if d.is_dir() and available_versions(forms_dir, d.name)) \
            if forms_dir.is_dir() else []
        where = f"forms built there: {', '.join(built)}" if built else "nothing has been built there yet"
        raise InputError(f"{spec}: the form {form_id!r} has no build in {forms_dir} ({where}).",
                         hint=f"Build it first with: desbumi-sync forms build {form_id}")
    if version in versions:
        return forms_dir / form_id / version / BUILD_FILE
    if version.lower() == LATEST:
        return forms_dir / form_id / versions[-1] / BUILD_FILE
    raise InputError(f"{spec}: the form {form_id!r} has no build of version {version} in {forms_dir}; "
                     f"available versions: {', '.join(versions)}.",
                     hint=f"Use one of them, e.g. {form_id}@{versions[-1]} (or {form_id}@latest).")


def _unsafe_part(text: str) -> bool:
    return text in (".", "..") or any(sep in text for sep in ("/", "\\"))


# ------------------------------------------------------------------------------------- comparisons

def _languages(form: XLSForm) -> list[str]:
    """Languages of translatable columns on survey and choices, '' for bare `label` etc."""
    seen: dict[str, None] = {}
    for sheet in (form.sheets.get("survey"), form.sheets.get("choices")):
        for header in sheet.headers if sheet else []:
            base, lang = _split(header)
            if base in _TRANSLATABLE and lang is not None:
                seen.setdefault(lang, None)
    return list(seen)


def _split(header: str) -> tuple[str, str | None]:
    """'label::English (en)' -> ('label', 'English (en)'); 'label' -> ('label', ''); 'name' -> ('name', None)."""
    base, sep, lang = header.partition("::")
    if base in _TRANSLATABLE:
        return base, lang if sep else ""
    return header, None


def _meaning_language(form: XLSForm, langs: list[str]) -> str:
    """The language whose choice labels define what a code means: default_language, else the first."""
    declared = form.settings.get("default_language", "").strip()
    if declared in langs:
        return declared
    if "" in langs:
        return ""
    return langs[0] if langs else ""


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _lang_name(lang: str) -> str:
    return lang or "no language"


def _words(text: str) -> str:
    """Text reduced to its words: what 'only case/whitespace/punctuation changed' compares."""
    text = unicodedata.normalize("NFKC", re.sub(r"<[^<>]*>", " ", text)).casefold()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(text.split())


def _squash(expression: str) -> str:
    """An expression without whitespace outside string literals."""
    out, quote = [], ""
    for ch in expression:
        if quote:
            out.append(ch)
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif not ch.isspace():
            out.append(ch)
    return "".join(out)


def _truth(value: str) -> str | None:
    low = value.strip().lower()
    return "yes" if low in _TRUE else "no" if low in _FALSE else None


def _settings_changes(old: XLSForm, new: XLSForm) -> list[Change]:
    before, after = old.settings, new.settings
    old_row = old.settings_row.number if old.settings_row else None
    new_row = new.settings_row.number if new.settings_row else None
    changes = []
    for key in _union(list(before), list(after)):
        o, n = before.get(key, ""), after.get(key, "")
        if o == n:
            continue
        if o.strip() == n.strip() or key in ("version", "form_title"):
            severity = COSMETIC
        elif key == "form_id":
            severity = BREAKING
        else:
            severity = REVIEW
        detail = {"form_id": "form_id changed: the server and the store will treat it as another form",
                  "default_language": "default language changed: choice labels in it define what codes mean",
                  "version": "version changed"}.get(key, f"setting {key} changed")
        changes.append(Change("setting_changed", severity, f"settings:{key}", detail, o or None, n or None,
                              old_row, new_row, sheet="settings"))
    return changes


def _lang_phrase(lang: str) -> str:
    return f"language {lang}" if lang else "text without a language (bare label/hint columns)"


def _language_changes(old_langs: list[str], new_langs: list[str]) -> list[Change]:
    changes = []
    for lang in old_langs:
        if lang not in new_langs:
            changes.append(Change("language_removed", REVIEW, f"language:{_lang_name(lang)}",
                                  f"{_lang_phrase(lang)} removed: its labels, hints and messages are gone",
                                  old=_lang_name(lang), sheet="languages"))
    for lang in new_langs:
        if lang not in old_langs:
            changes.append(Change("language_added", REVIEW, f"language:{_lang_name(lang)}",
                                  f"{_lang_phrase(lang)} added", new=_lang_name(lang), sheet="languages"))
    return changes


# ---- survey

def _noun(item: Item) -> str:
    return {"begin group": "group", "begin repeat": "repeat"}.get(item.type.base, "question")


def _holds_data(item: Item) -> bool:
    return _base(item.type) not in _NO_DATA


def _base(parsed: ParsedType) -> str:
    return _TYPE_ALIASES.get(parsed.base, parsed.base)


def _container(parents: tuple[tuple[str, str], ...]) -> str:
    """The path of the enclosing groups/repeats, '(top level)' outside any."""
    return "/".join(name for _, name in parents) or "(top level)"


def _place(parents: tuple[tuple[str, str], ...]) -> str:
    """'group resp', 'repeat hh/member' (kind of the innermost), or 'the top level'."""
    return f"{parents[-1][0]} {_container(parents)}" if parents else "the top level"


def _in(parents: tuple[tuple[str, str], ...]) -> str:
    return f"in {_place(parents)}" if parents else "at the top level"


def _repeats(parents: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    return tuple(name for kind, name in parents if kind == "repeat")


def _keyed(pairs) -> dict[tuple[str, int], object]:
    """(name, occurrence) -> thing, in order; pairs the n-th of a repeated name with the n-th."""
    out, seen = {}, {}
    for name, thing in pairs:
        seen[name] = seen.get(name, 0) + 1
        out[(name, seen[name])] = thing
    return out


def _survey_items(form: XLSForm) -> dict[tuple[str, int], Item]:
    return _keyed((item.name, item) for item in walk(form) if item.name and not item.is_end)


def _survey_changes(old: XLSForm, new: XLSForm, common_langs: list[str]) -> list[Change]:
    before, after = _survey_items(old), _survey_items(new)
    columns = [c for c in _union(old.survey.headers, new.survey.headers) if c not in ("type", "name")]
    changes: list[Change] = []
    for key, item in before.items():
        if key not in after:
            noun = _noun(item)
            if item.type.base == "begin repeat":
                severity, why = BREAKING, ": its dataset disappears from the exports"
            elif _holds_data(item):
                severity, why = BREAKING, ": its column disappears from the exports and the panel"
            else:
                severity, why = REVIEW, ""
            changes.append(Change(f"{noun}_removed", severity, item.path,
                                  f"{noun} removed ({item.row['type'].strip()}, {_in(item.parents)}){why}",
                                  old=item.row["type"], old_row=item.row.number, sheet="survey"))
    for key, item in after.items():
        if key not in before:
            noun = _noun(item)
            changes.append(Change(f"{noun}_added", REVIEW, item.path,
                                  f"{noun} added ({item.row['type'].strip()}, {_in(item.parents)})",
                                  new=item.row["type"], new_row=item.row.number, sheet="survey"))
    moved: set[tuple[str, int]] = set()
    for key, b in after.items():
        a = before.get(key)
        if a is None:
            continue
        move = _move(a, b)
        if move:
            moved.add(key)
            changes.append(move)
        changes += _type_changes(a, b, old, new)
        changes += _column_changes(a.row, b.row, columns, common_langs, b.path, "survey", _item_column_change)
    changes += _reorders(
        [(k, i.parents[-1:]) for k, i in before.items() if k in after and k not in moved],
        [(k, i.parents[-1:]) for k, i in after.items() if k in before and k not in moved],
        lambda key: _reorder_change(before[key], after[key]))
    return changes


def _move(a: Item, b: Item) -> Change | None:
    noun = _noun(b)
    where_a, where_b = _container(a.parents), _container(b.parents)
    rows = dict(old=where_a, new=where_b, old_row=a.row.number, new_row=b.row.number, sheet="survey")
    ra, rb = _repeats(a.parents), _repeats(b.parents)
    if ra != rb:
        if not ra:
            how = f"moved into repeat {rb[-1]}"
        elif not rb:
            how = f"moved out of repeat {ra[-1]}"
        else:
            how = f"moved from repeat {ra[-1]} to repeat {rb[-1]}"
        what = "its dataset moves" if noun == "repeat" else "its values move"
        return Change(f"{noun}_moved", BREAKING, b.path, f"{how} ({where_a} -> {where_b}): {what} to another table",
                      **rows)
    if a.parents[-1:] != b.parents[-1:]:
        return Change(f"{noun}_moved", REVIEW, b.path, f"moved from {_place(a.parents)} to {_place(b.parents)}",
                      **rows)
    return None


def _type_changes(a: Item, b: Item, old: XLSForm, new: XLSForm) -> list[Change]:
    ta, tb = a.type, b.type
    raw_a, raw_b = a.row["type"], b.row["type"]
    if raw_a == raw_b:
        return []
    rows = dict(old=raw_a, new=raw_b, old_row=a.row.number, new_row=b.row.number, sheet="survey")
    base_a, base_b = _base(ta), _base(tb)
    if base_a != base_b:
        if {base_a, base_b} == {"begin group", "begin repeat"}:
            severity, why = BREAKING, f"{base_a} became {base_b}: the questions inside move to another table"
        elif (base_a, base_b) in _WIDENING:
            severity, why = REVIEW, f"widened from {base_a} to {base_b}: old values still fit"
        elif not _holds_data(a) and _holds_data(b):
            severity, why = REVIEW, f"{base_a} became {base_b}: it now holds data"
        else:
            severity, why = BREAKING, f"{base_a} became {base_b}: old and new values are not comparable"
        return [Change("type_changed", severity, b.path, f"type changed, {why}", **rows)]
    changes = []
    if ta.argument != tb.argument:
        if ta.is_select:
            severity, why = _list_swap(old, new, ta.argument, tb.argument)
            changes.append(Change("choice_list_changed", severity, b.path,
                                  f"choice list changed from {ta.argument} to {tb.argument}{why}", **rows))
        else:
            changes.append(Change("type_changed", REVIEW, b.path, "type argument changed", **rows))
    if ta.or_other != tb.or_other:
        if tb.or_other:
            changes.append(Change("type_changed", REVIEW, b.path, "or_other added: a new 'other' code and text",
                                  **rows))
        else:
            changes.append(Change("type_changed", BREAKING, b.path,
                                  "or_other removed: the 'other' code and its text are gone", **rows))
    if not changes:
        changes.append(Change("type_changed", COSMETIC, b.path, f"same type ({base_b}), spelled differently", **rows))
    return changes


def _list_swap(old: XLSForm, new: XLSForm, list_a: str, list_b: str) -> tuple[str, str]:
    """A select moved to another list: breaking unless both lists hold the same codes and meanings."""
    lists_a, lists_b = choice_lists(old), choice_lists(new)
    if list_a not in lists_a or list_b not in lists_b:
        return BREAKING, ": the codes of old data may mean something else"
    langs_b = _languages(new)
    lang = _meaning_language(new, langs_b)
    column = f"label::{lang}" if lang else "label"

    def meanings(rows: list[Row]) -> list[tuple[str, str]]:
        return sorted((r["name"].strip(), _words(r[column])) for r in rows)

    if meanings(lists_a[list_a]) == meanings(lists_b[list_b]):
        return REVIEW, " (same codes and labels)"
    return BREAKING, ": the codes of old data may mean something else"


def _item_column_change(column: str, base: str, lang: str | None, o: str, n: str) -> tuple[str, str, str]:
    """(kind, severity, detail) for one changed survey cell."""
    if lang is not None:
        where = f" ({_lang_name(lang)})"
        if base == "label":
            if _words(o) == _words(n) and o.strip() and n.strip():
                return "label_changed", COSMETIC, f"label{where} changed in spelling only (case, spaces, punctuation)"
            return "label_changed", REVIEW, f"label{where} changed"
        kind = _TEXT_KINDS.get(base, "media_changed")
        return kind, COSMETIC, f"{base}{where} changed"
    kind = f"{column}_changed" if column in _EXPRESSIONS or column in ("required", "appearance") else "property_changed"
    label = column if kind != "property_changed" else f"column {column}"
    if column == "required" and _truth(o) is not None and _truth(o) == _truth(n):
        return kind, COSMETIC, f"{label} spelled differently, same meaning"
    if column != "appearance" and _squash(o) == _squash(n):
        return kind, COSMETIC, f"{label} changed in whitespace only"
    if column == "appearance" and " ".join(o.split()) == " ".join(n.split()):
        return kind, COSMETIC, f"{label} changed in whitespace only"
    return kind, REVIEW, f"{label} changed"


def _column_changes(a: Row, b: Row, columns: list[str], common_langs: list[str], subject: str, sheet: str,
                    judge) -> list[Change]:
    changes = []
    for column in columns:
        base, lang = _split(column)
        if lang is not None and lang not in common_langs:
            continue  # the whole language came or went: one language_added/removed says it
        o, n = a[column], b[column]
        if o == n:
            continue
        kind, severity, detail = judge(column, base, lang, o, n)
        changes.append(Change(kind, severity, subject, detail, o or None, n or None, a.number, b.number, sheet=sheet))
    return changes


def _reorders(before: list[tuple], after: list[tuple], make) -> list[Change]:
    """Keys kept in the same container but in another order: the ones outside the longest common run."""
    groups_a: dict[object, list] = {}
    groups_b: dict[object, list] = {}
    for key, container in before:
        groups_a.setdefault(container, []).append(key)
    for key, container in after:
        groups_b.setdefault(container, []).append(key)
    changes = []
    for container, keys_b in groups_b.items():
        in_b = set(keys_b)
        keys_a = [k for k in groups_a.get(container, []) if k in in_b]
        in_a = set(keys_a)
        keys_b = [k for k in keys_b if k in in_a]
        if keys_a == keys_b:
            continue
        matcher = difflib.SequenceMatcher(a=keys_a, b=keys_b, autojunk=False)
        kept = {k for block in matcher.get_matching_blocks() for k in keys_b[block.b:block.b + block.size]}
        changes += [make(k) for k in keys_b if k not in kept]
    return changes


def _reorder_change(a: Item, b: Item) -> Change:
    noun = _noun(b)
    return Change(f"{noun}_reordered", COSMETIC, b.path,
                  f"order changed within {_place(b.parents)} (row {a.row.number} -> {b.row.number})",
                  old=str(a.row.number), new=str(b.row.number), old_row=a.row.number, new_row=b.row.number,
                  sheet="survey")


# ---- choices

def _choice_changes(old: XLSForm, new: XLSForm, common_langs: list[str], meaning: str) -> list[Change]:
    lists_a, lists_b = choice_lists(old), choice_lists(new)
    changes: list[Change] = []
    for name, rows in lists_a.items():
        if name not in lists_b:
            changes.append(Change("choice_list_removed", REVIEW, f"choices:{name}",
                                  f"choice list {name} removed ({_plural(len(rows), 'code')})", old=name,
                                  old_row=rows[0].number, sheet="choices"))
    for name, rows in lists_b.items():
        if name not in lists_a:
            changes.append(Change("choice_list_added", REVIEW, f"choices:{name}",
                                  f"choice list {name} added ({_plural(len(rows), 'code')})", new=name,
                                  new_row=rows[0].number, sheet="choices"))
    sheet_a, sheet_b = old.choices, new.choices
    columns = [c for c in _union(sheet_a.headers if sheet_a else [], sheet_b.headers if sheet_b else [])
               if c not in ("list_name", "name")]

    def judge(column: str, base: str, lang: str | None, o: str, n: str) -> tuple[str, str, str]:
        if lang is None:
            return "choice_property_changed", REVIEW, f"column {column} changed"
        where = f" ({_lang_name(lang)})"
        if base != "label":
            return "media_changed", COSMETIC, f"{base}{where} changed"
        if not o.strip() or not n.strip():
            return "choice_relabelled", REVIEW, f"label{where} {'added' if n.strip() else 'removed'}"
        if _words(o) == _words(n):
            return "choice_relabelled", COSMETIC, f"label{where} changed in spelling only (case, spaces, punctuation)"
        if lang == meaning:
            return ("choice_relabelled", BREAKING,
                    f"label{where} changed in the default language: the code now means something else")
        return "choice_relabelled", REVIEW, f"label{where} changed (translation)"

    for name in (n for n in lists_b if n in lists_a):
        before = _keyed((r["name"].strip(), r) for r in lists_a[name])
        after = _keyed((r["name"].strip(), r) for r in lists_b[name])
        for key, row in before.items():
            if key not in after:
                label = _choice_label(row, meaning)
                changes.append(Change("choice_removed", BREAKING, f"choices:{name}/{key[0]}",
                                      f"code {key[0]} removed from list {name}: old data keeps a code "
                                      f"with no value label", old=label or key[0], old_row=row.number,
                                      sheet="choices"))
        for key, row in after.items():
            if key not in before:
                label = _choice_label(row, meaning)
                changes.append(Change("choice_added", REVIEW, f"choices:{name}/{key[0]}",
                                      f"code {key[0]} added to list {name}", new=label or key[0],
                                      new_row=row.number, sheet="choices"))
            else:
                changes += _column_changes(before[key], row, columns, common_langs, f"choices:{name}/{key[0]}",
                                           "choices", judge)
        changes += _reorders([(k, name) for k in before if k in after], [(k, name) for k in after if k in before],
                             lambda key, name=name, before=before, after=after: Change(
                                 "choice_reordered", COSMETIC, f"choices:{name}/{key[0]}",
                                 f"order of code {key[0]} changed within list {name}",
                                 old=str(before[key].number), new=str(after[key].number),
                                 old_row=before[key].number, new_row=after[key].number, sheet="choices"))
    return changes


def _choice_label(row: Row, lang: str) -> str:
    return row[f"label::{lang}" if lang else "label"] or row["label"]


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


# ------------------------------------------------------------------------------------- rendering

def to_json(result: DiffResult) -> list[dict]:
    """The changes as plain dicts with the stable keys kind, severity, subject, detail, old, new,
    old_row, new_row (rows are Excel row numbers, header = 1; null when that side has none)."""
    return [change.to_dict() for change in result.changes]


def summary(result: DiffResult) -> str:
    """'3 changes: 1 breaking, 1 review, 1 cosmetic' or 'no changes'."""
    total = len(result.changes)
    if not total:
        return "no changes"
    counts = result.counts
    return f"{total} change{'s' if total != 1 else ''}: " + ", ".join(f"{counts[s]} {s}" for s in SEVERITIES)


def _side(name: str, version: str) -> str:
    return f"{name} (version {version})" if version else name


def _one_line(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def _rows(change: Change) -> str:
    sheet = change.sheet if change.sheet in ("survey", "choices", "settings") else ""
    if not sheet or (change.old_row is None and change.new_row is None):
        return ""
    if change.old_row is None:
        return f"{sheet} row {change.new_row}"
    if change.new_row is None:
        return f"old {sheet} row {change.old_row}"
    if change.old_row == change.new_row:
        return f"{sheet} row {change.new_row}"
    return f"{sheet} row {change.old_row} -> {change.new_row}"


def render_text(result: DiffResult) -> str:
    """Plain text for a terminal: a header, the summary, then the changes grouped by severity."""
    lines = [f"old: {_side(result.old, result.old_version)}",
             f"new: {_side(result.new, result.new_version)}",
             summary(result)]
    for severity in SEVERITIES:
        group = [c for c in result.changes if c.severity == severity]
        if not group:
            continue
        lines += ["", f"{severity.upper()} ({len(group)})"]
        for change in group:
            where = _rows(change)
            lines.append(f"  {change.subject}  [{change.kind}]  {change.detail}" + (f"  ({where})" if where else ""))
            if change.old is not None or change.new is not None:
                if change.old is not None:
                    lines.append(f"      - {_one_line(change.old)}")
                if change.new is not None:
                    lines.append(f"      + {_one_line(change.new)}")
    return "\n".join(lines) + "\n"


def _md(value: str | None) -> str:
    """A value as an inline code span that survives a table cell (pipes escaped, one line)."""
    if value is None or value == "":
        return ""
    text = _one_line(value).replace("|", "\\|")
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def render_markdown(result: DiffResult) -> str:
    """A GitHub-flavoured markdown table a reviewer pastes into a pull request."""
    counts = result.counts
    lines = [f"**Form diff** {_md(result.old)} → {_md(result.new)}", ""]
    if result.old_version or result.new_version:
        lines += [f"Version {result.old_version or '?'} → {result.new_version or '?'}", ""]
    if not result.changes:
        return "\n".join([*lines, "No changes."]) + "\n"
    lines += [" · ".join(f"**{counts[s]}** {s}" for s in SEVERITIES), "",
              "| severity | change | subject | detail | old | new | where |",
              "|---|---|---|---|---|---|---|"]
    for c in result.changes:
        severity = f"**{c.severity}**" if c.severity == BREAKING else c.severity
        detail = c.detail.replace("|", "\\|")
        lines.append(f"| {severity} | {c.kind} | {_md(c.subject)} | {detail} | {_md(c.old)} | {_md(c.new)} "
                     f"| {_rows(c)} |")
    return "\n".join(lines) + "\n"
