"""A Kobo-compatible HTTP server on loopback: the routes, shapes, errors and faults of KOBO_API.md.

    from desbumi.sandbox import SandboxServer, SandboxState
    with SandboxServer(SandboxState.load("sandbox-data"), faults="502:0.05", fault_seed=3) as server:
        requests.get(f"{server.url}/api/v2/assets/", headers={"Authorization": f"Token {server.token}"})
        server.state.add_submission(uid, {...})          # the field, between two pulls
        server.set_faults(None)                          # faults off

Built on the standard library's ThreadingHTTPServer (HTTP/1.1, keep-alive, one thread per
connection): the double needs no framework, and a dependency-free server starts in milliseconds in
every test. Every request passes, in this order: the admin routes (`/__sandbox__/…`, never faulted),
the fault plan (faults.py; decided by the request's number), `/api/v1/…` → 410, the 301 for a missing
trailing slash, authentication (an invalid token fails everything with 401), then the route.

Admin routes (sandbox only; no authentication — the server binds loopback):

    GET    /__sandbox__/                                   url, page mode, faults, users (tokens), assets
    GET    /__sandbox__/stats                              request counts by route and by fault
    POST   /__sandbox__/stats/reset
    POST   /__sandbox__/faults            {"spec": "502:0.1", "seed": 3}  (spec null or "none": off)
    POST   /__sandbox__/settings          {"page_mode": "legacy", "import_polls": 2, "export_polls": 1}
    POST   /__sandbox__/save                               write the state to the data folder now
    POST   /__sandbox__/assets/{uid}/submissions           a document, a list, or {"submissions": [...],
                                                           "raw": false}: new submissions (raw: stored
                                                           as given, e.g. with their own `_id`) → 201
                                                           {"ids": [...], "submissions": [...]}
    POST   /__sandbox__/assets/{uid}/submissions/{id}/edit     new answers → 200 the edited document
    POST   /__sandbox__/assets/{uid}/submissions/{id}/validation_status   {"uid": "validation_status_…"}
    DELETE /__sandbox__/assets/{uid}/submissions/{id}      → 204
    POST   /__sandbox__/assets/{uid}/delete_later          apply the seed scenario's deletions
    GET    /__sandbox__/assets/{uid}/manifest              the media the deployed form serves
"""

from __future__ import annotations

import base64
import binascii
import csv
import email.parser
import email.policy
import hashlib
import io
import ipaddress
import json
import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from .. import __version__
from ..errors import InputError
from .data import BadRequest, DataQuery, compile_query, page_links, run_query
from .faults import Fault, FaultPlan
from .state import (
    ANONYMOUS,
    PERMISSIONS,
    Asset,
    AssetFile,
    ContentError,
    ExportTask,
    ImportTask,
    SandboxError,
    SandboxState,
    User,
    compile_content,
    content_summary,
    content_to_xlsform_dict,
    safe_name,
    zip_bytes,
)

log = logging.getLogger("desbumi.sandbox")

PAGE_MODES = ("modern", "legacy")
V1_GONE = {"detail": "The V1 API has been removed. Please read the migration article at "
                     "https://support.kobotoolbox.org/migrating_api.html"}
V1_PREFIXES = ("/api/v1/", "/assets/", "/imports/", "/exports/", "/collections/", "/asset_snapshots/",
               "/permissions/", "/tags/", "/reports/", "/users/")
NOT_FOUND = {"detail": "Not found."}
NO_ASSET = {"detail": "No Asset matches the given query."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
NOT_DEPLOYED = {"detail": "The specified asset has not been deployed"}
SERVER_ERROR_HTML = b"<h1>Server Error (500)</h1>"
NOT_FOUND_HTML = (b'<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n'
                  b"  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n"
                  b"</body>\n</html>\n")
EXPORT_REQUIRED = ("fields_from_all_versions", "group_sep", "hierarchy_in_labels", "lang", "multiple_select", "type")
EXPORT_OPTIONAL = ("fields", "flatten", "xls_types_as_text", "include_media_url", "submission_ids", "query", "name")
EXPORT_TYPES = {"csv": "csv", "xls": "xlsx", "geojson": "geojson", "spss_labels": "zip", "kml": "kml"}
FORM_MEDIA_TYPES = ("form_media", "map_layer", "paired_data")


# --------------------------------------------------------------------------- responses


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, data, [("Content-Type", "application/json"), ("Vary", "Accept, Authorization"),
                                  *(headers or [])])

    @classmethod
    def html(cls, status: int, body: bytes) -> Response:
        return cls(status, body, [("Content-Type", "text/html; charset=utf-8")])


class HttpError(Exception):
    def __init__(self, status: int, payload: Any = None, *, headers: list[tuple[str, str]] | None = None,
                 html: bytes | None = None):
        super().__init__(status)
        self.status, self.payload, self.headers, self.html = status, payload, headers or [], html

    def response(self) -> Response:
        if self.html is not None:
            return Response.html(self.status, self.html)
        return Response.json(self.status, self.payload, self.headers)


def unauthorized(detail: str) -> HttpError:
    return HttpError(401, {"detail": detail}, headers=[("WWW-Authenticate", "Session")])


# --------------------------------------------------------------------------- requests


@dataclass
class Request:
    method: str
    path: str
    query: str
    params: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    base: str  # scheme://host[:port] from the Host header
    user: User | None = None
    suffix: str | None = None  # a format suffix of the path (".json")

    @property
    def username(self) -> str | None:
        return self.user.username if self.user else None

    @property
    def url(self) -> str:
        return f"{self.base}{self.path}"

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else None

    def json_body(self) -> Any:
        if not self.body:
            return {}
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data") or content_type.startswith(
                "application/x-www-form-urlencoded"):
            return {k: v[-1] for k, v in self.form_fields().items() if v}
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise HttpError(400, {"detail": f"JSON parse error - {exc}"}) from None

    def form_fields(self) -> dict[str, list]:
        """Multipart or urlencoded fields: name -> [value, ...]; file parts as (filename, bytes, type)."""
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            return {k: list(v) for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}
        if not content_type.startswith("multipart/form-data"):
            raise HttpError(415, {"detail": f'Unsupported media type "{content_type}" in request.'})
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + self.body)
        if not message.is_multipart():
            raise HttpError(400, {"detail": "Multipart form parse error - Invalid boundary in multipart: None"})
        fields: dict[str, list] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                value: Any = (filename, payload, part.get_content_type())
            else:
                charset = part.get_content_charset() or "utf-8"
                value = payload.decode(charset, errors="replace")
            fields.setdefault(name, []).append(value)
        return fields


# --------------------------------------------------------------------------- routing table

Handler = Callable[["Api", Request, dict[str, str]], Response]
_ROUTES: list[tuple[re.Pattern, dict[str, str], str]] = []  # pattern, method -> handler name, route name


def route(pattern: str, name: str, **methods: str) -> None:
    _ROUTES.append((re.compile(pattern), {m.upper(): h for m, h in methods.items()}, name))


_UID = r"(?P<uid>[A-Za-z0-9]+)"
route(r"^/token/$", "token", get="token", post="token", delete="token_delete")
route(r"^/me/$", "me", get="me")
route(r"^/api/v2/users/(?P<username>[^/]+)/$", "user", get="user_detail")
route(r"^/api/v2/assets/$", "assets", get="asset_list", post="asset_create")
route(r"^/api/v2/assets\.json$", "assets", get="asset_list")
route(rf"^/api/v2/assets/{_UID}/$", "asset", get="asset_detail", patch="asset_update", delete="asset_delete")
route(rf"^/api/v2/assets/{_UID}\.(?P<fmt>json|xml|xls)$", "asset", get="asset_download")
route(rf"^/api/v2/assets/{_UID}/versions/$", "versions", get="version_list")
route(rf"^/api/v2/assets/{_UID}/versions/(?P<vuid>[^/]+)/$", "version", get="version_detail")
route(rf"^/api/v2/assets/{_UID}/deployment/$", "deployment", get="deployment_get", post="deployment_post",
      patch="deployment_patch")
route(rf"^/api/v2/assets/{_UID}/files/$", "files", get="file_list", post="file_create")
route(rf"^/api/v2/assets/{_UID}/files/(?P<afuid>[^/]+)/$", "file", get="file_detail", delete="file_delete")
route(rf"^/api/v2/assets/{_UID}/files/(?P<afuid>[^/]+)/content/$", "file_content", get="file_content")
route(rf"^/api/v2/assets/{_UID}/data/$", "data", get="data_list")
route(rf"^/api/v2/assets/{_UID}/data\.(?P<fmt>json|xml|geojson)$", "data", get="data_list")
route(rf"^/api/v2/assets/{_UID}/data/bulk/$", "data_bulk", delete="data_bulk_delete", patch="data_bulk_patch")
route(rf"^/api/v2/assets/{_UID}/data/(?P<sid>[^/.]+)/$", "submission", get="data_detail", delete="data_delete")
route(rf"^/api/v2/assets/{_UID}/data/(?P<sid>[^/.]+)\.(?P<fmt>json)$", "submission", get="data_detail")
route(rf"^/api/v2/assets/{_UID}/data/(?P<sid>[^/.]+)/validation_status/$", "validation_status",
      get="validation_get", patch="validation_patch", delete="validation_delete")
route(rf"^/api/v2/assets/{_UID}/data/(?P<sid>[^/.]+)/attachments/(?P<att>[^/]+)/"
      r"(?:(?P<size>large|medium|small)/)?$", "attachment", get="attachment")
route(rf"^/api/v2/assets/{_UID}/exports/$", "exports", get="export_list", post="export_create")
route(rf"^/api/v2/assets/{_UID}/exports/(?P<euid>[^/]+)/$", "export", get="export_detail", delete="export_delete")
route(r"^/api/v2/imports/$", "imports", get="import_list", post="import_create")
route(r"^/api/v2/imports/(?P<iuid>[^/]+)/$", "import", get="import_detail")
route(r"^/private-media/(?P<owner>[^/]+)/exports/(?P<uid>[^/]+)/(?P<euid>[^/]+)/(?P<name>[^/]+)$",
      "export_file", get="export_file")


def match_route(path: str) -> tuple[dict[str, str], str, dict[str, str]] | None:
    for pattern, methods, name in _ROUTES:
        found = pattern.match(path)
        if found:
            return methods, name, {k: v for k, v in found.groupdict().items() if v is not None}
    return None


# --------------------------------------------------------------------------- the API


class Api:
    """The route handlers; one instance per server, shared by every request thread."""

    def __init__(self, server: SandboxServer):
        self.server = server

    @property
    def state(self) -> SandboxState:
        return self.server.state

    # ----------------------------------------------------------------- dispatch

    def handle(self, req: Request) -> Response:
        if req.path.startswith(V1_PREFIXES) or req.path in ("/api/v1", "/assets", "/imports"):
            return Response.json(410, V1_GONE)
        found = match_route(req.path)
        if found is None:
            if not req.path.endswith("/") and match_route(req.path + "/") is not None:
                location = req.path + "/" + (f"?{req.query}" if req.query else "")
                return Response(301, b"", [("Content-Type", "text/html; charset=utf-8"), ("Location", location)])
            return Response.html(404, NOT_FOUND_HTML)
        methods, _name, args = found
        try:
            req.user = self.authenticate(req)
            method = "GET" if req.method == "HEAD" else req.method
            if method == "OPTIONS":
                allowed = ", ".join(sorted(set(methods) | {"OPTIONS"}))
                return Response.json(200, {"name": _name, "renders": ["application/json"]}, [("Allow", allowed)])
            handler_name = methods.get(method)
            if handler_name is None:
                return Response.json(405, {"detail": f'Method "{req.method}" not allowed.'})
            fmt = args.pop("fmt", None) or req.param("format")
            if fmt is not None and fmt not in ("json", "api") and handler_name not in ("asset_download",):
                if not (handler_name == "data_list" and fmt in ("xml", "geojson")):
                    raise HttpError(404, NOT_FOUND)
            req.suffix = fmt
            return getattr(self, handler_name)(req, **args)
        except HttpError as exc:
            return exc.response()
        except SandboxError as exc:
            return Response.json(exc.status, exc.body)
        except BadRequest as exc:
            return Response.json(400, exc.body)

    def authenticate(self, req: Request) -> User | None:
        """DRF's authenticators (Basic, Token; Bearer is OAuth2's and is ignored if unknown)."""
        header = req.headers.get("Authorization")
        if not header:
            return None
        parts = header.split()
        keyword = parts[0].lower() if parts else ""
        if keyword == "token":
            if len(parts) == 1:
                raise unauthorized("Invalid token header. No credentials provided.")
            if len(parts) > 2:
                raise unauthorized("Invalid token header. Token string should not contain spaces.")
            user = self.state.user_by_token(parts[1])
            if user is None:
                raise unauthorized("Invalid token.")
            if not user.is_active:
                raise unauthorized("User inactive or deleted.")
            return user
        if keyword == "basic":
            if len(parts) == 1:
                raise unauthorized("Invalid basic header. No credentials provided.")
            if len(parts) > 2:
                raise unauthorized("Invalid basic header. Credentials string should not contain spaces.")
            try:
                text = base64.b64decode(parts[1], validate=True).decode("utf-8")
                username, _, password = text.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise unauthorized("Invalid basic header. Credentials not correctly base64 encoded.") from None
            with self.state.lock:
                user = self.state.users.get(username)
            if user is None or user.password != password:
                raise unauthorized("Invalid username/password.")
            if not user.is_active:
                raise unauthorized("User inactive or deleted.")
            return user
        return None

    # ----------------------------------------------------------------- access

    def _asset(self, req: Request, uid: str, *, nested: bool = False, view: str = "view_asset") -> Asset:
        """The asset if the user may see it (through `view`); kpi's 404s otherwise."""
        with self.state.lock:
            asset = self.state.assets.get(uid)
        if asset is None:
            raise HttpError(404, NO_ASSET if nested else NOT_FOUND)
        if not self.state.can(asset, req.username, view):
            raise HttpError(404, NOT_FOUND)
        return asset

    def _require(self, req: Request, asset: Asset, codename: str) -> None:
        """403 (401 when anonymous) for a user who can see the object but may not do this."""
        if not self.state.can(asset, req.username, codename):
            if req.user is None:
                raise HttpError(401, NOT_AUTHENTICATED, headers=[("WWW-Authenticate", "Session")])
            raise HttpError(403, FORBIDDEN)

    def _user_required(self, req: Request) -> User:
        if req.user is None:
            raise unauthorized(NOT_AUTHENTICATED["detail"])
        return req.user

    # ----------------------------------------------------------------- pagination for non-data lists

    def paginate(self, req: Request, items: list, render: Callable[[Any], Any]) -> Response:
        """DRF LimitOffset as kpi's lists use it: default 100; modern servers max 1000 and `start`
        links (offset accepted), legacy servers no maximum and `offset` links."""
        legacy = self.server.page_mode == "legacy"
        name = "offset" if legacy else "start"
        limit = _positive(req.param("limit"), 100)
        if not legacy:
            limit = min(limit, 1000)
        raw_start = req.param("start") if req.param("start") is not None and not legacy else req.param("offset")
        start = _non_negative(raw_start, 0)
        count = len(items)
        page = items[start:start + limit]
        nxt = prev = None
        if start + limit < count:
            nxt = _link(req.url, req.params, limit, start + limit, name)
        if start > 0:
            prev = _link(req.url, req.params, limit, None if start - limit <= 0 else start - limit, name)
        return Response.json(200, {"count": count, "next": nxt, "previous": prev,
                                   "results": [render(item) for item in page]})

    # ----------------------------------------------------------------- token and users

    def token(self, req: Request) -> Response:
        user = self._user_required(req)
        username = req.param("username")
        if username and username != user.username:
            if not user.is_superuser:
                raise HttpError(403, FORBIDDEN)
            if username not in self.state.users:
                raise HttpError(404, NOT_FOUND)
            user = self.state.users[username]
        key, created = self.state.get_or_create_token(user.username)
        return Response.json(201 if created and req.method == "POST" else 200, {"token": key})

    def token_delete(self, req: Request) -> Response:
        user = self._user_required(req)
        self.state.revoke_token(user.username)
        return Response(204)

    def me(self, req: Request) -> Response:
        user = self._user_required(req)
        return Response.json(200, {
            "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "server_time": _now_z(), "date_joined": user.date_joined[:19] + "Z",
            "projects_url": f"{req.base}/{user.username}", "gravatar":
                "https://www.gravatar.com/avatar/00000000000000000000000000000000?s=40",
            "last_login": user.last_login, "is_superuser": user.is_superuser,
            "extra_details": {"name": f"{user.first_name} {user.last_name}".strip(), "organization": "Migrant CARE",
                              "sector": "Humanitarian", "country": "Indonesia"},
            "git_rev": False, "social_accounts": [], "validated_password": True, "accepted_tos": True,
            "organization": {"url": f"{req.base}/api/v2/organizations/org{user.username}/",
                             "name": "Migrant CARE", "uid": f"org{user.username}"},
            "extra_details__uid": f"u{user.username}"})

    def user_detail(self, req: Request, username: str) -> Response:
        self._user_required(req)
        with self.state.lock:
            user = self.state.users.get(username)
        if user is None or not user.is_active:
            raise HttpError(404, NOT_FOUND)
        owned = [a for a in self.state.assets.values() if a.owner == username and a.asset_type == "collection"]
        return Response.json(200, {"url": f"{req.base}/api/v2/users/{username}/", "username": username,
                                   "date_joined": user.date_joined[:19] + "Z",
                                   "public_collection_subscribers_count": 0,
                                   "public_collections_count": len([a for a in owned
                                                                    if ANONYMOUS in a.permissions])})

    # ----------------------------------------------------------------- assets

    def asset_list(self, req: Request) -> Response:
        with self.state.lock:
            visible = [a for a in self.state.assets.values() if self.state.can(a, req.username, "view_asset")]
        query = req.param("q")
        if query:
            predicate = parse_asset_query(query)
            visible = [a for a in visible if predicate(a)]
        visible = order_assets(visible, req.param("ordering"))
        return self.paginate(req, visible, lambda a: self.asset_json(req, a, full=False))

    def asset_create(self, req: Request) -> Response:
        user = self._user_required(req)
        body = req.json_body()
        if not isinstance(body, dict):
            raise HttpError(400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        if not body.get("asset_type"):
            raise HttpError(400, {"asset_type": ["This field is required."]})
        content = _content_field(body.get("content"))
        settings = body.get("settings")
        if isinstance(settings, str):
            settings = _json_field(settings, "settings")
        asset = self.state.create_asset(body.get("name") or "", body["asset_type"], content, owner=user.username,
                                        settings=settings, standard_permissions=False)
        return Response.json(201, self.asset_json(req, asset))

    def asset_detail(self, req: Request, uid: str) -> Response:
        return Response.json(200, self.asset_json(req, self._asset(req, uid)))

    def asset_update(self, req: Request, uid: str) -> Response:
        asset = self._asset(req, uid)
        self._require(req, asset, "change_asset")
        body = req.json_body()
        if not isinstance(body, dict):
            raise HttpError(400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        content = _content_field(body["content"]) if "content" in body else None
        settings = body.get("settings")
        if isinstance(settings, str):
            settings = _json_field(settings, "settings")
        self.state.update_asset(uid, name=body.get("name"), content=content, settings=settings)
        return Response.json(200, self.asset_json(req, asset))

    def asset_delete(self, req: Request, uid: str) -> Response:
        asset = self._asset(req, uid)
        self._require(req, asset, "manage_asset")
        with self.state.lock:
            del self.state.assets[uid]
            self.state._write_state()
        return Response(204)

    def asset_download(self, req: Request, uid: str, fmt: str | None = None) -> Response:
        asset = self._asset(req, uid)
        fmt = req.suffix or fmt
        if fmt == "json":
            return Response.json(200, self.asset_json(req, asset))
        if fmt == "xml":
            try:
                xform = compile_content(asset.content, id_string=asset.uid, version_uid=asset.version_id or "")
            except ContentError as exc:
                raise HttpError(400, {"error": str(exc)}) from None
            return Response(200, xform.encode("utf-8"), [("Content-Type", "application/xml")])
        if fmt == "xls":
            return Response(200, xlsform_bytes(asset.content),
                            [("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                             ("Content-Disposition", _disposition(f"{asset.uid}.xlsx"))])
        raise HttpError(404, NOT_FOUND)

    def asset_json(self, req: Request, asset: Asset, *, full: bool = True) -> dict:
        """kpi's AssetSerializer (full) or AssetListSerializer (list) for this user."""
        state = self.state
        base = req.base
        url = f"{base}/api/v2/assets/{asset.uid}/"
        with state.lock:
            perms = state.permissions_of(asset, req.username)
            deployment = asset.deployment
            count = state.count(asset.uid) if deployment else 0
            last = state.last_submission_time(asset.uid) if deployment else None
            version = asset.version
            deployed = [v for v in reversed(asset.versions) if v.deployed]
        sees_data = "view_submissions" in perms
        data_url = f"{url}data.json" if req.suffix == "json" and req.path.endswith(".json") else f"{url}data/"
        out: dict[str, Any] = {
            "url": url,
            "owner": f"{base}/api/v2/users/{asset.owner}/",
            "owner__username": asset.owner,
            "parent": asset.parent,
            "settings": asset.settings,
            "asset_type": asset.asset_type,
        }
        if full:
            out["files"] = [self.file_json(req, asset, f) for f in asset.live_files()]
        out.update({
            "summary": content_summary(asset.content),
            "date_created": asset.date_created,
            "date_modified": asset.date_modified,
            "date_deployed": deployment.date_deployed if deployment else None,
            "version_id": asset.version_id,
        })
        if full:
            out.update({
                "version__content_hash": version.content_hash if version else None,
                "version_count": len(asset.versions),
            })
        out.update({
            "has_deployment": deployment is not None,
            "deployed_version_id": deployment.version_id if deployment else None,
        })
        if full:
            out["deployed_versions"] = {
                "count": len(deployed), "next": None, "previous": None,
                "results": [{"uid": v.uid, "url": f"{url}versions/{v.uid}/", "content_hash": v.content_hash,
                             "date_deployed": v.date_modified, "date_modified": v.date_modified}
                            for v in deployed]}
            out["deployment__links"] = ({"url": f"{base}/x/{asset.uid}",
                                         "offline_url": f"{base}/x/{asset.uid}",
                                         "single_url": f"{base}/x/{asset.uid}/single"}
                                        if deployment and deployment.active else {})
        out.update({
            "deployment__active": bool(deployment and deployment.active),
            "deployment__submission_count": (count if sees_data else None) if asset.asset_type == "survey" else 0,
            "deployment__last_submission_time": last if sees_data else None,
            "deployment__encrypted": False,
            "deployment__uuid": deployment.uuid if deployment else None,
            "deployment_status": asset.deployment_status,
        })
        if full:
            out.update({
                "deployment__data_download_links": {},
                "report_styles": {"default": {}, "specified": {}, "kuid_names": {}},
                "report_custom": {},
                "advanced_features": {},
                "analysis_form_json": {"engines": {}, "additional_fields": []},
                "map_styles": {},
                "map_custom": {},
                "content": asset.content,
                "embeds": [{"format": "xls", "url": f"{url}xls/"}, {"format": "xform", "url": f"{url}xform/"}],
                "xform_link": f"{url}xform/",
                "hooks_link": f"{url}hooks/",
                "xls_link": f"{url}xls/",
                "assignable_permissions": [{"url": f"{base}/api/v2/permissions/{c}/", "label": c.replace("_", " ")}
                                           for c in PERMISSIONS],
                "effective_permissions": [{"codename": c} for c in PERMISSIONS if c in perms],
                "exports": f"{url}exports/",
                "paired_data": f"{url}paired-data/",
                "project_ownership": None,
            })
        out.update({
            "tag_string": ",".join(asset.tags),
            "uid": asset.uid,
            "kind": "asset",
            "name": asset.name,
            "permissions": self.permission_json(req, asset) if "manage_asset" in perms else [
                p for p in self.permission_json(req, asset) if p["user"].endswith(f"/{req.username}/")],
            "export_settings": [],
            "downloads": [{"format": "xls", "url": f"{base}/api/v2/assets/{asset.uid}.xls"},
                          {"format": "xml", "url": f"{base}/api/v2/assets/{asset.uid}.xml"}],
            "data": data_url,
            "children": {"count": 0},
            "subscribers_count": 0,
            "status": "public" if ANONYMOUS in asset.permissions else (
                "shared" if asset.permissions else "private"),
            "access_types": None,
            "data_sharing": {},
            "owner_label": asset.owner,
            "last_modified_by": asset.owner,
            "created_by": asset.owner,
        })
        return out

    def permission_json(self, req: Request, asset: Asset) -> list[dict]:
        out = []
        grants = {asset.owner: list(PERMISSIONS), **asset.permissions}
        for username, codes in grants.items():
            for code in codes:
                key = hashlib.sha256(f"{asset.uid}:{username}:{code}".encode()).hexdigest()[:21]
                out.append({"url": f"{req.base}/api/v2/assets/{asset.uid}/permission-assignments/p{key}/",
                            "user": f"{req.base}/api/v2/users/{username}/",
                            "permission": f"{req.base}/api/v2/permissions/{code}/", "label": code.replace("_", " ")})
        return out

    # ----------------------------------------------------------------- versions

    def version_list(self, req: Request, uid: str) -> Response:
        asset = self._asset(req, uid, nested=True)
        versions = list(reversed(asset.versions))
        return self.paginate(req, versions, lambda v: self.version_json(req, asset, v))

    def version_detail(self, req: Request, uid: str, vuid: str) -> Response:
        asset = self._asset(req, uid, nested=True)
        version = asset.find_version(vuid)
        if version is None:
            raise HttpError(404, NOT_FOUND)
        return Response.json(200, {**self.version_json(req, asset, version), "content": version.content})

    def version_json(self, req: Request, asset: Asset, version) -> dict:
        return {"uid": version.uid, "url": f"{req.base}/api/v2/assets/{asset.uid}/versions/{version.uid}/",
                "content_hash": version.content_hash,
                "date_deployed": version.date_modified if version.deployed else False,
                "date_modified": version.date_modified}

    # ----------------------------------------------------------------- deployment

    def deployment_json(self, req: Request, asset: Asset) -> dict:
        deployment = asset.deployment
        return {"backend": deployment.backend, "active": deployment.active, "version_id": deployment.version_id,
                "asset": self.asset_json(req, asset)}

    def deployment_get(self, req: Request, uid: str) -> Response:
        asset = self._asset(req, uid)
        if asset.deployment is None:
            raise HttpError(404, NOT_FOUND)
        return Response.json(200, self.deployment_json(req, asset))

    def deployment_post(self, req: Request, uid: str) -> Response:
        asset = self._asset(req, uid)
        self._require(req, asset, "manage_asset")
        body = _dict_body(req)
        if asset.deployment is not None:
            raise HttpError(405, {"detail": "Use PATCH to update an existing deployment"})
        self._deploy(asset, version_id=body.get("version_id"), active=_bool(body.get("active", False)))
        return Response.json(200, self.deployment_json(req, asset))

    def deployment_patch(self, req: Request, uid: str) -> Response:
        asset = self._asset(req, uid)
        self._require(req, asset, "manage_asset")
        body = _dict_body(req)
        if asset.deployment is None:
            raise HttpError(405, {"detail": "Use POST to create a new deployment"})
        if "backend" in body and body["backend"] != asset.deployment.backend:
            raise HttpError(400, {"backend": "This field cannot be modified after the initial deployment."})
        keys = set(body) - {"backend"}
        if keys == {"active"}:
            self.state.set_active(uid, _bool(body["active"]))
        elif "version_id" in body:
            active = _bool(body["active"]) if "active" in body else asset.deployment.active
            self._deploy(asset, version_id=body["version_id"], active=active)
        return Response.json(200, self.deployment_json(req, asset))

    def _deploy(self, asset: Asset, *, version_id: str | None, active: bool) -> None:
        try:
            self.state.deploy(asset.uid, version_id=version_id, active=active)
        except (NotImplementedError, TypeError) as exc:  # unhandled in kpi: a bare 500
            log.debug("deploy of %s refused with a 500: %s", asset.uid, exc)
            raise HttpError(500, html=SERVER_ERROR_HTML) from None

    # ----------------------------------------------------------------- files

    def file_json(self, req: Request, asset: Asset, item: AssetFile) -> dict:
        url = f"{req.base}/api/v2/assets/{asset.uid}/files/{item.uid}/"
        metadata: dict[str, Any] = {"hash": f"md5:{item.md5}", "filename": item.filename, "mimetype": item.mimetype}
        if item.redirect_url:
            metadata["redirect_url"] = item.redirect_url
        return {"uid": item.uid, "url": url, "asset": f"{req.base}/api/v2/assets/{asset.uid}/",
                "user": f"{req.base}/api/v2/users/{item.user}/", "user__username": item.user,
                "file_type": item.file_type, "description": item.description, "date_created": item.date_created,
                "content": f"{url}content/", "metadata": metadata}

    def file_list(self, req: Request, uid: str) -> Response:
        asset = self._asset(req, uid, nested=True)
        wanted = req.param("file_type")
        items = [f for f in asset.live_files(wanted) if f.file_type != "paired_data"]
        return self.paginate(req, items, lambda f: self.file_json(req, asset, f))

    def file_create(self, req: Request, uid: str) -> Response:
        asset = self._asset(req, uid, nested=True)
        self._require(req, asset, "change_asset")
        content_type = req.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            fields = {k: [v] for k, v in _dict_body(req).items()}
        else:
            fields = req.form_fields()

        def one(name: str) -> Any:
            values = fields.get(name)
            return values[-1] if values else None

        errors: dict[str, list[str]] = {}
        file_type = one("file_type")
        description = one("description")
        if not file_type:
            errors["file_type"] = ["This field is required."]
        elif file_type not in FORM_MEDIA_TYPES:
            errors["file_type"] = [f'"{file_type}" is not a valid choice.']
        if not description:
            errors["description"] = ["This field is required."]
        if errors:
            raise HttpError(400, errors)
        metadata = one("metadata")
        if isinstance(metadata, str):
            metadata = _json_field(metadata, "metadata") if metadata.strip() else {}
        metadata = metadata if isinstance(metadata, dict) else {}
        upload, encoded = one("content"), one("base64Encoded")
        redirect = metadata.get("redirect_url")
        methods = [m for m, v in (("content", upload), ("base64Encoded", encoded), ("redirect_url", redirect)) if v]
        if len(methods) > 1:
            raise HttpError(400, {"detail": "You cannot upload media file with two different ways at the same time. "
                                            "Please choose between binary upload, base64 or remote URL."})
        if not methods:
            raise HttpError(400, {"content": "No files have been submitted"})
        method = methods[0]
        data: bytes | None
        mimetype = None
        if method == "content":
            if not isinstance(upload, tuple):
                raise HttpError(400, {"content": ["The submitted data was not a file. "
                                                  "Check the encoding type on the form."]})
            filename, data, _sent_type = upload
            filename = metadata.get("filename") or filename
        elif method == "base64Encoded":
            match = re.match(r"^data:(?P<type>[^;,]+)?(;base64)?,(?P<data>.*)$", str(encoded), re.DOTALL)
            if not match:
                raise HttpError(400, {"base64Encoded": "Invalid content"})
            try:
                data = base64.b64decode(match.group("data"))
            except binascii.Error:
                raise HttpError(400, {"base64Encoded": "Invalid content"}) from None
            mimetype = match.group("type")
            filename = metadata.get("filename")
            if not filename:
                raise HttpError(400, {"metadata": "`filename` must be specified"})
        else:
            data = None
            filename = metadata.get("filename") or Path(urlsplit(redirect).path).name or "file"
        item = self.state.add_file(uid, filename, data, description=description, file_type=file_type,
                                   mimetype=mimetype, user=req.username or asset.owner,
                                   redirect_url=redirect if method == "redirect_url" else None, method=method)
        return Response.json(201, self.file_json(req, asset, item))

    def file_detail(self, req: Request, uid: str, afuid: str) -> Response:
        asset = self._asset(req, uid, nested=True)
        return Response.json(200, self.file_json(req, asset, self.state.file(uid, afuid)))

    def file_delete(self, req: Request, uid: str, afuid: str) -> Response:
        asset = self._asset(req, uid, nested=True)
        self._require(req, asset, "change_asset")
        self.state.delete_file(uid, afuid)
        return Response(204)

    def file_content(self, req: Request, uid: str, afuid: str) -> Response:
        self._asset(req, uid, nested=True)
        item = self.state.file(uid, afuid)
        if item.redirect_url:
            return Response(302, b"", [("Location", item.redirect_url)])
        data = self.state.file_bytes(uid, afuid)
        return Response(200, data, [("Content-Type", item.mimetype),
                                    ("Content-Disposition", _disposition(item.filename))])

    # ----------------------------------------------------------------- data

    def _data_asset(self, req: Request, uid: str) -> Asset:
        asset = self._asset(req, uid, nested=True, view="view_submissions")
        if asset.deployment is None:
            raise HttpError(400, NOT_DEPLOYED)
        return asset

    def data_list(self, req: Request, uid: str) -> Response:
        self._data_asset(req, uid)
        query = DataQuery.from_params(req.params)
        if (req.suffix or "json") not in ("json", "api"):
            raise HttpError(404, NOT_FOUND)  # xml and geojson renderings are not in the sandbox
        docs = self.state.submissions(uid)
        results, count, limit = run_query(docs, query, mode=self.server.page_mode)
        nxt, prev = page_links(req.url, req.params, query.start, limit, count)
        payload = {"count": count, "next": nxt, "previous": prev,
                   "results": [self.with_urls(req, uid, doc) for doc in results]}
        return Response.json(200, payload)

    def with_urls(self, req: Request, uid: str, doc: dict) -> dict:
        """A stored document with its attachments' download URLs on this request's host."""
        attachments = doc.get("_attachments")
        if not attachments:
            return doc
        out = dict(doc)
        items = []
        for item in attachments:
            item = dict(item)
            key = item.get("uid") or item.get("id")
            url = f"{req.base}/api/v2/assets/{uid}/data/{doc['_id']}/attachments/{key}/"
            item["download_url"] = url
            if str(item.get("mimetype", "")).startswith("image/"):
                for size in ("large", "medium", "small"):
                    item[f"download_{size}_url"] = f"{url}{size}/"
            items.append(item)
        out["_attachments"] = items
        return out

    def data_detail(self, req: Request, uid: str, sid: str) -> Response:
        self._data_asset(req, uid)
        return Response.json(200, self.with_urls(req, uid, self.state.submission(uid, _submission_key(sid))))

    def data_delete(self, req: Request, uid: str, sid: str) -> Response:
        asset = self._data_asset(req, uid)
        self._require(req, asset, "delete_submissions")
        doc = self.state.submission(uid, _submission_key(sid))
        self.state.delete_submission(uid, doc["_id"])
        return Response(204)

    def _bulk_ids(self, req: Request, uid: str, payload: Any) -> list[int]:
        if isinstance(payload, str):
            payload = _json_field(payload, "payload")
        if not isinstance(payload, dict):
            raise HttpError(400, {"payload": ["This field is required."]})
        docs = self.state.submissions(uid)
        if payload.get("confirm") is True and "submission_ids" not in payload and "query" not in payload:
            return [d["_id"] for d in docs]
        if "query" in payload:
            query = payload["query"]
            if isinstance(query, str):
                query = _json_field(query, "query")
            try:
                predicate = compile_query(query if isinstance(query, dict) else {})
            except Exception:  # data.py's refusal of a filter Mongo would refuse
                raise HttpError(400, ["Unsupported query"]) from None
            return [d["_id"] for d in docs if predicate(d)]
        ids = payload.get("submission_ids")
        if not isinstance(ids, list) or not ids:
            raise HttpError(400, {"detail": "`submission_ids` or `query` must be provided"})
        known = {d["_id"] for d in docs}
        try:
            wanted = [int(i) for i in ids]
        except (TypeError, ValueError):
            raise HttpError(400, {"detail": "One or more submission ids are invalid"}) from None
        if any(i not in known for i in wanted):
            raise HttpError(400, {"detail": "One or more submission ids are invalid"})
        return wanted

    def data_bulk_delete(self, req: Request, uid: str) -> Response:
        asset = self._data_asset(req, uid)
        self._require(req, asset, "delete_submissions")
        body = _dict_body(req)
        if "payload" not in body:
            raise HttpError(400, {"payload": ["This field is required."]})
        ids = self._bulk_ids(req, uid, body["payload"])
        deleted = self.state.delete_submissions(uid, ids)
        return Response.json(200, {"detail": f"{deleted} submissions have been deleted"})

    def data_bulk_patch(self, req: Request, uid: str) -> Response:
        asset = self._data_asset(req, uid)
        self._require(req, asset, "change_submissions")
        body = _dict_body(req)
        payload = body.get("payload")
        if isinstance(payload, str):
            payload = _json_field(payload, "payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise HttpError(400, {"payload": ["`data` must be provided"]})
        ids = self._bulk_ids(req, uid, payload)
        docs = self.state.patch_submissions(uid, ids, payload["data"])
        results = [{"uuid": d["_uuid"], "status_code": 201, "message": "Successful submission."} for d in docs]
        return Response.json(200, {"count": len(docs), "successes": len(docs), "failures": 0, "results": results})

    def validation_get(self, req: Request, uid: str, sid: str) -> Response:
        self._data_asset(req, uid)
        return Response.json(200, self.state.submission(uid, _submission_key(sid)).get("_validation_status") or {})

    def validation_patch(self, req: Request, uid: str, sid: str) -> Response:
        asset = self._data_asset(req, uid)
        self._require(req, asset, "validate_submissions")
        body = _dict_body(req)
        status = body.get("validation_status.uid")
        if not status:
            raise HttpError(400, {"detail": "No validation_status.uid provided"})
        doc = self.state.submission(uid, _submission_key(sid))
        doc = self.state.set_validation_status(uid, doc["_id"], status, by_whom=req.username or "")
        return Response.json(200, doc["_validation_status"])

    def validation_delete(self, req: Request, uid: str, sid: str) -> Response:
        asset = self._data_asset(req, uid)
        self._require(req, asset, "validate_submissions")
        doc = self.state.submission(uid, _submission_key(sid))
        self.state.set_validation_status(uid, doc["_id"], None)
        return Response(204)

    def attachment(self, req: Request, uid: str, sid: str, att: str, size: str | None = None) -> Response:
        self._data_asset(req, uid)
        doc = self.state.submission(uid, _submission_key(sid))
        item, data = self.state.attachment(uid, doc["_id"], att)
        if size and not str(item.get("mimetype", "")).startswith("image/"):
            raise HttpError(404, NOT_FOUND)
        name = item.get("media_file_basename") or Path(str(item.get("filename", "file"))).name
        return Response(200, data, [("Content-Type", str(item.get("mimetype") or "application/octet-stream")),
                                    ("Content-Disposition", _disposition(name))])

    # ----------------------------------------------------------------- exports

    def export_json(self, req: Request, task: ExportTask) -> dict:
        result = None
        if task.status == "complete" and task.result:
            asset = self.state.assets.get(task.asset_uid)
            owner = asset.owner if asset else task.owner
            result = f"{req.base}/private-media/{owner}/exports/{task.asset_uid}/{task.uid}/{quote(task.result)}"
        return {"url": f"{req.base}/api/v2/assets/{task.asset_uid}/exports/{task.uid}/", "status": task.status,
                "messages": task.messages, "uid": task.uid, "date_created": task.date_created,
                "last_submission_time": task.last_submission_time, "result": result, "data": task.data}

    def export_create(self, req: Request, uid: str) -> Response:
        asset = self._data_asset(req, uid)
        user = self._user_required(req)
        body = _dict_body(req)
        if any(k not in body for k in EXPORT_REQUIRED) or any(k not in EXPORT_REQUIRED + EXPORT_OPTIONAL for k in body):
            raise HttpError(400, {"data": "Must contain all the following required keys: "
                                          + ", ".join(EXPORT_REQUIRED)})
        if body["type"] not in EXPORT_TYPES:
            raise HttpError(400, {"data": f"Invalid export type: {body['type']}; expected one of "
                                          + ", ".join(EXPORT_TYPES)})
        task, created = self.state.new_export(asset.uid, user.username, body)
        return Response.json(201 if created else 200, self.export_json(req, task))

    def export_list(self, req: Request, uid: str) -> Response:
        self._data_asset(req, uid)
        with self.state.lock:
            tasks = [t for t in self.state.exports.values() if t.asset_uid == uid and t.owner == req.username]
        return self.paginate(req, tasks, lambda t: self.export_json(req, t))

    def export_detail(self, req: Request, uid: str, euid: str) -> Response:
        self._data_asset(req, uid)
        task = self.state.exports.get(euid)
        if task is None or task.asset_uid != uid or task.owner != req.username:
            raise HttpError(404, NOT_FOUND)
        task = self.state.poll_export(euid, self.build_export)
        return Response.json(200, self.export_json(req, task))

    def export_delete(self, req: Request, uid: str, euid: str) -> Response:
        self._data_asset(req, uid)
        with self.state.lock:
            task = self.state.exports.get(euid)
            if task is None or task.asset_uid != uid or task.owner != req.username:
                raise HttpError(404, NOT_FOUND)
            del self.state.exports[euid]
            self.state._write_state()
        return Response(204)

    def export_file(self, req: Request, owner: str, uid: str, euid: str, name: str) -> Response:
        self._user_required(req)
        self._data_asset(req, uid)
        task = self.state.exports.get(euid)
        if task is None or task.result != unquote(name):
            raise HttpError(404, NOT_FOUND)
        data = self.state.export_bytes(euid)
        kind = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "geojson": "application/geo+json", "zip": "application/zip",
                "kml": "application/vnd.google-earth.kml+xml"}.get(task.result.rsplit(".", 1)[-1],
                                                                   "application/octet-stream")
        return Response(200, data, [("Content-Type", kind), ("Content-Disposition", _disposition(task.result))])

    def build_export(self, task: ExportTask) -> tuple[str, bytes]:
        """A small but real file of the export's type from the current submissions."""
        asset = self.state.assets[task.asset_uid]
        docs = self.state.submissions(asset.uid)
        if task.data.get("submission_ids"):
            wanted = {int(i) for i in task.data["submission_ids"]}
            docs = [d for d in docs if d["_id"] in wanted]
        kind = task.data["type"]
        sep = str(task.data.get("group_sep") or "/")
        stem = safe_name(f"{asset.name or asset.uid}_-_all_versions_-_False_-_{task.date_created[:19]}")
        columns: list[str] = []
        for doc in docs:
            for key, value in doc.items():
                if not isinstance(value, (list, dict)) and key not in columns:
                    columns.append(key)
        if task.data.get("fields"):
            columns = [c for c in columns if c in task.data["fields"]]
        header = [c.replace("/", sep) for c in columns]
        if kind == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=";")
            writer.writerow(header)
            for doc in docs:
                writer.writerow(["" if doc.get(c) is None else doc.get(c) for c in columns])
            return f"{stem}.csv", buffer.getvalue().encode("utf-8")
        if kind == "xls":
            from openpyxl import Workbook

            book = Workbook(write_only=True)
            sheet = book.create_sheet((asset.name or "data")[:31])
            sheet.append(header)
            for doc in docs:
                sheet.append(["" if doc.get(c) is None else str(doc.get(c)) for c in columns])
            buffer = io.BytesIO()
            book.save(buffer)
            return f"{stem}.xlsx", buffer.getvalue()
        if kind == "geojson":
            features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [d["_geolocation"][1],
                                                                                          d["_geolocation"][0]]},
                         "properties": {c: d.get(c) for c in columns}}
                        for d in docs if d.get("_geolocation") and d["_geolocation"][0] is not None]
            return f"{stem}.geojson", json.dumps({"type": "FeatureCollection", "name": asset.name,
                                                  "features": features}, ensure_ascii=False).encode("utf-8")
        if kind == "kml":
            marks = "".join(f"<Placemark><name>{d['_id']}</name><Point><coordinates>{d['_geolocation'][1]},"
                            f"{d['_geolocation'][0]}</coordinates></Point></Placemark>"
                            for d in docs if d.get("_geolocation") and d["_geolocation"][0] is not None)
            return f"{stem}.kml", (f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
                                   f"<Document>{marks}</Document></kml>").encode()
        labels = []
        for row in asset.content.get("survey") or []:
            label = row.get("label")
            if row.get("$xpath") and isinstance(label, list) and label and label[0]:
                labels.append(f"{row['$autoname']} '{str(label[0]).replace(chr(39), chr(39) * 2)}'")
        sps = "VARIABLE LABELS\n " + "\n /".join(labels) + "\n.\n"
        return f"{stem}.zip", zip_bytes({f"{safe_name(asset.name or asset.uid)}.sps": sps.encode("utf-8")})

    # ----------------------------------------------------------------- imports

    def import_json(self, req: Request, task: ImportTask) -> dict:
        return {"url": f"{req.base}/api/v2/imports/{task.uid}/", "status": task.status, "uid": task.uid,
                "messages": task.messages, "date_created": task.date_created}

    def import_create(self, req: Request) -> Response:
        user = self._user_required(req)
        fields = req.form_fields() if not req.headers.get("Content-Type", "").startswith("application/json") \
            else {k: [v] for k, v in _dict_body(req).items()}

        def one(name: str) -> Any:
            values = fields.get(name)
            return values[-1] if values else None

        upload, encoded, url = one("file"), one("base64Encoded"), one("url")
        data: bytes | None = None
        filename = one("name")
        if isinstance(upload, tuple):
            filename = filename or upload[0]
            data = upload[1]
        elif encoded:
            match = re.match(r"^data:[^,]*?(;base64)?,(?P<data>.*)$", str(encoded), re.DOTALL)
            try:
                data = base64.b64decode(match.group("data")) if match else None
            except binascii.Error:
                data = None
            if data is None:
                raise HttpError(400, {"base64Encoded": "Invalid content"})
        elif url:
            data = b""  # the sandbox is offline: the task fails as an unreachable URL would
        else:
            raise HttpError(400, {"detail": "Specify a `file`, `url` or `base64Encoded` to import."})
        library = one("library") != "false"  # kpi: anything but the string "false" means a library import
        destination = one("destination")
        dest_uid = None
        if destination:
            found = re.search(r"/assets/([A-Za-z0-9]+)/?", str(destination))
            dest_uid = found.group(1) if found else str(destination).strip("/")
        task = self.state.new_import(user.username, data or b"", {
            "library": library, "destination": dest_uid, "name": filename, "url": url,
            "desired_type": one("desired_type")})
        return Response.json(201, {"uid": task.uid, "url": f"{req.base}/api/v2/imports/{task.uid}/",
                                   "status": task.status})

    def import_list(self, req: Request) -> Response:
        user = self._user_required(req)
        with self.state.lock:
            tasks = sorted((t for t in self.state.imports.values() if t.owner == user.username),
                           key=lambda t: t.date_created)
        return self.paginate(req, tasks, lambda t: self.import_json(req, t))

    def import_detail(self, req: Request, iuid: str) -> Response:
        user = self._user_required(req)
        task = self.state.imports.get(iuid)
        if task is None or task.owner != user.username:
            raise HttpError(404, NOT_FOUND)
        return Response.json(200, self.import_json(req, self.state.poll_import(iuid)))


# --------------------------------------------------------------------------- admin routes


class Admin:
    """`/__sandbox__/…`: drive the sandbox from a test or a script (see the module doc)."""

    def __init__(self, server: SandboxServer):
        self.server = server

    def handle(self, req: Request) -> Response:
        state = self.server.state
        parts = [p for p in req.path[len("/__sandbox__"):].split("/") if p]
        try:
            body = req.json_body() if req.body else {}
            m = req.method
            if not parts and m == "GET":
                return Response.json(200, self.server.describe())
            if parts == ["stats"] and m == "GET":
                return Response.json(200, self.server.stats())
            if parts == ["stats", "reset"] and m == "POST":
                self.server.reset_stats()
                return Response.json(200, self.server.stats())
            if parts == ["faults"] and m in ("POST", "PUT"):
                self.server.set_faults(body.get("spec"), int(body.get("seed", self.server.fault_seed)))
                return Response.json(200, {"faults": self.server.faults.describe()})
            if parts == ["settings"] and m in ("POST", "PATCH", "PUT"):
                if "page_mode" in body:
                    if body["page_mode"] not in PAGE_MODES:
                        return Response.json(400, {"page_mode": f"use one of {', '.join(PAGE_MODES)}"})
                    self.server.page_mode = body["page_mode"]
                state.configure(**{k: v for k, v in body.items() if k in ("import_polls", "export_polls")})
                return Response.json(200, {"page_mode": self.server.page_mode, **state.settings})
            if parts == ["save"] and m == "POST":
                state.save()
                return Response.json(200, {"saved": str(state.data_dir) if state.data_dir else None})
            if len(parts) >= 3 and parts[0] == "assets":
                uid = parts[1]
                state.asset(uid)
                rest = parts[2:]
                if rest == ["submissions"] and m == "POST":
                    return self.add(uid, body)
                if len(rest) == 3 and rest[0] == "submissions" and rest[2] == "edit" and m == "POST":
                    doc = state.edit_submission(uid, int(rest[1]), body if isinstance(body, dict) else {})
                    return Response.json(200, doc)
                if len(rest) == 3 and rest[0] == "submissions" and rest[2] == "validation_status" and m == "POST":
                    doc = state.set_validation_status(uid, int(rest[1]), (body or {}).get("uid"))
                    return Response.json(200, doc)
                if len(rest) == 2 and rest[0] == "submissions" and m == "DELETE":
                    state.delete_submission(uid, int(rest[1]))
                    return Response(204)
                if rest == ["delete_later"] and m == "POST":
                    ids = [i for i in state.asset(uid).scenario.get("delete_later", [])]
                    return Response.json(200, {"deleted": state.delete_submissions(uid, ids)})
                if rest == ["manifest"] and m == "GET":
                    deployment = state.asset(uid).deployment
                    return Response.json(200, {"version_id": deployment.version_id if deployment else None,
                                               "media": deployment.media if deployment else []})
            return Response.json(404, {"detail": f"No sandbox admin route {m} {req.path}"})
        except SandboxError as exc:
            return Response.json(exc.status, exc.body)
        except HttpError as exc:
            return exc.response()
        except (ValueError, TypeError, KeyError) as exc:
            return Response.json(400, {"detail": f"{type(exc).__name__}: {exc}"})
        except InputError as exc:
            return Response.json(400, {"detail": str(exc)})

    def add(self, uid: str, body: Any) -> Response:
        state = self.server.state
        raw = False
        if isinstance(body, dict) and "submissions" in body:
            raw = bool(body.get("raw"))
            docs = body["submissions"]
        else:
            docs = body if isinstance(body, list) else [body]
        if raw:
            state.load_submissions(uid, docs)
            stored = [state.submission(uid, d["_id"]) for d in docs]
        else:
            stored = [state.add_submission(uid, d) for d in docs]
        return Response.json(201, {"ids": [d["_id"] for d in stored], "submissions": stored})


# --------------------------------------------------------------------------- the HTTP layer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, a keep-alive client's
    # delayed ACK then stalls every small response by ~40 ms (seen: 326 attachments took 14 s).
    disable_nagle_algorithm = True
    server_version = f"desbumi-sandbox/{__version__}"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_HEAD(self) -> None:
        self.dispatch("HEAD")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PATCH(self) -> None:
        self.dispatch("PATCH")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def do_OPTIONS(self) -> None:
        self.dispatch("OPTIONS")

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def dispatch(self, method: str) -> None:
        sandbox = self.server.sandbox
        started = time.monotonic()
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        path = unquote(parts.path) or "/"
        host = self.headers.get("Host") or f"{sandbox.host}:{sandbox.port}"
        scheme = self.headers.get("X-Forwarded-Proto", "http")
        req = Request(method=method, path=path, query=parts.query,
                      params={k: list(v) for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                      headers=self.headers, body=body, base=f"{scheme}://{host}")
        if path.startswith("/__sandbox__"):
            self.respond(sandbox.admin.handle(req), method)
            return
        index, fault = sandbox.next_request(method, path)
        if fault is not None:
            sandbox.count_fault(fault.kind)
            if fault.kind == "reset":
                self.reset()
                return
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                status, headers, payload = fault.response()
                self.respond(Response(status, payload, [h for h in headers if h[0] != "Content-Length"]), method)
                return
        try:
            response = sandbox.api.handle(req)
        except Exception:  # a bug in the sandbox: answer as Django does, and say so in the log
            log.exception("sandbox error on %s %s", method, path)
            response = Response.html(500, SERVER_ERROR_HTML)
        log.debug("%s %s -> %s (%.1f ms)", method, path, response.status, (time.monotonic() - started) * 1000)
        self.respond(response, method, truncate=fault if fault is not None and fault.kind == "truncate" else None)

    def respond(self, response: Response, method: str, *, truncate: Fault | None = None) -> None:
        try:
            self.send_response(response.status, HTTPStatus(response.status).phrase
                               if response.status in HTTPStatus._value2member_map_ else None)
            for name, value in response.headers:
                self.send_header(name, value)
            body = b"" if method == "HEAD" else response.body
            if response.status not in (204, 304):
                self.send_header("Content-Length", str(len(response.body)))
            if truncate is not None:
                self.send_header("Connection", "close")
            self.end_headers()
            if truncate is not None:
                self.wfile.write(body[:truncate.truncate_at(len(body))])
                self.wfile.flush()
                self.reset()
                return
            if body and response.status not in (204, 304):
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def reset(self) -> None:
        """Close the connection at once with an RST, as a crashed proxy or a dropped link does."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, sandbox: SandboxServer, family: int):
        self.address_family = family
        self.sandbox = sandbox
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, opened: bool) -> None:
        with self._open_lock:
            (self._open.add if opened else self._open.discard)(connection)

    def close_all(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:  # a client that vanished is not news
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


# --------------------------------------------------------------------------- the server object


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def check_host(host: str, allow_public: bool = False) -> None:
    """InputError for a non-loopback address unless `allow_public`."""
    if not allow_public and not is_loopback(host):
        raise InputError(f"Refusing to serve the sandbox on {host}: it is not a loopback address, and the "
                         f"sandbox's users and tokens are public knowledge.",
                         hint="Use --host 127.0.0.1 (the default), or pass --public if other machines "
                              "really must reach it.")


class SandboxServer:
    """The sandbox Kobo server: `start()` serves in a background thread, `stop()` ends it and saves.

    state: a SandboxState, a data folder (loaded, or created empty), or None (an empty in-memory one);
    faults: a FaultPlan or a spec string (faults.py grammar) with `fault_seed`; page_mode: "modern"
    (data pages default 100, max 1000) or "legacy" (30000/30000). A host other than loopback is
    refused unless `allow_public=True`."""

    def __init__(self, state: SandboxState | str | Path | None = None, host: str = "127.0.0.1", port: int = 0, *,
                 faults: FaultPlan | str | None = None, fault_seed: int = 0, page_mode: str = "modern",
                 allow_public: bool = False):
        check_host(host, allow_public)
        if isinstance(state, (str, Path)):
            state = SandboxState.open(state)
        self.state = state if state is not None else SandboxState.create(None)
        self.host = host
        self.page_mode = page_mode
        if page_mode not in PAGE_MODES:
            raise InputError(f"--page-mode {page_mode}: use one of {', '.join(PAGE_MODES)}.")
        self.fault_seed = fault_seed
        self.faults = faults if isinstance(faults, FaultPlan) else FaultPlan.parse(faults, fault_seed)
        self.api = Api(self)
        self.admin = Admin(self)
        self._counter_lock = threading.Lock()
        self._index = 0
        self._by_route: dict[str, int] = {}
        self._by_fault: dict[str, int] = {}
        family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
        try:
            self._httpd = _HTTPServer((host.strip("[]"), port), self, family)
        except OSError as exc:
            raise InputError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
                             hint="Choose another --port (0 picks a free one).") from exc
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        host = f"[{self.host.strip('[]')}]" if ":" in self.host.strip("[]") else self.host
        return f"http://{host}:{self.port}"

    @property
    def token(self) -> str:
        """The owner's token (the account that owns every seeded asset)."""
        return self.state.token()

    def start(self) -> SandboxServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"desbumi-sandbox:{self.port}", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until stop() (from another thread) or KeyboardInterrupt."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._httpd.close_all()
        self._httpd.server_close()
        self.state.save()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----------------------------------------------------------------- faults and counters

    def set_faults(self, spec: FaultPlan | str | None, seed: int | None = None) -> None:
        """Switch the fault plan while serving (None or "none": no faults). Request numbering goes on."""
        if seed is not None:
            self.fault_seed = seed
        self.faults = spec if isinstance(spec, FaultPlan) else FaultPlan.parse(spec, self.fault_seed)

    def next_request(self, method: str, path: str) -> tuple[int, Fault | None]:
        with self._counter_lock:
            index = self._index
            self._index += 1
            found = match_route(path)
            name = found[1] if found else "other"
            key = f"{method} {name}"
            self._by_route[key] = self._by_route.get(key, 0) + 1
        return index, self.faults.decide(index, method, path)

    def count_fault(self, kind: str) -> None:
        with self._counter_lock:
            self._by_fault[kind] = self._by_fault.get(kind, 0) + 1

    def stats(self) -> dict:
        with self._counter_lock:
            return {"requests": self._index, "by_route": dict(sorted(self._by_route.items())),
                    "faults": dict(sorted(self._by_fault.items()))}

    def reset_stats(self) -> None:
        with self._counter_lock:
            self._by_route.clear()
            self._by_fault.clear()

    @property
    def requests(self) -> int:
        """API requests served so far (admin routes not counted)."""
        return self._index

    def describe(self) -> dict:
        state = self.state
        with state.lock:
            users = [{"username": u.username, "token": u.token, "password": u.password,
                      "is_superuser": u.is_superuser} for u in state.users.values()]
            assets = [{"uid": a.uid, "name": a.name,
                       "form_id": a.form_id or a.content.get("settings", {}).get("id_string"),
                       "asset_type": a.asset_type, "deployment_status": a.deployment_status,
                       "submissions": state.count(a.uid)} for a in state.assets.values()]
        return {"url": self.url, "page_mode": self.page_mode, "faults": self.faults.describe(),
                "data_dir": str(state.data_dir) if state.data_dir else None, "requests": self._index,
                "settings": dict(state.settings), "users": users, "assets": assets}

    # ----------------------------------------------------------------- the field, between two pulls

    def add_submission(self, uid: str, answers: Mapping[str, Any], **kwargs: Any) -> dict:
        return self.state.add_submission(uid, answers, **kwargs)

    def edit_submission(self, uid: str, submission_id: int, answers: Mapping[str, Any], **kwargs: Any) -> dict:
        return self.state.edit_submission(uid, submission_id, answers, **kwargs)

    def delete_submission(self, uid: str, submission_id: int) -> None:
        self.state.delete_submission(uid, submission_id)


# --------------------------------------------------------------------------- asset list: q and ordering

_Q_FIELDS = ("asset_type", "_deployment_status", "uid", "name", "owner", "owner__username", "date_modified",
             "date_deployed", "settings", "tags", "parent", "status", "summary", "date_created",
             "has_deployment", "deployment_status")
_Q_TOKEN = re.compile(r'\s*(\(|\)|"[^"]*"|[^\s()]+)')


def parse_asset_query(text: str) -> Callable[[Asset], bool]:
    """kpi's `q` search: `field:value` terms and bare words, AND/OR/NOT, parentheses (AND binds tighter;
    juxtaposition means AND). 400s: "Bad syntax", "Not supported field lookup", "Your query is too short"."""
    tokens = [t for t in _Q_TOKEN.findall(text) if t]
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def expr() -> Callable[[Asset], bool]:
        parts = [conj()]
        while peek() == "OR":
            take()
            parts.append(conj())
        return parts[0] if len(parts) == 1 else (lambda a: any(p(a) for p in parts))

    def conj() -> Callable[[Asset], bool]:
        parts = [unary()]
        while peek() not in (None, ")", "OR"):
            if peek() == "AND":
                take()
            parts.append(unary())
        return parts[0] if len(parts) == 1 else (lambda a: all(p(a) for p in parts))

    def unary() -> Callable[[Asset], bool]:
        token = peek()
        if token is None or token in ("AND", "OR", ")"):
            raise HttpError(400, {"detail": "Bad syntax"})
        if token == "NOT":
            take()
            inner = unary()
            return lambda a: not inner(a)
        if token == "(":
            take()
            inner = expr()
            if peek() != ")":
                raise HttpError(400, {"detail": "Bad syntax"})
            take()
            return inner
        return term(take())

    predicate = expr()
    if position != len(tokens):
        raise HttpError(400, {"detail": "Bad syntax"})
    return predicate


def term(token: str) -> Callable[[Asset], bool]:
    if ":" not in token:
        word = token.strip('"')
        if len(word) < 3:
            raise HttpError(400, {"detail": "Your query is too short"})
        lowered = word.lower()
        return lambda a: lowered in a.name.lower() or lowered in a.uid.lower() or any(
            lowered in t.lower() for t in a.tags)
    name, _, value = token.partition(":")
    value = value.strip('"')
    name, _, lookup = name.partition("__") if name not in ("owner__username",) else (name, "", "")
    if name not in _Q_FIELDS or lookup not in ("", "icontains", "iexact", "exact", "startswith", "istartswith",
                                               "contains"):
        raise HttpError(400, {"detail": "Not supported field lookup"})

    def get(a: Asset) -> str:
        if name in ("_deployment_status", "deployment_status"):
            return a.deployment_status
        if name in ("owner", "owner__username"):
            return a.owner
        if name == "tags":
            return ",".join(a.tags)
        if name == "has_deployment":
            return str(a.deployment is not None).lower()
        if name == "date_deployed":
            return a.deployment.date_deployed if a.deployment else ""
        if name == "status":
            return "public" if ANONYMOUS in a.permissions else ("shared" if a.permissions else "private")
        if name in ("settings", "summary"):
            return json.dumps(a.settings if name == "settings" else content_summary(a.content), ensure_ascii=False)
        return str(getattr(a, name, "") or "")

    if lookup in ("icontains", "contains"):
        return lambda a: value.lower() in get(a).lower()
    if lookup in ("startswith", "istartswith"):
        return lambda a: get(a).lower().startswith(value.lower())
    if lookup == "iexact":
        return lambda a: get(a).lower() == value.lower()
    if name in ("settings", "summary"):
        return lambda a: value.lower() in get(a).lower()
    return lambda a: get(a) == value


_STATUS_ORDER = {"deployed": 0, "draft": 1, "-": 1, "archived": 2}
_ORDERING = {"asset_type": lambda a: a.asset_type, "date_modified": lambda a: a.date_modified,
             "date_deployed": lambda a: a.deployment.date_deployed if a.deployment else "",
             "name": lambda a: a.name.lower(), "owner__username": lambda a: a.owner,
             "_deployment_status": lambda a: _STATUS_ORDER[a.deployment_status],
             "subscribers_count": lambda a: 0, "uid": lambda a: a.uid, "date_created": lambda a: a.date_created}


def order_assets(assets: list[Asset], ordering: str | None) -> list[Asset]:
    """`ordering=` (comma-separated, `-` for descending); default deployed → draft → archived, then
    newest first."""
    out = sorted(assets, key=lambda a: a.date_modified, reverse=True)
    out.sort(key=lambda a: _STATUS_ORDER[a.deployment_status])
    if ordering:
        keys = [k.strip() for k in ordering.split(",") if k.strip().lstrip("-") in _ORDERING]
        for key in reversed(keys):
            out.sort(key=_ORDERING[key.lstrip("-")], reverse=key.startswith("-"))
    return out


# --------------------------------------------------------------------------- small helpers


def _positive(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def _non_negative(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value >= 0 else default


def _link(url: str, params: Mapping[str, list[str]], limit: int, start: int | None, name: str) -> str:
    items = {k: list(v) for k, v in params.items() if k not in ("start", "offset", "limit")}
    items["limit"] = [str(limit)]
    if start is not None:
        items[name] = [str(start)]
    return f"{url}?{urlencode(sorted(items.items()), doseq=True)}"


def _json_field(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise HttpError(400, {name: ["Value must be valid JSON."]}) from None


def _content_field(value: Any) -> dict | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = _json_field(value, "content")
    if not isinstance(value, dict):
        raise HttpError(400, {"content": ["Value must be valid JSON."]})
    return value


def _dict_body(req: Request) -> dict:
    body = req.json_body()
    if not isinstance(body, dict):
        raise HttpError(400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
    return body


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _submission_key(sid: str) -> int | str:
    return int(sid) if sid.isdigit() else sid


def _disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace('"', "'").replace("\\", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def xlsform_bytes(content: Mapping) -> bytes:
    """The asset's content as an XLSForm workbook (what `…/{uid}.xls` serves, as .xlsx)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    id_string = str((content.get("settings") or {}).get("id_string") or "")
    for name, rows in content_to_xlsform_dict(content, id_string=id_string).items():
        sheet = book.create_sheet(name)
        headers: list[str] = []
        for row in rows:
            headers.extend(k for k in row if k not in headers)
        sheet.append(headers)
        for row in rows:
            sheet.append([row.get(h, "") for h in headers])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _now_z() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


__all__ = ["PAGE_MODES", "Api", "SandboxServer", "check_host", "is_loopback", "order_assets", "parse_asset_query"]
