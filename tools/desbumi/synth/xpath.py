"""A small evaluator for the XLSForm/XPath expressions the DESBUMI instruments use.

Expressions are read in their XLSForm spelling (`${age} >= 15 and . <= 99`), parsed once into a tree
and compiled into Python closures, so a constraint evaluated a million times costs a few function
calls. Values follow XPath 1.0 as JavaRosa (the engine inside ODK Collect) applies it:

- a `${field}` is the field's answer as a string ('' when unanswered); a field inside a repeat that
  the expression is not itself inside is a node-set (one string per repeat instance);
- `=` and `!=` compare as booleans if either side is a boolean, as numbers if either side is a
  number, else as strings; `<`, `<=`, `>`, `>=` always compare numbers;
- `number('2024-05-01')` is the count of days since 1970-01-01 (JavaRosa's typed dates), so
  `. <= today()` works on a date answer;
- an empty string is false, a non-empty one true; a number is false when 0 or NaN.

What a reference means is decided by a resolver: `FormResolver` (in `engine.py`) knows a compiled
form's groups and repeats; `ValuesResolver` here reads a plain dict, for evaluating an expression on
its own (`evaluate("${a} + 1", {"a": "2"})`).

An unknown function, a syntax error or a reference to a missing field raises `ExpressionError`
naming where the expression sits (field and column) and the expression itself.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
import uuid as _uuid
from dataclasses import dataclass, field
from random import Random
from typing import Any, Callable

from ..errors import InputError

EPOCH = dt.date(1970, 1, 1)


class ExpressionError(InputError):
    """An expression the evaluator cannot parse, resolve or evaluate."""


class NodeSet(list):
    """Several node values (strings): a repeated field read from outside its repeat."""


class RowSet(list):
    """Rows of a secondary instance (a CSV table), as dicts: `instance('x')/root/item`."""


# --------------------------------------------------------------------------- value conversions

_NUMBER = re.compile(r"\s*(-?(?:\d+(?:\.\d*)?|\.\d+))\s*$")
_DATE = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})\s*$")
_DATETIME = re.compile(r"\s*\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_NUM_CACHE: dict[str, float] = {}


def to_number(value: Any) -> float:
    """XPath number(): NaN for what is not a number; dates become days since 1970-01-01."""
    if value.__class__ is str:
        cached = _NUM_CACHE.get(value)
        if cached is not None:
            return cached
    elif isinstance(value, float):
        return value
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        value = value[0] if value else ""
        if isinstance(value, dict):
            return math.nan
    cached = _NUM_CACHE.get(value)
    if cached is not None:
        return cached
    result = _string_to_number(value)
    if len(_NUM_CACHE) < 100_000:
        _NUM_CACHE[value] = result
    return result


def _string_to_number(text: str) -> float:
    match = _NUMBER.match(text)
    if match:
        return float(match.group(1))
    match = _DATE.match(text)
    if match:
        try:
            return float((dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3))) - EPOCH).days)
        except ValueError:
            return math.nan
    if _DATETIME.match(text):
        try:
            moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            return math.nan
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return (moment - dt.datetime(1970, 1, 1)).total_seconds() / 86400.0
    return math.nan


def number_text(value: float) -> str:
    """XPath string() of a number: integers without '.0', NaN as 'NaN'."""
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        if not value:
            return ""
        first = value[0]
        return first if isinstance(first, str) else ""
    return str(value)


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value != ""
    if isinstance(value, float):
        return value == value and value != 0.0
    if isinstance(value, list):
        return len(value) > 0
    return bool(value)


def days_to_date(days: float) -> str:
    return (EPOCH + dt.timedelta(days=math.floor(days))).isoformat()


def _compare_eq(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        if isinstance(a, list) and isinstance(b, list):
            right = {to_string(x) for x in b}
            return any(to_string(x) in right for x in a)
        many, one = (a, b) if isinstance(a, list) else (b, a)
        if isinstance(one, bool):
            return to_boolean(many) == one
        return any(_compare_eq(x, one) for x in many if isinstance(x, str))
    if isinstance(a, bool) or isinstance(b, bool):
        return to_boolean(a) == to_boolean(b)
    if isinstance(a, float) or isinstance(b, float):
        return to_number(a) == to_number(b)
    return to_string(a) == to_string(b)


_OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _relational(op: str) -> Callable[[Any, Any], bool]:
    fn = _OPERATORS[op]

    def compare(a: Any, b: Any) -> bool:
        if isinstance(a, list) or isinstance(b, list):
            left = a if isinstance(a, list) else [a]
            right = b if isinstance(b, list) else [b]
            return any(fn(to_number(x), to_number(y)) for x in left for y in right)
        return fn(to_number(a), to_number(b))

    return compare


# --------------------------------------------------------------------------- environment


class Env:
    """What an expression sees while a form is being filled.

    scopes: the output dicts from the top of the form down to the innermost repeat instance the
    current field sits in (keys are Kobo paths); pos: 1-based index of each repeat instance;
    cur: the value of `.`; row: the choice or CSV row a choice filter / predicate looks at.
    """

    __slots__ = ("scopes", "pos", "cur", "row", "rng", "today", "now", "tables", "meta")

    def __init__(self, scopes: list[dict] | None = None, *, rng: Random | None = None, today: str = "",
                 now: str = "", tables: Tables | None = None):
        self.scopes = scopes if scopes is not None else [{}]
        self.pos: list[int] = [0]
        self.cur = ""
        self.row: dict | None = None
        self.rng = rng or Random(0)
        self.today = today or dt.date(2026, 1, 1).isoformat()
        self.now = now or f"{self.today}T09:00:00.000+07:00"
        self.tables = tables or Tables({})
        self.meta: dict = {}


class Tables:
    """CSV tables for pulldata() and instance('name'): rows keyed by file name (with or without .csv)."""

    def __init__(self, tables: dict[str, list[dict]]):
        self._rows: dict[str, list[dict]] = {}
        for name, rows in (tables or {}).items():
            self._rows[_table_key(name)] = [{k: ("" if v is None else str(v)) for k, v in r.items()}
                                            for r in rows]
        self._index: dict[tuple[str, str], dict[str, list[dict]]] = {}

    def has(self, name: str) -> bool:
        return _table_key(name) in self._rows

    def rows(self, name: str) -> list[dict]:
        key = _table_key(name)
        if key not in self._rows:
            raise KeyError(name)
        return self._rows[key]

    def names(self) -> list[str]:
        return sorted(self._rows)

    def matching(self, name: str, column: str, value: str) -> list[dict]:
        """Rows whose `column` equals `value`, through an index built on first use."""
        key = (_table_key(name), column)
        index = self._index.get(key)
        if index is None:
            index = {}
            for row in self.rows(name):
                index.setdefault(row.get(column, ""), []).append(row)
            self._index[key] = index
        return index.get(value, [])


def _table_key(name: str) -> str:
    name = name.strip()
    for suffix in (".csv", ".xml", ".geojson"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


# --------------------------------------------------------------------------- tokens and parser

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<ref>\$\{[^}]*\})
    | (?P<num>\d+(?:\.\d*)?|\.\d+)
    | (?P<str>'[^']*'|"[^"]*")
    | (?P<op>!=|<=|>=|//|\.\.|[=<>+\-*|(),\[\]/@])
    | (?P<dot>\.)
    | (?P<name>[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)
    )""", re.X)

_OPERATOR_NAMES = {"and", "or", "div", "mod"}


@dataclass
class _Tok:
    kind: str  # ref num str op name dot end
    text: str


def tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SyntaxError(f"unexpected character {text[pos:].strip()[:1]!r} at position {pos + 1}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        pos = match.end()
        if kind == "name" and value in _OPERATOR_NAMES and tokens and _ends_operand(tokens[-1]):
            kind = "op"
        elif kind == "op" and value == "*" and not (tokens and _ends_operand(tokens[-1])):
            kind = "name"  # a wildcard step
        tokens.append(_Tok(kind, value))
    tokens.append(_Tok("end", ""))
    return tokens


def _ends_operand(tok: _Tok) -> bool:
    return tok.kind in ("ref", "num", "str", "name", "dot") or tok.text in (")", "]", "..")


class _Parser:
    """Recursive descent over XPath 1.0 precedence: or, and, = !=, < <= > >=, + -, * div mod, unary -, |, paths."""

    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text or tok.kind not in ("op",):
            raise SyntaxError(f"expected {text!r} but found {tok.text or 'the end'!r}")

    def parse(self):
        node = self.binary(0)
        if self.peek().kind != "end":
            raise SyntaxError(f"unexpected {self.peek().text!r} after a complete expression")
        return node

    _LEVELS = (("or",), ("and",), ("=", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "div", "mod"))

    def binary(self, level: int):
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek().kind == "op" and self.peek().text in self._LEVELS[level]:
            op = self.take().text
            node = ("bin", op, node, self.binary(level + 1))
        return node

    def unary(self):
        if self.peek().kind == "op" and self.peek().text == "-":
            self.take()
            return ("neg", self.unary())
        node = self.path()
        while self.peek().kind == "op" and self.peek().text == "|":
            self.take()
            node = ("union", node, self.path())
        return node

    def path(self):
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("/", "//"):
            self.take()
            steps = self.steps() if self._starts_step() else []
            return ("path", "root", steps)
        if self._starts_step():
            return ("path", None, self.steps())
        base = self.primary()
        preds = self.predicates()
        if preds:
            base = ("filter", base, preds)
        if self.peek().kind == "op" and self.peek().text in ("/", "//"):
            self.take()
            return ("path", base, self.steps())
        return base

    def _starts_step(self) -> bool:
        tok = self.peek()
        if tok.kind == "dot" or (tok.kind == "op" and tok.text in ("..", "@")):
            return True
        if tok.kind == "name":
            nxt = self.tokens[self.i + 1]
            return not (nxt.kind == "op" and nxt.text == "(")
        return False

    def steps(self) -> list[tuple[str, list]]:
        steps = [self.step()]
        while self.peek().kind == "op" and self.peek().text in ("/", "//"):
            self.take()
            steps.append(self.step())
        return steps

    def step(self) -> tuple[str, list]:
        tok = self.take()
        if tok.kind == "op" and tok.text == "@":
            name = self.take()
            return ("@" + name.text, self.predicates())
        if tok.kind == "dot":
            return (".", self.predicates())
        if tok.text == "..":
            return ("..", self.predicates())
        if tok.kind != "name":
            raise SyntaxError(f"expected a name in a path but found {tok.text or 'the end'!r}")
        return (tok.text, self.predicates())

    def predicates(self) -> list:
        preds = []
        while self.peek().kind == "op" and self.peek().text == "[":
            self.take()
            preds.append(self.binary(0))
            self.expect("]")
        return preds

    def primary(self):
        tok = self.take()
        if tok.kind == "num":
            return ("num", float(tok.text))
        if tok.kind == "str":
            return ("str", tok.text[1:-1])
        if tok.kind == "ref":
            name = tok.text[2:-1].strip()
            if not name:
                raise SyntaxError("empty reference ${}")
            return ("ref", name)
        if tok.kind == "op" and tok.text == "(":
            node = self.binary(0)
            self.expect(")")
            return node
        if tok.kind == "name" and self.peek().text == "(":
            self.take()
            args = []
            if not (self.peek().kind == "op" and self.peek().text == ")"):
                args.append(self.binary(0))
                while self.peek().kind == "op" and self.peek().text == ",":
                    self.take()
                    args.append(self.binary(0))
            self.expect(")")
            return ("call", tok.text, args)
        raise SyntaxError(f"unexpected {tok.text or 'end of expression'!r}")


def parse(text: str):
    """The expression's tree (nested tuples); SyntaxError on malformed text."""
    return _Parser(text).parse()


# --------------------------------------------------------------------------- resolvers


class Resolver:
    """Turns references into closures over Env; subclasses know where values live."""

    where = "expression"

    def ref(self, name: str) -> Callable[[Env], Any]:  # ${name}
        raise NotImplementedError

    def nodeset(self, name: str) -> Callable[[Env], NodeSet]:  # every instance of ${name}
        raise NotImplementedError

    def relative(self, steps: list[str]) -> Callable[[Env], Any] | None:  # ../name, name
        return None

    def absolute(self, steps: list[str]) -> Callable[[Env], Any] | None:  # /data/group/name
        return None

    def position(self, ups: int) -> Callable[[Env], Any]:
        return lambda env: float(env.pos[-1]) if env.pos else 1.0

    def choice_label(self, name: str) -> Callable[[str], str]:
        return lambda value: value

    def refs(self) -> set[str]:
        return set()


class ValuesResolver(Resolver):
    """References read env.scopes[0][name]; bare names read the row (choice-filter mode) when asked."""

    def __init__(self, row_names: bool = False):
        self.row_names = row_names
        self._refs: set[str] = set()

    def ref(self, name):
        self._refs.add(name)
        return lambda env: _scalar(env.scopes[0].get(name, ""))

    def nodeset(self, name):
        self._refs.add(name)
        return lambda env: _as_nodeset(env.scopes[0].get(name, ""))

    def relative(self, steps):
        if len(steps) == 1 and self.row_names:
            name = steps[0]
            return lambda env: (env.row or {}).get(name, "")
        return None

    def refs(self):
        return set(self._refs)


def _scalar(value):
    if isinstance(value, list):
        return NodeSet(v if isinstance(v, str) else "" for v in value)
    return value


def _as_nodeset(value):
    if isinstance(value, list):
        return NodeSet(v if isinstance(v, str) else "" for v in value)
    return NodeSet([value])


# --------------------------------------------------------------------------- compiler


@dataclass
class Compiled:
    """A compiled expression: call `fn(env)`; `refs` lists the fields (paths) it reads."""

    text: str
    fn: Callable[[Env], Any]
    tree: Any
    refs: frozenset[str] = frozenset()
    uses_dot: bool = False
    uses_row: bool = False
    volatile: bool = False  # random(), uuid(), now(), position(): not cacheable on refs alone
    where: str = "expression"

    def __call__(self, env: Env) -> Any:
        return self.fn(env)

    def boolean(self, env: Env) -> bool:
        return to_boolean(self.fn(env))

    def string(self, env: Env) -> str:
        return to_string(self.fn(env))


@dataclass
class _State:
    resolver: Resolver
    where: str
    text: str
    row_mode: bool
    uses_dot: bool = False
    uses_row: bool = False
    volatile: bool = False
    extra: dict = field(default_factory=dict)

    def error(self, detail: str) -> ExpressionError:
        return ExpressionError(f"{self.where}: the expression {self.text!r} {detail}")


def compile_expression(text: str, resolver: Resolver | None = None, *, where: str = "expression",
                       row_mode: bool = False) -> Compiled:
    """Parse and compile one expression; ExpressionError names `where` and the text on any problem.

    row_mode: bare names (`kab` in a choice filter `kab = ${kab}`) read the choice/CSV row.
    """
    resolver = resolver or ValuesResolver(row_names=row_mode)
    try:
        tree = parse(text)
    except SyntaxError as exc:
        raise ExpressionError(f"{where}: the expression {text!r} cannot be read ({exc.msg if hasattr(exc, 'msg') else exc}).",
                              hint="Check brackets, quotes and operators; the form must also pass `desbumi-sync forms check`.") from None
    state = _State(resolver, where, text, row_mode)
    fn = _compile(tree, state)
    return Compiled(text=text, fn=fn, tree=tree, refs=frozenset(resolver.refs()), uses_dot=state.uses_dot,
                    uses_row=state.uses_row, volatile=state.volatile, where=where)


def evaluate(text: str, values: dict[str, Any] | None = None, *, current: str = "", row: dict | None = None,
             today: str = "", now: str = "", tables: dict[str, list[dict]] | None = None, position: int = 1,
             rng: Random | None = None) -> Any:
    """Evaluate one expression on plain values (names -> strings, or lists for repeated fields)."""
    compiled = compile_expression(text, ValuesResolver(row_names=row is not None), row_mode=row is not None)
    env = Env([dict(values or {})], rng=rng, today=today, now=now, tables=Tables(tables or {}))
    env.cur = current
    env.row = row
    env.pos = [position]
    return compiled.fn(env)


def _compile(node, st: _State) -> Callable[[Env], Any]:
    kind = node[0]
    if kind == "num":
        value = node[1]
        return lambda env: value
    if kind == "str":
        text = node[1]
        return lambda env: text
    if kind == "ref":
        try:
            return st.resolver.ref(node[1])
        except KeyError:
            raise st.error(f"refers to ${{{node[1]}}}, which is not a field of this form.") from None
    if kind == "neg":
        inner = _compile(node[1], st)
        return lambda env: -to_number(inner(env))
    if kind == "bin":
        return _compile_binary(node, st)
    if kind == "union":
        left, right = _compile(node[1], st), _compile(node[2], st)
        return lambda env: NodeSet([*_as_list(left(env)), *_as_list(right(env))])
    if kind == "call":
        return _compile_call(node, st)
    if kind == "path":
        return _compile_path(node, st)
    if kind == "filter":
        return _compile_filter(node, st)
    raise st.error(f"uses a construct ({kind}) the evaluator does not handle.")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


_BOOLEAN_CALLS = {"not", "true", "false", "boolean", "boolean-from-string", "selected", "regex", "contains",
                  "starts-with", "ends-with"}


def _returns_boolean(node) -> bool:
    if node[0] == "bin":
        return node[1] in ("or", "and", "=", "!=", "<", "<=", ">", ">=")
    return node[0] == "call" and node[1] in _BOOLEAN_CALLS


def _compile_binary(node, st: _State):
    op = node[1]
    fused = _fused_compare(node, st)
    if fused is not None:
        return fused
    left, right = _compile(node[2], st), _compile(node[3], st)
    if op in ("or", "and"):
        both = _returns_boolean(node[2]) and _returns_boolean(node[3])
        if op == "or":
            if both:
                return lambda env: left(env) or right(env)
            return lambda env: to_boolean(left(env)) or to_boolean(right(env))
        if both:
            return lambda env: left(env) and right(env)
        return lambda env: to_boolean(left(env)) and to_boolean(right(env))
    if op == "=":
        # fast path: a field compared with a literal, the commonest relevance
        if node[3][0] == "num":
            value = node[3][1]
            def eq_num(env):
                a = left(env)
                if isinstance(a, str):
                    return to_number(a) == value
                return _compare_eq(a, value)
            return eq_num
        if node[3][0] == "str":
            text = node[3][1]
            def eq_str(env):
                a = left(env)
                if isinstance(a, str):
                    return a == text
                return _compare_eq(a, text)
            return eq_str
        return lambda env: _compare_eq(left(env), right(env))
    if op == "!=":
        def not_equal(env):
            a, b = left(env), right(env)
            if isinstance(a, list) or isinstance(b, list):
                return _ne_sets(a, b)
            return not _compare_eq(a, b)
        return not_equal
    if op in ("<", "<=", ">", ">="):
        compare = _relational(op)
        fn = _OPERATORS[op]
        if node[3][0] == "num":  # `. >= 15`: the commonest constraint
            value = node[3][1]

            def compare_literal(env):
                a = left(env)
                if a.__class__ is str:
                    return fn(to_number(a), value)
                return compare(a, value)
            return compare_literal
        return lambda env: compare(left(env), right(env))
    if op == "+":
        return lambda env: to_number(left(env)) + to_number(right(env))
    if op == "-":
        return lambda env: to_number(left(env)) - to_number(right(env))
    if op == "*":
        return lambda env: to_number(left(env)) * to_number(right(env))
    if op == "div":
        return lambda env: _div(to_number(left(env)), to_number(right(env)))
    if op == "mod":
        return lambda env: _mod(to_number(left(env)), to_number(right(env)))
    raise st.error(f"uses the operator {op!r}, which the evaluator does not handle.")


def _fused_compare(node, st: _State):
    """`${field} op 3` on a field read straight from a scope: one closure instead of three."""
    op, left, right = node[1], node[2], node[3]
    if op not in ("=", "!=", "<", "<=", ">", ">=") or left[0] != "ref" or right[0] not in ("num", "str"):
        return None
    place = st.resolver.scalar(left[1]) if hasattr(st.resolver, "scalar") else None
    if place is None:
        return None
    depth, path = place
    value = right[1]
    if right[0] == "str":
        if op == "=":
            return lambda env: env.scopes[depth].get(path, "") == value
        if op == "!=":
            return lambda env: env.scopes[depth].get(path, "") != value
        return None
    text = number_text(value)
    if op == "=":
        return lambda env: (v := env.scopes[depth].get(path, "")) == text or to_number(v) == value
    if op == "!=":
        return lambda env: (v := env.scopes[depth].get(path, "")) != text and to_number(v) != value
    if op == "<":
        return lambda env: to_number(env.scopes[depth].get(path, "")) < value
    if op == "<=":
        return lambda env: to_number(env.scopes[depth].get(path, "")) <= value
    if op == ">":
        return lambda env: to_number(env.scopes[depth].get(path, "")) > value
    return lambda env: to_number(env.scopes[depth].get(path, "")) >= value


def _ne_sets(a, b) -> bool:
    left = a if isinstance(a, list) else [a]
    right = b if isinstance(b, list) else [b]
    return any(not _compare_eq(x, y) for x in left for y in right)


def _div(a: float, b: float) -> float:
    if b == 0:
        if a != a or a == 0:
            return math.nan
        return math.inf if a > 0 else -math.inf
    return a / b


def _mod(a: float, b: float) -> float:
    if b == 0 or a != a or b != b:
        return math.nan
    return math.fmod(a, b)


# --------------------------------------------------------------------------- paths


def _compile_path(node, st: _State):
    _, base, steps = node
    names = [name for name, _ in steps]
    has_preds = any(preds for _, preds in steps)
    if base is None:
        if names == ["."] and not has_preds:
            st.uses_dot = True
            return lambda env: env.cur
        if st.row_mode and len(names) == 1 and not has_preds and names[0] not in ("..", "."):
            st.uses_row = True
            column = names[0]
            return lambda env: env.row.get(column, "") if env.row is not None else ""
        if not has_preds:
            resolved = st.resolver.relative(names)
            if resolved is not None:
                return resolved
        raise st.error(f"uses the relative path {'/'.join(names)!r}, which the evaluator cannot resolve; "
                       "write ${name} instead.")
    if base == "root":
        if not has_preds:
            resolved = st.resolver.absolute(names)
            if resolved is not None:
                return resolved
        raise st.error(f"uses the path /{'/'.join(names)}, which is not a field of this form.")
    if base[0] == "call" and base[1] == "instance":
        return _compile_instance_path(base, steps, st)
    if base[0] == "call" and base[1] == "current" and not has_preds:
        resolved = st.resolver.relative(names)
        if resolved is not None:
            return resolved
    raise st.error(f"uses a path the evaluator does not handle ({_describe(node)}).")


def _describe(node) -> str:
    if node[0] == "call":
        return f"{node[1]}(...)"
    if node[0] == "path":
        return "/".join(n for n, _ in node[2])
    return node[0]


def _compile_instance_path(base, steps, st: _State):
    """instance('name')/root/item[pred]/column, the secondary-instance lookup (CSV media)."""
    if len(base[2]) != 1 or base[2][0][0] != "str":
        raise st.error("calls instance() without a literal name.")
    table = base[2][0][1]
    parts = list(steps)
    if parts and parts[0][0] == "root" and not parts[0][1]:
        parts = parts[1:]
    if not parts or parts[0][0] != "item":
        raise st.error(f"reads instance('{table}') without the /root/item steps.")
    preds = parts[0][1]
    column = None
    if len(parts) == 2 and not parts[1][1]:
        column = parts[1][0]
    elif len(parts) > 2:
        raise st.error(f"reads instance('{table}') with a path deeper than /root/item/column.")
    where, text = st.where, st.text
    filters = []
    lookup = None  # (column, closure) for `column = expr` predicates: answered by an index
    for number, pred in enumerate(preds):
        if (number == 0 and pred[0] == "bin" and pred[1] == "=" and pred[2][0] == "path" and pred[2][1] is None
                and len(pred[2][2]) == 1 and not pred[2][2][0][1] and pred[2][2][0][0] not in (".", "..")
                and not _mentions_row(pred[3])):
            lookup = (pred[2][2][0][0], _compile(pred[3], st))
            continue
        sub = _State(st.resolver, st.where, st.text, row_mode=True)
        filters.append(_compile(pred, sub))
        st.uses_dot |= sub.uses_dot
        st.volatile |= sub.volatile

    def rows(env: Env) -> list[dict]:
        try:
            if lookup is not None:
                found = env.tables.matching(table, lookup[0], to_string(lookup[1](env)))
            else:
                found = env.tables.rows(table)
        except KeyError:
            raise ExpressionError(f"{where}: the expression {text!r} reads instance('{table}'), but no table "
                                  f"'{table}' was given (known: {', '.join(env.tables.names()) or 'none'}).",
                                  hint="Pass the form's CSV media to the generator (media={'name.csv': rows}).") from None
        for pred in filters:
            kept = []
            saved = env.row
            for position, row in enumerate(found, start=1):
                env.row = row
                value = pred(env)
                if isinstance(value, float) and not isinstance(value, bool):
                    ok = value == position
                else:
                    ok = to_boolean(value)
                if ok:
                    kept.append(row)
            env.row = saved
            found = kept
        return found

    if column is None:
        return lambda env: RowSet(rows(env))
    return lambda env: NodeSet(row.get(column, "") for row in rows(env))


def _mentions_row(node) -> bool:
    if not isinstance(node, tuple):
        return False
    if node[0] == "path" and node[1] is None:
        return True
    return any(_mentions_row(part) for part in node[1:] if isinstance(part, (tuple, list))) or any(
        _mentions_row(item) for part in node[1:] if isinstance(part, list) for item in part)


def _compile_filter(node, st: _State):
    base = _compile(node[1], st)
    preds = [_compile(p, _State(st.resolver, st.where, st.text, row_mode=True)) for p in node[2]]

    def run(env):
        values = _as_list(base(env))
        for pred in preds:
            kept = []
            for position, value in enumerate(values, start=1):
                result = pred(env)
                if (isinstance(result, float) and result == position) or (
                        not isinstance(result, float) and to_boolean(result)):
                    kept.append(value)
            values = kept
        return NodeSet(values)

    return run


# --------------------------------------------------------------------------- functions

_FORMAT_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_FORMAT_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_REGEX_CACHE: dict[str, re.Pattern] = {}


def _format_date(value: Any, pattern: str) -> str:
    if isinstance(value, float):
        if value != value:
            return ""
        moment = dt.datetime(1970, 1, 1) + dt.timedelta(days=value)
    else:
        text = to_string(value).strip()
        if not text:
            return ""
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return ""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "%" and i + 1 < len(pattern):
            code = pattern[i + 1]
            i += 2
            out.append({
                "Y": f"{moment.year:04d}", "y": f"{moment.year % 100:02d}", "m": f"{moment.month:02d}",
                "n": str(moment.month), "b": _FORMAT_MONTHS[moment.month - 1], "d": f"{moment.day:02d}",
                "e": str(moment.day), "H": f"{moment.hour:02d}", "h": str(moment.hour),
                "M": f"{moment.minute:02d}", "S": f"{moment.second:02d}",
                "3": f"{moment.microsecond // 1000:03d}", "a": _FORMAT_DAYS[moment.weekday()],
            }.get(code, "%" + code))
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _regex(value: Any, pattern: Any) -> bool:
    text = to_string(pattern)
    compiled = _REGEX_CACHE.get(text)
    if compiled is None:
        compiled = re.compile(text)
        _REGEX_CACHE[text] = compiled
    return compiled.search(to_string(value)) is not None


def _round(value: float, digits: float = 0.0) -> float:
    if value != value or value in (math.inf, -math.inf):
        return value
    factor = 10 ** int(digits)
    return math.floor(value * factor + 0.5) / factor


def _int(value: float) -> float:
    if value != value or value in (math.inf, -math.inf):
        return value
    return float(math.trunc(value))


def _flatten(values) -> list:
    out = []
    for value in values:
        if isinstance(value, list):
            out.extend(value)
        else:
            out.append(value)
    return out


def _substr(text: str, start: float, end: float | None = None) -> str:
    begin = max(0, int(start))
    if end is None:
        return text[begin:]
    return text[begin:max(begin, int(end))]


def _selected_at(value: str, index: float) -> str:
    parts = value.split()
    i = int(index) if index == index else -1
    return parts[i] if 0 <= i < len(parts) else ""


def _coalesce(a: str, b: str) -> str:
    return a if a != "" else b


def _min_max(values, pick) -> float:
    numbers = [to_number(v) for v in _flatten(values)]
    if not numbers or any(n != n for n in numbers):
        return math.nan
    return float(pick(numbers))


def _sum(values) -> float:
    total = 0.0
    for value in _as_list(values):
        total += to_number(value)
    return total


def _date(value: Any) -> str:
    if isinstance(value, float):
        return days_to_date(value) if value == value else ""
    text = to_string(value).strip()
    return text[:10] if _DATE.match(text[:10] or "x") else ""


def _uuid4(env: Env) -> str:
    return str(_uuid.UUID(int=env.rng.getrandbits(128), version=4))


# name -> (min args, max args or None, kind, implementation)
#   kind: "n" numbers, "s" strings, "b" booleans, "v" raw values, "e" gets env first
_FUNCTIONS: dict[str, tuple[int, int | None, str, Callable]] = {
    "true": (0, 0, "v", lambda: True),
    "false": (0, 0, "v", lambda: False),
    "not": (1, 1, "b", lambda a: not a),
    "boolean": (1, 1, "b", lambda a: a),
    "boolean-from-string": (1, 1, "s", lambda a: a in ("true", "1")),
    "number": (1, 1, "n", lambda a: a),
    "string": (1, 1, "s", lambda a: a),
    "int": (1, 1, "n", _int),
    "round": (1, 2, "n", _round),
    "floor": (1, 1, "n", lambda a: float(math.floor(a)) if a == a and abs(a) != math.inf else a),
    "ceiling": (1, 1, "n", lambda a: float(math.ceil(a)) if a == a and abs(a) != math.inf else a),
    "abs": (1, 1, "n", abs),
    "pow": (2, 2, "n", lambda a, b: _safe_pow(a, b)),
    "sqrt": (1, 1, "n", lambda a: math.sqrt(a) if a >= 0 else math.nan),
    "string-length": (1, 1, "s", lambda a: float(len(a))),
    "concat": (0, None, "c", lambda *a: "".join(a)),
    "contains": (2, 2, "s", lambda a, b: b in a),
    "starts-with": (2, 2, "s", lambda a, b: a.startswith(b)),
    "ends-with": (2, 2, "s", lambda a, b: a.endswith(b)),
    "substr": (2, 3, "x", None),
    "substring-before": (2, 2, "s", lambda a, b: a.split(b, 1)[0] if b in a else ""),
    "substring-after": (2, 2, "s", lambda a, b: a.split(b, 1)[1] if b in a else ""),
    "normalize-space": (1, 1, "s", lambda a: " ".join(a.split())),
    "translate": (3, 3, "s", lambda a, b, c: a.translate({ord(x): (c[i] if i < len(c) else None) for i, x in enumerate(b)})),
    "regex": (2, 2, "v", _regex),
    "selected": (2, 2, "s", lambda a, b: b.strip() in a.split()),
    "count-selected": (1, 1, "s", lambda a: float(len(a.split()))),
    "selected-at": (2, 2, "x", None),
    "coalesce": (2, 2, "s", _coalesce),
    "if": (3, 3, "x", None),
    "count": (1, 1, "v", lambda a: float(len(a)) if isinstance(a, list) else 1.0),
    "count-non-empty": (1, 1, "v", lambda a: float(sum(1 for v in _as_list(a) if to_string(v) != ""))),
    "sum": (1, 1, "v", _sum),
    "min": (1, None, "v", lambda *a: _min_max(a, min)),
    "max": (1, None, "v", lambda *a: _min_max(a, max)),
    "join": (2, 2, "v", lambda sep, values: to_string(sep).join(to_string(v) for v in _as_list(values))),
    "today": (0, 0, "e", lambda env: env.today),
    "now": (0, 0, "e", lambda env: env.now),
    "date": (1, 1, "v", _date),
    "date-time": (1, 1, "v", lambda a: a if isinstance(a, str) else days_to_date(to_number(a))),
    "decimal-date-time": (1, 1, "n", lambda a: a),
    "decimal-date": (1, 1, "n", lambda a: a),
    "format-date": (2, 2, "v", lambda a, b: _format_date(a, to_string(b))),
    "format-date-time": (2, 2, "v", lambda a, b: _format_date(a, to_string(b))),
    "once": (1, 1, "v", lambda a: a),
    "uuid": (0, 1, "e", lambda env, *a: _uuid4(env)),
    "random": (0, 0, "e", lambda env: env.rng.random()),
    "position": (0, 1, "x", None),
    "current": (0, 0, "x", None),
    "instance": (1, 1, "x", None),
    "pulldata": (4, 4, "x", None),
    "indexed-repeat": (3, 3, "x", None),
    "jr:choice-name": (2, 2, "x", None),
    "choice-name": (2, 2, "x", None),
}

SUPPORTED_FUNCTIONS = tuple(sorted(_FUNCTIONS))


def _safe_pow(a: float, b: float) -> float:
    try:
        return float(a ** b) if not isinstance(a ** b, complex) else math.nan
    except (OverflowError, ZeroDivisionError):
        return math.nan


def _compile_call(node, st: _State):
    _, name, args = node
    spec = _FUNCTIONS.get(name)
    if spec is None:
        raise st.error(f"uses the function {name}(), which the synthetic-data evaluator does not implement "
                       f"(it knows: {', '.join(n + '()' for n in SUPPORTED_FUNCTIONS)}).")
    low, high, kind, impl = spec
    if len(args) < low or (high is not None and len(args) > high):
        expected = f"{low}" if low == high else f"{low} to {high if high is not None else 'any number of'}"
        raise st.error(f"calls {name}() with {len(args)} argument(s); it takes {expected}.")
    if name in ("random", "uuid", "now"):
        st.volatile = True
    if kind == "x":
        return _SPECIAL[name](args, st)
    compiled = [_compile(a, st) for a in args]
    if kind == "v":
        if len(compiled) == 0:
            return lambda env: impl()
        if len(compiled) == 1:
            a0 = compiled[0]
            return lambda env: impl(a0(env))
        if len(compiled) == 2:
            a0, a1 = compiled
            return lambda env: impl(a0(env), a1(env))
        return lambda env: impl(*[c(env) for c in compiled])
    if kind == "e":
        return lambda env: impl(env, *[c(env) for c in compiled])
    convert = {"n": to_number, "s": to_string, "b": to_boolean}.get(kind)
    if kind == "c":  # concat: node-sets contribute every value (JavaRosa)
        def concat(env):
            parts = []
            for c in compiled:
                value = c(env)
                if isinstance(value, list):
                    parts.extend(to_string(v) for v in value)
                else:
                    parts.append(to_string(value))
            return "".join(parts)
        return concat
    if len(compiled) == 1:
        a0 = compiled[0]
        return lambda env: impl(convert(a0(env)))
    if len(compiled) == 2:
        a0, a1 = compiled
        return lambda env: impl(convert(a0(env)), convert(a1(env)))
    return lambda env: impl(*[convert(c(env)) for c in compiled])


def _special_if(args, st):
    cond, yes, no = (_compile(a, st) for a in args)
    return lambda env: yes(env) if to_boolean(cond(env)) else no(env)


def _special_substr(args, st):
    parts = [_compile(a, st) for a in args]
    if len(parts) == 2:
        return lambda env: _substr(to_string(parts[0](env)), to_number(parts[1](env)))
    return lambda env: _substr(to_string(parts[0](env)), to_number(parts[1](env)), to_number(parts[2](env)))


def _special_selected_at(args, st):
    a, b = (_compile(x, st) for x in args)
    return lambda env: _selected_at(to_string(a(env)), to_number(b(env)))


def _special_position(args, st):
    st.volatile = True
    if not args:
        return st.resolver.position(0)
    arg = args[0]
    if arg[0] == "path" and arg[1] is None and all(n == ".." and not p for n, p in arg[2]):
        return st.resolver.position(len(arg[2]))
    raise st.error("calls position() with something other than `..` (write position(..)).")


def _special_current(args, st):
    st.uses_dot = True
    return lambda env: env.cur


def _special_instance(args, st):
    raise st.error("uses instance() without a path below it (write instance('name')/root/item[...]/column).")


def _special_pulldata(args, st):
    parts = [_compile(a, st) for a in args]
    where, text = st.where, st.text

    def pulldata(env):
        table, column, key_column, key = (to_string(p(env)) for p in parts)
        try:
            rows = env.tables.matching(table, key_column, key)
        except KeyError:
            raise ExpressionError(f"{where}: the expression {text!r} calls pulldata('{table}', ...), but no "
                                  f"table '{table}' was given (known: {', '.join(env.tables.names()) or 'none'}).",
                                  hint="Pass the form's CSV media to the generator (media={'name.csv': rows}).") from None
        if not rows:
            return ""
        if column not in rows[0]:
            raise ExpressionError(f"{where}: the expression {text!r} asks table '{table}' for the column "
                                  f"'{column}', which it does not have (columns: {', '.join(rows[0])}).")
        return rows[0][column]

    return pulldata


def _special_indexed_repeat(args, st):
    if args[0][0] != "ref":
        raise st.error("calls indexed-repeat() whose first argument is not a ${field}.")
    try:
        values = st.resolver.nodeset(args[0][1])
    except KeyError:
        raise st.error(f"refers to ${{{args[0][1]}}}, which is not a field of this form.") from None
    index = _compile(args[2], st)

    def indexed(env):
        items = values(env)
        i = to_number(index(env))
        if i != i or not (1 <= i <= len(items)):
            return ""
        return items[int(i) - 1]

    return indexed


def _special_choice_name(args, st):
    value = _compile(args[0], st)
    if args[1][0] != "str":
        raise st.error("calls jr:choice-name() whose second argument is not a quoted '${field}'.")
    target = args[1][1].strip()
    match = re.fullmatch(r"\$\{([^}]+)\}", target)
    name = match.group(1).strip() if match else target.rsplit("/", 1)[-1]
    try:
        label_of = st.resolver.choice_label(name)
    except KeyError:
        raise st.error(f"names ${{{name}}} in jr:choice-name(), which is not a select field of this form.") from None
    return lambda env: label_of(to_string(value(env)))


_SPECIAL = {
    "if": _special_if,
    "substr": _special_substr,
    "selected-at": _special_selected_at,
    "position": _special_position,
    "current": _special_current,
    "instance": _special_instance,
    "pulldata": _special_pulldata,
    "indexed-repeat": _special_indexed_repeat,
    "jr:choice-name": _special_choice_name,
    "choice-name": _special_choice_name,
}


__all__ = ["Compiled", "Env", "ExpressionError", "NodeSet", "Resolver", "RowSet", "SUPPORTED_FUNCTIONS", "Tables",
           "ValuesResolver", "compile_expression", "days_to_date", "evaluate", "number_text", "parse", "to_boolean",
           "to_number", "to_string", "tokenize"]
