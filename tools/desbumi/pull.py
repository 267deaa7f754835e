"""`pull`: bring every submission of an asset home, incrementally, resumably, never losing one.

Kobo's JSON carries no edit time (kpi#7259) and deletions simply vanish, so one pull is:

1. the asset and every content version not yet stored (old submissions are flattened with the
   version they were made with);
2. when the store already holds submissions: a light sweep of `_id`, `_uuid`, `_validation_status`
   over every submission. It tells what vanished (marked deleted, never dropped), what was edited
   (a new `_uuid`: the new version is fetched), validation changes, and whether anything is new;
3. keyset pages of new submissions (`_id` > the last committed one, ascending, the largest page the
   server allows), each committed in one transaction with the cursor, so an interrupted pull resumes
   from the last committed page and a page applied twice changes nothing;
4. optionally, attachments not yet downloaded.

A pull with no server change therefore costs the asset request and the sweep pages
(1 + ⌈N/limit⌉ requests) and writes no submission.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .checksums import sha256_file
from .kobo import KoboClient, safe_attachment_path
from .store import Store

DEFAULT_LIMIT = 1000
READ_AHEAD = True  # fetch the next page of new submissions while the current one is stored
FETCH_CHUNK = 200  # ids per `$in` query: keeps URLs well under proxies' 8 KiB header limits

Progress = Callable[[str, int, int | None], None]  # (stage, done, total or None)


def no_progress(stage: str, done: int, total: int | None) -> None:
    """The silent progress sink, so the pull code needs no `if progress` branches."""


@dataclass
class PullSummary:
    asset_uid: str
    form_id: str = ""
    name: str = ""
    new: int = 0
    edited: int = 0
    deleted: int = 0
    undeleted: int = 0
    unchanged: int = 0
    validation_changed: int = 0
    versions_added: int = 0
    attachments_downloaded: int = 0
    attachments_present: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    status: str = "ok"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data

    def add(self, result) -> None:
        for name in ("new", "edited", "unchanged", "undeleted", "validation_changed"):
            setattr(self, name, getattr(self, name) + getattr(result, name, 0))


def pull_asset(client: KoboClient, store: Store, asset_uid: str, *, form_id: str | None = None,
               full: bool = False, reconcile: bool = True, attachments: bool = False,
               limit: int = DEFAULT_LIMIT, progress: Progress = no_progress) -> PullSummary:
    """One asset, end to end; the run row records what happened even when the pull fails."""
    started = time.monotonic()
    before = client.session.counters()
    summary = PullSummary(asset_uid=asset_uid)
    run_id = store.start_run(asset_uid)
    status, errors = "failed", None
    try:
        asset = client.assets.get(asset_uid)
        record = store.save_asset(asset, form_id=form_id)
        summary.form_id, summary.name = record.form_id or "", asset.get("name") or ""
        summary.versions_added = _sync_versions(client, store, asset)
        if full:
            store.reset_cursor(asset_uid)
        limit = min(limit, store.page_limit(asset_uid) or limit)  # the server's clamp, if it set one lower
        cursor = store.cursor(asset_uid)
        anything_new = True
        if cursor and reconcile:
            anything_new, limit = _reconcile(client, store, asset_uid, run_id, cursor, limit, summary, progress)
        if anything_new:
            limit = _fetch_new(client, store, asset_uid, run_id, limit, summary, progress, total=_count(asset))
        if attachments:
            _download_attachments(client, store, asset_uid, summary, progress)
        status = "ok"
    except KeyboardInterrupt:
        status, errors = "interrupted", "interrupted by the user"
        raise
    except Exception as exc:
        errors = str(exc)
        raise
    finally:
        after = client.session.counters()
        summary.requests = after["requests"] - before["requests"]
        summary.retries = after["retries"] - before["retries"]
        summary.seconds = time.monotonic() - started
        summary.status = status
        store.finish_run(run_id, status=status, counts=_counts(summary), requests=summary.requests,
                         retries=summary.retries, errors=errors)
    return summary


def _count(asset: dict) -> int | None:
    value = asset.get("deployment__submission_count")
    return value if isinstance(value, int) else None


def _counts(summary: PullSummary) -> dict[str, int]:
    return {name: getattr(summary, name) for name in ("new", "edited", "deleted", "undeleted", "unchanged")}


def _sync_versions(client: KoboClient, store: Store, asset: dict) -> int:
    """Store every content version the store lacks (versions are immutable: fetched once).

    The version list is only asked for when the asset names a version the store does not have, so
    a pull with nothing new costs no version requests.
    """
    asset_uid = asset["uid"]
    known = store.known_versions(asset_uid)
    current = {v for v in (asset.get("version_id"), asset.get("deployed_version_id")) if v}
    if current and current <= known:
        return 0
    added = 0
    for version in client.assets.versions(asset_uid):
        vuid = version.get("uid")
        if not vuid or vuid in known:
            continue
        detail = client.assets.version(asset_uid, vuid)
        if store.save_version(asset_uid, vuid, detail.get("content") or {}, version.get("date_deployed")):
            added += 1
    return added


def _fetch_new(client: KoboClient, store: Store, asset_uid: str, run_id: int, limit: int, summary: PullSummary,
               progress: Progress, total: int | None) -> int:
    """Keyset pages from the committed cursor; returns the page size the server allowed."""
    cursor = store.cursor(asset_uid)
    done = 0
    pages = client.submissions.pages_after(asset_uid, cursor, limit)
    for page in (read_ahead(pages) if READ_AHEAD else pages):
        if page.results:
            summary.add(store.apply_page(asset_uid, page.results, run_id))
            done += len(page.results)
            progress("submissions", done, total)
        allowed = page.clamped_to or (page.requested_limit if page.shrunk else None)
        if allowed and allowed != limit:
            limit = allowed
            store.set_page_limit(asset_uid, limit)
    return limit


def read_ahead(pages: Iterator[Any]) -> Iterator[Any]:
    """`pages`, produced by a helper thread one page ahead of the consumer.

    The next keyset page depends only on the last `_id` of the current one, so it can be fetched and
    decoded while the current page is written to the store: the pull then costs about the larger of
    the network and the store, not their sum. At most one page waits in the queue (bounded memory).
    Nothing changes for crash safety: a page counts only when `apply_page` commits it, and a page
    fetched ahead but not stored is simply fetched again by the next pull. Only the helper thread
    uses the HTTP session while this runs; an error there is raised here, in order, and when the
    consumer stops early the helper is told to stop and is waited for (so the session is free again).
    """
    box: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(("page", page)):
                    break
            else:
                put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    helper = threading.Thread(target=produce, name="desbumi-pull-read-ahead", daemon=True)
    helper.start()
    interrupted = False
    try:
        while True:
            kind, item = box.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        stop.set()
        if not interrupted:  # Ctrl-C should not wait for a page in flight
            helper.join()


def _reconcile(client: KoboClient, store: Store, asset_uid: str, run_id: int, cursor: int, limit: int,
               summary: PullSummary, progress: Progress) -> tuple[bool, int]:
    """Sweep `_id`/`_uuid`/`_validation_status`; mark deletions, refetch edits. Returns (anything new?, limit)."""
    seen: dict[int, tuple[str, dict]] = {}
    reported: int | None = None
    for page in client.submissions.sweep(asset_uid, limit):
        if reported is None:
            reported = page.count
        for row in page.results:
            if isinstance(row.get("_id"), int):
                seen[row["_id"]] = (str(row.get("_uuid") or ""), row.get("_validation_status") or {})
        progress("reconcile", len(seen), reported)
        if page.clamped_to and page.clamped_to != limit:
            limit = page.clamped_to
            store.set_page_limit(asset_uid, limit)
    if reported is not None and reported > len(seen):
        # Fewer rows than the server counted: the sweep may be partial. Marking the missing ones as
        # deleted could be wrong, so only edits and new submissions are taken this time.
        summary.notes.append(f"the reconcile sweep saw {len(seen)} of {reported} submissions; deletions are "
                             "checked again on the next pull")
        stored = store.sweep_state(asset_uid)
        seen.update({i: (uuid, _loads(v)) for i, (uuid, v) in stored.items() if i not in seen})
    plan = store.apply_sweep(asset_uid, seen, run_id)
    summary.deleted += len(plan.deleted_ids)
    summary.validation_changed += len(plan.validation_changes)
    refetch = list(plan.changed_uuid_ids) + [i for i in plan.unknown_ids if i <= cursor]
    for docs in _fetch_ids(client, asset_uid, refetch, limit):
        summary.add(store.apply_docs(asset_uid, docs, run_id))
    return any(i > cursor for i in plan.unknown_ids), limit


def _loads(value: str) -> dict:
    import json

    try:
        loaded = json.loads(value or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _fetch_ids(client: KoboClient, asset_uid: str, ids: Iterable[int], limit: int) -> Iterable[list[dict]]:
    """The full documents of given `_id`s, a `$in` query per chunk (edited or late submissions)."""
    ids = sorted(set(ids))
    for start in range(0, len(ids), FETCH_CHUNK):
        chunk = ids[start:start + FETCH_CHUNK]
        page = client.submissions.page(asset_uid, query={"_id": {"$in": chunk}}, sort={"_id": 1},
                                       limit=max(len(chunk), min(limit, len(chunk))))
        if page.results:
            yield page.results


def _download_attachments(client: KoboClient, store: Store, asset_uid: str, summary: PullSummary,
                          progress: Progress) -> None:
    """Pending attachments into <store>/attachments/<asset>/<_id>/<name>; files already there are kept."""
    base = store.dir.resolve()
    root = base / "attachments"
    pending = [a for a in store.pending_attachments(asset_uid) if a.download_url and not a.is_deleted]
    for done, item in enumerate(pending, start=1):
        path = safe_attachment_path(root, asset_uid, item.submission_id, item.basename or item.filename or "")
        if path.is_file():
            digest, size = sha256_file(path), path.stat().st_size
            summary.attachments_present += 1
        else:
            digest, size = client.attachments.download(item.download_url, path)
            summary.attachments_downloaded += 1
        store.attachment_downloaded(item.id, path.relative_to(base).as_posix(), digest, size)
        progress("attachments", done, len(pending))
