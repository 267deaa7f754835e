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


def sample(pattern: str, rng: Random) -> str:
    """One string matching `pattern` (re.search semantics; anchors are honoured by construction)."""
    parsed = _CACHE.get(pattern)
    if parsed is None:
        parsed = _p.parse(pattern)
        _CACHE[pattern] = parsed
    return "".join(_emit(parsed, rng))


def _emit(items, rng: Random) -> list[str]:
    out: list[str] = []
    for op, arg in items:
        if op is _c.LITERAL:
            out.append(chr(arg))
        elif op is _c.NOT_LITERAL:
            out.append(rng.choice([ch for ch in _PRINTABLE if ord(ch) != arg]))
        elif op is _c.ANY:
            out.append(rng.choice(string.ascii_letters))
        elif op is _c.IN:
            out.append(_from_class(arg, rng))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            high = low + _UNBOUNDED_CAP if high is _c.MAXREPEAT else high
            for _ in range(rng.randint(low, max(low, high))):
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


def _from_class(items, rng: Random) -> str:
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
    return rng.choice(pool) if pool else "x"


__all__ = ["sample"]
