"""Strings that match a regular expression, for text answers whose constraint is `regex(., '...')`.

Covers what form constraints use: literals, classes (`[0-9]`, `\\d`, `\\w`, `[^...]`), groups,
alternation, quantifiers (`?`, `*`, `+`, `{m,n}`) and anchors. Unbounded repeats are capped at a few
items. The pattern is parsed with Python's own regex parser; the generator is ours.
"""

from __future__ import annotations

import string
from random import Random

try:  # Python 3.11+
    import re._constants as _c
    import re._parser as _p
except ImportError:  # pragma: no cover
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

_PRINTABLE = string.ascii_letters + string.digits + " "
_CATEGORIES = {
    _c.CATEGORY_DIGIT: string.digits,
    _c.CATEGORY_NOT_DIGIT: string.ascii_letters,
    _c.CATEGORY_SPACE: " ",
    _c.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
    _c.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    _c.CATEGORY_NOT_WORD: " -.",
}
_UNBOUNDED_CAP = 6
_CACHE: dict[str, object] = {}
_POOL = object()  # a character class, its characters listed once (see _prepare)


def sample(pattern: str, rng: Random) -> str:
    """One string matching `pattern` (re.search semantics; anchors are honoured by construction)."""
    parsed = _CACHE.get(pattern)
    if parsed is None:
        parsed = _prepare(_p.parse(pattern))
        _CACHE[pattern] = parsed
    return "".join(_emit(parsed, rng))


def _prepare(items) -> list:
    """The parsed pattern with every character class (`[0-9]`, `[^x]`) replaced by the list of
    characters it draws from, so a class costs one choice per character generated."""
    out = []
    for op, arg in items:
        if op is _c.IN:
            out.append((_POOL, _class_pool(arg)))
        elif op is _c.NOT_LITERAL:
            out.append((_POOL, [ch for ch in _PRINTABLE if ord(ch) != arg]))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            out.append((op, (low, high, _prepare(sub))))
        elif op is _c.SUBPATTERN:
            out.append((op, (*arg[:-1], _prepare(arg[-1]))))
        elif op is _c.BRANCH:
            out.append((op, (arg[0], [_prepare(branch) for branch in arg[1]])))
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            out.append((op, _prepare(arg)))
        else:
            out.append((op, arg))
    return out


def _emit(items, rng: Random) -> list[str]:
    out: list[str] = []
    for op, arg in items:
        if op is _c.LITERAL:
            out.append(chr(arg))
        elif op is _POOL:
            out.append(rng.choice(arg) if arg else "x")
        elif op is _c.ANY:
            out.append(rng.choice(string.ascii_letters))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            high = low + _UNBOUNDED_CAP if high is _c.MAXREPEAT else high
            count = rng.randint(low, max(low, high))
            if len(sub) == 1 and sub[0][0] is _POOL and sub[0][1]:  # `[0-9]{8,11}`: no recursion per character
                pool = sub[0][1]
                out.extend([rng.choice(pool) for _ in range(count)])
                continue
            for _ in range(count):
                out.extend(_emit(sub, rng))
        elif op is _c.SUBPATTERN:
            out.extend(_emit(arg[-1], rng))
        elif op is _c.BRANCH:
            out.extend(_emit(rng.choice(arg[1]), rng))
        elif op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            out.extend(_emit(arg, rng))
        elif op is _c.GROUPREF:
            continue
        else:  # pragma: no cover - exotic constructs
            continue
    return out


def _class_pool(items) -> list[str]:
    negate = False
    pool: list[str] = []
    for op, arg in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            pool.append(chr(arg))
        elif op is _c.RANGE:
            low, high = arg
            pool.extend(chr(i) for i in range(low, min(high, low + 200) + 1))
        elif op is _c.CATEGORY:
            pool.extend(_CATEGORIES.get(arg, string.ascii_letters))
    if negate:
        banned = set(pool)
        pool = [ch for ch in _PRINTABLE if ch not in banned]
    return pool


__all__ = ["sample"]
