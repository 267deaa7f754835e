"""Submissions: `/api/v2/assets/{uid}/data/` pages, keyset paging on `_id`, the light reconcile sweep.

Every page asks for an explicit `limit` and an explicit `sort` (old servers differ in both; KOBO_API.md
§9 items 1-3) and tolerates legacy bodies. A page that comes back with fewer rows than asked while
`next` is not null was clamped by the server: `Page.clamped_to` says to what. After a 502/504 or a read
timeout the retry asks for half the rows, and `Page.requested_limit` reports the limit finally used,
so the caller keeps the smaller size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .session import KoboSession

SWEEP_FIELDS = ["_id", "_uuid", "_validation_status"]
MIN_LIMIT = 10
KEYSET_SORT = {"_id": 1}


@dataclass
class Page:
    results: list[dict]
    count: int | None
    next: str | None
    requested_limit: int | None
    returned: int
    previous: str | None = None
    clamped_to: int | None = None
    shrunk: bool = False  # the limit was halved after a gateway timeout

    @property
    def last_id(self) -> int | None:
        ids = [r["_id"] for r in self.results if isinstance(r.get("_id"), int)]
        return max(ids) if ids else None

    @property
    def effective_limit(self) -> int | None:
        """The page size to ask for next time: the server's clamp, else what was last requested."""
        return self.clamped_to or self.requested_limit

    @property
    def is_last(self) -> bool:
        return not self.results or not self.next


def keyset_query(last_id: int | None) -> dict:
    return {"_id": {"$gt": int(last_id or 0)}}


def _limit_in_url(url: str | None) -> int | None:
    if not url:
        return None
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key in ("limit", "page_size") and value.isdigit():
            return int(value)
    return None


def _replace_limit(url: str, limit: int) -> str:
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k == "limit" for k, _ in pairs):
        pairs.append(("limit", str(limit)))
    pairs = [(k, str(limit) if k == "limit" else v) for k, v in pairs]
    return urlunsplit(parts._replace(query=urlencode(pairs)))


class SubmissionsService:
    def __init__(self, session: KoboSession):
        self.session = session

    def data_url(self, uid: str) -> str:
        return self.session.api_url("assets", uid, "data")

    # -- pages --------------------------------------------------------------------------------------

    def page(self, uid: str, *, query: dict | None = None, sort: dict | None = None, fields: list[str] | None = None,
             limit: int | None = None, start: int | None = None) -> Page:
        """One page of `data/`, with query/sort/fields as JSON and `start`/`limit` (never `page`)."""
        params: dict[str, Any] = {}
        if query is not None:
            params["query"] = query
        if sort is not None:
            params["sort"] = sort
        if fields is not None:
            params["fields"] = list(fields)
        if start is not None:
            params["start"] = int(start)
        if limit is not None:
            params["limit"] = int(limit)
        return self._fetch(self.data_url(uid), params, limit)

    def follow(self, next_url: str, limit: int | None = None) -> Page:
        """The page behind a `next` link, requested exactly as the server wrote it."""
        return self._fetch(next_url, None, limit if limit is not None else _limit_in_url(next_url))

    def after(self, uid: str, last_id: int | None, limit: int, *, fields: list[str] | None = None) -> Page:
        """Keyset page: rows with `_id` > last_id, ascending. Survives deletes between pages."""
        return self.page(uid, query=keyset_query(last_id), sort=KEYSET_SORT, fields=fields, limit=limit)

    def pages_after(self, uid: str, last_id: int | None, limit: int, *, fields: list[str] | None = None
                    ) -> Iterator[Page]:
        """Keyset pages until the end; each page adopts the size the server allowed last time."""
        while True:
            page = self.after(uid, last_id, limit, fields=fields)
            yield page
            if page.is_last:
                return
            newest = page.last_id
            if newest is None or (last_id is not None and newest <= last_id):
                return  # no progress possible (rows without integer _id): stop rather than loop
            last_id = newest
            limit = page.effective_limit or limit

    def sweep(self, uid: str, limit: int) -> Iterator[Page]:
        """The light reconcile sweep: `_id`, `_uuid`, `_validation_status` of every submission."""
        return self.pages_after(uid, None, limit, fields=SWEEP_FIELDS)

    def get(self, uid: str, submission_id: int | str) -> dict:
        return self.session.get_json(
            self.session.api_url("assets", uid, "data", submission_id),
            not_found=(f"submission {submission_id} is not in asset {uid} (deleted on the server, or never "
                       f"existed) — or the asset uid/token is wrong (Kobo hides private assets behind 404)."))

    # -- internals ----------------------------------------------------------------------------------

    def _fetch(self, url: str, params: dict[str, Any] | None, limit: int | None) -> Page:
        state = {"limit": limit, "shrunk": False}

        def smaller(url: str, params: dict[str, Any] | None):
            current = state["limit"]
            if current is None or current <= MIN_LIMIT:
                return url, params
            state["limit"] = max(MIN_LIMIT, current // 2)
            state["shrunk"] = True
            if params is None:  # a `next` link: change the limit inside it
                return _replace_limit(url, state["limit"]), None
            return url, {**params, "limit": str(state["limit"])}

        body = self.session.get_json(url, params=params, on_timeout=smaller)
        return _parse_page(body, state["limit"], state["shrunk"])


def _parse_page(body: Any, requested: int | None, shrunk: bool) -> Page:
    if isinstance(body, list):  # unpaginated legacy rendering
        return Page(results=body, count=len(body), next=None, requested_limit=requested,
                    returned=len(body), shrunk=shrunk)
    body = body or {}
    results = body.get("results")
    if results is None:
        results = []
    count = body.get("count")
    next_url = body.get("next") or None
    returned = len(results)
    clamped = None
    if next_url and requested:
        link_limit = _limit_in_url(next_url)
        if link_limit is not None and link_limit < requested:
            clamped = link_limit
        elif 0 < returned < requested:
            clamped = returned
    return Page(results=results, count=count if isinstance(count, int) else None, next=next_url,
                previous=body.get("previous"), requested_limit=requested, returned=returned,
                clamped_to=clamped, shrunk=shrunk)
