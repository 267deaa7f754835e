"""Benchmark of the local store (desbumi.store).

Run on demand (not part of the default pytest run):

    python tests/benchmarks/bench_store.py [--n 100000] [--page 1000] [--answers 120]

What is timed, on a fresh store in a temporary directory:
- `apply_page` of N Kobo-shaped submissions in pages of `--page` (a transaction per page, cursor
  included): the full first pull's storage cost;
- the same pages applied again (all unchanged: the cost of a resumed or `--full` pull);
- `sweep_state` + `apply_sweep` over N seen rows with 1% deleted and 1% validation changes, then
  `apply_docs` of 1% edited documents;
- `status()` and iterating `submissions()` (json.loads of every document).

Baseline, measured in the same run so machines compare: `json.dumps` of the same documents and a plain
`executemany` of (asset, _id, _uuid, raw) rows into a bare table without indexes in a file with the
same pragmas, one transaction per page. Each figure is also given as a ratio to it. Target (issue 5,
step 4): 100,000 submissions applied in a few seconds.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

from desbumi.store import Store
from desbumi.store.store import PAGE_SIZE

ASSET = "aBenchBenchBenchBench01"
VERSION = "vBenchBenchBenchBench01"


def make_docs(n: int, answers: int, start_id: int = 1_000_000) -> list[dict]:
    """N documents shaped like year-two submissions: envelope, `answers` string answers, a repeat,
    one attachment on every tenth."""
    docs = []
    for i in range(n):
        sid = start_id + i * 3  # _id is a global sequence: increasing, not contiguous
        instance = str(uuid.UUID(int=(sid * 2654435761) % (1 << 128), version=4))
        doc = {"_id": sid, "formhub/uuid": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
               "start": "2026-03-05T09:12:33.120+07:00", "end": "2026-03-05T09:48:02.554+07:00",
               "today": "2026-03-05"}
        for q in range(answers):
            doc[f"m{q // 20}/q{q}"] = str((sid + q) % 97) if q % 3 else f"jawaban {sid % 13} desa {q}"
        doc["hh/members"] = [{"hh/members/name": f"Anggota {k}", "hh/members/age": str(20 + k)} for k in range(3)]
        doc.update({"__version__": VERSION, "meta/instanceID": f"uuid:{instance}",
                    "meta/rootUuid": f"uuid:{instance}", "_xform_id_string": ASSET, "_uuid": instance,
                    "_attachments": [], "_status": "submitted_via_web", "_geolocation": [-7.39, 109.46],
                    "_submission_time": "2026-03-05T02:48:10", "_validation_status": {},
                    "_submitted_by": "enumerator01"})
        if i % 10 == 0:
            doc["_attachments"] = [{"uid": f"att{sid:021d}", "filename": f"owner/attachments/x/{instance}/p.jpg",
                                    "media_file_basename": "p.jpg", "mimetype": "image/jpeg", "is_deleted": False,
                                    "question_xpath": "photo", "download_url":
                                    f"http://127.0.0.1:8000/api/v2/assets/{ASSET}/data/{sid}/attachments/a/"}]
        docs.append(doc)
    return docs


def pages_of(docs: list[dict], size: int) -> list[list[dict]]:
    return [docs[i:i + size] for i in range(0, len(docs), size)]


def baseline(path: Path, pages: list[list[dict]]) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE bare (asset TEXT, id INTEGER, uuid TEXT, raw TEXT)")
    t0 = time.perf_counter()
    for page in pages:
        rows = [(ASSET, doc["_id"], doc["_uuid"], json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
                for doc in page]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO bare VALUES (?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--answers", type=int, default=120, help="answers per submission (size of a document)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    docs = make_docs(args.n, args.answers)
    pages = pages_of(docs, args.page)
    size = sum(len(json.dumps(d, separators=(",", ":"))) for d in docs[:100]) / min(100, len(docs))
    print(f"{args.n} submissions, {len(pages)} pages of {args.page}, ~{size / 1024:.1f} KiB each "
          f"(generated in {time.perf_counter() - t0:.1f} s)")
    figures: list[tuple[str, float, str]] = []

    def timed(label: str, started: float, extra: str = "") -> None:
        figures.append((label, time.perf_counter() - started, extra))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # The floor runs before and after the store (the machine warms up, other jobs come and go);
        # the faster of the two is the floor.
        floors = [baseline(tmp / "bare1.sqlite", pages)]

        with Store.open(tmp / "store") as store:
            store.save_asset({"uid": ASSET, "name": "bench", "content": {"settings": {"form_id": "bench"}}})
            run = store.start_run(ASSET)
            t0 = time.perf_counter()
            for page in pages:
                store.apply_page(ASSET, page, run)
            timed("apply_page, first pull (all new)", t0)

            t0 = time.perf_counter()
            for page in pages:
                result = store.apply_page(ASSET, page, run)
                assert result.unchanged == len(page)
            timed("apply_page again (all unchanged)", t0)

            seen = {d["_id"]: (d["_uuid"], d["_validation_status"]) for d in docs}
            one_pct = max(1, args.n // 100)
            for d in docs[:one_pct]:
                del seen[d["_id"]]
            approved = {"uid": "validation_status_approved", "label": "Approved", "by_whom": "supervisor",
                        "timestamp": 1772681290, "color": "#00ff00"}
            for d in docs[one_pct:2 * one_pct]:
                seen[d["_id"]] = (d["_uuid"], approved)
            edits = []
            for d in docs[2 * one_pct:3 * one_pct]:
                e = dict(d)
                e["_uuid"] = str(uuid.UUID(int=(d["_id"] * 40503) % (1 << 128), version=4))
                e["meta/instanceID"] = "uuid:" + e["_uuid"]
                e["meta/deprecatedID"] = d["meta/instanceID"]
                seen[d["_id"]] = (e["_uuid"], {})
                edits.append(e)
            t0 = time.perf_counter()
            plan = store.apply_sweep(ASSET, seen, run)
            timed("sweep: state + plan + apply (1% del, 1% valid.)", t0)
            assert len(plan.deleted_ids) == one_pct and len(plan.changed_uuid_ids) == one_pct
            t0 = time.perf_counter()
            for page in pages_of(edits, args.page):
                store.apply_docs(ASSET, page, run)
            timed(f"apply_docs of {len(edits)} edits", t0)

            t0 = time.perf_counter()
            status = store.status()[0]
            timed("status()", t0, json.dumps({k: status[k] for k in ("submissions", "deleted", "edited",
                                                                          "attachments_pending")}))
            t0 = time.perf_counter()
            count = sum(1 for _ in store.submissions(ASSET))
            timed(f"submissions() read back ({count})", t0)
            store.finish_run(run, status="ok")
        floors.append(baseline(tmp / "bare2.sqlite", pages))
        floor = min(floors)
        print(f"{'floor: json.dumps + bare executemany':<48} {floor:7.2f} s   1.00x   "
              f"(runs: {floors[0]:.2f} s before, {floors[1]:.2f} s after the store)")
        for label, seconds, extra in figures:
            print(f"{label:<48} {seconds:7.2f} s  {seconds / floor:5.2f}x   {extra}")
        print(f"{'apply_page rate':<48} {args.n / figures[0][1]:,.0f} submissions/s")
        store_mb = sum(p.stat().st_size for p in (tmp / "store").iterdir()) / 1e6
        print(f"store files (with WAL): {store_mb:.0f} MB; bare table: {(tmp / 'bare2.sqlite').stat().st_size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
