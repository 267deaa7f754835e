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
    __slots__ = ("node", "path", "name", "kind", "type", "relevant", "required", "constraint", "calc", "gen",
                 "choices", "children", "count", "skip", "default", "bounds", "regex", "attachment",
                 "count_hint", "where", "exact", "certain")

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
        self.bounds: list | None = None
        self.regex: str = ""
        self.attachment = ""
        self.count_hint = ""
        self.where = ""
        self.exact = False
        self.certain = False


def _ALWAYS(env: Env) -> bool:
    return True


class _ChoiceSource:
    """The choices a select may take here: static, filtered (cached on the filter's inputs), or a CSV."""

    def __init__(self, rows: list[dict], value_key: str, weights: Options, filter_: Compiled | None,
                 ref_fns: list[Callable]):
        self.rows = rows
        self.value_key = value_key
        self.filter = filter_
        self.ref_fns = ref_fns
        self.options = weights
        self.cache: dict[tuple, tuple[list[str], list[float], frozenset[str]]] = {}
        self.cacheable = filter_ is None or not (filter_.volatile or filter_.uses_dot)
        self._static = self._build(rows) if filter_ is None else None

    def _build(self, rows: Iterable[dict]) -> tuple[list[str], list[float], frozenset[str]]:
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
        return names, cum, frozenset(names)

    def current(self, env: Env) -> tuple[list[str], list[float], frozenset[str]]:
        if self._static is not None:
            return self._static
        key = tuple(fn(env) for fn in self.ref_fns) if self.cacheable else None
        if key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        kept = []
        saved = env.row
        pred = self.filter.fn
        for row in self.rows:
            env.row = row
            if to_boolean(pred(env)):
                kept.append(row)
        env.row = saved
        built = self._build(kept)
        if key is not None and len(self.cache) < 50_000:
            self.cache[key] = built
        return built


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
            op.relevant = self._expr(node, "relevant", node.relevant).fn
        if op.kind == K_GROUP or op.kind == K_REPEAT:
            op.children = [self._op(child) for child in node.children]
            if node.kind == "repeat":
                if node.repeat_count:
                    op.count = self._expr(node, "repeat_count", node.repeat_count).fn
                else:
                    op.count_hint = _count_hint(node, self.form)
            return op
        if op.kind == K_CALC:
            op.calc = self._expr(node, "calculation", node.calculation).fn
            return op
        if op.kind != K_QUESTION:
            return op
        if node.required == "true()":
            op.required = _ALWAYS
        elif node.required:
            op.required = self._expr(node, "required", node.required).fn
        if node.constraint:
            compiled = self._expr(node, "constraint", node.constraint)
            op.constraint = compiled.fn
            op.bounds = _bounds(compiled.tree, lambda tree: self._expr_tree(node, tree))
            op.exact = node.type in ("integer", "decimal") and _exact(compiled.tree)
            op.regex = _regex_of(compiled.tree)
        op.where = f"{self.form.id_string}: field '{node.path}'"
        op.skip = self.options.skip_optional_text if node.type == "text" else self.options.skip_optional
        if node.type in MEDIA:
            op.skip = 1.0 - self.options.media_answer_rate
        if node.is_select or node.file:
            op.choices = self._choices(node)
        op.gen = _generator(op, self)
        return op

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
        if filter_text:
            compiled = self._expr(node, "choice_filter", filter_text, row_mode=True)
            resolver = FormResolver(self, node, where)
            ref_fns = [resolver._by_node(self.form.nodes[path], scalar=True) for path in sorted(compiled.refs)]
        return _ChoiceSource(rows, value_key, self.options, compiled, ref_fns)

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
        self._fill(self.ops, env, scope, preset, ())
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

    def _fill(self, ops: list[_Op], env: Env, scope: dict, preset: Mapping | None, indexes: tuple) -> None:
        forced = env.meta["forced"]
        regen = env.meta["regen"]
        rng = env.rng
        for op in ops:
            relevant = op.relevant
            if relevant is not None:
                ok = relevant(env)
                if ok is False or (ok is not True and not to_boolean(ok)):
                    continue
            kind = op.kind
            if kind == K_QUESTION:
                value = None
                if forced and op.path in forced:
                    wanted, strict = forced[op.path]
                    if wanted == "":
                        if op.required is None or not to_boolean(op.required(env)):
                            continue
                    elif self._valid(op, env, wanted):
                        value = wanted
                    elif strict:
                        raise SynthError(self._invalid_message(op, env, wanted))
                if value is None and preset is not None and op.path not in regen:
                    if op.path in preset:
                        if self._valid(op, env, preset[op.path]):
                            value = preset[op.path]
                    elif not (op.required is not None and to_boolean(op.required(env))):
                        continue  # it was left empty before: keep it so
                if value is None:
                    required = op.required
                    if (required is None or (required is not _ALWAYS and not to_boolean(required(env)))) \
                            and rng.random() < op.skip:
                        continue
                    value = self._generate(op, env)
                    if value is None:
                        continue
                scope[op.path] = value
                if op.type in MEDIA:
                    env.meta["attachments"].append(_attachment(op, value, indexes))
            elif kind == K_CALC:
                env.cur = scope.get(op.path, "")
                value = op.calc(env)
                text = to_string(value)
                if text != "":
                    scope[op.path] = text
                else:
                    scope.pop(op.path, None)
            elif kind == K_GROUP:
                self._fill(op.children, env, scope, preset, (*indexes, 1))
            elif kind == K_REPEAT:
                self._fill_repeat(op, env, scope, preset, indexes)
            elif kind == K_META:
                value = self._meta(op, env, preset)
                if value:
                    scope[op.path] = value
                    if op.type in MEDIA:
                        env.meta["attachments"].append(_attachment(op, value, indexes))

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
                self._fill(op.children, env, instance, before if before is not None else (
                    {} if previous is not None else None), (*indexes, index + 1))
        finally:
            env.scopes.pop()
            env.pos.pop()
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
            if not parts or any(p not in allowed for p in parts):
                return False
        if op.constraint is not None:
            env.cur = value
            return to_boolean(op.constraint(env))
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

    def _generate(self, op: _Op, env: Env) -> str | None:
        gen = op.gen
        constraint = op.constraint
        if constraint is None:
            return gen(env)
        value = None
        op.certain = False
        for _ in range(self.options.attempts):
            value = gen(env)
            if value is None:
                return None
            if op.certain:
                return value
            env.cur = value
            ok = constraint(env)
            if ok is True or (ok is not False and to_boolean(ok)):
                return value
        if op.required is not None and to_boolean(op.required(env)):
            raise SynthError(f"{op.where}: no generated answer passed its constraint {op.node.constraint!r} in "
                             f"{self.options.attempts} tries (last tried {value!r}).",
                             hint="Give the field an answer through `forced`, or loosen the constraint.")
        return None

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


# --------------------------------------------------------------------------- constraint analysis


def _bounds(tree, compile_tree) -> list[list[tuple[str, Callable]]] | None:
    """Alternatives (an `or` of `and`s) of comparisons between `.` and expressions without `.`."""

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
    return [[(op, sub[1] if sub[0] == "num" else compile_tree(sub)) for op, sub in alt] for alt in alternatives]


def _exact(tree) -> bool:
    """True when the constraint is only and/or of `.` compared with expressions without `.`, so a value
    drawn inside the bounds passes it by construction (no need to evaluate it again)."""
    if tree[0] == "bin" and tree[1] in ("and", "or"):
        return _exact(tree[2]) and _exact(tree[3])
    if tree[0] == "bin" and tree[1] in ("<", "<=", ">", ">=", "="):
        left_dot = tree[2][0] == "path" and tree[2][1] is None and [s for s, _ in tree[2][2]] == ["."]
        right_dot = tree[3][0] == "path" and tree[3][1] is None and [s for s, _ in tree[3][2]] == ["."]
        other = tree[3] if left_dot else tree[2]
        return (left_dot != right_dot) and other[0] in ("num", "ref")
    return False


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
    node = op.node
    kind = node.type
    options = plan.options
    if op.choices is not None:
        if kind == "select_multiple":
            return _select_multiple(op)
        if kind == "rank":
            return _rank(op)
        return _select_one(op)
    if kind in ("integer", "decimal", "range"):
        return _number(op, options, decimal=kind == "decimal")
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


def _select_one(op: _Op):
    source = op.choices

    def pick(env):
        names, cum, _ = source.current(env)
        if not names:
            return None
        return names[bisect.bisect_left(cum, env.rng.random() * cum[-1])] if len(names) > 1 else names[0]

    return pick


def _select_multiple(op: _Op):
    source = op.choices

    def pick(env):
        names, cum, _ = source.current(env)
        if not names:
            return None
        rng = env.rng
        r = rng.random()
        k = 1 if r < 0.45 else 2 if r < 0.75 else 3 if r < 0.9 else 4
        k = min(k, len(names))
        chosen = set()
        total = cum[-1]
        for _ in range(k * 4):
            chosen.add(names[bisect.bisect_left(cum, rng.random() * total)])
            if len(chosen) >= k:
                break
        if len(chosen) > 1:
            regular = {c for c in chosen if c not in EXCLUSIVE_CODES}
            chosen = regular or {min(chosen)}
        order = {name: i for i, name in enumerate(names)}
        return " ".join(sorted(chosen, key=order.__getitem__))

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
    node = op.node
    default_low, default_high, money_name = _default_range(node, options)
    bounds = op.bounds
    points = [a for a in bounds or () if any(o == "=" for o, _ in a)]
    ranges = [a for a in bounds or () if a not in points]
    step = 0.01 if decimal else 1.0
    range_step = float(node.parameters.get("step", 1)) if node.type == "range" else None
    small_counts = bool(_COUNT.search(node.name) or re.search(r"pekerja|anggota|members|workers", node.name, re.I))
    ages = bool(_AGE.search(node.name))
    exact = op.exact
    certain = False

    def draw(env):
        nonlocal certain
        rng = env.rng
        low, high = -math.inf, math.inf
        equal = None
        certain = exact and not range_step
        if bounds:
            if len(bounds) == 1:
                chosen = bounds[0]
            elif points and (not ranges or rng.random() < options.missing_branch_weight * len(points)):
                chosen = points[0] if len(points) == 1 else rng.choice(points)
            else:
                chosen = ranges[0] if len(ranges) == 1 else rng.choice(ranges)
            for operator, fn in chosen:
                value = fn if fn.__class__ is float else to_number(fn(env))
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
            op.certain = certain
            return number_text(equal) if not decimal else _decimal_text(equal)
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
            return None
        wide = low >= 0 and high - low > 2000 and (money_name or high - low > 100_000)
        if wide:
            if low == 0 and rng.random() < 0.05:
                value = 0.0
            else:
                floor = max(low, 1.0, high / 10_000)  # at most four orders of magnitude below the top
                value = math.exp(rng.uniform(math.log(floor), math.log(high + 1))) - 1
                if value > 10_000:
                    value = round(value, -3)
                elif value > 100:
                    value = round(value, -1)
                value = min(max(value, low), high)
        elif decimal:
            value = rng.uniform(low, high)
        elif small_counts and low >= 0 and high - low >= 6:
            value = float(min(high, low + int(rng.expovariate(1.0 / max(1.0, min(3.0, (high - low) / 4))))))
        elif ages and high - low >= 20:
            value = float(round(rng.triangular(low, min(high, max(low + 20, 85)), min(max(low, 32), high))))
        else:
            value = float(rng.randint(int(low), int(high)))
        if range_step:
            value = low + round((value - low) / range_step) * range_step
        op.certain = certain
        if decimal:
            return _decimal_text(value)
        return str(int(round(value)))

    return draw


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
        return lambda env: to_string(env.rng.choice(equal)(env)) or None
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
