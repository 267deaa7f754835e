"""The sandbox's data endpoint engine, without sockets: paging, Mongo filters, sort, fields, links."""

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from desbumi.sandbox.data import BadRequest, DataQuery, insert_sorted, page_links, project, run_query

BASE = "http://127.0.0.1:8123/api/v2/assets/aTest/data/"


def doc(_id: int, **answers) -> dict:
    out = {"_id": _id, "formhub/uuid": "f" * 32, **answers, "meta/instanceID": f"uuid:u-{_id}",
           "meta/rootUuid": f"uuid:u-{_id}", "_uuid": f"u-{_id}",
           "_submission_time": f"2026-03-{1 + _id % 28:02d}T08:00:{_id % 60:02d}", "_validation_status": {},
           "_submitted_by": "enum1"}
    return out


def docs_n(n: int, first: int = 1, step: int = 1) -> list[dict]:
    return [doc(first + i * step, age=str(20 + i % 40), kab="3509" if i % 2 else "5205") for i in range(n)]


def params(**values) -> dict[str, list[str]]:
    return {k: [v if isinstance(v, str) else json.dumps(v)] for k, v in values.items()}


def run(docs, mode="modern", **values):
    return run_query(docs, DataQuery.from_params(params(**values)), mode=mode)


def ids(results):
    return [d["_id"] for d in results]


# ------------------------------------------------------------------------------------------------ paging

def test_default_page_is_100_and_ordered_by_id():
    docs = docs_n(250)
    results, count, limit = run(docs)
    assert (count, limit) == (250, 100)
    assert ids(results) == list(range(1, 101))


def test_limit_is_clamped_silently_to_1000_in_modern_mode():
    docs = docs_n(1500)
    results, count, limit = run(docs, limit="5000")
    assert (len(results), count, limit) == (1000, 1500, 1000)


def test_legacy_mode_defaults_to_and_caps_at_30000():
    docs = docs_n(30_050)
    results, count, limit = run(docs, mode="legacy")
    assert (len(results), count, limit) == (30_000, 30_050, 30_000)
    assert run(docs, mode="legacy", limit="99999")[2] == 30_000
    assert run(docs, mode="legacy", limit="10")[2] == 10


@pytest.mark.parametrize("bad", ["0", "-3", "abc", "1.5", ""])
def test_limit_not_positive_is_400(bad):
    with pytest.raises(BadRequest) as info:
        DataQuery.from_params({"limit": [bad]})
    assert info.value.body == {"limit": "A positive integer is required"}


@pytest.mark.parametrize("bad", ["-1", "x"])
def test_bad_start_is_400_with_its_own_period(bad):
    with pytest.raises(BadRequest) as info:
        DataQuery.from_params({"start": [bad]})
    assert info.value.body == {"start": "A positive integer is required."}


def test_count_parameter_is_refused():
    with pytest.raises(BadRequest) as info:
        DataQuery.from_params({"count": ["1"]})
    assert "count" in info.value.body


def test_start_and_its_offset_alias_and_last_value_wins():
    docs = docs_n(30)
    assert ids(run(docs, start="10", limit="3")[0]) == [11, 12, 13]
    assert ids(run(docs, offset="10", limit="3")[0]) == [11, 12, 13]
    assert DataQuery.from_params({"start": ["5"], "offset": ["9"]}).start == 5
    assert DataQuery.from_params({"limit": ["5", "7"]}).limit == 7


def test_page_and_page_size_are_accepted_but_not_used():
    q = DataQuery.from_params({"page": ["3"], "page_size": ["2"]})
    assert ids(run_query(docs_n(10), q)[0]) == list(range(1, 11))


def test_beyond_the_end_is_an_empty_page():
    docs = docs_n(30)
    results, count, _ = run(docs, start="500")
    assert (results, count) == ([], 30)
    results, count, _ = run(docs, start="500", query={"age": {"$gte": "0"}})
    assert (results, count) == ([], 30)
    results, count, _ = run(docs, start="30")
    assert (results, count) == ([], 30)


@pytest.mark.parametrize("name", ["query", "sort", "fields"])
def test_invalid_json_is_400(name):
    with pytest.raises(BadRequest) as info:
        DataQuery.from_params({name: ["{not json"]})
    assert info.value.body == {name: "Value must be valid JSON."}


def test_xml_format_refuses_sort_and_fields():
    with pytest.raises(BadRequest) as info:
        DataQuery.from_params(params(format="xml", sort={"_id": -1}))
    assert info.value.body == {"sort": "This param is not supported in `XML` format"}


# ----------------------------------------------------------------------------------------------- filters

DOCS = [
    doc(1, age="30", name="Siti", langs="1 3", members=[{"members/name": "Siti", "members/age": "30"},
                                                        {"members/name": "Budi", "members/age": "8"}]),
    doc(2, age="4", name="budi"),
    doc(3, age="30", name="Wati", members=[{"members/name": "Wati", "members/age": "41"}]),
    doc(5, name="Rina"),  # no age: an empty answer is absent
    doc(8, age="100", name="Ani", tags=["a", "b"]),
]
DOCS[1]["_validation_status"] = {"uid": "validation_status_approved", "label": "Approved"}


def matching(query) -> list[int]:
    return ids(run(DOCS, query=query)[0])


@pytest.mark.parametrize("query, expected", [
    ({}, [1, 2, 3, 5, 8]),
    ({"age": "30"}, [1, 3]),
    ({"age": {"$gt": "30"}}, [2]),  # strings: "4" > "30"
    ({"age": {"$gte": "30"}}, [1, 2, 3]),
    ({"age": {"$lt": "30"}}, [8]),  # "100" < "30"
    ({"age": {"$lte": "30"}}, [1, 3, 8]),
    ({"age": {"$gt": 5}}, []),  # a number never matches a string answer
    ({"age": {"$ne": "30"}}, [2, 5, 8]),  # $ne matches missing fields
    ({"age": {"$in": ["4", "100"]}}, [2, 8]),
    ({"age": {"$in": [None]}}, [5]),
    ({"age": {"$nin": ["30", "4"]}}, [5, 8]),
    ({"age": {"$exists": False}}, [5]),
    ({"age": {"$exists": True}}, [1, 2, 3, 8]),
    ({"age": None}, [5]),
    ({"name": {"$regex": "^b"}}, [2]),
    ({"name": {"$regex": "^b", "$options": "i"}}, [2]),
    ({"name": {"$regex": "^B", "$options": "i"}}, [2]),
    ({"name": {"$regex": "i$"}}, [1, 2, 3, 8]),
    ({"name": {"$regex": "^s"}}, []),  # case-sensitive without $options
    ({"age": {"$not": {"$gte": "30"}}}, [5, 8]),
    ({"$or": [{"age": "4"}, {"name": "Ani"}]}, [2, 8]),
    ({"$and": [{"age": "30"}, {"name": {"$regex": "W"}}]}, [3]),
    ({"age": "30", "name": "Siti"}, [1]),
    ({"tags": "a"}, [8]),  # an array matches when an element does
    ({"tags": {"$all": ["a", "b"]}}, [8]),
    ({"tags": {"$all": ["a", "z"]}}, []),
    ({"members": {"$elemMatch": {"members/age": {"$gt": "40"}}}}, [1, 3]),  # "8" > "40" as strings
    ({"members": {"$elemMatch": {"members/age": "30", "members/name": "Budi"}}}, []),  # one element, both
    ({"members": {"$elemMatch": {"members/name": "Budi"}}}, [1]),
    ({"_validation_status.uid": "validation_status_approved"}, [2]),
    ({"_validation_status": {}}, [1, 3, 5, 8]),
    ({"$expr": {"$gt": ["$age", "$name"]}}, []),
    ({"$expr": {"$lt": ["$age", "$name"]}}, [1, 2, 3, 5, 8]),  # digits before letters; missing is lowest
    ({"$expr": {"$eq": ["$age", "30"]}}, "400"),  # $eq is not whitelisted: mangled, Mongo refuses
    ({"$expr": {"$gt": [{"$ifNull": ["$age", "zz"]}, "9"]}}, [5]),
    ({"$expr": {"$in": ["$age", ["4", "100"]]}}, [2, 8]),
])
def test_whitelisted_operators_with_mongo_semantics(query, expected):
    if expected == "400":
        with pytest.raises(BadRequest) as info:
            matching(query)
        assert info.value.body == ["Unsupported query"]
    else:
        assert matching(query) == expected


@pytest.mark.parametrize("query", [
    {"age": {"$eq": "30"}},
    {"$where": "this.age == '30'"},
    {"$nor": [{"age": "30"}]},
    {"age": {"$size": 2}},
    {"age": {"$type": "string"}},
    {"age.x": "30"},
])
def test_operators_outside_the_whitelist_match_nothing(query):
    results, count, _ = run(DOCS, query=query)
    assert (results, count) == ([], 0)


def test_id_is_compared_as_an_integer():
    docs = docs_n(20)
    assert ids(run(docs, query={"_id": {"$gt": 15}})[0]) == [16, 17, 18, 19, 20]
    assert ids(run(docs, query={"_id": {"$gt": 15.5}})[0]) == [16, 17, 18, 19, 20]
    assert run(docs, query={"_id": {"$gt": "15"}})[1] == 0  # inside an operator: not coerced
    assert ids(run(docs, query={"_id": "5"})[0]) == [5]  # a top-level scalar is coerced
    assert ids(run(docs, query={"_id": 5})[0]) == [5]
    assert ids(run(docs, query={"_id": {"$in": [3, 4, "5"]}})[0]) == [3, 4]
    # 10 > 9 numerically (a string compare would put "10" before "9")
    assert ids(run(docs, query={"_id": {"$gte": 9, "$lt": 11}})[0]) == [9, 10]


def test_submission_time_is_compared_as_a_string():
    docs = docs_n(40)
    expected = [d["_id"] for d in docs if d["_submission_time"] >= "2026-03-20"]
    assert ids(run(docs, query={"_submission_time": {"$gte": "2026-03-20"}}, limit="1000")[0]) == expected
    assert run(docs, query={"_submission_time": {"$gte": "2026-03-20T00:00:00Z"}})[1] == len(
        [d for d in docs if d["_submission_time"] >= "2026-03-20T00:00:00Z"])


@pytest.mark.parametrize("query, body", [
    ({"$and": []}, ["Unsupported query"]),
    ({"age": {"$regex": "("}}, ["Unsupported query"]),
    ({"age": {"$options": "i"}}, ["Unsupported query"]),
    ({"tags": {"$all": "a"}}, ["$all needs an array"]),
    ({"$gt": 1}, ["Unsupported query"]),
])
def test_queries_mongo_refuses_are_400(query, body):
    with pytest.raises(BadRequest) as info:
        run(DOCS, query=query)
    assert info.value.body == body


def test_keyset_fast_path_agrees_with_the_general_path():
    docs = docs_n(3000, first=1_000_001, step=3)
    for query, sort in [({"_id": {"$gt": 1_000_100}}, None), ({"_id": {"$gte": 1_000_100}}, {"_id": 1}),
                        ({"_id": {"$gt": 1_000_100, "$lte": 1_002_000}}, {"_id": -1}), ({}, {"_id": -1}),
                        ({"_id": {"$lt": 1_000_001}}, None)]:
        for start in ("0", "7", "2990"):
            fast = run(docs, query=query, start=start, limit="50", **({"sort": sort} if sort else {}))
            # the same filter wrapped in $and takes the general path
            slow_query = {"$and": [query]} if query else {"_id": {"$exists": True}}
            slow = run(docs, query=slow_query, start=start, limit="50", **({"sort": sort} if sort else {}))
            assert ids(fast[0]) == ids(slow[0]) and fast[1:] == slow[1:], (query, sort, start)


def test_id_in_fast_path_agrees_with_the_general_path():
    docs = docs_n(3000, first=1_000_001, step=3)
    wanted = [1_000_004, 1_000_001, 1_000_002, 1_008_998, 1_000_004, 5, 1_004_000]
    for sort in (None, {"_id": 1}, {"_id": -1}):
        for start, limit in (("0", "50"), ("2", "2"), ("9", "5")):
            extra = {"sort": sort} if sort else {}
            fast = run(docs, query={"_id": {"$in": wanted}}, start=start, limit=limit, fields=["_id"], **extra)
            slow = run(docs, query={"$and": [{"_id": {"$in": wanted}}]}, start=start, limit=limit, fields=["_id"],
                       **extra)
            assert ids(fast[0]) == ids(slow[0]) and fast[1:] == slow[1:], (sort, start)
    assert ids(run(docs, query={"_id": {"$in": [1_000_004, True, "1000001"]}})[0]) == [1_000_004]  # general path


# ------------------------------------------------------------------------------------------- sort, fields

def test_sort_several_keys_with_directions():
    docs = [doc(i, kab=k, age=a) for i, (k, a) in enumerate(
        [("3509", "30"), ("5205", "20"), ("3509", "40"), ("5205", "20"), ("3509", "30")], start=1)]
    assert ids(run(docs, sort={"kab": 1, "age": -1})[0]) == [3, 1, 5, 2, 4]
    assert ids(run(docs, sort={"kab": -1, "age": 1, "_id": -1})[0]) == [4, 2, 5, 1, 3]
    assert ids(run(docs, sort={"_id": -1}, limit="2")[0]) == [5, 4]


def test_sort_puts_missing_values_first_ascending():
    assert ids(run(DOCS, sort={"age": 1})[0]) == [5, 8, 1, 3, 2]
    assert ids(run(DOCS, sort={"age": -1})[0]) == [2, 1, 3, 8, 5]


@pytest.mark.parametrize("sort", [{"age": 2}, {"age": "asc"}, [["age", 1]]])
def test_bad_sort_is_400(sort):
    with pytest.raises(BadRequest):
        DataQuery.from_params(params(sort=sort))


def test_fields_projection_always_adds_the_four_keys():
    results, _, _ = run(DOCS, fields=["name", "__version__"], limit="1")
    assert set(results[0]) == {"_id", "_uuid", "meta/rootUuid", "_validation_status", "name"}
    assert DOCS[0]["age"] == "30"  # the stored document is untouched


def test_projection_injects_validation_status_and_root_uuid():
    bare = {"_id": 1, "_uuid": "u", "meta/instanceID": "uuid:u", "a": "1"}
    assert project(bare, ["a"]) == {"_id": 1, "_uuid": "u", "a": "1", "meta/rootUuid": "uuid:u",
                                    "_validation_status": {}}


def test_fields_project_whole_repeats():
    results, _, _ = run(DOCS, fields=["members"], query={"_id": 3})
    assert results[0]["members"] == [{"members/name": "Wati", "members/age": "41"}]


def test_insert_sorted_keeps_id_order_and_replaces_edits():
    docs = docs_n(5, first=10, step=10)
    insert_sorted(docs, doc(25))
    insert_sorted(docs, doc(5))
    edited = doc(30, age="99")
    insert_sorted(docs, edited)
    assert ids(docs) == [5, 10, 20, 25, 30, 40, 50]
    assert docs[4] is edited


# ----------------------------------------------------------------------------------------------- links

def query_of(url):
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_next_and_previous_follow_limit_offset_rules():
    p = {"limit": ["10"], "format": ["json"]}
    assert page_links(BASE, p, 0, 10, 25) == (BASE + "?format=json&limit=10&start=10", None)
    nxt, prev = page_links(BASE, p, 10, 10, 25)
    assert nxt == BASE + "?format=json&limit=10&start=20"
    assert prev == BASE + "?format=json&limit=10"  # start - limit <= 0: start removed
    nxt, prev = page_links(BASE, p, 20, 10, 25)
    assert nxt is None and prev == BASE + "?format=json&limit=10&start=10"
    nxt, prev = page_links(BASE, p, 5, 10, 25)
    assert prev == BASE + "?format=json&limit=10"
    assert page_links(BASE, {}, 0, 100, 0) == (None, None)
    assert page_links(BASE, {}, 0, 100, 100) == (None, None)
    assert page_links(BASE, {}, 0, 100, 101)[0] == BASE + "?limit=100&start=100"


def test_links_sort_parameters_and_reencode_them():
    p = params(sort={"_id": 1}, query={"x": "0"}, limit="1", format="json")
    nxt, _ = page_links(BASE, p, 0, 1, 2)
    assert nxt == (BASE + "?format=json&limit=1&query=%7B%22x%22%3A+%220%22%7D"
                          "&sort=%7B%22_id%22%3A+1%7D&start=1")
    assert [k for k, _ in query_of(nxt)] == sorted(k for k, _ in query_of(nxt))


def test_links_carry_the_clamped_limit_and_replace_the_offset_alias():
    p = {"limit": ["5000"], "offset": ["1000"]}
    nxt, prev = page_links(BASE, p, 1000, 1000, 3500)
    assert nxt == BASE + "?limit=1000&start=2000"
    assert prev == BASE + "?limit=1000"


def test_links_replace_a_query_string_on_the_base_url():
    nxt, _ = page_links(BASE + "?limit=1&zzz=1", {"zzz": ["1"]}, 0, 1, 5)
    assert nxt == BASE + "?limit=1&start=1&zzz=1"
