"""The sandbox's data endpoint engine (`GET /api/v2/assets/{uid}/data/`), pure: documents in, a page out.

    q = DataQuery.from_params({"limit": ["1000"], "query": ['{"_id": {"$gt": 5}}'], "sort": ['{"_id": 1}']})
    results, count, limit = run_query(docs, q, mode="modern")      # docs sorted by _id ascending
    next_url, previous_url = page_links("http://127.0.0.1:8000/api/v2/assets/aX/data/", params,
                                        q.start, limit, count)

What it reproduces (KOBO_API.md §3.1–3.2, "Minimal faithful test server: Data endpoint"):

- Paging: `start` (0-based; `offset` is an alias, `start` wins), `limit`. Modern mode: default 100,
  maximum 1000; legacy mode (servers before 2.026.03): 30000 both. A larger limit is clamped silently
  and the clamped value is what the links carry. `limit` <= 0 or not an integer -> 400
  {"limit": "A positive integer is required"}; a negative or non-integer `start` -> 400
  {"start": "A positive integer is required."} (the final period differs, as in kpi); `count=` -> 400.
  `page`/`page_size` are accepted and ignored (kpi's data query ignores them too; unlike kpi, the
  links here are always computed from start/limit). Beyond the end: an empty page.
- `query`: a Mongo filter with kpi's whitelist ($or $and $in $nin $not $exists $gt $gte $lt $lte $regex
  $options $all $elemMatch $ne $expr $ifNull). Any other `$op` key, and any key containing `.` (except
  `_validation_status.…`), is renamed as kpi does (`$` -> `JA==`, `.` -> `Lg==`) and then evaluated as
  an ordinary field name that no document has — so `{"age": {"$eq": "3"}}` or `{"$where": "…"}`
  match nothing, with no error, exactly as on a real server. Comparisons follow Mongo's type
  bracketing: strings compare with strings, numbers with numbers, so answers (always strings) need
  string operands, `_id` (an integer) needs a number (`{"_id": {"$gt": "5"}}` matches nothing), and
  `_submission_time` is compared as a string. A top-level scalar `{"_id": "5"}` is coerced to 5.
  Arrays match when any element matches (repeats, `_attachments`); a missing field equals null.
  Invalid JSON -> 400 {"query": "Value must be valid JSON."}; a filter Mongo would refuse (a bad
  `$regex`, `$and: []`, `$options` without `$regex`, …) -> 400 ["Unsupported query"];
  a non-array `$all` -> 400 ["$all needs an array"].
- `sort`: a JSON object, several keys, 1 or -1 each; default `{"_id": 1}`. Mongo's cross-type order
  (missing/null < numbers < strings < objects < arrays < booleans); ties keep `_id` order.
- `fields`: a JSON list of top-level keys; `_id`, `_uuid`, `meta/rootUuid` and `_validation_status`
  are always added (`{}` injected when the document has no validation status).
- `format=xml` refuses `sort` and `fields` (400, kpi's message).

Speed: `run_query` expects `docs` sorted by `_id` ascending (the sandbox state keeps them so; see
`insert_sorted`). The keyset query a puller sends — `{"_id": {"$gt": n}}` (also $gte/$lt/$lte on
`_id`, or no query) with the default or `{"_id": ±1}` sort — is answered by bisection in O(log N +
limit); every other query filters all documents with a compiled predicate and sorts the matches.
The page returned holds the stored dicts themselves unless `fields` projects them: do not mutate.
"""

from __future__ import annotations

import base64
import bisect
import json
import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

PAGE_LIMITS = {"modern": (100, 1000), "legacy": (30000, 30000)}  # mode -> (default, maximum)
ALWAYS_FIELDS = ("_id", "_uuid", "meta/rootUuid", "_validation_status")
WHITELIST = frozenset({"$or", "$and", "$in", "$nin", "$not", "$exists", "$gt", "$gte", "$lt", "$lte", "$regex",
                       "$options", "$all", "$elemMatch", "$ne", "$expr", "$ifNull"})
LIMIT_ERROR = {"limit": "A positive integer is required"}
START_ERROR = {"start": "A positive integer is required."}
COUNT_ERROR = {"count": "This param is not implemented. Use `count` property of the response instead."}
UNSUPPORTED = ["Unsupported query"]


class BadRequest(Exception):
    """A 400 answer; `body` is the DRF-style JSON body (an object, or a list for Mongo refusals)."""

    status = 400

    def __init__(self, body: dict | list):
        super().__init__(json.dumps(body, ensure_ascii=False))
        self.body = body


class _Refused(Exception):
    """Mongo would refuse the filter; becomes BadRequest(["Unsupported query"]) or a specific message."""

    def __init__(self, body: list | None = None):
        super().__init__()
        self.body = body or UNSUPPORTED


# --------------------------------------------------------------------------------------------- parameters

@dataclass
class DataQuery:
    start: int = 0
    limit: int | None = None  # None: the mode's default
    query: dict | None = None
    sort: list[tuple[str, int]] | None = None  # None: {"_id": 1}
    fields: list[str] | None = None
    format: str | None = None
    page: str | None = None  # accepted, not used by the data query (as on kpi)
    page_size: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, list[str]]) -> DataQuery:
        """Parse a request's query parameters (values as lists, the last one counts, as in Django)."""
        def last(name: str) -> str | None:
            values = params.get(name)
            return values[-1] if values else None

        q = cls(format=last("format"), page=last("page"), page_size=last("page_size"))
        if last("count") is not None:
            raise BadRequest(COUNT_ERROR)
        raw_start = last("start") if last("start") is not None else last("offset")
        if raw_start is not None:
            q.start = _non_negative_int(raw_start, START_ERROR)
        raw_limit = last("limit")
        if raw_limit is not None:
            q.limit = _non_negative_int(raw_limit, LIMIT_ERROR)
            if q.limit == 0:
                raise BadRequest(LIMIT_ERROR)
        q.query = _json_param(last("query"), "query")
        if q.query is not None and not isinstance(q.query, dict):
            raise BadRequest(UNSUPPORTED)
        sort = _json_param(last("sort"), "sort")
        fields = _json_param(last("fields"), "fields")
        if (q.format or "").lower() == "xml":
            for name, value in (("sort", sort), ("fields", fields)):
                if value is not None:
                    raise BadRequest({name: "This param is not supported in `XML` format"})
        if sort is not None:
            q.sort = _parse_sort(sort)
        if fields is not None:
            if isinstance(fields, str):
                fields = [fields]
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise BadRequest({"fields": "Value must be valid JSON."})
            q.fields = fields
        return q


def _non_negative_int(text: str, error: dict) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise BadRequest(error) from None
    if value < 0:
        raise BadRequest(error)
    return value


def _json_param(text: str | None, name: str) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise BadRequest({name: "Value must be valid JSON."}) from None


def _parse_sort(value: Any) -> list[tuple[str, int]] | None:
    if not isinstance(value, dict):
        raise BadRequest(UNSUPPORTED)
    keys = []
    for key, direction in value.items():
        if isinstance(direction, bool) or not isinstance(direction, (int, float)) or direction not in (1, -1):
            raise BadRequest(UNSUPPORTED)
        keys.append((key, int(direction)))
    return keys or None


# ------------------------------------------------------------------------------------------------ running

def page_limit(q: DataQuery, mode: str = "modern") -> int:
    """The limit a request gets: its own, clamped to the mode's maximum, else the mode's default."""
    try:
        default, maximum = PAGE_LIMITS[mode]
    except KeyError:
        raise ValueError(f"unknown page mode {mode!r}; use one of {', '.join(PAGE_LIMITS)}") from None
    return default if q.limit is None else min(q.limit, maximum)


def run_query(docs: list[dict], q: DataQuery, *, mode: str = "modern") -> tuple[list[dict], int, int]:
    """(page of results, count of all matches, limit used) for documents sorted by `_id` ascending."""
    limit = page_limit(q, mode)
    keyset = _keyset_bounds(q)
    wanted = _id_list(q)
    if wanted is not None:  # {"_id": {"$in": [ints]}} (the puller's re-fetch of edits): bisect, no scan
        ids, direction = wanted
        matches = []
        for value in sorted(set(ids)):
            index = _bisect(docs, value, right=False)
            if index < len(docs) and docs[index]["_id"] == value:
                matches.append(docs[index])
        if direction < 0:
            matches.reverse()
        count = len(matches)
        page = matches[q.start:q.start + limit]
    elif keyset is not None:
        lo, hi, direction = keyset
        lo_index = 0 if lo is None else _bisect(docs, lo[0], right=lo[1])
        hi_index = len(docs) if hi is None else _bisect(docs, hi[0], right=hi[1])
        count = max(0, hi_index - lo_index)
        if direction > 0:
            first = lo_index + q.start
            page = docs[first:min(first + limit, hi_index)] if q.start < count else []
        else:
            stop = hi_index - q.start
            page = docs[max(stop - limit, lo_index):stop][::-1] if q.start < count else []
    else:
        try:
            predicate = compile_query(q.query or {})
        except _Refused as exc:
            raise BadRequest(exc.body) from None
        try:
            matches = [doc for doc in docs if predicate(doc)]
        except _Refused as exc:  # raised while evaluating ($expr type errors)
            raise BadRequest(exc.body) from None
        count = len(matches)
        keys = q.sort or [("_id", 1)]
        _sort_by(matches, "_id", 1)  # ties keep _id order, whatever the order of docs
        if keys != [("_id", 1)]:
            for key, direction in reversed(keys):
                _sort_by(matches, key, direction)
        page = matches[q.start:q.start + limit]
    if q.fields is not None:
        page = [project(doc, q.fields) for doc in page]
    return page, count, limit


def _sort_by(docs: list[dict], key: str, direction: int) -> None:
    """A stable sort on one key in Mongo's order (integer `_id`s take a shortcut)."""
    if key == "_id":
        try:
            docs.sort(key=_doc_id, reverse=direction < 0)
            return
        except (KeyError, TypeError):
            pass
    docs.sort(key=lambda d: _order_key(_resolve(d, key)), reverse=direction < 0)


def _bisect(docs: list[dict], value: float, *, right: bool) -> int:
    fn = bisect.bisect_right if right else bisect.bisect_left
    return fn(docs, value, key=_doc_id)


def _doc_id(doc: dict) -> Any:
    return doc["_id"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _keyset_bounds(q: DataQuery):
    """((low, exclusive?) | None, (high, inclusive?) | None, direction) when bisection answers q, else None."""
    if q.sort not in (None, [("_id", 1)], [("_id", -1)]):
        return None
    direction = q.sort[0][1] if q.sort else 1
    query = q.query or {}
    if not query:
        return None, None, direction
    if list(query) != ["_id"] or not isinstance(query["_id"], dict) or not query["_id"]:
        return None
    lo = hi = None
    for op, operand in query["_id"].items():
        if op not in ("$gt", "$gte", "$lt", "$lte") or not _is_number(operand) or math.isnan(operand):
            return None
        if op in ("$gt", "$gte"):
            candidate = (operand, op == "$gt")
            if lo is None or (candidate[0], candidate[1]) > lo:
                lo = candidate
        else:
            candidate = (operand, op == "$lte")
            if hi is None or (candidate[0], candidate[1]) < hi:
                hi = candidate
    return lo, hi, direction


def _id_list(q: DataQuery) -> tuple[list[int], int] | None:
    """(ids, direction) when q is exactly `{"_id": {"$in": [integers]}}` sorted by `_id`, else None."""
    if q.sort not in (None, [("_id", 1)], [("_id", -1)]):
        return None
    query = q.query or {}
    if list(query) != ["_id"] or not isinstance(query["_id"], dict) or list(query["_id"]) != ["$in"]:
        return None
    ids = query["_id"]["$in"]
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return None
    return ids, (q.sort[0][1] if q.sort else 1)


def project(doc: dict, fields: Iterable[str]) -> dict:
    """The document reduced to `fields` plus the four keys kpi always returns: `_id`, the requested
    fields in the order asked, then `_uuid`, `meta/rootUuid`, `_validation_status` (as recorded)."""
    out = {}
    for key in ("_id", *(f.split(".", 1)[0] for f in fields), "_uuid", "meta/rootUuid", "_validation_status"):
        if key not in out and key in doc:
            out[key] = doc[key]
    if "meta/rootUuid" not in out and isinstance(doc.get("meta/instanceID"), str):
        out["meta/rootUuid"] = doc["meta/instanceID"]
    if not isinstance(out.get("_validation_status"), dict):
        out["_validation_status"] = {}
    return out


def insert_sorted(docs: list[dict], doc: dict) -> None:
    """Insert or replace (same `_id`) a document, keeping `docs` sorted by `_id`."""
    index = bisect.bisect_left(docs, doc["_id"], key=_doc_id)
    if index < len(docs) and docs[index]["_id"] == doc["_id"]:
        docs[index] = doc
    else:
        docs.insert(index, doc)


def find_index(docs: list[dict], submission_id: int) -> int | None:
    """Position of the document with this `_id` in `docs` (sorted by `_id`), or None."""
    index = bisect.bisect_left(docs, submission_id, key=_doc_id)
    return index if index < len(docs) and docs[index]["_id"] == submission_id else None


# ------------------------------------------------------------------------------------------------- links

def page_links(base_url: str, params: dict[str, list[str]], start: int, limit: int,
               count: int) -> tuple[str | None, str | None]:
    """`next` and `previous` as DRF's LimitOffsetPagination builds them (kpi's `start` parameter).

    Every parameter of the request is kept (the `offset` alias is replaced by `start`), `limit` is the
    limit actually used, keys are sorted alphabetically and values re-encoded (spaces as `+`).
    """
    next_url = previous_url = None
    if start + limit < count:
        next_url = _link(base_url, params, limit=limit, start=start + limit)
    if start > 0:
        previous_url = _link(base_url, params, limit=limit, start=None if start - limit <= 0 else start - limit)
    return next_url, previous_url


def _link(base_url: str, params: dict[str, list[str]], *, limit: int, start: int | None) -> str:
    scheme, netloc, path, _query, fragment = urlsplit(base_url)
    items = {key: list(values) for key, values in params.items() if key not in ("start", "offset", "limit")}
    items["limit"] = [str(limit)]
    if start is not None:
        items["start"] = [str(start)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(items.items()), doseq=True), fragment))


# ------------------------------------------------------------------------------------------- Mongo filter

_MISSING = object()
_DOLLAR = base64.b64encode(b"$").decode()  # "JA=="
_DOT = base64.b64encode(b".").decode()  # "Lg=="

Predicate = Callable[[dict], bool]


def mangle(key: str) -> str:
    """kpi's treatment of a key outside the whitelist: `$` and `.` base64-encoded, so no field matches."""
    if key.startswith("$") and key not in WHITELIST:
        key = _DOLLAR + key[1:]
    if "." in key and not key.startswith("_validation_status."):
        key = key.replace(".", _DOT)
    return key


def compile_query(query: dict) -> Predicate:
    """A predicate for a Mongo filter document (keys mangled as kpi does). Raises _Refused."""
    if not isinstance(query, dict):
        raise _Refused()
    clauses: list[Predicate] = []
    for raw_key, value in query.items():
        key = mangle(raw_key)
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
                raise _Refused()
            subs = [compile_query(v) for v in value]
            clauses.append(_all_of(subs) if key == "$and" else _any_of(subs))
        elif key == "$expr":
            expression = _compile_expr(value)
            clauses.append(lambda doc, e=expression: _truthy(e(doc)))
        elif key.startswith("$"):
            raise _Refused()  # a whitelisted operator that is not a top-level one ($gt, $in, … at the top)
        else:
            if key == "_id" and isinstance(value, str):
                try:
                    value = int(value)  # kpi coerces a top-level scalar _id
                except ValueError:
                    pass
            clauses.append(_field_clause(key, value))
    return _all_of(clauses)


def _all_of(clauses: list[Predicate]) -> Predicate:
    if len(clauses) == 1:
        return clauses[0]
    return lambda doc: all(c(doc) for c in clauses)


def _any_of(clauses: list[Predicate]) -> Predicate:
    return lambda doc: any(c(doc) for c in clauses)


def _resolve(doc: Any, path: str) -> Any:
    """A field's value; `_validation_status.uid` style paths walk into objects. _MISSING when absent."""
    if not isinstance(doc, dict):
        return _MISSING
    if path in doc:
        return doc[path]
    if "." in path:
        head, rest = path.split(".", 1)
        if head in doc:
            inner = doc[head]
            if isinstance(inner, list):
                values = [_resolve(item, rest) for item in inner]
                values = [v for v in values if v is not _MISSING]
                return values if values else _MISSING
            return _resolve(inner, rest)
    return _MISSING


def _is_operator_doc(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and next(iter(value)).startswith("$")


def _field_clause(key: str, value: Any) -> Predicate:
    if isinstance(value, dict):
        value = {mangle(k): v for k, v in value.items()}  # {"$eq": 1} -> {"JA==eq": 1}: a literal object
    if _is_operator_doc(value):
        test = _compile_operators(value)
    else:
        test = _equality(value)
    return lambda doc: test(_resolve(doc, key))


def _compile_operators(ops: dict) -> Callable[[Any], bool]:
    """Tests on one field's value (or _MISSING) for an operator document like {"$gt": "3", "$lt": "9"}."""
    tests: list[Callable[[Any], bool]] = []
    if "$options" in ops and "$regex" not in ops:
        raise _Refused()
    for op, operand in ops.items():
        if not op.startswith("$"):
            raise _Refused()  # Mongo: unknown operator (a mangled key among operators)
        if op in ("$gt", "$gte", "$lt", "$lte"):
            tests.append(_comparison(op, operand))
        elif op == "$ne":
            eq = _equality(operand)
            tests.append(lambda v, eq=eq: not eq(v))
        elif op in ("$in", "$nin"):
            if not isinstance(operand, list):
                raise _Refused()
            eqs = [_equality(item) for item in operand]
            if op == "$in":
                tests.append(lambda v, eqs=eqs: any(eq(v) for eq in eqs))
            else:
                tests.append(lambda v, eqs=eqs: not any(eq(v) for eq in eqs))
        elif op == "$exists":
            wanted = _truthy(operand)
            tests.append(lambda v, wanted=wanted: (v is not _MISSING) == wanted)
        elif op == "$regex":
            tests.append(_regex(operand, ops.get("$options", "")))
        elif op == "$options":
            continue
        elif op == "$all":
            if not isinstance(operand, list):
                raise _Refused(["$all needs an array"])
            eqs = [_equality(item) for item in operand]
            tests.append(lambda v, eqs=eqs: bool(eqs) and all(eq(v) for eq in eqs))
        elif op == "$elemMatch":
            tests.append(_elem_match(operand))
        elif op == "$not":
            if not isinstance(operand, dict) or not operand or not _is_operator_doc(operand):
                raise _Refused()
            inner = _compile_operators({mangle(k): v for k, v in operand.items()})
            tests.append(lambda v, inner=inner: not inner(v))
        else:  # $and/$or/$expr/$ifNull inside a field, or an unknown $op
            raise _Refused()
    if len(tests) == 1:
        return tests[0]
    return lambda v: all(t(v) for t in tests)


def _bracket(value: Any) -> int:
    """Mongo's BSON type order, as used by sort and by $expr comparisons."""
    if value is None or value is _MISSING:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, (int, float)):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, dict):
        return 4
    if isinstance(value, list):
        return 5
    return 9


def _values(value: Any) -> Iterable[Any]:
    """What a query clause is tested against: the value itself and, for an array, each element."""
    if isinstance(value, list):
        yield from value
    yield value


def _same(a: Any, b: Any) -> bool:
    """Mongo equality of two values (numbers across int/float, booleans apart, objects and arrays deep)."""
    ta, tb = _bracket(a), _bracket(b)
    if ta != tb:
        return False
    if ta == 1:
        return True
    if ta == 4:
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if ta == 5:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _equality(operand: Any) -> Callable[[Any], bool]:
    if operand is None:  # null matches missing fields, nulls, and arrays holding null
        return lambda v: v is _MISSING or any(x is None for x in _values(v))
    if isinstance(operand, str):
        def equal_text(v):  # the common case (answers are strings), kept cheap
            if isinstance(v, str):
                return v == operand
            return isinstance(v, list) and any(isinstance(x, str) and x == operand for x in v)
        return equal_text
    return lambda v: v is not _MISSING and any(_same(x, operand) for x in _values(v))


_OPS = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}


def _comparison(op: str, operand: Any) -> Callable[[Any], bool]:
    bracket = _bracket(operand)
    if bracket == 1:  # null: $gte/$lte null match null or missing; $gt/$lt match nothing
        if op in ("$gte", "$lte"):
            return lambda v: v is _MISSING or any(x is None for x in _values(v))
        return lambda v: False
    if bracket in (2, 3, 8):  # numbers, strings, booleans: compared within their own type only
        if bracket == 2 and math.isnan(operand):
            return lambda v: False
        same = {2: (int, float), 3: (str,), 8: (bool,)}[bracket]
        fn = _OPS[op]

        def compare(v):
            if v.__class__ in same:
                return fn(v, operand)
            if v.__class__ is list:
                return any(x.__class__ in same and fn(x, operand) for x in v)
            return False
        return compare
    wanted = _order_key(operand)  # objects and arrays: by content, within their type

    def compare_deep(v):
        return v is not _MISSING and any(_bracket(x) == bracket and _cmp(op, _order_key(x), wanted)
                                         for x in _values(v))
    return compare_deep


def _cmp(op: str, a: Any, b: Any) -> bool:
    try:
        if op == "$gt":
            return a > b
        if op == "$gte":
            return a >= b
        if op == "$lt":
            return a < b
        return a <= b
    except TypeError:
        return False


def _order_key(value: Any) -> Any:
    """A totally ordered stand-in for any JSON value (Mongo's order, objects and arrays by content)."""
    if value is _MISSING or value is None:
        return (1,)
    bracket = _bracket(value)
    if bracket == 2:
        return (2, value)
    if bracket == 3:
        return (3, value)
    if bracket == 4:
        return (4, tuple((k, _order_key(v)) for k, v in value.items()))
    if bracket == 5:
        return (5, tuple(_order_key(v) for v in value))
    if bracket == 8:
        return (8, value)
    return (9, repr(value))


def _regex(pattern: Any, options: Any) -> Callable[[Any], bool]:
    if not isinstance(pattern, str) or not isinstance(options, str):
        raise _Refused()
    flags = 0
    for letter in options:
        if letter == "i":
            flags |= re.IGNORECASE
        elif letter == "m":
            flags |= re.MULTILINE
        elif letter == "s":
            flags |= re.DOTALL
        elif letter == "x":
            flags |= re.VERBOSE
        elif letter == "u":
            continue
        else:
            raise _Refused()
    try:
        compiled = re.compile(pattern, flags)
    except re.error:
        raise _Refused() from None
    return lambda v: v is not _MISSING and any(isinstance(x, str) and compiled.search(x) is not None
                                               for x in _values(v))


def _elem_match(operand: Any) -> Callable[[Any], bool]:
    if not isinstance(operand, dict):
        raise _Refused()
    mangled = {mangle(k): v for k, v in operand.items()}
    if mangled and all(k.startswith("$") and k not in ("$and", "$or", "$expr") for k in mangled):
        on_value = _compile_operators(mangled)  # {"$gt": "3"}: elements compared directly
        return lambda v: isinstance(v, list) and any(on_value(x) for x in v)
    on_doc = compile_query(operand)  # {"members/age": {"$gt": "30"}}: elements are objects
    return lambda v: isinstance(v, list) and any(isinstance(x, dict) and on_doc(x) for x in v)


# ---------------------------------------------------------------------- $expr (aggregation expressions)

_EXPR_COMPARE = {"$gt", "$gte", "$lt", "$lte", "$ne"}


def _truthy(value: Any) -> bool:
    """Aggregation truth: false, null, missing and 0 are false; everything else (even "" and []) true."""
    if value is _MISSING or value is None or value is False:
        return False
    return not (_is_number(value) and value == 0)


def _compile_expr(expr: Any) -> Callable[[dict], Any]:
    """A small aggregation evaluator for $expr: field paths "$name", literals, and the whitelisted
    operators that make sense in an expression ($and $or $not $in $gt $gte $lt $lte $ne $ifNull)."""
    if isinstance(expr, str):
        if expr.startswith("$$"):
            raise _Refused()  # variables ($$ROOT, …) are beyond this sandbox
        if expr.startswith("$"):
            path = expr[1:]
            return lambda doc: _resolve(doc, path)
        return lambda doc: expr
    if isinstance(expr, list):
        parts = [_compile_expr(item) for item in expr]
        return lambda doc: [p(doc) for p in parts]
    if not isinstance(expr, dict):
        return lambda doc: expr
    if not expr or not next(iter(expr)).startswith("$"):
        parts = {k: _compile_expr(v) for k, v in expr.items()}
        return lambda doc: {k: p(doc) for k, p in parts.items()}
    if len(expr) != 1:
        raise _Refused()
    op, raw = next(iter(expr.items()))
    op = mangle(op)
    args = raw if isinstance(raw, list) else [raw]
    compiled = [_compile_expr(a) for a in args]
    if op in _EXPR_COMPARE:
        if len(compiled) != 2:
            raise _Refused()
        a, b = compiled

        def compare(doc):
            left, right = _order_key(_null(a(doc))), _order_key(_null(b(doc)))
            return left != right if op == "$ne" else _cmp(op, left, right)
        return compare
    if op == "$and":
        return lambda doc: all(_truthy(c(doc)) for c in compiled)
    if op == "$or":
        return lambda doc: any(_truthy(c(doc)) for c in compiled)
    if op == "$not":
        if len(compiled) != 1:
            raise _Refused()
        return lambda doc: not _truthy(compiled[0](doc))
    if op == "$ifNull":
        if len(compiled) < 2:
            raise _Refused()

        def if_null(doc):
            for c in compiled[:-1]:
                value = c(doc)
                if value is not _MISSING and value is not None:
                    return value
            return compiled[-1](doc)
        return if_null
    if op == "$in":
        if len(compiled) != 2:
            raise _Refused()
        needle, haystack = compiled

        def contains(doc):
            items = haystack(doc)
            if not isinstance(items, list):
                raise _Refused()  # Mongo: "$in requires an array as a second argument"
            wanted = _order_key(_null(needle(doc)))
            return any(_order_key(_null(item)) == wanted for item in items)
        return contains
    raise _Refused()  # an operator outside the whitelist (mangled) or without meaning here


def _null(value: Any) -> Any:
    return None if value is _MISSING else value


__all__ = [
    "ALWAYS_FIELDS",
    "PAGE_LIMITS",
    "WHITELIST",
    "BadRequest",
    "DataQuery",
    "compile_query",
    "find_index",
    "insert_sorted",
    "mangle",
    "page_limit",
    "page_links",
    "project",
    "run_query",
]
