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
    if text.isdecimal() or (text[:1] == "-" and text[1:].isdecimal()):
        return float(text)  # what _NUMBER would find (its \d is any Unicode decimal digit, as isdecimal)
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
    if value.__class__ is float and value.is_integer() and -1e15 < value < 1e15:
        return str(int(value))  # the common case first
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
        index = self._index.get((name, column))  # keyed by the name as written: no _table_key per call
        if index is None:
            index = {}
            for row in self.rows(name):
                index.setdefault(row.get(column, ""), []).append(row)
            self._index[(name, column)] = index
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

    def scalar(self, name: str) -> tuple[int, str] | None:
        """(scope depth, key) when ${name} is always one string in env.scopes[depth] (read inline)."""
        return None

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
#
# An expression is written out as the body of one Python function (`def _xpath(env): return ...`)
# and compiled with compile(): `. >= 0 and . <= ${n}` then costs one call instead of one per tree
# node, which is what made the generator slow (a form is evaluated a few hundred times per
# submission). Every piece of code carries the kind of value it yields (str, num, bool, or any), so
# the XPath conversions are written only where a value may need them. Constructs that are rare in
# forms (instance() lookups, node-set filters, unions, pulldata(), position(), ...) stay closures,
# which the generated code calls. The semantics are those of the conversions above
# (to_number/to_string/to_boolean/_compare_eq), written out inline.

_STR, _NUM, _BOOL, _ANY = "str", "num", "bool", "any"


@dataclass
class Compiled:
    """A compiled expression: call `fn(env)`; `refs` lists the fields (paths) it reads.

    `test(env)` is the same expression as a boolean and `render(env)` as a string (relevance and
    constraints want the first, calculations the second), without a second call to convert."""

    text: str
    fn: Callable[[Env], Any]
    tree: Any
    refs: frozenset[str] = frozenset()
    uses_dot: bool = False
    uses_row: bool = False
    volatile: bool = False  # random(), uuid(), now(), position(): not cacheable on refs alone
    where: str = "expression"
    test: Callable[[Env], bool] | None = None
    render: Callable[[Env], str] | None = None
    source: str = ""  # the generated Python expression (for debugging)

    def __call__(self, env: Env) -> Any:
        return self.fn(env)

    def boolean(self, env: Env) -> bool:
        return self.test(env) if self.test is not None else to_boolean(self.fn(env))

    def string(self, env: Env) -> str:
        return self.render(env) if self.render is not None else to_string(self.fn(env))


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
    writer = CodeWriter(state)
    code, kind = writer.emit(tree)
    fn = writer.function(code)
    test = fn if kind == _BOOL else writer.function(_as_bool(code, kind))
    render = fn if kind == _STR else writer.function(_as_str(code, kind))
    return Compiled(text=text, fn=fn, tree=tree, refs=frozenset(resolver.refs()), uses_dot=state.uses_dot,
                    uses_row=state.uses_row, volatile=state.volatile, where=where, test=test, render=render,
                    source=code)


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
    """The value of a (sub-)tree as a function of the environment."""
    writer = CodeWriter(st)
    return writer.function(writer.emit(node)[0])


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _as_num(code: str, kind: str) -> str:
    if kind == _NUM:
        return code
    if kind == _BOOL:
        return f"(1.0 if {code} else 0.0)"
    return f"_num({code})"


def _as_str(code: str, kind: str) -> str:
    if kind == _STR:
        return code
    if kind == _NUM:
        return f"_ntext({code})"
    if kind == _BOOL:
        return f"('true' if {code} else 'false')"
    return f"_str({code})"


def _as_bool(code: str, kind: str) -> str:
    if kind == _BOOL:
        return code
    if kind == _STR:
        return f"({code} != '')"
    return f"_bool({code})"


def _not_equal(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return _ne_sets(a, b)
    return not _compare_eq(a, b)


def _concat_part(value: Any) -> str:
    """concat(): a node-set contributes every value (JavaRosa)."""
    if isinstance(value, list):
        return "".join(to_string(v) for v in value)
    return to_string(value)


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


_RUNTIME = {"_num": to_number, "_str": to_string, "_bool": to_boolean, "_ntext": number_text, "_div": _div,
            "_mod": _mod, "_concat_part": _concat_part, "_cached_number": _NUM_CACHE.get}
_CODE_CACHE: dict[tuple[str, str], Any] = {}  # (source, filename) -> code object (texts recur across plans)

# what a function call yields, where it is always the same kind
_RESULT_KINDS = {
    "true": _BOOL, "false": _BOOL, "not": _BOOL, "boolean": _BOOL, "boolean-from-string": _BOOL, "number": _NUM,
    "string": _STR, "int": _NUM, "round": _NUM, "floor": _NUM, "ceiling": _NUM, "abs": _NUM, "pow": _NUM,
    "sqrt": _NUM, "string-length": _NUM, "concat": _STR, "contains": _BOOL, "starts-with": _BOOL,
    "ends-with": _BOOL, "substring-before": _STR, "substring-after": _STR, "normalize-space": _STR,
    "translate": _STR, "regex": _BOOL, "selected": _BOOL, "count-selected": _NUM, "coalesce": _STR, "count": _NUM,
    "count-non-empty": _NUM, "sum": _NUM, "min": _NUM, "max": _NUM, "join": _STR, "today": _STR, "now": _STR,
    "date": _STR, "date-time": _STR, "decimal-date-time": _NUM, "decimal-date": _NUM, "format-date": _STR,
    "format-date-time": _STR, "uuid": _STR, "random": _NUM,
}


class CodeWriter:
    """Writes expression trees as Python source over `env`; objects the code needs are bound as
    globals of the function(s) it defines. One writer serves one expression, or a larger generated
    function with many expressions inline (engine.py writes the fill of a form this way)."""

    def __init__(self, st: _State | None = None, *, local_depth: int | None = None):
        self.st = st
        self.names: dict[str, Any] = dict(_RUNTIME)
        self.bound = 0
        self.temps = 0
        self.local_depth = local_depth  # code runs where `scope` is env.scopes[local_depth]

    def expression(self, compiled: Compiled, resolver: Resolver) -> tuple[str, str]:
        """(code, kind) of an expression already compiled with this resolver (so already checked)."""
        return self.tree(compiled.tree, resolver, where=compiled.where, text=compiled.text)

    def tree(self, tree, resolver: Resolver, *, where: str, text: str) -> tuple[str, str]:
        """(code, kind) of a parsed expression (or a part of one)."""
        self.st = _State(resolver, where, text, False)
        return self.emit(tree)

    @staticmethod
    def boolean(code: str, kind: str) -> str:
        return _as_bool(code, kind)

    def num(self, code: str, kind: str) -> str:
        if kind != _STR:
            return _as_num(code, kind)
        # to_number's cache read inline (answers repeat); a miss, or a cached 0.0, goes through
        # to_number, which gives the same value
        t = code if code.isidentifier() else None
        if t is None:
            t = self.temp()
            return f"(_cached_number({t} := {code}) or _num({t}))"
        return f"(_cached_number({t}) or _num({t}))"

    @staticmethod
    def string(code: str, kind: str) -> str:
        return _as_str(code, kind)

    def function(self, code: str) -> Callable[[Env], Any]:
        return self.define(f"def _xpath(env):\n    return {code}\n", "_xpath")

    def define(self, source: str, name: str, filename: str = "<xpath>") -> Callable:
        """Compile `source` (which defines the function `name`) with this writer's bound names."""
        compiled = _CODE_CACHE.get((source, filename))
        if compiled is None:
            compiled = compile(source, filename, "exec")
            if len(_CODE_CACHE) < 50_000:
                _CODE_CACHE[(source, filename)] = compiled
        namespace = dict(self.names)
        exec(compiled, namespace)  # noqa: S102 - our own generated source, from parsed expressions
        return namespace[name]

    def bind(self, value: Any) -> str:
        name = f"_k{self.bound}"
        self.bound += 1
        self.names[name] = value
        return name

    def temp(self) -> str:
        self.temps += 1
        return f"_t{self.temps}"

    def closure(self, fn: Callable[[Env], Any]) -> tuple[str, str]:
        return f"{self.bind(fn)}(env)", _ANY

    # ------------------------------------------------------------------ nodes

    def emit(self, node) -> tuple[str, str]:
        """(Python expression over `env`, kind of its value)."""
        kind = node[0]
        st = self.st
        if kind == "num":
            return repr(node[1]), _NUM
        if kind == "str":
            return repr(node[1]), _STR
        if kind == "ref":
            return self.ref(node[1])
        if kind == "neg":
            code, inner = self.emit(node[1])
            return f"(-{self.num(code, inner)})", _NUM
        if kind == "bin":
            return self.binary(node)
        if kind == "call":
            return self.call(node)
        if kind == "path":
            _, base, steps = node
            if base is None and len(steps) == 1 and not steps[0][1]:
                name = steps[0][0]
                if name == ".":
                    st.uses_dot = True
                    return "env.cur", _ANY
                if st.row_mode and name != "..":
                    st.uses_row = True
                    return f"(env.row.get({name!r}, '') if env.row is not None else '')", _ANY
            return self.closure(_compile_path(node, st))
        if kind == "union":
            left, right = _compile(node[1], st), _compile(node[2], st)
            return self.closure(lambda env: NodeSet([*_as_list(left(env)), *_as_list(right(env))]))
        if kind == "filter":
            return self.closure(_compile_filter(node, st))
        raise st.error(f"uses a construct ({kind}) the evaluator does not handle.")

    def ref(self, name: str) -> tuple[str, str]:
        """${name}: read straight from its scope when it is a plain value there (a string: the
        engine stores only strings), else through the resolver's closure (a node-set, ...)."""
        resolver = self.st.resolver
        try:
            place = resolver.scalar(name)
            if place is None:
                return self.closure(resolver.ref(name))
        except KeyError:
            raise self.st.error(f"refers to ${{{name}}}, which is not a field of this form.") from None
        depth, path = place
        if depth == self.local_depth:  # a generated fill function has that scope at hand
            return f"scope.get({path!r}, '')", _STR
        if depth == 0:
            return f"env.scopes[0].get({path!r}, '')", _STR
        return f"(env.scopes[{depth}].get({path!r}, '') if len(env.scopes) > {depth} else '')", _STR

    def binary(self, node) -> tuple[str, str]:
        op = node[1]
        left, lk = self.emit(node[2])
        right, rk = self.emit(node[3])
        if op in ("or", "and"):
            return f"({_as_bool(left, lk)} {op} {_as_bool(right, rk)})", _BOOL
        if op in ("=", "!=", "<", "<=", ">", ">="):
            if lk == _ANY and rk != _ANY:
                # `. >= 1`: `.` is a string whenever an answer is checked; test that at run time and
                # take the string path, else the general rules (node-sets, numbers, ...)
                t = self.temp()
                fast = self.comparison(op, t, _STR, right, rk, node[3])
                slow = self.comparison(op, t, _ANY, right, rk, node[3])
                return f"({fast} if ({t} := {left}).__class__ is str else {slow})", _BOOL
            return self.comparison(op, left, lk, right, rk, node[3]), _BOOL
        if op in ("+", "-", "*"):
            return f"({self.num(left, lk)} {op} {self.num(right, rk)})", _NUM
        if op in ("div", "mod"):
            return f"_{op}({self.num(left, lk)}, {self.num(right, rk)})", _NUM
        raise self.st.error(f"uses the operator {op!r}, which the evaluator does not handle.")

    def comparison(self, op: str, left: str, lk: str, right: str, rk: str, right_node) -> str:
        if op in ("=", "!="):
            return self.equality(op, left, lk, right, rk, right_node)
        if _ANY in (lk, rk):  # a node-set compares if any of its values does
            return f"{self.bind(_relational(op))}({left}, {right})"
        return f"({self.num(left, lk)} {op} {self.num(right, rk)})"

    def equality(self, op: str, left: str, lk: str, right: str, rk: str, right_node) -> str:
        """= and != as _compare_eq decides: booleans, else numbers, else strings; node-sets at run time."""
        if _ANY in (lk, rk):
            return f"{self.bind(_compare_eq if op == '=' else _not_equal)}({left}, {right})"
        py = "==" if op == "=" else "!="
        if _BOOL in (lk, rk):
            return f"({_as_bool(left, lk)} {py} {_as_bool(right, rk)})"
        if _NUM in (lk, rk):
            if lk == _STR and right_node[0] == "num":
                # `${x} = 1`, the commonest relevance: equal text is equal number, no parsing needed
                t, text = self.temp(), number_text(right_node[1])
                if op == "=":
                    return f"(({t} := {left}) == {text!r} or {self.num(t, _STR)} == {right})"
                return f"(({t} := {left}) != {text!r} and {self.num(t, _STR)} != {right})"
            return f"({self.num(left, lk)} {py} {self.num(right, rk)})"
        return f"({left} {py} {right})"

    def call(self, node) -> tuple[str, str]:
        _, name, args = node
        st = self.st
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
        if name == "if":
            (cond, ck), (yes, yk), (no, nk) = (self.emit(a) for a in args)
            return f"({yes} if {_as_bool(cond, ck)} else {no})", yk if yk == nk else _ANY
        if name == "current":
            st.uses_dot = True
            return "env.cur", _ANY
        if kind == "x":
            return self.closure(_SPECIAL[name](args, st))
        parts = [self.emit(a) for a in args]
        result = _RESULT_KINDS.get(name, _ANY)
        inline = self.inline(name, args, parts)
        if inline is not None:
            return inline, result
        if kind == "v":
            return f"{self.bind(impl)}({', '.join(code for code, _ in parts)})", result
        if kind == "e":
            return f"{self.bind(impl)}({', '.join(['env', *(code for code, _ in parts)])})", result
        if kind == "c":
            return f"''.join(({''.join(self.concat_part(code, k) + ', ' for code, k in parts)}))", _STR
        convert = {"n": self.num, "s": _as_str, "b": _as_bool}[kind]
        return f"{self.bind(impl)}({', '.join(convert(code, k) for code, k in parts)})", result

    @staticmethod
    def concat_part(code: str, kind: str) -> str:
        return f"_concat_part({code})" if kind == _ANY else _as_str(code, kind)

    def inline(self, name: str, args, parts) -> str | None:
        """The functions forms use most, written out (same results as their _FUNCTIONS entries)."""
        if name in ("true", "false"):
            return "True" if name == "true" else "False"
        if name in ("today", "now"):
            return f"env.{name}"
        if name == "random":
            return "env.rng.random()"
        if name == "not":
            return f"(not {_as_bool(*parts[0])})"
        if name == "boolean":
            return _as_bool(*parts[0])
        if name == "number":
            return self.num(*parts[0])
        if name == "string":
            return _as_str(*parts[0])
        if name == "count-selected":
            return f"float(len({_as_str(*parts[0])}.split()))"
        if name == "string-length":
            return f"float(len({_as_str(*parts[0])}))"
        if name == "selected" and args[1][0] == "str":
            return f"({args[1][1].strip()!r} in {_as_str(*parts[0])}.split())"
        if name == "regex" and args[1][0] == "str":
            try:
                pattern = re.compile(args[1][1])
            except re.error:
                return None  # the error surfaces when the expression runs, as before
            return f"({self.bind(pattern.search)}({_as_str(*parts[0])}) is not None)"
        return None


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


_FORMAT_CACHE: dict[tuple, str] = {}


def _format_date_cached(value: Any, pattern: str) -> str:
    """_format_date, remembered: forms format the same few dates (`format-date(today(), '%Y')`)."""
    if value.__class__ is not str and value.__class__ is not float:
        return _format_date(value, pattern)
    key = (value, pattern)
    found = _FORMAT_CACHE.get(key)
    if found is None:
        found = _format_date(value, pattern)
        if len(_FORMAT_CACHE) < 10_000:
            _FORMAT_CACHE[key] = found
    return found


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
    "format-date": (2, 2, "v", lambda a, b: _format_date_cached(a, to_string(b))),
    "format-date-time": (2, 2, "v", lambda a, b: _format_date_cached(a, to_string(b))),
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


def _special_instance(args, st):
    raise st.error("uses instance() without a path below it (write instance('name')/root/item[...]/column).")


def _special_pulldata(args, st):
    parts = [a[1] if a[0] == "str" else _compile(a, st) for a in args]
    where, text = st.where, st.text

    def pulldata_of(env, table, column, key_column, key):
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

    if all(part.__class__ is str for part in parts[:3]):
        # pulldata('table', 'column', 'key_column', ${key}): the names are quoted text in every form
        table, column, key_column, key = parts
        if key.__class__ is str:
            return lambda env: pulldata_of(env, table, column, key_column, key)
        return lambda env: pulldata_of(env, table, column, key_column, to_string(key(env)))
    return lambda env: pulldata_of(env, *[p if p.__class__ is str else to_string(p(env)) for p in parts])


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
    "substr": _special_substr,
    "selected-at": _special_selected_at,
    "position": _special_position,
    "instance": _special_instance,
    "pulldata": _special_pulldata,
    "indexed-repeat": _special_indexed_repeat,
    "jr:choice-name": _special_choice_name,
    "choice-name": _special_choice_name,
}


__all__ = ["CodeWriter", "Compiled", "Env", "ExpressionError", "NodeSet", "Resolver", "RowSet", "SUPPORTED_FUNCTIONS",
           "Tables", "ValuesResolver", "compile_expression", "days_to_date", "evaluate", "number_text", "parse",
           "to_boolean", "to_number", "to_string", "tokenize"]
