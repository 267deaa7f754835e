"""Benchmark of `desbumi-sync pull` (desbumi.pull.pull_asset) against the sandbox over loopback.

Run on demand (not part of the default pytest run):

    python tests/benchmarks/bench_pull.py [--n 100000] [--respondents 2000] [--generate] [--data DIR]

The sandbox runs in a SUBPROCESS (this script with `--serve`), so neither its memory nor its CPU time
for generating data is counted here. It is seeded with the year-two panel form built in forms/
(`sandbox seed` with `--respondents` people, ~1.07 submissions each), and then the year-two
documents are REPLICATED up to N: each copy gets a new `_id` (after every seeded id), a new
`_uuid`/`meta/instanceID`/`meta/rootUuid`, new attachment uids and no `meta/deprecatedID`; the answers
are those of the document copied. (`--generate` asks the generator for enough respondents instead —
about a minute per 100,000 — and replicates only the remainder.) The output says which was done.

Measured in this process, in this order, on a fresh store in a temporary folder:
1. full pull: `pull_asset` from an empty store — seconds, requests, and peak memory as the growth of
   this process's peak resident set size (`resource.getrusage(RUSAGE_SELF).ru_maxrss`, which also
   counts C allocations such as SQLite's cache and the HTTP buffers; tracemalloc would see only Python
   objects and slow the pull down). Before the pull this process holds only the interpreter and its
   imports, so the growth is the pull's own peak;
2. the floor: the same keyset pages (`query={"_id":{"$gt":last}}`, `sort={"_id":1}`, `limit=1000`,
   same token header) fetched with one bare requests.Session and decoded with `json.loads`, nothing
   kept — run twice right after the pull (the server equally warm), the faster run counts → the
   ratio pull / floor;
3. a re-pull with no change on the server: requests and seconds;
4. a re-pull after 1% new submissions and 1% edited ones, made through the sandbox admin routes
   (`POST /__sandbox__/assets/{uid}/submissions`, `POST …/submissions/{id}/edit`): requests, seconds,
   and the counts the pull reports (which must equal what was changed).

Aims (issue 5, step 4): full pull ≤ 1.3 × floor; peak memory < 300 MB; a no-change re-pull in at most
1 + ⌈N/1000⌉ requests and under 10% of the full pull's time. Each is printed with OK or MISSED.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
Y2 = "desbumi_ekonomi_y2"
LIMIT = 1000
ENVELOPE = {"_id", "formhub/uuid", "__version__", "meta/instanceID", "meta/rootUuid", "meta/deprecatedID",
            "_xform_id_string", "_uuid", "_attachments", "_status", "_geolocation", "_submission_time",
            "_validation_status", "_submitted_by", "_tags", "_notes"}


# =========================================================================== the server side (subprocess)

def _new_uuid(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def prepare(data: Path, n: int, respondents: int, generate: bool) -> dict:
    """Seed `data` and replicate the year-two documents to exactly `n`; returns what was done."""
    from desbumi.sandbox.seed import seed_data_dir

    if generate:
        respondents = max(respondents, math.ceil(n / 1.07))
    started = time.monotonic()
    result = seed_data_dir(data, respondents=respondents, seed=1, forms_dir=REPO / "forms",
                           xlsform_src=REPO / "xlsform_src", panel_dir=REPO / "panel", meal_participants=8)
    seeded_seconds = time.monotonic() - started
    uid = result.assets[Y2]
    folder = data / "assets" / uid
    path = folder / "submissions.jsonl"
    with path.open(encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    generated = len(lines)
    if generated > n:  # keep the first n (sorted by _id) — the rest are beyond the benchmark's N
        lines = lines[:n]
    next_id = result.next_id
    copies = 0
    started = time.monotonic()
    with path.open("w", encoding="utf-8") as out:
        out.writelines(lines)
        i = 0
        while len(lines) + copies < n:
            source = lines[i % len(lines)]
            doc = json.loads(source)
            old = [doc["_uuid"], str(doc.get("meta/rootUuid", "")).removeprefix("uuid:")]
            new = _new_uuid(f"bench:{next_id}")
            text = source
            for value in {v for v in old if v}:
                text = text.replace(value, new)
            doc = json.loads(text)
            doc["_id"] = next_id
            doc.pop("meta/deprecatedID", None)
            for k, att in enumerate(doc.get("_attachments") or []):
                att["uid"] = "att" + hashlib.sha256(f"bench:{next_id}:{k}".encode()).hexdigest()[:21]
            out.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
            next_id += 1
            copies += 1
            i += 1
    meta_path = data / "sandbox.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["counts"][Y2] = min(generated, n) + copies
    meta["next_id"] = max(int(meta.get("next_id") or 0), next_id)
    meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    asset_path = folder / "asset.json"
    asset = json.loads(asset_path.read_text(encoding="utf-8"))
    asset["submission_count"] = meta["counts"][Y2]
    asset["scenario"] = {}
    asset_path.write_text(json.dumps(asset, indent=1), encoding="utf-8")
    return {"uid": uid, "respondents": respondents, "generated": generated, "copies": copies,
            "total": meta["counts"][Y2], "seed_seconds": round(seeded_seconds, 1),
            "replicate_seconds": round(time.monotonic() - started, 1)}


def serve(data: Path, n: int, respondents: int, generate: bool, reuse: bool) -> None:
    """Prepare (unless reusing), start the sandbox, print one JSON line, serve until stdin closes."""
    from desbumi.sandbox import SandboxServer, SandboxState

    info_path = data / "bench.json"
    if reuse and info_path.is_file():
        info = json.loads(info_path.read_text())
        if info.get("total") != n:
            raise SystemExit(f"{data} holds {info.get('total')} submissions, not {n}; use another --data.")
        info["reused"] = True
        runtime = data / "runtime"
        if runtime.exists():  # changes a previous run made: back to the seeded state
            shutil.rmtree(runtime)
    else:
        info = prepare(data, n, respondents, generate)
        info_path.write_text(json.dumps(info))
    started = time.monotonic()
    state = SandboxState.load(data)
    server = SandboxServer(state).start()
    info.update(url=server.url, token=server.token, load_seconds=round(time.monotonic() - started, 1))
    print(json.dumps(info), flush=True)
    try:
        sys.stdin.read()  # the benchmark closes our stdin when it is done
    finally:
        server.stop()  # a --data folder is reset to its seeded state when reused


# =========================================================================== the measuring side

def maxrss_bytes() -> int:
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


def floor(url: str, token: str, uid: str, limit: int = LIMIT) -> tuple[float, int, int]:
    """The same keyset pages with a bare requests loop: seconds, requests, rows."""
    import requests

    data = f"{url}/api/v2/assets/{uid}/data/"
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    last, requests_sent, rows = 0, 0, 0
    started = time.perf_counter()
    with requests.Session() as http:
        while True:
            params = {"query": json.dumps({"_id": {"$gt": last}}, separators=(",", ":")),
                      "sort": json.dumps({"_id": 1}, separators=(",", ":")), "limit": limit}
            response = http.get(data, params=params, headers=headers, timeout=(10, 120))
            response.raise_for_status()
            requests_sent += 1
            body = json.loads(response.content)
            results = body["results"]
            rows += len(results)
            if not results or not body.get("next"):
                break
            last = results[-1]["_id"]
    return time.perf_counter() - started, requests_sent, rows


def admin(url: str, path: str, payload) -> dict:
    import requests

    response = requests.post(f"{url}/__sandbox__/{path}", json=payload, timeout=300)
    response.raise_for_status()
    return response.json()


def change_one_percent(client, url: str, uid: str, n: int) -> tuple[int, int]:
    """1% new submissions (copies of existing answers) and 1% edits spread over the range."""
    k = max(1, n // 100)
    ids = [p["_id"] for page in client.submissions.sweep(uid, LIMIT) for p in page.results]
    step = max(1, len(ids) // k)
    targets = ids[::step][:k]
    docs: dict[int, dict] = {}
    for start in range(0, len(targets), 200):
        chunk = targets[start:start + 200]
        page = client.submissions.page(uid, query={"_id": {"$in": chunk}}, sort={"_id": 1}, limit=len(chunk))
        docs.update({d["_id"]: d for d in page.results})
    answers = [{key: value for key, value in docs[i].items() if key not in ENVELOPE} for i in targets]
    added = 0
    for start in range(0, k, 500):
        batch = answers[start:start + 500]
        added += len(admin(url, f"assets/{uid}/submissions", batch)["ids"])
    for i, answer in zip(targets, answers):
        changed = dict(answer)
        changed["m0/enum_kode"] = str(int(changed.get("m0/enum_kode") or 0) + 1)
        admin(url, f"assets/{uid}/submissions/{i}/edit", changed)
    return added, len(targets)


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="year-two submissions in the sandbox")
    parser.add_argument("--respondents", type=int, default=2000, help="people to seed before replicating")
    parser.add_argument("--generate", action="store_true", help="generate (not replicate) up to N")
    parser.add_argument("--data", type=Path, help="keep the seeded sandbox here and reuse it next time")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reuse", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.n, args.respondents, args.generate, args.reuse)
        return 0

    import requests  # noqa: F401  (imported before the memory baseline, like everything the pull uses)

    from desbumi.kobo import KoboClient, KoboSession
    from desbumi.pull import pull_asset
    from desbumi.store import Store

    work = Path(tempfile.mkdtemp(prefix="desbumi-bench-pull-"))
    data = args.data or work / "sandbox"
    reuse = bool(args.data and (args.data / "bench.json").is_file())
    print(f"sandbox: preparing {args.n:,} year-two submissions in a subprocess ({data}) …", flush=True)
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(data), "--n", str(args.n),
                               "--respondents", str(args.respondents)]
                              + (["--generate"] if args.generate else []) + (["--reuse"] if reuse else []),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line:
            raise SystemExit("the sandbox subprocess ended before serving")
        info = json.loads(line)
        url, token, uid, n = info["url"], info["token"], info["uid"], info["total"]
        if info.get("reused"):
            print(f"sandbox: reused {data} ({n:,} submissions); loaded in {info['load_seconds']} s")
        else:
            how = (f"generator: {info['respondents']:,} respondents -> {info['generated']:,} submissions "
                   f"in {info['seed_seconds']} s; replicated {info['copies']:,} copies with new _id/_uuid "
                   f"in {info['replicate_seconds']} s")
            print(f"sandbox: {n:,} submissions ({how}); loaded in {info['load_seconds']} s")

        client = KoboClient(KoboSession(url, token))
        store_dir = work / "store"
        client.submissions.after(uid, 0, 1)  # warm the server's sorted index (not measured)

        rss0 = maxrss_bytes()
        with Store.open(store_dir) as store:
            full = pull_asset(client, store, uid, form_id=Y2)
        peak = maxrss_bytes() - rss0
        floors = [floor(url, token, uid) for _ in range(2)]  # twice; the faster one is the floor
        floor_s, floor_requests, floor_rows = min(floors)
        with Store.open(store_dir) as store:
            again = pull_asset(client, store, uid, form_id=Y2)
        added, edited = change_one_percent(client, url, uid, n)
        with Store.open(store_dir) as store:
            after = pull_asset(client, store, uid, form_id=Y2)
        db_mb = sum(p.stat().st_size for p in store_dir.iterdir()) / 1e6
    finally:
        server.stdin.close()
        server.wait(timeout=120)
        shutil.rmtree(work, ignore_errors=True)  # the store (and the sandbox unless --data keeps it)

    ratio = full.seconds / floor_s
    max_requests = 1 + math.ceil(n / 1000)
    print()
    print(f"full pull          {full.seconds:8.2f} s  {full.requests:5d} requests  {full.new:,} new "
          f"({n / full.seconds:,.0f} submissions/s); store file {db_mb:,.0f} MB")
    print(f"floor              {floor_s:8.2f} s  {floor_requests:5d} requests  {floor_rows:,} rows "
          f"(bare requests + json.loads of the same pages; faster of 2 runs: "
          f"{' / '.join(f'{f[0]:.2f}' for f in floors)} s)")
    print(f"peak memory        {peak / 1e6:8.1f} MB growth of ru_maxrss during the full pull "
          f"(baseline {rss0 / 1e6:.0f} MB)")
    print(f"no-change re-pull  {again.seconds:8.2f} s  {again.requests:5d} requests  "
          f"{again.new} new, {again.edited} edited, {again.deleted} deleted, {again.unchanged:,} unchanged")
    print(f"after 1%+1%        {after.seconds:8.2f} s  {after.requests:5d} requests  {after.new} new, "
          f"{after.edited} edited ({added} added and {edited} edited on the server)")
    print()
    print("aims")
    print(f"  full pull <= 1.3 x floor                   {ratio:6.2f} x            {verdict(ratio <= 1.3)}")
    print(f"  peak memory < 300 MB                       {peak / 1e6:6.1f} MB           {verdict(peak < 300e6)}")
    print(f"  no-change re-pull <= 1 + ceil(N/1000) req  {again.requests:6d} <= {max_requests:<6d}     "
          f"{verdict(again.requests <= max_requests)}")
    share = again.seconds / full.seconds
    print(f"  no-change re-pull < 10% of the full pull   {share:6.1%}              {verdict(share < 0.10)}")
    correct = (after.new, after.edited) == (added, edited) and full.new == n and again.new == again.edited == 0
    print(f"  counts as changed on the server            {'yes' if correct else 'NO'}"
          f"{'':17}{verdict(correct)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
