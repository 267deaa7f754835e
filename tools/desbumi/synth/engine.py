"""Fill a form the way an enumerator would: in order, skipping what is not relevant, answering with
valid choice codes and values that pass the constraints, computing the calculations.

    plan = Plan(form, media={"responden_y1.csv": rows})
    answers = plan.fill(Random(7), session)                 # one submission's answers, Kobo-shaped
    problems = plan.check(answers, session)                 # [] when codes, constraints, relevance hold

The answers dict is already in Kobo's shape (KOBO_API.md §3.4): every value a string, keys are
slash-joined paths, a repeat is a list of dicts with full-path keys, and irrelevant or unanswered
questions are absent. The Kobo metadata (`_id`, `_uuid`, ...) is added by `kobo.py`.

How values are found, per type:
- numbers and dates: bounds are read from the constraint (`. >= 0 and . <= ${n}`, with `or`
  branches such as `. = -98` taken now and then, like a "don't know" answer), a value is drawn
  (log-uniform over wide non-negative ranges, as money is), and the whole constraint is checked;
- selects: a weighted draw over the choices left by the choice filter (98/99 "don't know/refused"
  and "other" are rare); select_multiple picks a few, keeping exclusive codes (0, 98, 99) alone;
- text: a `regex(., '...')` in the constraint is sampled; otherwise names, phone numbers and short
  phrases by the field's name;
- every candidate is checked against the full constraint, a few times over; a required question
  that cannot be answered raises SynthError naming the field and its constraint.

`forced` answers (a scenario: this district, this respondent, this tracking status) and a `preset`
(an earlier version of the same submission, for edits) are used when they are still relevant and
valid; strict forced answers that are not valid raise SynthError.

Speed: a plan compiles the form once into Python functions (one per op list: the form, each repeat's
body), with relevance, requiredness and calculations written inline by xpath.py's code writer; see
"the fill, as Python" below and `plan.source`. A hundred thousand year-two submissions take well
under a minute (tests/benchmarks/bench_synth.py).
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from random import Random
from typing import Any, Callable, Iterable, Mapping

from . import regexgen, vocab
from .model import MEDIA, METADATA, Form, Node, load_form
from .xpath import (
    CodeWriter,
    Compiled,
    Env,
    ExpressionError,
    NodeSet,
    Resolver,
    Tables,
    compile_expression,
    days_to_date,
    number_text,
    to_boolean,
    to_number,
    to_string,
)

MISSING_CODES = frozenset({"98", "99", "-98", "-99", "97", "-97", "999", "9999"})
EXCLUSIVE_CODES = frozenset({"0", "98", "99", "-98", "-99"})
OTHER_CODES = frozenset({"96", "other", "-96", "77"})

K_GROUP, K_REPEAT, K_QUESTION, K_CALC, K_META, K_SKIP = range(6)


class SynthError(ExpressionError):
    """The generator cannot produce a valid answer (or a forced answer is not valid)."""


@dataclass
class Options:
    """How answers are drawn; the defaults give plausible, complete-looking interviews."""

    skip_optional: float = 0.08  # chance an optional question is left empty
    skip_optional_text: float = 0.5  # ... an optional text question
    missing_code_weight: float = 0.02  # weight of a 98/99 choice against 1 for the others
    other_code_weight: float = 0.08  # weight of an "other" (96) choice
    missing_branch_weight: float = 0.02  # chance of a `. = -98`-like branch of a numeric constraint
    repeat_count: tuple[int, int] = (1, 3)  # instances of a repeat without jr:count
    repeat_counts: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # by repeat name
    repeat_max: int = 20  # cap on any repeat count
    media_answer_rate: float = 0.0  # chance an optional photo/audio/file question is answered
    attempts: int = 30  # candidates tried per question before giving up
    survey_year: int = 2026


# --------------------------------------------------------------------------- the form's resolver


class FormResolver(Resolver):
    """${name} inside a form: the same repeat instance, an enclosing scope, or a node-set."""

    def __init__(self, plan: Plan, node: Node | None, where: str):
        self.plan = plan
        self.form = plan.form
        self.node = node
        self.where = where
        self.chain = node.repeats if node is not None else ()
        self._refs: set[str] = set()

    def refs(self) -> set[str]:
        return set(self._refs)

    def _target(self, name: str) -> Node:
        return self.form.field(name)

    def ref(self, name):
        return self._by_node(self._target(name), scalar=True)

    def scalar(self, name):
        """(scope depth, path) when ${name} is a plain value in a scope the expression sits in."""
        target = self._target(name)
        chain = target.repeats
        if target.kind != "field" or self.chain[:len(chain)] != chain:
            return None
        self._refs.add(target.path)
        return len(chain), target.path

    def nodeset(self, name):
        return self._by_node(self._target(name), scalar=False)

    def _by_node(self, target: Node, scalar: bool):
        self._refs.add(target.path)
        path = target.path
        if target.kind == "repeat":
            chain = (*target.repeats, target.path)
        elif target.kind == "group":
            chain = target.repeats
        else:
            chain = target.repeats
        own = self.chain
        if target.kind == "field" and own[:len(chain)] == chain and scalar:
            depth = len(chain)
            if depth == 0:
                return lambda env: env.scopes[0].get(path, "")
            return lambda env: env.scopes[depth].get(path, "") if len(env.scopes) > depth else ""
        common = 0
        while common < len(chain) and common < len(own) and chain[common] == own[common]:
            common += 1
        steps = chain[common:]
        is_repeat = target.kind == "repeat"

        def collect(env):
            if len(env.scopes) <= common:
                return NodeSet()
            items = [env.scopes[common]]
            for index, rpath in enumerate(steps):
                if is_repeat and index == len(steps) - 1:
                    return NodeSet("" for item in items for _ in item.get(rpath, ()))
                items = [inst for item in items for inst in item.get(rpath, ())]
            return NodeSet(item.get(path, "") for item in items)

        return collect

    def relative(self, steps):
        if self.node is None:
            return None
        parts = self.node.path.split("/")
        for step in steps:
            if step == "..":
                if not parts:
                    return None
                parts = parts[:-1]
            elif step == ".":
                continue
            else:
                parts = [*parts, step]
        path = "/".join(parts)
        if path == self.node.path:
            return lambda env: env.cur
        target = self.form.nodes.get(path)
        if target is None:
            return None
        return self._by_node(target, scalar=True)

    def absolute(self, steps):
        if steps and steps[0] in (self.form.root, self.form.id_string):
            steps = steps[1:]
        target = self.form.nodes.get("/".join(steps))
        if target is None:
            return None
        return self._by_node(target, scalar=True)

    def position(self, ups):
        if self.node is None:
            return lambda env: 1.0
        parts = self.node.path.split("/")
        if ups:
            parts = parts[:-ups] if ups <= len(parts) else []
        target = self.form.nodes.get("/".join(parts))
        if target is None or target.kind != "repeat":
            return lambda env: 1.0
        depth = (*target.repeats, target.path).index(target.path) + 1
        return lambda env: float(env.pos[depth]) if len(env.pos) > depth else 1.0

    def choice_label(self, name):
        target = self._target(name)
        labels = {c.name: c.label for c in target.choices or ()}
        return lambda value: labels.get(value, "")


# --------------------------------------------------------------------------- operations


class _Op:
    """One node of the form, ready to fill. Expressions are compiled to the form filling wants:
    `relevant`, `required` and `constraint` return booleans, `calc` a string; `gen` returns a valid
    answer (constraint checked) or None. The fill itself is generated code (see _BodyWriter)."""

    __slots__ = ("node", "path", "name", "kind", "type", "relevant", "required", "constraint", "calc", "gen",
                 "choices", "children", "count", "skip", "default", "bounds", "regex", "attachment",
                 "count_hint", "where", "exact", "media", "exprs", "body", "limits")

    def __init__(self, node: Node, kind: int):
        self.node = node
        self.path = node.path
        self.name = node.name
        self.kind = kind
        self.type = node.type
        self.relevant: Callable | None = None
        self.required: Callable | None = None
        self.constraint: Callable | None = None
        self.calc: Callable | None = None
        self.gen: Callable | None = None
        self.choices: _ChoiceSource | None = None
        self.children: list[_Op] = []
        self.count: Callable | None = None
        self.skip = 0.0
        self.default = node.default
        self.bounds: list | None = None  # constraint alternatives: [[(operator, number or function)]]
        self.limits: list | None = None  # per alternative: a function giving its numbers, or None
        self.regex: str = ""
        self.attachment = ""
        self.count_hint = ""
        self.where = ""
        self.exact = False
        self.media = node.type in MEDIA
        self.exprs: dict[str, Compiled] = {}  # column -> compiled expression (relevant, required, calculation)
        self.body: Callable | None = None  # a repeat: the fill of one instance (see _BodyWriter)


def _ALWAYS(env: Env) -> bool:
    return True


_EMPTY = object()  # Plan._given: the question stays unanswered


class _ChoiceSource:
    """The choices a select may take here: static, filtered (cached on the filter's inputs), or a CSV.

    `current(env)` gives (codes, cumulative weights, allowed codes, code -> position in codes)."""

    def __init__(self, rows: list[dict], value_key: str, weights: Options, filter_: Compiled | None,
                 ref_fns: list[Callable], equalities: list[tuple[str, Callable | str]] | None = None):
        self.rows = rows
        self.value_key = value_key
        self.filter = filter_
        self.ref_fns = ref_fns
        self.options = weights
        self.cache: dict[tuple, tuple[list[str], list[float], frozenset[str], dict[str, int]]] = {}
        self.cacheable = filter_ is None or not (filter_.volatile or filter_.uses_dot)
        self.static = self._build(rows) if filter_ is None else None
        # a filter `col = ${x} and col2 = 'y'` is answered from an index of the rows (built on first
        # use) instead of a scan of a table that can hold every year-one respondent
        self.equalities = equalities
        self._index: dict[tuple, list[dict]] | None = None

    def _build(self, rows: Iterable[dict]) -> tuple[list[str], list[float], frozenset[str], dict[str, int]]:
        names: list[str] = []
        cum: list[float] = []
        total = 0.0
        seen = set()
        for row in rows:
            name = row.get(self.value_key, "")
            if name == "" or name in seen:
                continue
            seen.add(name)
            if name in MISSING_CODES:
                weight = self.options.missing_code_weight
            elif name in OTHER_CODES:
                weight = self.options.other_code_weight
            else:
                weight = 1.0
            total += weight
            names.append(name)
            cum.append(total)
        return names, cum, frozenset(names), {name: i for i, name in enumerate(names)}

    def current(self, env: Env) -> tuple[list[str], list[float], frozenset[str], dict[str, int]]:
        if self.static is not None:
            return self.static
        key = tuple(fn(env) for fn in self.ref_fns) if self.cacheable else None
        if key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        kept = self._indexed(env)
        if kept is None:
            kept = []
            saved = env.row
            test = self.filter.test
            for row in self.rows:
                env.row = row
                if test(env):
                    kept.append(row)
            env.row = saved
        built = self._build(kept)
        if key is not None and len(self.cache) < 50_000:
            self.cache[key] = built
        return built

    def _indexed(self, env: Env) -> list[dict] | None:
        """The rows the filter keeps, from the index; None when the filter is not an index lookup
        (or a value is not a plain string, where XPath's comparison rules would apply)."""
        if not self.equalities:
            return None
        wanted = tuple(side if side.__class__ is str else side(env) for _, side in self.equalities)
        if any(value.__class__ is not str for value in wanted):
            return None
        if self._index is None:
            columns = [column for column, _ in self.equalities]
            index: dict[tuple, list[dict]] = {}
            for row in self.rows:
                values = tuple(row.get(column, "") for column in columns)
                if any(value.__class__ is not str for value in values):
                    self.equalities = None
                    return None
                index.setdefault(values, []).append(row)
            self._index = index
        return self._index.get(wanted, [])


def _equalities(tree) -> list[tuple[str, Any]] | None:
    """[(row column, ('ref', name) or ('str', text))] when a choice filter is only `and`s of
    `column = ${name}` / `column = 'text'`; None otherwise."""
    if tree[0] == "bin" and tree[1] == "and":
        left, right = _equalities(tree[2]), _equalities(tree[3])
        return left + right if left is not None and right is not None else None
    if tree[0] == "bin" and tree[1] == "=":
        for column, other in ((tree[2], tree[3]), (tree[3], tree[2])):
            if column[0] == "path" and column[1] is None and len(column[2]) == 1 and not column[2][0][1] \
                    and column[2][0][0] not in (".", "..") and other[0] in ("ref", "str"):
                return [(column[2][0][0], other)]
    return None


# --------------------------------------------------------------------------- the plan


class Plan:
    """A form compiled for filling: every expression parsed once, every choice list weighted once."""

    def __init__(self, form: Any, media: Mapping[str, list[dict]] | None = None, options: Options | None = None):
        self.form: Form = load_form(form)
        self.options = options or Options()
        tables = dict(getattr(self.form, "media", {}) or {})
        tables.update(media or {})
        self.tables = Tables(tables)
        self.ops = [self._op(child) for child in self.form.children]
        self.source: dict[str, str] = {}  # generated fill functions by name, for reading
        self.body = self._body(self.ops, "fill_form", "the form", 0)
        for op in _walk(self.ops):
            if op.kind == K_REPEAT:
                op.body = self._body(op.children, f"fill_repeat_{len(self.source)}", f"repeat '{op.path}'",
                                     len(op.node.repeats) + 1)

    # ------------------------------------------------------------------ compile

    def _expr(self, node: Node, column: str, text: str, *, row_mode: bool = False) -> Compiled:
        where = f"{self.form.id_string}: field '{node.path}' ({column})"
        return compile_expression(text, FormResolver(self, node, where), where=where, row_mode=row_mode)

    def _op(self, node: Node) -> _Op:
        if node.kind == "group":
            op = _Op(node, K_GROUP)
        elif node.kind == "repeat":
            op = _Op(node, K_REPEAT)
        elif node.type in ("note",) or node.preload == "uid" or node.path in ("meta/instanceID", "meta/deprecatedID"):
            op = _Op(node, K_SKIP)
        elif node.calculation:
            op = _Op(node, K_CALC)
        elif node.type in METADATA:
            op = _Op(node, K_META)
        elif node.type in ("calculate", "hidden", "xml-external", "csv-external", "trigger") or (
                node.read_only and not node.calculation):
            op = _Op(node, K_META)
        else:
            op = _Op(node, K_QUESTION)
        if node.relevant:
            op.exprs["relevant"] = self._expr(node, "relevant", node.relevant)
            op.relevant = op.exprs["relevant"].test
        if op.kind == K_GROUP or op.kind == K_REPEAT:
            op.children = [self._op(child) for child in node.children]
            if node.kind == "repeat":
                if node.repeat_count:
                    op.count = self._expr(node, "repeat_count", node.repeat_count).fn
                else:
                    op.count_hint = _count_hint(node, self.form)
            return op
        if op.kind == K_CALC:
            op.exprs["calculation"] = self._expr(node, "calculation", node.calculation)
            op.calc = op.exprs["calculation"].render
            return op
        if op.kind != K_QUESTION:
            return op
        if node.required == "true()":
            op.required = _ALWAYS
        elif node.required:
            op.exprs["required"] = self._expr(node, "required", node.required)
            op.required = op.exprs["required"].test
        if node.constraint:
            compiled = self._expr(node, "constraint", node.constraint)
            op.constraint = compiled.test
            trees = _bounds(compiled.tree)
            if trees is not None:
                op.bounds = [[(operator, limit if limit.__class__ is float else self._expr_tree(node, limit))
                              for operator, limit in alt] for alt in trees]
                op.limits = [self._limit_values(node, alt) for alt in trees]
            op.exact = (node.type in ("integer", "decimal") and _exact(compiled.tree)) or (
                node.type == "select_multiple" and _exclusive_only(compiled.tree))
            op.regex = _regex_of(compiled.tree)
        op.where = f"{self.form.id_string}: field '{node.path}'"
        op.skip = self.options.skip_optional_text if node.type == "text" else self.options.skip_optional
        if node.type in MEDIA:
            op.skip = 1.0 - self.options.media_answer_rate
        if node.is_select or node.file:
            op.choices = self._choices(node)
        op.gen = _generator(op, self)
        return op

    def _body(self, ops: list[_Op], name: str, what: str, depth: int) -> Callable:
        """The fill of `ops`, which sit `depth` repeats deep (scope = env.scopes[depth])."""
        writer = _BodyWriter(self, name, what, depth)
        writer.ops(ops, indent=1, groups=0)
        fn, self.source[name] = writer.function()
        return fn

    def _limit_values(self, node: Node, limits: list[tuple[str, Any]]) -> Callable | None:
        """The numbers one alternative of a constraint compares `.` with, as one generated function
        (None when they are all literals)."""
        if all(limit.__class__ is float for _, limit in limits):
            return None
        where = f"{self.form.id_string}: field '{node.path}' (constraint)"
        writer = CodeWriter()
        resolver = FormResolver(self, node, where)
        parts = [repr(limit) if limit.__class__ is float
                 else writer.num(*writer.tree(limit, resolver, where=where, text=node.constraint))
                 for _, limit in limits]
        return writer.function(f"({', '.join(parts)},)")

    def _expr_tree(self, node: Node, tree) -> Callable:
        from .xpath import (  # the same compiler, on a sub-tree of an expression
            _compile,
            _State,
        )

        where = f"{self.form.id_string}: field '{node.path}' (constraint)"
        return _compile(tree, _State(FormResolver(self, node, where), where, node.constraint, False))

    def _choices(self, node: Node) -> _ChoiceSource:
        where = f"{self.form.id_string}: field '{node.path}'"
        filter_text = node.choice_filter
        value_key = "name"
        if node.search:
            table = node.search[0]
            if not self.tables.has(table):
                raise SynthError(f"{where} uses search('{table}', ...), but no media file '{table}.csv' was "
                                 f"given (known: {', '.join(self.tables.names()) or 'none'}).",
                                 hint="Pass the form's CSV media to the generator (media={'name.csv': rows}).")
            rows = self.tables.rows(table)
            if len(node.search) >= 4 and node.search[1] in ("matches", "contains", "startswith"):
                column, value = node.search[2], node.search[3]
                value_expr = value if value.startswith("${") else f"'{value}'"
                filter_text = f"{column} = {value_expr}" + (f" and ({filter_text})" if filter_text else "")
        elif node.file:
            if not self.tables.has(node.file):
                raise SynthError(f"{where} is a select_one_from_file on '{node.file}', which was not given "
                                 f"(known media: {', '.join(self.tables.names()) or 'none'}).",
                                 hint="Pass the form's media to the generator (media={'" + node.file + "': rows}).")
            rows = self.tables.rows(node.file)
            value_key = node.file_value
        else:
            rows = [c.row() for c in node.choices or ()]
        compiled = None
        ref_fns: list[Callable] = []
        equalities = None
        if filter_text:
            compiled = self._expr(node, "choice_filter", filter_text, row_mode=True)
            resolver = FormResolver(self, node, where)
            ref_fns = [resolver._by_node(self.form.nodes[path], scalar=True) for path in sorted(compiled.refs)]
            found = _equalities(compiled.tree)
            if found is not None and not compiled.volatile:
                equalities = [(column, side[1] if side[0] == "str" else resolver.ref(side[1]))
                              for column, side in found]
        return _ChoiceSource(rows, value_key, self.options, compiled, ref_fns, equalities)

    # ------------------------------------------------------------------ fill

    def new_env(self, rng: Random, session: Mapping[str, Any] | None = None) -> Env:
        session = dict(session or {})
        env = Env([{}], rng=rng, today=session.get("today", f"{self.options.survey_year}-03-02"),
                  now=session.get("start", ""), tables=self.tables)
        env.pos = [0]
        env.meta = session
        env.meta.setdefault("attachments", [])
        return env

    def fill(self, rng: Random, session: Mapping[str, Any] | None = None, *, forced: Mapping[str, Any] | None = None,
             preset: Mapping[str, Any] | None = None, regen: Iterable[str] = ()) -> tuple[dict, list[dict]]:
        """One submission's answers and its attachments [(question_xpath, filename, mimetype)] as dicts.

        forced: path or name -> value, or -> (value, strict); strict values must be valid.
        preset: an earlier answers dict; its values are kept where still relevant and valid, except
        the paths in `regen`, which are drawn again.
        """
        env = self.new_env(rng, session)
        env.meta["forced"] = self._forced(forced or {})
        env.meta["regen"] = frozenset(regen)
        scope = env.scopes[0]
        self.body(self, env, scope, preset, ())
        return scope, env.meta["attachments"]

    def _forced(self, forced: Mapping[str, Any]) -> dict[str, tuple[str, bool]]:
        out = {}
        for key, value in forced.items():
            try:
                node = self.form.field(key)
            except KeyError:
                raise SynthError(f"{self.form.id_string}: the generator was asked to answer '{key}', which is not a "
                                 f"field of this form.") from None
            strict = False
            if isinstance(value, tuple):
                value, strict = value
            out[node.path] = ("" if value is None else str(value), strict)
        return out

    def _given(self, op: _Op, env: Env, forced: Mapping, preset: Mapping | None):
        """The forced or preset answer of a question when it applies and is valid; _EMPTY when the
        question must stay unanswered; None when an answer is to be drawn."""
        path = op.path
        if path in forced:
            wanted, strict = forced[path]
            if wanted == "":
                if op.required is None or not op.required(env):
                    return _EMPTY
            elif self._valid(op, env, wanted):
                return wanted
            elif strict:
                raise SynthError(self._invalid_message(op, env, wanted))
        if preset is not None and path not in env.meta["regen"]:
            if path in preset:
                if self._valid(op, env, preset[path]):
                    return preset[path]
            elif not (op.required is not None and op.required(env)):
                return _EMPTY  # it was left empty before: keep it so
        return None

    def _fill_repeat(self, op: _Op, env: Env, scope: dict, preset: Mapping | None, indexes: tuple) -> None:
        previous = preset.get(op.path) if preset is not None else None
        if op.count is not None:
            env.cur = ""
            n = to_number(op.count(env))
            count = 0 if n != n else max(0, min(int(n), self.options.repeat_max))
        elif isinstance(previous, list):
            count = len(previous)
        else:
            count = self._default_count(op, env, scope)
        if count == 0:
            return
        instances: list[dict] = []
        scope[op.path] = instances
        env.scopes.append({})
        env.pos.append(0)
        try:
            for index in range(count):
                instance: dict = {}
                instances.append(instance)
                env.scopes[-1] = instance
                env.pos[-1] = index + 1
                before = previous[index] if isinstance(previous, list) and index < len(previous) else None
                op.body(self, env, instance, before if before is not None else (
                    {} if previous is not None else None), (*indexes, index + 1))
        finally:
            env.scopes.pop()
            env.pos.pop()
        if all(instances):  # the usual case: every instance has answers
            return
        kept = [inst for inst in instances if inst]
        if kept:
            scope[op.path] = kept
        else:
            del scope[op.path]

    def _default_count(self, op: _Op, env: Env, scope: dict) -> int:
        low, high = self.options.repeat_counts.get(op.name, self.options.repeat_count)
        if op.count_hint:
            hinted = to_number(scope.get(op.count_hint, env.scopes[0].get(op.count_hint, "")))
            if hinted == hinted and hinted >= 0:
                return int(min(hinted, self.options.repeat_max))
        return env.rng.randint(low, high)

    def _meta(self, op: _Op, env: Env, preset: Mapping | None) -> str:
        if preset is not None and op.path in preset:
            return preset[op.path]
        meta = env.meta
        kind = op.type
        if kind in ("start", "end"):
            return meta.get(kind, "")
        if kind == "today":
            return env.today
        if kind in ("deviceid", "imei"):
            return meta.get("deviceid", "")
        if kind == "username":
            return meta.get("username", "")
        if kind == "audit":
            return "audit.csv"
        if kind == "start-geopoint":
            return _geopoint(env)
        if op.default:
            return op.default
        return ""

    # ------------------------------------------------------------------ values

    def _valid(self, op: _Op, env: Env, value: str) -> bool:
        if op.choices is not None:
            allowed = op.choices.current(env)[2]
            parts = value.split() if op.type in ("select_multiple", "rank") else [value]
            if not parts or not allowed.issuperset(parts):
                return False
        if op.constraint is not None:
            env.cur = value
            return op.constraint(env)
        return True

    def _invalid_message(self, op: _Op, env: Env, value: str) -> str:
        if op.choices is not None:
            names = op.choices.current(env)[0]
            shown = ", ".join(names[:15]) + (", …" if len(names) > 15 else "")
            if value not in op.choices.current(env)[2]:
                return (f"{op.where}: the answer {value!r} the scenario needs is not one of its choices here "
                        f"({shown or 'none'}).")
        return (f"{op.where}: the answer {value!r} the scenario needs fails its constraint "
                f"{op.node.constraint!r}.")

    # ------------------------------------------------------------------ checks

    def check(self, answers: Mapping[str, Any], session: Mapping[str, Any] | None = None,
              *, calculations: bool = True) -> list[str]:
        """Problems with a submission against this form: unknown keys, invalid codes, failed
        constraints, answers to irrelevant questions, required questions left empty, and (when asked)
        calculations that do not match. [] means the submission is consistent with the form."""
        env = self.new_env(Random(0), session or {"today": answers.get("today", "") or f"{self.options.survey_year}-03-02"})
        env.scopes[0] = answers
        problems: list[str] = []
        known = {op.path for op in _walk(self.ops)}
        self._check(self.ops, env, answers, problems, calculations, known, True)
        return problems

    def _check(self, ops, env, answers, problems, calculations, known, relevant_parent):
        for key in answers:
            if key not in known and not key.startswith("_") and key not in (
                    "formhub/uuid", "__version__", "meta/instanceID", "meta/rootUuid", "meta/deprecatedID"):
                problems.append(f"'{key}' is not a field of the form")
        self._check_ops(ops, env, answers, problems, calculations, relevant_parent)

    def _check_ops(self, ops, env, scope, problems, calculations, relevant_parent):
        for op in ops:
            relevant = relevant_parent and (op.relevant is None or to_boolean(op.relevant(env)))
            if op.kind == K_GROUP:
                self._check_ops(op.children, env, scope, problems, calculations, relevant)
                continue
            if op.kind == K_REPEAT:
                instances = scope.get(op.path)
                if instances is None:
                    continue
                if not relevant:
                    problems.append(f"'{op.path}' has instances but is not relevant")
                if not isinstance(instances, list):
                    problems.append(f"'{op.path}' is a repeat but its value is not a list")
                    continue
                env.scopes.append({})
                env.pos.append(0)
                for index, instance in enumerate(instances):
                    env.scopes[-1] = instance
                    env.pos[-1] = index + 1
                    for key in instance:
                        if not key.startswith(op.path + "/"):
                            problems.append(f"'{op.path}'[{index + 1}] holds '{key}', which is not inside the repeat")
                    self._check_ops(op.children, env, instance, problems, calculations, relevant)
                env.scopes.pop()
                env.pos.pop()
                continue
            present = op.path in scope
            value = scope.get(op.path, "")
            if present and not isinstance(value, str):
                problems.append(f"'{op.path}' is not a string: {value!r}")
                continue
            if present and not relevant:
                problems.append(f"'{op.path}' is answered ({value!r}) but not relevant")
                continue
            if not relevant:
                continue
            if op.kind == K_CALC:
                if calculations:
                    env.cur = value
                    expected = to_string(op.calc(env))
                    if expected != value:
                        problems.append(f"'{op.path}' = {value!r} but its calculation gives {expected!r}")
                continue
            if op.kind != K_QUESTION:
                continue
            if not present:
                if op.required is not None and to_boolean(op.required(env)):
                    problems.append(f"'{op.path}' is required and relevant but absent")
                continue
            if op.choices is not None:
                names = op.choices.current(env)[2]
                parts = value.split() if op.type in ("select_multiple", "rank") else [value]
                bad = [p for p in parts if p not in names]
                if bad or not parts:
                    problems.append(f"'{op.path}' = {value!r} is not a valid choice here")
            if op.constraint is not None:
                env.cur = value
                if not to_boolean(op.constraint(env)):
                    problems.append(f"'{op.path}' = {value!r} fails its constraint {op.node.constraint!r}")


def _walk(ops):
    for op in ops:
        yield op
        yield from _walk(op.children)


# --------------------------------------------------------------------------- the fill, as Python
#
# A submission walks a few hundred ops in order. Rather than interpret the op list each time, the
# plan writes each op list (the form's top level, the body of each repeat) as one Python function,
# the way xpath.py writes an expression: relevance, `required` and calculations are inline code, a
# select with a fixed choice list picks without a call, groups are nested `if`s. Per question:
#
#     if everything_given or 'm1/jml_art' in forced:        # a scenario or earlier answer
#         value = plan._given(op, env, forced, preset)      # (or _EMPTY: leave it empty)
#         if value is None:
#             value = <draw>
#     else:
#         value = <draw>
#     if value is not None and value is not _EMPTY:
#         scope['m1/jml_art'] = value
#
# where <draw> is `gen(env)` (a valid answer, or None), `(_EMPTY if random() < skip else gen(env))`
# for an optional question, or the weighted pick itself for a select with a fixed choice list.
#
# Plan.source holds the generated text of each function.


class _BodyWriter:
    """Writes the fill of one op list as `def name(plan, env, scope, preset, indexes)`."""

    def __init__(self, plan: Plan, name: str, what: str, depth: int):
        self.plan = plan
        self.name = name
        self.code = CodeWriter(local_depth=depth)
        self.code.names.update(_EMPTY=_EMPTY, _attachment=_attachment, _bisect=bisect.bisect_left)
        self.lines = [f"def {name}(plan, env, scope, preset, indexes):",
                      f"    # the fill of {what}",
                      "    forced = env.meta['forced']  # the scenario's answers",
                      "    everything_given = preset is not None  # an edit: every question has an earlier answer",
                      "    random = env.rng.random"]

    def function(self) -> tuple[Callable, str]:
        source = "\n".join(self.lines) + "\n"
        return self.code.define(source, self.name, filename=f"<{self.plan.form.id_string} {self.name}>"), source

    def expression(self, op: _Op, column: str) -> tuple[str, str]:
        compiled = op.exprs[column]
        return self.code.expression(compiled, FormResolver(self.plan, op.node, compiled.where))

    def ops(self, ops: list[_Op], indent: int, groups: int) -> None:
        for op in ops:
            self.op(op, indent, groups)

    def op(self, op: _Op, indent: int, groups: int) -> None:
        lines = self.lines
        pad = "    " * indent
        lines.append(f"{pad}# {' '.join(f'{op.path} ({op.type})'.split())}")  # (a comment stays one line)
        if op.kind == K_SKIP:  # nothing to fill; a relevance is still evaluated, as before
            if op.relevant is not None:
                lines.append(f"{pad}{self.code.boolean(*self.expression(op, 'relevant'))}")
            return
        if op.relevant is not None:
            code, kind = self.expression(op, "relevant")
            lines.append(f"{pad}if {self.code.boolean(code, kind)}:")
            pad += "    "
            indent += 1
        start = len(lines)
        name = self.code.bind(op)
        path = repr(op.path)
        indexes = f"(*indexes, {', '.join(['1'] * groups)})" if groups else "indexes"
        if op.kind == K_QUESTION:
            pick = self.static_pick(op)
            draw = pick or f"{self.code.bind(op.gen)}(env)"
            if op.required is not _ALWAYS:  # an optional question is left empty now and then
                optional = f"random() < {op.skip!r}"
                if op.required is not None:
                    code, kind = self.expression(op, "required")
                    optional = f"not {self.code.boolean(code, kind)} and {optional}"
                draw = f"(_EMPTY if {optional} else {draw})"
            lines.append(f"{pad}if everything_given or {path} in forced:")
            lines.append(f"{pad}    value = plan._given({name}, env, forced, preset)")
            lines.append(f"{pad}    if value is None:")
            lines.append(f"{pad}        value = {draw}")
            if draw == pick and not op.media and pick != "None":  # a required pick from a fixed list: always a code
                lines.append(f"{pad}    if value is not _EMPTY:")
                lines.append(f"{pad}        scope[{path}] = value")
                lines.append(f"{pad}else:")
                lines.append(f"{pad}    scope[{path}] = {draw}")
            else:
                lines.append(f"{pad}else:")
                lines.append(f"{pad}    value = {draw}")
                lines.append(f"{pad}if value is not None and value is not _EMPTY:")
                lines.append(f"{pad}    scope[{path}] = value")
                if op.media:
                    lines.append(f"{pad}    env.meta['attachments'].append(_attachment({name}, value, {indexes}))")
        elif op.kind == K_CALC:
            code, kind = self.expression(op, "calculation")
            lines.append(f"{pad}env.cur = scope.get({path}, '')")
            lines.append(f"{pad}value = {self.code.string(code, kind)}")
            lines.append(f"{pad}if value != '':")
            lines.append(f"{pad}    scope[{path}] = value")
            lines.append(f"{pad}else:")
            lines.append(f"{pad}    scope.pop({path}, None)")
        elif op.kind == K_GROUP:
            self.ops(op.children, indent, groups + 1)
        elif op.kind == K_REPEAT:
            lines.append(f"{pad}plan._fill_repeat({name}, env, scope, preset, {indexes})")
        elif op.kind == K_META:
            lines.append(f"{pad}value = plan._meta({name}, env, preset)")
            lines.append(f"{pad}if value:")
            lines.append(f"{pad}    scope[{path}] = value")
            if op.media:
                lines.append(f"{pad}    env.meta['attachments'].append(_attachment({name}, value, {indexes}))")
        if op.relevant is not None and all(line.lstrip().startswith("#") for line in lines[start:]):
            lines.append(f"{pad}pass")  # an `if` around nothing to fill (a group of notes)

    def static_pick(self, op: _Op) -> str | None:
        """A select_one over a fixed choice list, without constraint: the weighted draw, inline."""
        source = op.choices
        if source is None or source.static is None or op.constraint is not None or op.type in (
                "select_multiple", "rank"):
            return None
        names, cum, _, _ = source.static
        if len(names) <= 1:
            return repr(names[0]) if names else "None"
        return f"{self.code.bind(names)}[_bisect({self.code.bind(cum)}, random() * {cum[-1]!r})]"


# --------------------------------------------------------------------------- constraint analysis


def _bounds(tree) -> list[list[tuple[str, Any]]] | None:
    """Alternatives (an `or` of `and`s) of comparisons between `.` and expressions without `.`:
    [[(operator, number or sub-tree)]]."""

    def uses_dot(node) -> bool:
        if not isinstance(node, tuple):
            return False
        if node[0] == "path" and node[1] is None and [s for s, _ in node[2]] == ["."]:
            return True
        if node[0] == "call" and node[1] == "current":
            return True
        return any(uses_dot(p) for p in node[1:] if isinstance(p, tuple)) or any(
            uses_dot(x) for p in node[1:] if isinstance(p, list) for x in p if isinstance(x, tuple))

    def is_dot(node) -> bool:
        return isinstance(node, tuple) and node[0] == "path" and node[1] is None and [s for s, _ in node[2]] == ["."]

    flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}

    def walk(node) -> list[list[tuple[str, Any]]]:
        if node[0] == "bin" and node[1] == "or":
            return walk(node[2]) + walk(node[3])
        if node[0] == "bin" and node[1] == "and":
            out = [a + b for a in walk(node[2]) for b in walk(node[3])]
            return out[:16]
        if node[0] == "bin" and node[1] in flip:
            if is_dot(node[2]) and not uses_dot(node[3]):
                return [[(node[1], node[3])]]
            if is_dot(node[3]) and not uses_dot(node[2]):
                return [[(flip[node[1]], node[2])]]
        return [[]]

    alternatives = walk(tree)
    if all(not alt for alt in alternatives):
        return None
    return [[(op, _literal(sub) if _literal(sub) is not None else sub) for op, sub in alt] for alt in alternatives]


def _literal(tree) -> float | None:
    """The number a constant sub-tree stands for (`3`, `-98`), else None."""
    if tree[0] == "num":
        return tree[1]
    if tree[0] == "neg" and tree[1][0] == "num":
        return -tree[1][1]
    return None


def _exact(tree) -> bool:
    """True when the constraint is only and/or of `.` compared with expressions without `.`, so a value
    drawn inside the bounds passes it by construction (no need to evaluate it again)."""
    if tree[0] == "bin" and tree[1] in ("and", "or"):
        return _exact(tree[2]) and _exact(tree[3])
    if tree[0] == "bin" and tree[1] in ("<", "<=", ">", ">=", "="):
        left_dot = tree[2][0] == "path" and tree[2][1] is None and [s for s, _ in tree[2][2]] == ["."]
        right_dot = tree[3][0] == "path" and tree[3][1] is None and [s for s, _ in tree[3][2]] == ["."]
        other = tree[3] if left_dot else tree[2]
        return (left_dot != right_dot) and (other[0] == "ref" or _literal(other) is not None)
    return False


def _exclusive_only(tree) -> bool:
    """True when the constraint is only `not(selected(., 'c') and count-selected(.) > 1)` clauses for
    codes c that the select_multiple picker already keeps alone (EXCLUSIVE_CODES)."""
    if tree[0] == "bin" and tree[1] == "and":
        return _exclusive_only(tree[2]) and _exclusive_only(tree[3])
    if not (tree[0] == "call" and tree[1] == "not" and len(tree[2]) == 1):
        return False
    inner = tree[2][0]
    if not (inner[0] == "bin" and inner[1] == "and"):
        return False
    selected, count = inner[2], inner[3]
    dot = ("path", None, [(".", [])])
    return (selected[0] == "call" and selected[1] == "selected" and len(selected[2]) == 2
            and selected[2][0] == dot and selected[2][1][0] == "str"
            and selected[2][1][1].strip() in EXCLUSIVE_CODES
            and count == ("bin", ">", ("call", "count-selected", [dot]), ("num", 1.0)))


def _regex_of(tree) -> str:
    """The pattern of a `regex(., 'pattern')` inside a constraint, '' when none."""
    if not isinstance(tree, tuple):
        return ""
    if tree[0] == "call" and tree[1] == "regex" and len(tree[2]) == 2 and tree[2][1][0] == "str":
        first = tree[2][0]
        if first[0] == "path" and first[1] is None and [s for s, _ in first[2]] == ["."]:
            return tree[2][1][1]
    for part in tree[1:]:
        if isinstance(part, tuple):
            found = _regex_of(part)
            if found:
                return found
        elif isinstance(part, list):
            for item in part:
                found = _regex_of(item) if isinstance(item, tuple) else ""
                if found:
                    return found
    return ""


def _count_hint(node: Node, form: Form) -> str:
    """A repeat without jr:count right after an integer 'how many' question: use that answer."""
    siblings = form.nodes.get(node.parent).children if node.parent else form.children
    index = next(i for i, s in enumerate(siblings) if s is node)
    for previous in reversed(siblings[:index]):
        if previous.kind == "field" and previous.type == "integer" and re.match(
                r"^(jml|jumlah|n|num|number|banyak)_?", previous.name, re.I):
            return previous.path
        if previous.kind != "field" or previous.type not in ("note",):
            break
    return ""


# --------------------------------------------------------------------------- generators by type

_MONEY = re.compile(r"(rupiah|_rp|biaya|gaji|upah|pendapatan|penghasilan|omzet|omset|untung|laba|modal|kiriman|"
                    r"tabungan|utang|hutang|pinjaman|harga|nilai|income|wage|cost|saving|debt|loan|amount|jumlah_uang)",
                    re.I)
_YEAR = re.compile(r"(^|_)(tahun|thn|year)(_|$)", re.I)
_AGE = re.compile(r"(^|_)(umur|usia|age)(_|$)", re.I)
_COUNT = re.compile(r"^(jml|jumlah|n|num|banyak)_|(^|_)(jml|jumlah)(_|$)", re.I)


def _generator(op: _Op, plan: Plan) -> Callable[[Env], str | None]:
    """What fills `op`: a function of the environment giving a valid answer, or None."""
    node = op.node
    kind = node.type
    options = plan.options
    if kind in ("integer", "decimal", "range") and op.choices is None:
        return _number(op, options, decimal=kind == "decimal")
    if op.exact:  # the picker's answers pass the constraint by construction
        return _draw(op, plan)
    return _checked(op, options, _draw(op, plan))


def _draw(op: _Op, plan: Plan) -> Callable[[Env], str | None]:
    """A candidate answer by type (None when there is nothing to choose from)."""
    node = op.node
    kind = node.type
    options = plan.options
    if op.choices is not None:
        if kind == "select_multiple":
            return _select_multiple(op)
        if kind == "rank":
            return _rank(op)
        return _select_one(op)
    if kind == "date":
        return _date(op, options)
    if kind == "datetime":
        return lambda env: env.meta.get("start", "") or f"{env.today}T10:00:00.000+07:00"
    if kind == "time":
        return lambda env: (env.meta.get("start", "") or "T10:00:00.000+07:00").split("T", 1)[-1]
    if kind == "geopoint":
        return _geopoint
    if kind in ("geotrace", "geoshape"):
        return _geotrace(kind == "geoshape")
    if kind == "acknowledge":
        return lambda env: "OK"
    if kind == "barcode":
        return lambda env: "".join(env.rng.choice("0123456789") for _ in range(12))
    if kind in MEDIA:
        return _media(op)
    if kind in ("text", "string", "email", "phonenumber"):
        return _text(op, plan)
    return _text(op, plan)


def _checked(op: _Op, options: Options, draw: Callable[[Env], str | None]) -> Callable[[Env], str | None]:
    """Candidates from `draw` until one passes the constraint (a few times over)."""
    constraint = op.constraint
    if constraint is None:
        return draw
    attempts = options.attempts

    def produce(env):
        value = None
        for _ in range(attempts):
            value = draw(env)
            if value is None:
                return None
            env.cur = value
            if constraint(env):
                return value
        return _exhausted(op, env, value, attempts)

    return produce


def _exhausted(op: _Op, env: Env, value: str | None, attempts: int) -> None:
    """No candidate passed: a required question is an error, an optional one stays empty (None)."""
    if op.required is not None and op.required(env):
        raise SynthError(f"{op.where}: no generated answer passed its constraint {op.node.constraint!r} in "
                         f"{attempts} tries (last tried {value!r}).",
                         hint="Give the field an answer through `forced`, or loosen the constraint.")


def _select_one(op: _Op):
    source = op.choices
    if source.static is not None:  # the same list every time: no lookup per answer
        names, cum, _, _ = source.static
        if len(names) <= 1:
            only = names[0] if names else None
            return lambda env: only
        total = cum[-1]
        return lambda env: names[bisect.bisect_left(cum, env.rng.random() * total)]

    def pick(env):
        names, cum, _, _ = source.current(env)
        if not names:
            return None
        return names[bisect.bisect_left(cum, env.rng.random() * cum[-1])] if len(names) > 1 else names[0]

    return pick


def _select_multiple(op: _Op):
    """A few codes, weighted, in choice-list order; exclusive codes (none, don't know) stay alone."""
    source = op.choices
    bisect_left = bisect.bisect_left

    def pick_from(rng, names, cum, rank):
        r = rng.random()
        k = 1 if r < 0.45 else 2 if r < 0.75 else 3 if r < 0.9 else 4
        total = cum[-1]
        if k == 1:
            return names[bisect_left(cum, rng.random() * total)]
        k = min(k, len(names))
        chosen = set()
        for _ in range(k * 4):
            chosen.add(names[bisect_left(cum, rng.random() * total)])
            if len(chosen) >= k:
                break
        if len(chosen) > 1:
            chosen = (chosen - EXCLUSIVE_CODES) or {min(chosen)}
        return " ".join(sorted(chosen, key=rank.__getitem__))

    if source.static is not None:  # a fixed list: no lookup per answer
        names, cum, _, rank = source.static
        if not names:
            return lambda env: None
        return lambda env: pick_from(env.rng, names, cum, rank)

    def pick(env):
        names, cum, _, rank = source.current(env)
        if not names:
            return None
        return pick_from(env.rng, names, cum, rank)

    return pick


def _rank(op: _Op):
    source = op.choices

    def pick(env):
        names = list(source.current(env)[0])
        if not names:
            return None
        env.rng.shuffle(names)
        return " ".join(names)

    return pick


def _default_range(node: Node, options: Options) -> tuple[float, float, bool]:
    """(low, high, money-like) when the constraint gives no bound."""
    name = node.name
    if node.type == "range":
        start = float(node.parameters.get("start", 1))
        end = float(node.parameters.get("end", 10))
        return min(start, end), max(start, end), False
    if _YEAR.search(name):
        return options.survey_year - 40, options.survey_year, False
    if _AGE.search(name):
        return 15, 80, False
    if _MONEY.search(name):
        return 0, 20_000_000, True
    if _COUNT.search(name):
        return 0, 8, False
    return 0, 100, False


def _number(op: _Op, options: Options, decimal: bool):
    """Numbers inside the bounds the constraint gives: an alternative (an `or` branch) is chosen, its
    limits make a span, a value is drawn in the span. Alternatives whose limits are all numbers
    (`. >= 0 and . <= 100000000`) get their span once, here; the others per distinct limit values."""
    node = op.node
    default_low, default_high, money_name = _default_range(node, options)
    step = 0.01 if decimal else 1.0
    range_step = float(node.parameters.get("step", 1)) if node.type == "range" else None
    small_counts = bool(_COUNT.search(node.name) or re.search(r"pekerja|anggota|members|workers", node.name, re.I))
    ages = bool(_AGE.search(node.name))
    certain_by_bounds = op.exact and not range_step  # a value inside the span passes the constraint

    def span(limits: Iterable[tuple[str, float]]) -> tuple[Callable[[Random], str | None], bool]:
        """(rng -> answer text, None when the span is empty; whether that text surely passes the
        constraint) for one alternative's (operator, number) limits."""
        low, high = -math.inf, math.inf
        equal = None
        certain = certain_by_bounds
        for operator, value in limits:
            if value != value:
                certain = False
                continue
            if operator == ">=":
                low = max(low, value)
            elif operator == ">":
                low = max(low, math.floor(value) + 1 if not decimal else value + step)
            elif operator == "<=":
                high = min(high, value)
            elif operator == "<":
                high = min(high, math.ceil(value) - 1 if not decimal else value - step)
            elif operator == "=":
                equal = value
        if equal is not None:
            text = number_text(equal) if not decimal else _decimal_text(equal)
            return (lambda rng: text), certain
        if low == -math.inf and high == math.inf:
            low, high = default_low, default_high
        elif low == -math.inf:
            low = min(default_low, high) if high >= default_low else high - (default_high - default_low)
        elif high == math.inf:
            high = max(default_high, low + (default_high - default_low)) if low > default_high else default_high
            if high < low:
                high = low + 100
        if not decimal:
            low, high = math.ceil(low), math.floor(high)
        if low > high:
            return (lambda rng: None), certain
        return _between(low, high, decimal, money_name, small_counts, ages, range_step), certain

    class _Alternative:
        __slots__ = ("fixed", "limits", "operators", "spans", "values")

        def __init__(self, limits, values):
            self.limits = limits
            self.operators = [operator for operator, _ in limits]
            self.values = values  # env -> the limits' numbers (None: they are all literals)
            self.fixed = span(limits) if values is None else None
            self.spans: dict[tuple, tuple] = {}  # limit values -> span: `${thn_ini}` is the same all along

        def settle(self, env):
            if self.fixed is not None:
                return self.fixed
            values = self.values(env)
            found = self.spans.get(values)
            if found is None:
                found = span(zip(self.operators, values))
                if len(self.spans) < 10_000 and all(v == v for v in values):  # NaN keys never match
                    self.spans[values] = found
            return found

    alternatives = [_Alternative(alt, values) for alt, values in zip(op.bounds or (), op.limits or ())] or [
        _Alternative([], None)]
    points = [a for a in alternatives if any(o == "=" for o, _ in a.limits)]
    ranges = [a for a in alternatives if a not in points]
    single = alternatives[0] if len(alternatives) == 1 else None
    missing_branch = options.missing_branch_weight * len(points)

    def choose(rng) -> _Alternative:
        if single is not None:
            return single
        if points and (not ranges or rng.random() < missing_branch):
            return points[0] if len(points) == 1 else rng.choice(points)
        return ranges[0] if len(ranges) == 1 else rng.choice(ranges)

    constraint = op.constraint
    if constraint is None or all(a.fixed is not None and a.fixed[1] for a in alternatives):
        # the common case: whatever is drawn passes (no constraint, or one the spans encode;
        # without a constraint there are no bounds, and the one alternative is the default span)
        if single is not None:
            text_of = single.fixed[0]
            return lambda env: text_of(env.rng)
        if len(ranges) == 1:  # `(. >= 0 and . <= n) or . = -98 or . = -99`: choose() spelt out
            in_range = ranges[0].fixed[0]
            missing = [point.fixed[0] for point in points]

            def produce_range_or_missing(env):
                rng = env.rng
                if rng.random() < missing_branch:
                    return (missing[0] if len(missing) == 1 else rng.choice(missing))(rng)
                return in_range(rng)

            return produce_range_or_missing

        def produce_surely(env):
            rng = env.rng
            return choose(rng).fixed[0](rng)

        return produce_surely
    attempts = options.attempts

    def produce(env):
        rng = env.rng
        value = None
        for _ in range(attempts):
            text_of, certain = choose(rng).settle(env)
            value = text_of(rng)
            if value is None:
                return None
            if certain:
                return value
            env.cur = value
            if constraint(env):
                return value
        return _exhausted(op, env, value, attempts)

    return produce


def _between(low, high, decimal: bool, money_name: bool, small_counts: bool, ages: bool,
             range_step: float | None) -> Callable[[Random], str]:
    """How a number in [low, high] is drawn, as the answer's text: log-uniform over wide non-negative
    ranges (money), a short-tailed count, a triangular age, else uniform."""
    if high - low > 2000 and low >= 0 and (money_name or high - low > 100_000):
        floor = max(low, 1.0, high / 10_000)  # at most four orders of magnitude below the top
        log_low = math.log(floor)
        log_span = math.log(high + 1) - log_low  # rng.uniform(a, b) is a + (b - a) * rng.random()
        zero_sometimes = low == 0

        def value_of(rng):
            if zero_sometimes and rng.random() < 0.05:
                return 0.0
            value = math.exp(log_low + log_span * rng.random()) - 1
            if value > 10_000:
                value = _round_to(value, 3)
            elif value > 100:
                value = _round_to(value, 1)
            return min(max(value, low), high)
    elif decimal:
        def value_of(rng):
            return rng.uniform(low, high)
    elif small_counts and low >= 0 and high - low >= 6:
        rate = 1.0 / max(1.0, min(3.0, (high - low) / 4))

        def value_of(rng):
            return float(min(high, low + int(rng.expovariate(rate))))
    elif ages and high - low >= 20:
        top, mode = min(high, max(low + 20, 85)), min(max(low, 32), high)

        def value_of(rng):
            return float(round(rng.triangular(low, top, mode)))
    else:
        first, stop = int(low), int(high) + 1

        def value_of(rng):
            return rng.randrange(first, stop)  # = rng.randint(first, stop - 1), one call fewer
    if range_step:
        plain = value_of

        def value_of(rng):
            value = plain(rng)
            return low + round((value - low) / range_step) * range_step
    if decimal:
        return lambda rng: _decimal_text(value_of(rng))
    return lambda rng: str(round(value_of(rng)))  # round() of a float or int is an int


_UNITS = {1: 10.0, 3: 1000.0}


def _round_to(value: float, digits: int) -> float:
    """round(value, -digits) for a value >= 0: the nearest multiple of 10**digits, ties to even on
    the binary value, as float.__round__ gives, without its decimal conversion (a third of the cost
    of a money answer). Exact below 2**52, where every step here is exact."""
    if not 0 <= value < 2.0 ** 52:
        return round(value, -digits)
    unit = _UNITS[digits]
    rest = value % unit
    base = value - rest
    if rest > unit / 2 or (rest == unit / 2 and (base / unit) % 2 == 1):
        base += unit
    return base


def _decimal_text(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _date(op: _Op, options: Options):
    node = op.node
    bounds = op.bounds
    birth = re.search(r"lahir|birth", node.name, re.I)

    def draw(env):
        rng = env.rng
        today = to_number(env.today)
        low, high = (today - 365.25 * 65, today - 365.25 * 17) if birth else (today - 365 * 5, today)
        explicit_low = explicit_high = None
        if bounds:
            for operator, fn in rng.choice(bounds):
                value = fn if fn.__class__ is float else to_number(fn(env))
                if value != value:
                    continue
                if operator in (">=", ">"):
                    explicit_low = max(explicit_low, value) if explicit_low is not None else value
                elif operator in ("<=", "<"):
                    explicit_high = min(explicit_high, value) if explicit_high is not None else value
        if explicit_low is not None:
            low = max(low, explicit_low) if explicit_low <= high else explicit_low
        if explicit_high is not None:
            high = min(high, explicit_high) if explicit_high >= low else explicit_high
        if high < low:
            low, high = high, low
        return days_to_date(rng.uniform(low, high + 0.999))

    return draw


def _geopoint(env: Env) -> str:
    rng = env.rng
    lat, lon = env.meta.get("geo") or (-7.5, 110.5)
    return f"{lat + rng.uniform(-0.03, 0.03):.6f} {lon + rng.uniform(-0.03, 0.03):.6f} {rng.uniform(5, 400):.1f} " \
           f"{rng.choice((3.0, 4.5, 5.0, 8.0, 12.0, 20.0)):.1f}"


def _geotrace(closed: bool):
    def draw(env):
        points = [_geopoint(env) for _ in range(env.rng.randint(3, 5))]
        if closed:
            points.append(points[0])
        return ";".join(points)

    return draw


_MIME = {"image": ("jpg", "image/jpeg"), "audio": ("m4a", "audio/mp4"), "video": ("mp4", "video/mp4"),
         "file": ("pdf", "application/pdf"), "background-audio": ("m4a", "audio/mp4"), "audit": ("csv", "text/csv")}


def _media(op: _Op):
    extension = _MIME.get(op.type, ("bin", "application/octet-stream"))[0]

    def draw(env):
        base = int(env.meta.get("start_ms", 1_700_000_000_000))
        counter = env.meta.setdefault("media_counter", 0) + 1
        env.meta["media_counter"] = counter
        return f"{base + counter * 7_919 + env.rng.randint(0, 999)}.{extension}"

    return draw


def _attachment(op: _Op, filename: str, indexes: tuple) -> dict:
    parts = op.path.split("/")
    xpath = "/".join(f"{name}[{index}]" for name, index in zip(parts[:-1], indexes)) if len(parts) > 1 else ""
    xpath = f"{xpath}/{parts[-1]}" if xpath else parts[-1]
    mimetype = _MIME.get(op.type, ("bin", "application/octet-stream"))[1]
    return {"question_xpath": xpath, "filename": filename, "mimetype": mimetype}


def _text(op: _Op, plan: Plan):
    node = op.node
    name = node.name.lower()
    pattern = op.regex
    equal = [fn for alt in op.bounds or () for operator, fn in alt if operator == "="]
    if equal and len(equal) == len(op.bounds or ()):
        # a re-entry check (`. = ${first_entry}`): type the same again
        def same_again(env):
            value = env.rng.choice(equal)
            return to_string(value if value.__class__ is float else value(env)) or None

        return same_again
    if re.search(r"(^|_)resp_?id(_|$)|^id_resp", name) and plan.form.has("kab"):
        kab = plan.form.field("kab")
        if kab.kind == "field" and not kab.repeats:
            # the project's rule: <kab>-<4 digits>, e.g. 3509-0012
            return lambda env: f"{env.scopes[0].get(kab.path, '') or '0000'}-{env.rng.randint(1, 9999):04d}"
    if pattern:
        return lambda env: regexgen.sample(pattern, env.rng)
    if re.search(r"(^|_)(nama|name)(_|$)", name) and not re.search(r"usaha|toko|desa|dusun|kelompok|business", name):
        return lambda env: vocab.person_name(env.rng, env.meta.get("sex_hint", ""))
    if re.search(r"(^|_)(hp|telp|telepon|phone|wa|whatsapp)(_|$)", name):
        return lambda env: vocab.phone_number(env.rng)
    if re.search(r"alamat|address", name):
        return lambda env: vocab.address(env.rng)
    if re.search(r"email", name):
        return lambda env: f"{vocab.person_name(env.rng).split()[0].lower()}{env.rng.randint(1, 999)}@contoh.id"
    return lambda env: vocab.phrase(env.rng)


def validate_submissions(plan: Plan, submissions: Iterable[Mapping], *, calculations: bool = True) -> dict[int, list[str]]:
    """Problems per submission position (only the ones with problems): see Plan.check."""
    out = {}
    for index, sub in enumerate(submissions):
        problems = plan.check(sub, {"today": sub.get("today", "") or f"{plan.options.survey_year}-03-02"},
                              calculations=calculations)
        if problems:
            out[index] = problems
    return out


__all__ = ["Options", "Plan", "SynthError", "FormResolver", "validate_submissions", "MISSING_CODES"]
