"""Seeded faults for the sandbox server: which request fails, and how, decided by (seed, request index).

    plan = FaultPlan.parse("500:0.05,502:0.02,429:0.05,reset:0.02,truncate:0.02,slow:0.05@2s", seed=7)
    fault = plan.decide(index, "GET", "/api/v2/assets/aX/data/")    # None, or a Fault
    if fault and fault.status:                                       # an error answer instead of the real one
        status, headers, body = fault.response()

Grammar (`--faults SPEC`)
-------------------------
    SPEC  := "" | "none" | ITEM ("," ITEM)*
    ITEM  := KIND ":" RATE ["@" PARAM] [SCOPE]
    KIND  := 500 | 502 | 503 | 504 | 429 | reset | truncate | slow
    RATE  := a number in [0, 1]: the share of requests that get this fault (rates add up to at most 1)
    PARAM := for slow, 502, 504: a delay before answering, "2s", "250ms" or "1.5" (seconds);
             default 1s for slow, none for 502/504 (a proxy timing out after a while: "502:0.1@3s");
             for 429 and 503: the Retry-After value in whole seconds, "3" or "3s" (default 1);
             not allowed for 500, reset, truncate
    SCOPE := "/" followed by text: the fault applies only to request paths containing "/" + text,
             e.g. "502:0.1/data" (data pages only), "500:0.2/api/v2/imports"
    Spaces around items are ignored; a KIND may appear more than once (different scopes).

What each fault means (what production produces, KOBO_API.md §7 and "Faults worth simulating"):
    500       a bare Django error page: text/html "<h1>Server Error (500)</h1>"
    502, 504  nginx's HTML error page (a proxy in front of kpi timed out or lost the worker)
    503       JSON {"detail": …} with Retry-After (kpi's exports; an overloaded server)
    429       JSON {"detail": "Request was throttled. …"} with Retry-After (infrastructure limits)
    reset     the connection is closed without an answer (the server sends nothing, or an RST)
    truncate  the real answer with its full Content-Length, cut off part-way (`truncate_at`)
    slow      the real answer, after `delay` seconds

How a request is chosen: u = a hash of (seed, index) mapped to [0, 1); the items, in the order
written, own consecutive slices of [0, 1) as wide as their rates; the item whose slice holds u is the
fault, if the request's path is in its scope (otherwise the request is served normally: scoping
never moves a fault onto another request). Nothing is shared between requests, so threads and
the order in which requests arrive do not change any decision: request number `index` of a run
with `seed` always meets the same fault. Status faults are meant to be answered before the request
does anything (a retried POST then does its work once); the method is passed for the server's
benefit and does not enter the decision.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from ..errors import InputError

STATUS_KINDS = {"500": 500, "502": 502, "503": 503, "504": 504, "429": 429}
OTHER_KINDS = ("reset", "truncate", "slow")
KINDS = tuple(STATUS_KINDS) + OTHER_KINDS
REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Time-out"}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(ms|s)?$")


@dataclass(frozen=True)
class Fault:
    kind: str  # "500" "502" "503" "504" "429" "reset" "truncate" "slow"
    status: int | None = None  # the HTTP status of a status fault, else None
    retry_after: int | None = None  # seconds, for 429 and 503
    delay: float = 0.0  # seconds to wait before answering (slow; optionally 502/504)
    cut: float = 0.5  # truncate: the share of the body that is sent, in (0, 1)

    def response(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) of a status fault, shaped as production sends it."""
        if self.status is None:
            raise ValueError(f"a {self.kind} fault has no response of its own")
        body, content_type = fault_body(self.status, self.retry_after)
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if self.retry_after is not None:
            headers.append(("Retry-After", str(self.retry_after)))
        return self.status, headers, body

    def truncate_at(self, length: int) -> int:
        """How many bytes of a `length`-byte body a truncate fault sends (at least 0, less than length)."""
        if length <= 1:
            return 0
        return max(1, min(length - 1, int(length * self.cut)))


def fault_body(status: int, retry_after: int | None = None) -> tuple[bytes, str]:
    """The body and Content-Type of an error answer as the layer that produces it would send it."""
    if status in (502, 504):
        title = f"{status} {REASONS[status]}"
        html = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
                f"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
        return html.encode("ascii"), "text/html"
    if status == 500:
        return b"<h1>Server Error (500)</h1>", "text/html; charset=utf-8"
    if status == 429:
        wait = retry_after if retry_after is not None else 1
        unit = "second" if wait == 1 else "seconds"
        detail = f"Request was throttled. Expected available in {wait} {unit}."
        return json.dumps({"detail": detail}, separators=(",", ":")).encode(), "application/json"
    if status == 503:
        detail = "Service temporarily unavailable, try again later."
        return json.dumps({"detail": detail}, separators=(",", ":")).encode(), "application/json"
    raise ValueError(f"no fault body for status {status}")


@dataclass(frozen=True)
class FaultRule:
    kind: str
    rate: float
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    scope: str | None = None  # a path fragment ("/data"), or None for every path

    def applies_to(self, path: str) -> bool:
        return self.scope is None or self.scope in path


@dataclass(frozen=True)
class FaultPlan:
    rules: tuple[FaultRule, ...] = ()
    seed: int = 0
    spec: str = ""

    @classmethod
    def parse(cls, spec: str | None, seed: int = 0) -> FaultPlan:
        """Parse a fault spec (grammar in the module doc). Raises InputError naming the bad part."""
        text = (spec or "").strip()
        if text.lower() in ("", "none"):
            return cls(rules=(), seed=seed, spec="none")
        rules = []
        for raw in text.split(","):
            part = raw.strip()
            if not part:
                raise InputError(f"--faults '{text}': an empty item (two commas in a row, or a trailing comma).",
                                 hint=_HINT)
            rules.append(_parse_item(part, text))
        total = sum(r.rate for r in rules)
        if total > 1 + 1e-9:
            raise InputError(f"--faults '{text}': the rates add up to {total:g}, more than 1.", hint=_HINT)
        return cls(rules=tuple(rules), seed=seed, spec=text)

    @property
    def active(self) -> bool:
        return any(r.rate > 0 for r in self.rules)

    def decide(self, index: int, method: str = "GET", path: str = "/") -> Fault | None:
        """The fault for request number `index` (0-based, counted by the server), or None."""
        if not self.rules:
            return None
        u = draw(self.seed, index)
        edge = 0.0
        for position, rule in enumerate(self.rules):
            edge += rule.rate
            if u < edge:
                if not rule.applies_to(path):
                    return None
                cut = 0.5
                if rule.kind == "truncate":
                    cut = 0.05 + 0.9 * draw(self.seed, index, salt=f"cut{position}")
                return Fault(kind=rule.kind, status=rule.status, retry_after=rule.retry_after, delay=rule.delay,
                             cut=cut)
        return None

    def describe(self) -> str:
        if not self.rules:
            return "no faults"
        parts = []
        for r in self.rules:
            extra = ""
            if r.retry_after is not None:
                extra = f", Retry-After {r.retry_after}s"
            elif r.delay:
                extra = f", {r.delay:g}s"
            where = f" on paths with {r.scope}" if r.scope else ""
            parts.append(f"{r.kind} {r.rate:.1%}{extra}{where}")
        return "; ".join(parts) + f" (seed {self.seed})"


_HINT = ("Write items like 500:0.05,502:0.02@3s,429:0.05@2,reset:0.02,truncate:0.02,slow:0.05@2s/data "
         "(kinds: " + ", ".join(KINDS) + "), or 'none'.")


def draw(seed: int, index: int, *, salt: str = "") -> float:
    """A number in [0, 1) that depends only on (seed, index, salt)."""
    digest = hashlib.blake2b(f"{seed}\x1f{index}\x1f{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def _parse_item(part: str, whole: str) -> FaultRule:
    where = f"--faults '{whole}': in '{part}'"
    body, scope = part, None
    if "/" in part:
        body, rest = part.split("/", 1)
        if not rest.strip():
            raise InputError(f"{where}, the scope after '/' is empty.", hint=_HINT)
        scope = "/" + rest.strip()
    if ":" not in body:
        raise InputError(f"{where}, expected KIND:RATE (for example 502:0.02).", hint=_HINT)
    kind, _, rate_text = body.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise InputError(f"{where}, '{kind}' is not a fault kind; use one of {', '.join(KINDS)}.", hint=_HINT)
    param = None
    if "@" in rate_text:
        rate_text, param = rate_text.split("@", 1)
        param = param.strip()
    rate_text = rate_text.strip()
    try:
        rate = float(rate_text)
    except ValueError:
        raise InputError(f"{where}, the rate '{rate_text}' is not a number between 0 and 1.", hint=_HINT) from None
    if not 0 <= rate <= 1:
        raise InputError(f"{where}, the rate {rate_text} is outside 0..1.", hint=_HINT)
    status = STATUS_KINDS.get(kind)
    retry_after, delay = None, 0.0
    if kind in ("429", "503"):
        retry_after = 1
        if param is not None:
            seconds = _seconds(param, where)
            if seconds != int(seconds):
                raise InputError(f"{where}, Retry-After '{param}' must be whole seconds.", hint=_HINT)
            retry_after = int(seconds)
    elif kind in ("slow", "502", "504"):
        delay = 1.0 if kind == "slow" else 0.0
        if param is not None:
            delay = _seconds(param, where)
    elif param is not None:
        raise InputError(f"{where}, a {kind} fault takes no '@' value.", hint=_HINT)
    return FaultRule(kind=kind, rate=rate, status=status, retry_after=retry_after, delay=delay, scope=scope)


def _seconds(text: str, where: str) -> float:
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise InputError(f"{where}, '{text}' is not a duration (write 2s, 250ms or 1.5).", hint=_HINT)
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


__all__ = ["KINDS", "Fault", "FaultPlan", "FaultRule", "draw", "fault_body"]
