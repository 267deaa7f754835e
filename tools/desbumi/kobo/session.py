"""The one HTTP path: every request desbumi sends to a Kobo server goes through `KoboSession.request`.

What lives here and nowhere else:
- base-URL normalisation, API URLs with percent-encoded parts and the trailing slash Kobo requires;
- absolute links from the server (`next`, `download_url`, `url`) followed exactly as given;
- the `Authorization: Token …` header (sent only to the configured host), a versioned User-Agent,
  default timeouts;
- bounded retries with exponential backoff and seeded jitter on connection errors, timeouts, truncated
  bodies and 429/500/502/503/504, honouring `Retry-After` (seconds or an HTTP date, capped);
- the request/retry counters a pull reports, and a hook so a caller can shrink its page after a
  gateway timeout;
- the error catalogue: every refusal becomes a RefusedError / TransportError naming method, URL,
  status and a trimmed body — never the token.

Retry policy in one place (`_RETRY_STATUSES`, `request`): idempotent requests (every method but
POST) are retried on all transient failures. A POST is retried only when the server cannot have acted
on it: the connection was never made, or it answered 429/503 ("try later").
"""

from __future__ import annotations

import email.utils
import http.client
import json as jsonlib
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
import urllib3.exceptions

from .. import __version__
from ..errors import InputError, RefusedError, TransportError

log = logging.getLogger("desbumi.kobo")

USER_AGENT = f"desbumi/{__version__}"
API_PREFIX = "api/v2"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_GATEWAY_STATUSES = frozenset({502, 504})
_BODY_PREVIEW = 300
TOKEN_HELP = (
    "Set KOBO_TOKEN to your Kobo API key (or store it in the system keyring, service 'desbumi', user = "
    "the server host). Find the key in Kobo under Account Settings → Security → API key, or open "
    "{base}/token/?format=json in a browser where you are logged in."
)

# (url, params) -> (url, params) for the next attempt, called after a 502/504 or a read timeout.
TimeoutHook = Callable[[str, "dict[str, Any] | None"], "tuple[str, dict[str, Any] | None]"]


class RetryableBody(Exception):
    """Raised by a body reader when the body is unusable but a new attempt may succeed (cut off, bad JSON)."""


class _Secret:
    """A string that never shows itself in repr/str/format, so it cannot leak into messages or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__


def normalise_base_url(url: str) -> str:
    """'https://kf.kobotoolbox.org/', '…/api/v2' → 'https://kf.kobotoolbox.org'."""
    base = (url or "").strip().rstrip("/")
    if base.endswith("/" + API_PREFIX):
        base = base[: -len(API_PREFIX) - 1]
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"{url!r} is not a Kobo server address; write it like https://kf.kobotoolbox.org.")
    return base


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent/unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def _is_html(response) -> bool:
    ctype = (response.headers.get("Content-Type") or "").lower()
    if "html" in ctype:
        return True
    head = (_peek_text(response) or "").lstrip()[:15].lower()
    return head.startswith(("<!doctype html", "<html"))


def _peek_text(response) -> str:
    try:
        return response.text or ""
    except Exception:  # a body we cannot decode has nothing useful to show
        return ""


def _never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached the server (so even a POST may be repeated)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        inner = exc.args[0] if exc.args else None
        reason = getattr(inner, "reason", inner)
        return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError))
    return False


_TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
    http.client.IncompleteRead,
    ConnectionResetError,
)


def read_json(response) -> Any:
    """Default body reader: JSON, None for an empty body; a 2xx body that is not JSON was cut off → retry."""
    content = response.content
    if not content or not content.strip():
        return None
    try:
        return jsonlib.loads(content)
    except ValueError as exc:
        raise RetryableBody(f"the JSON body was cut off or malformed ({len(content)} bytes)") from exc


class KoboSession:
    """One requests.Session, one retry policy, one error catalogue for a Kobo server.

    `http` is anything with `request(method, url, **kwargs)` returning a requests.Response-like object
    (a requests.Session by default; a scripted fake in unit tests). `sleep` and `rng` are injectable so
    backoff is observable and deterministic.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: tuple[float, float] | float = (10, 120),
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        max_retry_after: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        http=None,
    ):
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.base_url = normalise_base_url(base_url)
        self.host = urlsplit(self.base_url).hostname or ""
        self._token = _Secret(token) if token else None
        self.timeout = timeout
        self.max_retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self._rng = rng if rng is not None else random.Random(0)
        self._owns_http = http is None
        self._http = http if http is not None else requests.Session()
        # counters for the pull summary: attempts sent, and how many of them were retries
        self.requests = 0
        self.retries = 0
        self.last_failure_was_gateway_timeout = False

    # -- housekeeping -------------------------------------------------------------------------------

    def __repr__(self) -> str:
        token = "<hidden>" if self._token else "None"
        return f"KoboSession(base_url={self.base_url!r}, token={token})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> KoboSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def counters(self) -> dict[str, int]:
        """What the pull summary reports: requests sent (every attempt) and retries among them."""
        return {"requests": self.requests, "retries": self.retries}

    # -- URLs ---------------------------------------------------------------------------------------

    def api_url(self, *parts: object) -> str:
        """`api_url("assets", uid, "data")` → https://host/api/v2/assets/<uid>/data/ (encoded, slashed)."""
        return self.root_url(API_PREFIX, *parts)

    def root_url(self, *parts: object) -> str:
        """URL outside /api/v2 (e.g. `root_url("me")` → https://host/me/); the prefix is not re-encoded."""
        encoded = []
        for i, part in enumerate(parts):
            text = str(part)
            if not text or text in (".", ".."):
                raise InputError(f"{text!r} cannot be part of a Kobo URL.")
            encoded.append(text if (i == 0 and text == API_PREFIX) else quote(text, safe=""))
        return f"{self.base_url}/{'/'.join(encoded)}/"

    def _absolute(self, url: str) -> str:
        if re.match(r"^https?://", url, re.IGNORECASE):
            return url
        return f"{self.base_url}/{url.lstrip('/')}"

    def _with_params(self, url: str, params: Mapping[str, Any] | None) -> str:
        if not params:
            return url
        items = [(k, v) for k, v in params.items() if v is not None]
        if not items:
            return url
        sep = "&" if urlsplit(url).query else "?"
        return url + sep + urlencode(items)

    def _redact(self, text: str) -> str:
        if self._token is not None:
            secret = self._token.reveal()
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def _headers(self, url: str, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        # The token goes only to the configured server, never to a host named in a link.
        if self._token is not None and (urlsplit(url).hostname or "").lower() == self.host.lower():
            headers["Authorization"] = f"Token {self._token.reveal()}"
        if extra:
            headers.update(extra)
        return headers

    # -- the request loop ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
        stream: bool = False,
        read: Callable[[Any], Any] | None = None,
        ok: Callable[[int], bool] | None = None,
        idempotent: bool | None = None,
        on_timeout: TimeoutHook | None = None,
        not_found: str | None = None,
    ) -> Any:
        """Send one logical request (with retries) and return `read(response)` (parsed JSON by default).

        - `url` is absolute (used exactly as given) or a path below the server; build API paths with
          `api_url` so they carry the trailing slash.
        - `params` values that are not strings are sent as compact JSON (Kobo's query/sort/fields).
        - `files` must hold bytes, not open file objects, so a retry can send them again.
        - `headers` may be a callable evaluated before every attempt (resumable downloads send `Range`).
        - `ok(status)` widens the accepted statuses (default: 2xx).
        - `on_timeout(url, params)` is called before retrying after a 502/504 or a read timeout and may
          return a smaller request (the puller halves its page size).
        - `not_found` replaces the 404 explanation (e.g. "submission 12 is not in asset aX…").
        """
        method = method.upper()
        url = self._absolute(url)
        params = {k: _encode_param(v) for k, v in params.items()} if params else None
        if idempotent is None:
            idempotent = method != "POST"
        read = read or read_json
        accept = ok or (lambda status: 200 <= status < 300)
        attempts = self.max_retries + 1
        self.last_failure_was_gateway_timeout = False
        last_problem: tuple[str, Any] | None = None  # ("status", response) | ("transport", exc) | ("body", exc)
        full_url = url

        for attempt in range(1, attempts + 1):
            full_url = self._with_params(url, params)
            extra = headers() if callable(headers) else headers
            self.requests += 1
            started = time.monotonic()
            response = None
            retry_after = None
            shrink = False
            try:
                response = self._http.request(
                    method, full_url, headers=self._headers(full_url, extra), json=json, data=data,
                    files=files, timeout=self.timeout, stream=stream, allow_redirects=True,
                )
                status = response.status_code
                log.debug("%s %s -> %s in %.2fs (attempt %d/%d)", method, self._redact(full_url), status,
                          time.monotonic() - started, attempt, attempts)
                if accept(status):
                    try:
                        return read(response)
                    except RetryableBody as exc:
                        if not idempotent:
                            raise TransportError(
                                f"{method} {self._redact(full_url)}: the answer from {self.host} was cut off "
                                f"({exc}); the server may have applied the request.",
                                hint="Check the server before running the command again.") from exc
                        last_problem = ("body", exc)
                    finally:
                        if stream:
                            response.close()
                else:
                    if stream:  # keep the error body for the message, free the connection
                        _peek_text(response)
                        response.close()
                    if status not in _RETRY_STATUSES or (not idempotent and status not in (429, 503)):
                        raise self._refused(method, full_url, response, attempts=attempt, not_found=not_found)
                    last_problem = ("status", response)
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if status in _GATEWAY_STATUSES:
                        self.last_failure_was_gateway_timeout = True
                        shrink = True
            except _TRANSIENT as exc:
                log.debug("%s %s -> %s after %.2fs (attempt %d/%d)", method, self._redact(full_url),
                          type(exc).__name__, time.monotonic() - started, attempt, attempts)
                if isinstance(exc, requests.exceptions.SSLError):  # a certificate problem does not go away
                    raise self._transport(method, full_url, exc, attempt) from exc
                if not idempotent and not _never_sent(exc):
                    raise self._transport(method, full_url, exc, attempt, maybe_applied=True) from exc
                last_problem = ("transport", exc)
                shrink = isinstance(exc, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError))
            if attempt == attempts:
                break
            if shrink and on_timeout is not None:
                url, params = on_timeout(url, dict(params) if params else params)
            delay = self._delay(attempt, retry_after)
            self.retries += 1
            log.debug("retrying %s %s in %.2fs", method, self._redact(self._with_params(url, params)), delay)
            self.sleep(delay)

        kind, what = last_problem
        if kind == "status":
            raise self._refused(method, full_url, what, attempts=attempts, not_found=not_found)
        if kind == "body":
            raise TransportError(
                f"{method} {self._redact(full_url)}: the answer from {self.host} was cut off {attempts} times "
                f"({what}).",
                hint="The connection is unstable; run the command again (a pull continues where it stopped).")
        raise self._transport(method, full_url, what, attempts)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        base = min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)
        return base / 2 + self._rng.random() * base / 2

    # -- convenience --------------------------------------------------------------------------------

    def get_json(self, url: str, **kwargs) -> Any:
        return self.request("GET", url, **kwargs)

    def iter_list(self, url: str, *, params: Mapping[str, Any] | None = None, not_found: str | None = None
                  ) -> Iterator[dict]:
        """Items of a paginated list, following `next` verbatim (old `offset`, new `start`, either works).

        Tolerates a bare JSON list (no pagination) as one page.
        """
        seen: set[str] = set()
        next_url: str | None = url
        first = True
        while next_url:
            body = self.request("GET", next_url, params=params if first else None, not_found=not_found)
            first = False
            seen.add(next_url)
            if isinstance(body, list):
                yield from body
                return
            if not isinstance(body, dict):
                raise self._unexpected("GET", next_url, body)
            yield from body.get("results") or []
            candidate = body.get("next")
            next_url = candidate if candidate and candidate not in seen else None

    # -- the error catalogue ------------------------------------------------------------------------

    def _unexpected(self, method: str, url: str, body: Any) -> RefusedError:
        err = RefusedError(f"{method} {self._redact(url)}: the server's answer is not what a Kobo API "
                           f"returns: {self._redact(_trim(repr(body)))}",
                           hint="Check that the server URL points at a KoboToolbox (kpi) server.")
        err.method, err.url, err.body = method, self._redact(url), None
        return err

    def _transport(self, method: str, url: str, exc: BaseException, attempts: int,
                   *, maybe_applied: bool = False) -> TransportError:
        url = self._redact(url)
        reason = _transport_reason(exc)
        if maybe_applied:
            message = (f"{method} {url}: the connection to {self.host} failed ({reason}); the server may "
                       f"have applied the request, so it was not repeated.")
            hint = "Check the server (e.g. the project's form and media) before running the command again."
        elif isinstance(exc, requests.exceptions.SSLError):
            message = f"{method} {url}: the secure connection to {self.host} failed (TLS: {_trim(str(exc), 160)})."
            hint = ("Check the server URL and the computer's date and time; a self-hosted server needs a "
                    "certificate this computer trusts.")
        elif reason == "the answer was cut off":
            times = "once" if attempts == 1 else f"{attempts} times"
            message = f"{method} {url}: the answer from {self.host} was cut off {times}."
            hint = "The connection is unstable; run the command again (a pull continues where it stopped)."
        else:
            tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
            message = f"{method} {url}: could not reach {self.host} after {tries} ({reason})."
            hint = ("Check the internet connection and the server URL (--server, DESBUMI_SERVER or "
                    "[server] url in desbumi.toml), then run the command again.")
        err = TransportError(self._redact(message), hint=hint)
        err.method, err.url, err.attempts = method, url, attempts
        return err

    def _refused(self, method: str, url: str, response, *, attempts: int, not_found: str | None) -> RefusedError:
        status = response.status_code
        url = self._redact(url)
        html = _is_html(response)
        body_text = _peek_text(response)
        detail = _detail(body_text) if not html else ""
        preview = self._redact(_trim(_strip_tags(body_text) if html else body_text))
        said = f" The server said: {self._redact(detail or preview)}" if (detail or preview) else ""
        where = f"{method} {url}: HTTP {status}"
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        hint = None
        if status == 401:
            message = f"{where} — the server rejected the token.{said}"
            hint = TOKEN_HELP.format(base=self.base_url)
        elif status == 403:
            message = f"{where} — the token's account lacks permission for this.{said}"
            hint = ("Ask the project owner to share the project with the permission this needs (view "
                    "submissions to pull; edit form to deploy or change media).")
        elif status == 404:
            asset = _asset_in(url)
            if not_found:
                message = f"{where} — {not_found}"
            elif asset:
                message = (f"{where} — asset {asset} was not found: either the asset uid is wrong OR the token "
                           f"is missing/invalid (Kobo hides private assets behind 404).")
                hint = ("Check the uid under [assets] in desbumi.toml (`desbumi-sync assets` lists what the token "
                        "can see) and that KOBO_TOKEN holds the API key of an account the project is shared with.")
            else:
                message = f"{where} — not found on this server.{said}"
                hint = "Check the server URL; it should be the Kobo server itself, e.g. https://kf.kobotoolbox.org."
        elif status == 410:
            message = f"{where} — this is a removed v1 endpoint; desbumi uses v2.{said}"
            hint = "This is a bug in desbumi if it happened on its own; please report the URL."
        elif status in _GATEWAY_STATUSES:
            kind = "an HTML page from a proxy" if html else "a gateway error"
            message = (f"{where}{tries} — the server timed out ({kind}); smaller pages are used on retry, and "
                       f"still it did not answer in time.")
            hint = "The server is overloaded or the pages are too large; try again later, or pull with a smaller page size."
        elif status == 429:
            message = f"{where}{tries} — the server kept asking to slow down (too many requests).{said}"
            hint = "Wait a few minutes and run the command again."
        elif status == 503:
            message = f"{where}{tries} — the server is temporarily unavailable.{said}"
            hint = "Wait a few minutes and run the command again."
        elif status >= 500:
            message = f"{where}{tries} — the server failed with an internal error.{said}"
            hint = "Kobo often answers a bare 500 for a request it cannot handle; try again later, and report it if it persists."
        else:
            message = f"{where} — the server refused the request.{said}"
        err = RefusedError(self._redact(message), status=status, hint=hint)
        err.method, err.url, err.body = method, url, preview
        err.detail = self._redact(detail) if detail else None
        return err


# -- helpers ----------------------------------------------------------------------------------------


def _encode_param(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return jsonlib.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _trim(text: str, limit: int = _BODY_PREVIEW) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _strip_tags(text: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text or "")
    return re.sub(r"<[^>]+>", " ", text)


def _detail(body_text: str) -> str:
    """DRF error bodies: {"detail": …}, {"error": …}, {"field": "msg"}, ["msg"]; else ''."""
    try:
        body = jsonlib.loads(body_text)
    except ValueError:
        return _trim(body_text)
    if isinstance(body, dict):
        for key in ("detail", "error"):
            if isinstance(body.get(key), str):
                return _trim(body[key])
        parts = []
        for key, value in body.items():
            if isinstance(value, list):
                value = " ".join(str(v) for v in value)
            parts.append(f"{key}: {value}")
        return _trim("; ".join(parts))
    if isinstance(body, list):
        return _trim(" ".join(str(v) for v in body))
    return _trim(str(body))


def _asset_in(url: str) -> str | None:
    match = re.search(r"/api/v2/assets/([^/?#.]+)", urlsplit(url).path)
    return match.group(1) if match else None


def _transport_reason(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
        return "no answer before the read timeout"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, http.client.IncompleteRead,
                        urllib3.exceptions.ProtocolError)):
        return "the answer was cut off"
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if "reset" in text.lower():
        return "connection reset"
    if "Name or service not known" in text or "NameResolutionError" in text or "getaddrinfo" in text:
        return "the host name could not be resolved"
    return type(exc).__name__
