"""Benchmark of the sandbox's data endpoint engine (desbumi.sandbox.data), without sockets.

Run on demand (not part of the default pytest run):

    python tests/benchmarks/bench_sandbox_data.py [--n 100000] [--limit 1000] [--repeat 3]

What is timed, over N documents shaped like year-two submissions (sorted by `_id`, with gaps):
- keyset: a full pull as desbumi-sync does it, page after page of
  `query={"_id":{"$gt":last}}&sort={"_id":1}&limit=1000`, each page parsed from the query parameters
  (DataQuery.from_params) and answered by run_query, plus its next/previous links;
- the same with `fields=["_id","_uuid","_validation_status"]` (the reconcile sweep);
- offset: following `start=` pages with no query (the `next` links a plain client follows);
- general path: a few keyset pages whose filter is not the bare `_id` range (wrapped in `$and`), so
  every page filters and sorts all N documents — what every page would cost without the fast path.

Baseline, measured in the same run: sorting the N documents by `_id` once and slicing them into
pages (the least any server must do to hand out ordered pages). The keyset pull is reported as a
ratio to it; the aim is a small constant, not a per-page scan.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from desbumi.sandbox.data import DataQuery, page_links, run_query

BASE = "http://127.0.0.1:8000/api/v2/assets/aBench/data/"


def make_docs(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    docs, _id = [], 1_000_001
    for i in range(n):
        doc = {"_id": _id, "formhub/uuid": "0" * 32, "start": "2026-03-05T09:12:33.120+07:00",
               "end": "2026-03-05T09:52:01.004+07:00", "today": "2026-03-05"}
        for q in range(30):
            doc[f"m{q // 5}/q{q}"] = str(rng.randint(0, 99))
        doc["m1/anggota"] = [{"m1/anggota/nama": f"Nama {k}", "m1/anggota/umur": str(rng.randint(1, 80))}
                             for k in range(rng.randint(1, 4))]
        uid = f"{rng.getrandbits(128):032x}"
        doc.update({"__version__": "vBench", "meta/instanceID": f"uuid:{uid}", "meta/rootUuid": f"uuid:{uid}",
                    "_xform_id_string": "aBench", "_uuid": uid, "_attachments": [], "_status": "submitted_via_web",
                    "_geolocation": [None, None], "_submission_time": f"2026-03-{1 + i * 28 // n:02d}T08:00:00",
                    "_validation_status": {}, "_submitted_by": "enum1"})
        docs.append(doc)
        _id += 1 + (rng.random() < 0.3) * rng.randint(1, 3)
    return docs


def keyset_pull(docs: list[dict], limit: int, fields: list[str] | None = None, wrap: bool = False,
                max_pages: int | None = None) -> tuple[int, int]:
    last, rows, pages = 0, 0, 0
    while max_pages is None or pages < max_pages:
        query = {"_id": {"$gt": last}}
        params = {"query": [json.dumps({"$and": [query]} if wrap else query)], "sort": ['{"_id": 1}'],
                  "limit": [str(limit)], "format": ["json"]}
        if fields:
            params["fields"] = [json.dumps(fields)]
        q = DataQuery.from_params(params)
        page, count, used = run_query(docs, q)
        page_links(BASE, params, q.start, used, count)
        pages += 1
        if not page:
            break
        rows += len(page)
        last = page[-1]["_id"]
    return rows, pages


def offset_pull(docs: list[dict], limit: int) -> tuple[int, int]:
    start, rows, pages = 0, 0, 0
    while True:
        params = {"limit": [str(limit)], "start": [str(start)]}
        q = DataQuery.from_params(params)
        page, count, used = run_query(docs, q)
        next_url, _ = page_links(BASE, params, q.start, used, count)
        pages += 1
        rows += len(page)
        if next_url is None:
            return rows, pages
        start += used


def baseline(docs: list[dict], limit: int) -> tuple[int, int]:
    ordered = sorted(docs, key=lambda d: d["_id"])
    rows = pages = 0
    for first in range(0, len(ordered) + 1, limit):
        rows += len(ordered[first:first + limit])
        pages += 1
    return rows, pages


def best(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--general-pages", type=int, default=5)
    args = parser.parse_args(argv)
    t = time.perf_counter()
    docs = make_docs(args.n)
    print(f"{args.n:,} documents made in {time.perf_counter() - t:.1f}s; pages of {args.limit}")

    base_s, (rows, pages) = best(lambda: baseline(docs, args.limit), args.repeat)
    print(f"baseline  sort once + slice       {base_s * 1000:9.1f} ms  ({rows:,} rows, {pages} pages)")
    key_s, (rows, pages) = best(lambda: keyset_pull(docs, args.limit), args.repeat)
    assert rows == args.n
    print(f"keyset    $gt on _id, sort _id     {key_s * 1000:9.1f} ms  ({rows:,} rows, {pages} requests)"
          f"  {key_s / base_s:5.2f}x baseline, {key_s / pages * 1e6:7.0f} µs/request")
    sweep_s, (rows, pages) = best(lambda: keyset_pull(docs, args.limit, fields=["_id", "_uuid",
                                                                                 "_validation_status"]), args.repeat)
    print(f"keyset    + fields (reconcile)    {sweep_s * 1000:9.1f} ms  ({rows:,} rows, {pages} requests)"
          f"  {sweep_s / base_s:5.2f}x baseline")
    off_s, (rows, pages) = best(lambda: offset_pull(docs, args.limit), args.repeat)
    assert rows == args.n
    print(f"offset    start=, following next  {off_s * 1000:9.1f} ms  ({rows:,} rows, {pages} requests)"
          f"  {off_s / base_s:5.2f}x baseline")
    gen_s, (rows, pages) = best(lambda: keyset_pull(docs, args.limit, wrap=True, max_pages=args.general_pages), 1)
    per_page = gen_s / pages
    full_pages = -(-args.n // args.limit) + 1
    print(f"general   $and-wrapped, {pages} pages   {gen_s * 1000:9.1f} ms  ({per_page * 1000:.1f} ms/request; "
          f"a full pull this way ≈ {per_page * full_pages:.1f}s, {per_page * full_pages / key_s:,.0f}x keyset)")


if __name__ == "__main__":
    main()
