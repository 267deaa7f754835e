"""The Kobo client against a scripted fake at the session boundary (no sockets).

`FakeHTTP` stands in for requests.Session: it records every call and answers from a script, either a
queue (retry tests) or per (method, path) routes (deploy flows). Responses are real
requests.Response objects so the client reads them exactly as it reads the network.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import random
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from desbumi import __version__
from desbumi.errors import InputError, RefusedError, TransportError
from desbumi.kobo import KoboClient, KoboSession, resolve_token, safe_attachment_path
from desbumi.kobo.attachments import Attachment, attachments_of
from desbumi.kobo.files import plan_media
from desbumi.kobo.session import parse_retry_after

BASE = "https://kf.example.org"
TOKEN = "0123456789abcdef0123456789abcdef01234567"  # obviously fake
UID = "aTestAsset0123456789abc"


# -- the fake ---------------------------------------------------------------------------------------


def response(status=200, body=None, *, text=None, headers=None, content_type=None, raw=None):
    r = requests.Response()
    r.status_code = status
    hdrs = CaseInsensitiveDict(headers or {})
    if raw is not None:
        r.raw = raw
        r._content = False
    else:
        if text is not None:
            content = text.encode("utf-8")
            hdrs.setdefault("Content-Type", content_type or "text/plain")
        elif body is not None:
            content = json.dumps(body, separators=(",", ":")).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        else:
            content = b""
        r._content = content
    r.headers = hdrs
    r.encoding = "utf-8"
    return r


def html_gateway(status=504):
    return response(status, text=f"<html><head><title>{status} Gateway Time-out</title></head><body><center>"
                                 f"<h1>{status} Gateway Time-out</h1></center><hr><center>nginx</center></body></html>",
                    content_type="text/html")


def refused_connection():
    inner = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", inner))


class Call:
    def __init__(self, method, url, kwargs):
        self.method, self.url, self.kwargs = method, url, kwargs

    @property
    def path(self):
        return urlsplit(self.url).path

    @property
    def query(self):
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}

    @property
    def headers(self):
        return self.kwargs.get("headers") or {}

    def __repr__(self):
        return f"{self.method} {self.url}"


class FakeHTTP:
    """`request(method, url, **kw)` answering from a queue, or from routes keyed by (method, path)."""

    def __init__(self, *queue):
        self.queue = list(queue)
        self.routes: dict[tuple[str, str], list] = {}
        self.calls: list[Call] = []

    def route(self, method, path, *answers):
        self.routes.setdefault((method, path), []).extend(answers)
        return self

    def request(self, method, url, **kwargs):
        self.calls.append(Call(method, url, kwargs))
        if self.routes:
            answers = self.routes.get((method, urlsplit(url).path))
            if not answers:
                raise AssertionError(f"unexpected request {method} {url}")
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
        else:
            if not self.queue:
                raise AssertionError(f"unexpected request {method} {url}")
            answer = self.queue.pop(0)
        if callable(answer) and not isinstance(answer, requests.Response):
            answer = answer(method, url, kwargs)
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def make(*queue, retries=3, **options):
    http = FakeHTTP(*queue)
    sleeps = Sleeps()
    session = KoboSession(BASE, TOKEN, retries=retries, sleep=sleeps, http=http, rng=random.Random(7), **options)
    return KoboClient(session), http, sleeps


def page_body(rows, *, count=None, next=None, previous=None):
    return {"count": len(rows) if count is None else count, "next": next, "previous": previous, "results": rows}


# -- URLs, headers, the token -----------------------------------------------------------------------


def test_api_urls_have_trailing_slash_and_encoded_parts():
    session = KoboSession(BASE + "/api/v2/", TOKEN, http=FakeHTTP())
    assert session.base_url == BASE
    assert session.api_url("assets", UID, "data") == f"{BASE}/api/v2/assets/{UID}/data/"
    assert session.api_url("assets", "a/b c?", "files") == f"{BASE}/api/v2/assets/a%2Fb%20c%3F/files/"
    assert session.root_url("me") == f"{BASE}/me/"
    with pytest.raises(InputError):
        session.api_url("assets", "..")
    with pytest.raises(InputError):
        KoboSession("kf.example.org", TOKEN)


def test_every_request_carries_token_user_agent_and_slash():
    client, http, _ = make(response(200, {"uid": UID}), response(200, {"username": "demo"}))
    assert client.assets.get(UID) == {"uid": UID}
    client.me()
    first, second = http.calls
    assert first.url == f"{BASE}/api/v2/assets/{UID}/"
    assert second.url == f"{BASE}/me/"
    for call in http.calls:
        assert call.headers["Authorization"] == f"Token {TOKEN}"
        assert call.headers["User-Agent"] == f"desbumi/{__version__}"
        assert call.kwargs["timeout"] == (10, 120)


def test_absolute_next_links_are_followed_exactly_and_token_stays_home():
    legacy_next = f"{BASE}/api/v2/assets/?limit=1&offset=1&q=asset_type%3Asurvey"
    foreign_next = "http://other.example.net:8080/api/v2/assets/?limit=1&start=2"
    client, http, _ = make(
        response(200, page_body([{"uid": "a1"}], count=3, next=legacy_next)),
        response(200, page_body([{"uid": "a2"}], count=3, next=foreign_next)),
        response(200, page_body([{"uid": "a3"}], count=3, next=None)),
    )
    assert [a["uid"] for a in client.assets.list(limit=1)] == ["a1", "a2", "a3"]
    assert http.calls[0].query == {"limit": "1", "q": "asset_type:survey"}
    assert http.calls[1].url == legacy_next
    assert http.calls[2].url == foreign_next
    assert "Authorization" not in http.calls[2].headers  # a link to another host never gets the token


def test_bare_list_bodies_are_one_page():
    client, _, _ = make(response(200, [{"uid": "v1"}, {"uid": "v2"}]))
    assert [v["uid"] for v in client.assets.versions(UID)] == ["v1", "v2"]


def test_repr_hides_token():
    client, _, _ = make()
    assert TOKEN not in repr(client.session) and TOKEN not in repr(client)
    assert "<hidden>" in repr(client.session)
    assert TOKEN not in str(vars(client.session))


# -- retries ----------------------------------------------------------------------------------------


def test_retries_transient_statuses_with_growing_jittered_backoff():
    client, http, sleeps = make(response(503, text="busy"), response(500, text="oops"), response(502, text="bad"),
                                response(200, {"uid": UID}), retries=5, backoff=1.0)
    assert client.assets.get(UID)["uid"] == UID
    assert len(http.calls) == 4
    assert client.session.counters() == {"requests": 4, "retries": 3}
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps, start=1):
        base = 1.0 * 2 ** (attempt - 1)
        assert base / 2 <= delay <= base
    # the jitter comes from the injected generator: the same seed gives the same delays
    again, _, sleeps2 = make(response(503), response(500), response(502), response(200, {}), retries=5, backoff=1.0)
    again.assets.get(UID)
    assert sleeps2 == sleeps


def test_retry_after_seconds_and_http_date_are_honoured_and_capped():
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    client, _, sleeps = make(response(429, {"detail": "slow down"}, headers={"Retry-After": "7"}),
                             response(503, text="x", headers={"Retry-After": later}),
                             response(429, headers={"Retry-After": "86400"}),
                             response(200, {}), retries=5, max_retry_after=120)
    client.assets.get(UID)
    assert sleeps[0] == 7
    assert 25 <= sleeps[1] <= 30
    assert sleeps[2] == 120
    assert parse_retry_after("garbage") is None and parse_retry_after(None) is None


def test_gives_up_after_the_retry_bound():
    client, http, sleeps = make(*[response(500, text="Server Error (500)", content_type="text/html")] * 10, retries=3)
    with pytest.raises(RefusedError) as info:
        client.assets.get(UID)
    assert len(http.calls) == 4 and len(sleeps) == 3
    assert info.value.status == 500
    assert "after 4 attempts" in str(info.value) and "internal error" in str(info.value)


def test_client_errors_are_not_retried():
    client, http, sleeps = make(response(400, {"query": "Value must be valid JSON."}))
    with pytest.raises(RefusedError) as info:
        client.submissions.page(UID, limit=10)
    assert len(http.calls) == 1 and sleeps == []
    assert info.value.status == 400 and "query: Value must be valid JSON." in str(info.value)


def test_connection_refused_after_retries_names_host_and_attempts():
    client, _, _ = make(*[refused_connection() for _ in range(4)], retries=3)
    with pytest.raises(TransportError) as info:
        client.assets.get(UID)
    message = str(info.value)
    assert "could not reach kf.example.org after 4 attempts" in message
    assert "connection refused" in message
    assert info.value.exit_code == 3


def test_timeouts_and_cut_off_bodies_are_retried():
    client, _, _ = make(
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(10 bytes read, 90 more expected)"),
        response(200, text='{"count": 3, "results": [{"_id"', content_type="application/json"),  # truncated JSON
        response(200, page_body([{"_id": 1}])),
        retries=5,
    )
    page = client.submissions.page(UID, limit=10)
    assert page.returned == 1
    assert client.session.counters() == {"requests": 4, "retries": 3}


def test_truncated_json_every_time_is_a_transport_error():
    client, _, _ = make(*[response(200, text='{"results": [', content_type="application/json")] * 3, retries=2)
    with pytest.raises(TransportError, match="cut off 3 times"):
        client.assets.get(UID)


def test_post_is_retried_only_when_the_server_cannot_have_acted():
    # 429 and refused connections: safe to repeat
    client, http, _ = make(response(429, headers={"Retry-After": "1"}), refused_connection(),
                           response(201, {"uid": "iX", "status": "complete",
                                          "messages": {"created": [{"uid": UID}]}}))
    xls = Path(__file__).parent / "_kobo_fake.xlsx"
    try:
        xls.write_bytes(b"PK fake xlsx")
        assert client.deploy.import_xlsform(xls) == UID
        assert len(http.calls) == 3
        # 502 and a reset after sending: the import may exist, so it is not sent twice
        for failure in (html_gateway(502), requests.exceptions.ConnectionError("Connection reset by peer")):
            client, http, _ = make(failure, response(201, {}))
            with pytest.raises((RefusedError, TransportError)):
                client.deploy.import_xlsform(xls)
            assert len(http.calls) == 1
    finally:
        xls.unlink()


# -- the error catalogue ----------------------------------------------------------------------------


def test_401_says_the_token_was_rejected_and_how_to_get_one():
    client, _, _ = make(response(401, {"detail": "Invalid token."}, headers={"WWW-Authenticate": "Session"}))
    with pytest.raises(RefusedError) as info:
        client.assets.list()
    message = str(info.value)
    assert info.value.status == 401
    assert "the server rejected the token" in message and "Invalid token." in message
    assert "KOBO_TOKEN" in message and "API key" in message and f"{BASE}/token/" in message
    assert f"GET {BASE}/api/v2/assets/" in message


def test_403_is_a_permission_message():
    client, _, _ = make(response(403, {"detail": "You do not have permission to perform this action."}))
    with pytest.raises(RefusedError) as info:
        client.files.delete(UID, "afX")
    assert info.value.status == 403
    assert "lacks permission" in str(info.value) and "DELETE" in str(info.value)


@pytest.mark.parametrize("detail", ["Not found.", "No Asset matches the given query."])
def test_404_on_an_asset_means_wrong_uid_or_token(detail):
    client, _, _ = make(response(404, {"detail": detail}))
    with pytest.raises(RefusedError) as info:
        client.submissions.after(UID, 0, 100)
    message = str(info.value)
    assert info.value.status == 404
    assert f"asset {UID} was not found" in message
    assert "wrong" in message and "missing/invalid" in message and "404" in message


def test_404_on_a_submission_names_the_submission():
    client, _, _ = make(response(404, {"detail": "Not found."}))
    with pytest.raises(RefusedError, match="submission 17 is not in asset"):
        client.submissions.get(UID, 17)


def test_410_names_the_removed_v1_endpoint():
    body = {"detail": "The V1 API has been removed. Please read the migration article at "
                      "https://support.kobotoolbox.org/migrating_api.html"}
    client, _, _ = make(response(410, body))
    with pytest.raises(RefusedError) as info:
        client.session.get_json("/api/v1/data/")
    assert info.value.status == 410
    assert "removed v1 endpoint; desbumi uses v2" in str(info.value)


def test_html_gateway_timeouts_after_retries():
    client, http, _ = make(*[html_gateway(504)] * 4, retries=3)
    with pytest.raises(RefusedError) as info:
        client.submissions.after(UID, 0, 1000)
    message = str(info.value)
    assert info.value.status == 504
    assert "the server timed out" in message and "smaller pages are used on retry" in message
    assert "<html" not in message  # a proxy page is not pasted into the message
    assert client.session.last_failure_was_gateway_timeout
    assert [int(c.query["limit"]) for c in http.calls] == [1000, 500, 250, 125]


def test_token_never_appears_in_messages_logs_or_repr(caplog):
    caplog.set_level(logging.DEBUG)
    echo = f"<html><body>bad token {TOKEN}</body></html>"
    cases = [
        response(401, {"detail": f"Invalid token {TOKEN}."}),
        response(403, {"detail": TOKEN}),
        response(404, {"detail": "Not found."}),
        response(410, {"detail": "gone"}),
        response(400, {"error": f"{TOKEN} rejected"}),
        response(500, text=echo, content_type="text/html"),
    ]
    messages = []
    for case in cases:
        client, _, _ = make(*[case] * 4, retries=3)
        with pytest.raises(RefusedError) as info:
            client.assets.get(UID)
        messages += [str(info.value), repr(info.value), str(getattr(info.value, "body", "")),
                     str(info.value.__dict__)]
    client, _, _ = make(*[refused_connection() for _ in range(4)], retries=3)
    with pytest.raises(TransportError) as info:
        client.assets.get(UID)
    messages += [str(info.value), repr(client), repr(client.session)]
    assert caplog.records, "one debug line per request is expected"
    assert any(f"GET {BASE}/api/v2/assets/{UID}/ -> 401" in r.getMessage() for r in caplog.records)
    for text in messages + [r.getMessage() for r in caplog.records] + [caplog.text]:
        assert TOKEN not in text


# -- submissions paging -----------------------------------------------------------------------------


def test_keyset_params_are_compact_json():
    client, http, _ = make(response(200, page_body([{"_id": 42}, {"_id": 57}], count=2)))
    page = client.submissions.after(UID, 41, 500)
    call = http.calls[0]
    assert call.path == f"/api/v2/assets/{UID}/data/"
    assert call.query == {"query": '{"_id":{"$gt":41}}', "sort": '{"_id":1}', "limit": "500"}
    assert "%7B%22_id%22%3A%7B%22%24gt%22%3A41%7D%7D" in call.url  # percent-encoded, not spaces
    assert "page" not in call.query and "page_size" not in call.query
    assert page.last_id == 57 and page.returned == 2 and page.clamped_to is None and page.is_last


def test_page_passes_fields_start_and_sort():
    client, http, _ = make(response(200, page_body([])))
    client.submissions.page(UID, query={"age": "30"}, sort={"_submission_time": -1}, fields=["_id", "age"],
                            limit=5, start=10)
    assert http.calls[0].query == {"query": '{"age":"30"}', "sort": '{"_submission_time":-1}',
                                   "fields": '["_id","age"]', "start": "10", "limit": "5"}


def test_clamping_is_detected_from_the_next_link_or_the_row_count():
    rows = [{"_id": i} for i in range(1, 1001)]
    clamped_next = f"{BASE}/api/v2/assets/{UID}/data/?limit=1000&query=%7B%7D&start=1000"
    client, _, _ = make(response(200, page_body(rows, count=5000, next=clamped_next)))
    page = client.submissions.after(UID, 0, 30000)
    assert page.requested_limit == 30000 and page.returned == 1000 and page.clamped_to == 1000
    assert page.effective_limit == 1000
    # a next link without limit: the short page itself says it was clamped
    client, _, _ = make(response(200, page_body(rows[:300], count=5000, next=f"{BASE}/x/?start=300")))
    assert client.submissions.after(UID, 0, 1000).clamped_to == 300
    # fewer rows and no next: simply the end, not a clamp
    client, _, _ = make(response(200, page_body(rows[:300], count=300)))
    assert client.submissions.after(UID, 0, 1000).clamped_to is None


def test_sweep_pages_by_id_with_light_fields_and_adopts_the_clamp():
    def rows(a, b):
        return [{"_id": i, "_uuid": f"u{i}", "_validation_status": {}} for i in range(a, b)]

    client, http, _ = make(
        response(200, page_body(rows(1, 4), count=7, next=f"{BASE}/d/?limit=3&start=3")),
        response(200, page_body(rows(4, 7), count=4, next=f"{BASE}/d/?limit=3&start=3")),
        response(200, page_body(rows(7, 8), count=1)),
    )
    pages = list(client.submissions.sweep(UID, 1000))
    assert [p.returned for p in pages] == [3, 3, 1]
    queries = [c.query for c in http.calls]
    assert all(q["fields"] == '["_id","_uuid","_validation_status"]' for q in queries)
    assert [q["query"] for q in queries] == ['{"_id":{"$gt":0}}', '{"_id":{"$gt":3}}', '{"_id":{"$gt":6}}']
    assert [q["limit"] for q in queries] == ["1000", "3", "3"]


def test_gateway_timeout_shrinks_the_page_on_retry():
    client, http, _ = make(html_gateway(502), response(200, page_body([{"_id": 1}], count=1)))
    page = client.submissions.after(UID, 0, 1000)
    assert [c.query["limit"] for c in http.calls] == ["1000", "500"]
    assert page.requested_limit == 500 and page.shrunk
    assert client.session.last_failure_was_gateway_timeout


def test_following_a_next_link_shrinks_inside_the_link():
    link = f"{BASE}/api/v2/assets/{UID}/data/?limit=1000&sort=%7B%7D&start=1000"
    client, http, _ = make(requests.exceptions.ReadTimeout("slow"), response(200, page_body([])))
    page = client.submissions.follow(link)
    assert http.calls[0].url == link
    assert http.calls[1].query["limit"] == "500" and http.calls[1].query["start"] == "1000"
    assert page.requested_limit == 500


def test_legacy_page_shapes_are_tolerated():
    client, _, _ = make(response(200, [{"_id": 3}, {"_id": 4}]), response(200, {"results": [{"_id": 5}]}))
    legacy = client.submissions.after(UID, 0, 10)
    assert legacy.last_id == 4 and legacy.next is None
    bare = client.submissions.after(UID, 4, 10)
    assert bare.count is None and bare.last_id == 5


# -- attachments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("photo.jpg", "photo.jpg"),
    ("../../x", "x"),
    ("../../../etc/passwd", "passwd"),
    ("/etc/passwd", "passwd"),
    ("C:\\Windows\\system32\\evil.dll", "evil.dll"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("a\x00b.jpg", "ab.jpg"),
    ("", "attachment"),
    ("..", "attachment"),
    ("/", "attachment"),
    (".hidden", "hidden"),
    ("con.txt", "attachment_con.txt"),
    ('we<ird>:"na|me?*.png', "we_ird___na_me__.png"),
    ("owner/attachments/abc/def/1773718541019.jpg", "1773718541019.jpg"),
])
def test_safe_attachment_path_never_escapes_root(tmp_path, name, expected):
    path = safe_attachment_path(tmp_path, UID, 17, name)
    assert path == tmp_path.resolve() / UID / "17" / expected
    assert tmp_path.resolve() in path.resolve().parents


def test_safe_attachment_path_sanitises_every_part(tmp_path):
    path = safe_attachment_path(tmp_path, "../..", "../1", "x" * 400 + ".jpg")
    assert tmp_path.resolve() in path.resolve().parents
    assert path.name.endswith(".jpg") and len(path.name.encode()) <= 150
    assert path.parent.name == "_1" and path.parent.parent.name == "asset"


def test_attachment_objects_of_every_server_version():
    new = {"uid": "attA", "filename": "o/attachments/u/r/p.jpg", "media_file_basename": "p.jpg",
           "mimetype": "image/jpeg", "is_deleted": False, "question_xpath": "grp[1]/photo",
           "download_url": f"{BASE}/api/v2/assets/{UID}/data/1/attachments/attA/"}
    middle = {"id": 99, "instance": 1, "xform": 2, "filename": "o/attachments/u/r/q.m4a",
              "mimetype": "audio/mp4", "download_url": f"{BASE}/api/v2/assets/{UID}/data/1/attachments/99/"}
    old = {"filename": "o\\attachments\\r.png", "download_url": "https://kc.example.org/media/original?media_file=r.png"}
    a, b, c = attachments_of({"_attachments": [new, middle, old, "junk"]})
    assert (a.key, a.basename, a.is_deleted) == ("attA", "p.jpg", False)
    assert (b.key, b.basename, b.question_xpath) == ("99", "q.m4a", None)
    assert (c.basename, c.download_url) == ("r.png", old["download_url"])
    assert Attachment.from_json({"uid": "attD", "media_file_basename": "d.jpg", "is_deleted": True}).is_deleted


class CutStream:
    """A urllib3-like raw body that breaks after `cut` bytes (requests turns that into ChunkedEncodingError)."""

    def __init__(self, data: bytes, cut: int | None = None):
        self.data, self.cut = data, cut

    def stream(self, chunk_size, decode_content=True):
        end = len(self.data) if self.cut is None else self.cut
        for i in range(0, end, 7):
            yield self.data[i:min(i + 7, end)]
        if self.cut is not None:
            raise urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")

    def close(self):
        pass

    def release_conn(self):
        pass


def test_download_resumes_with_range_after_a_cut(tmp_path):
    data = bytes(range(256)) * 40
    ranges = []

    def answer(method, url, kw):
        ranges.append(kw["headers"].get("Range"))
        if len(ranges) == 1:
            return response(200, headers={"Content-Length": str(len(data))}, raw=CutStream(data, cut=1000))
        start = int(kw["headers"]["Range"].split("=")[1].rstrip("-"))
        return response(206, headers={"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}",
                                      "Content-Length": str(len(data) - start)}, raw=CutStream(data[start:]))

    url = f"{BASE}/api/v2/assets/{UID}/data/1/attachments/attA/"
    client, http, _ = make(answer, answer)
    dest = tmp_path / "a" / "p.jpg"
    digest, size = client.attachments.download(url, dest)
    assert dest.read_bytes() == data
    assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert ranges[0] is None and ranges[1].startswith("bytes=") and int(ranges[1][6:-1]) > 0
    assert http.calls[0].url == url and http.calls[0].headers["Accept"] == "*/*"
    assert not (tmp_path / "a" / "p.jpg.part").exists()


def test_download_restarts_when_range_is_ignored(tmp_path):
    data = b"0123456789" * 500
    client, http, _ = make(
        response(200, headers={"Content-Length": str(len(data))}, raw=CutStream(data, cut=2000)),
        response(200, headers={"Content-Length": str(len(data))}, raw=CutStream(data)),
    )
    dest = tmp_path / "x.bin"
    digest, size = client.attachments.download(f"{BASE}/media/x", dest)
    assert dest.read_bytes() == data and (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert "Range" in http.calls[1].headers  # asked to resume, server sent everything: started over


def test_download_does_not_leave_a_half_file_at_the_target(tmp_path):
    data = b"z" * 5000
    client, _, _ = make(*[response(200, headers={"Content-Length": "5000"}, raw=CutStream(data, cut=100))
                          for _ in range(3)], retries=2)
    with pytest.raises(TransportError):
        client.attachments.download(f"{BASE}/media/x", tmp_path / "x.bin")
    assert not (tmp_path / "x.bin").exists()


# -- media and deploy -------------------------------------------------------------------------------


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def asset_json(version_id, deployed=None, active=None):
    return {"uid": UID, "name": "Survey", "asset_type": "survey", "version_id": version_id,
            "deployed_version_id": deployed, "has_deployment": deployed is not None,
            "deployment__active": bool(deployed) if active is None else active,
            "deployment_status": "deployed" if deployed else "draft",
            "url": f"{BASE}/api/v2/assets/{UID}/"}


def media_item(uid, name, data):
    return {"uid": uid, "url": f"{BASE}/api/v2/assets/{UID}/files/{uid}/", "file_type": "form_media",
            "description": "default", "metadata": {"hash": f"md5:{md5(data)}", "filename": name, "mimetype": "text/csv"}}


@pytest.fixture
def form_files(tmp_path):
    xls = tmp_path / "y2.xlsx"
    xls.write_bytes(b"PK\x03\x04 fake workbook")
    media = tmp_path / "media"
    media.mkdir()
    (media / "year1.csv").write_bytes(b"resp_id,name\n1,Siti\n")
    (media / "villages.csv").write_bytes(b"code,name\n1,Desa A\n")
    return xls, sorted(media.iterdir())


def deploy_fake():
    http = FakeHTTP()
    sleeps = Sleeps()
    client = KoboClient(KoboSession(BASE, TOKEN, retries=2, sleep=sleeps, http=http))
    return client, http, sleeps


A = f"/api/v2/assets/{UID}/"


def test_first_deploy_imports_polls_uploads_and_posts(form_files):
    xls, media = form_files
    client, http, sleeps = deploy_fake()
    http.route("POST", "/api/v2/imports/",
               response(201, {"uid": "iImport1", "url": f"{BASE}/api/v2/imports/iImport1/", "status": "processing"}))
    http.route("GET", "/api/v2/imports/iImport1/",
               response(200, {"uid": "iImport1", "status": "processing", "messages": {}}),
               response(200, {"uid": "iImport1", "status": "complete",
                              "messages": {"created": [{"uid": UID, "kind": "asset"}]}}))
    http.route("GET", A + "files/", response(200, page_body([])))
    http.route("POST", A + "files/", response(201, {"uid": "af1"}), response(201, {"uid": "af2"}))
    http.route("GET", A, response(200, asset_json("v1")), response(200, asset_json("v1", deployed="v1")))
    http.route("POST", A + "deployment/", response(200, {"backend": "openrosa", "active": True, "version_id": "v1"}))

    result = client.deploy.publish(xls, media, poll=0.5, timeout=10)

    assert (result.asset_uid, result.version_id, result.action) == (UID, "v1", "deployed")
    assert [c.path for c in http.calls if c.method == "POST"] == [
        "/api/v2/imports/", A + "files/", A + "files/", A + "deployment/"]
    imported = http.calls[0].kwargs
    assert imported["data"]["library"] == "false" and "destination" not in imported["data"]
    assert imported["files"]["file"][0] == "y2.xlsx"
    assert sleeps == [0.5, 0.5]
    uploads = [c.kwargs for c in http.calls if c.path == A + "files/" and c.method == "POST"]
    assert [json.loads(u["data"]["metadata"])["filename"] for u in uploads] == ["villages.csv", "year1.csv"]
    assert all(u["data"]["file_type"] == "form_media" and u["data"]["description"] for u in uploads)
    deploy_call = next(c for c in http.calls if c.path == A + "deployment/")
    assert deploy_call.kwargs["json"] == {"active": True, "version_id": "v1"}
    assert http.calls[-1].method == "GET" and http.calls[-1].path == A  # confirmed


def test_redeploy_patches_the_current_version_and_replaces_changed_media(form_files):
    xls, media = form_files
    client, http, _ = deploy_fake()
    http.route("POST", "/api/v2/imports/", response(201, {"uid": "i2", "status": "complete",
                                                          "messages": {"updated": [{"uid": UID}]}}))
    http.route("GET", A + "files/", response(200, page_body([
        media_item("afOld", "year1.csv", b"stale"), media_item("afSame", "villages.csv", media[0].read_bytes())])))
    http.route("DELETE", A + "files/afOld/", response(204))
    http.route("POST", A + "files/", response(201, {"uid": "afNew"}))
    http.route("GET", A, response(200, asset_json("v2", deployed="v1")), response(200, asset_json("v2", deployed="v2")))
    http.route("PATCH", A + "deployment/", response(200, {"version_id": "v2", "active": True}))

    result = client.deploy.publish(xls, media, asset_uid=UID)

    assert result.action == "redeployed" and result.version_id == "v2"
    assert http.calls[0].kwargs["data"]["destination"] == f"{BASE}{A}"
    assert result.media.unchanged == ["villages.csv"] and [p.name for _, p in result.media.replace] == ["year1.csv"]
    assert [(c.method, c.path) for c in http.calls if c.method in ("DELETE", "POST", "PATCH")] == [
        ("POST", "/api/v2/imports/"), ("DELETE", A + "files/afOld/"), ("POST", A + "files/"),
        ("PATCH", A + "deployment/")]
    patch = next(c for c in http.calls if c.method == "PATCH")
    assert patch.kwargs["json"] == {"active": True, "version_id": "v2"}


def test_nothing_changed_means_no_deploy_and_media_only_change_redeploys_same_version(form_files):
    xls, media = form_files
    same = [media_item(f"af{i}", p.name, p.read_bytes()) for i, p in enumerate(media)]

    client, http, _ = deploy_fake()
    http.route("POST", "/api/v2/imports/", response(201, {"uid": "i3", "status": "complete",
                                                          "messages": {"updated": [{"uid": UID}]}}))
    http.route("GET", A + "files/", response(200, page_body(same)))
    http.route("GET", A, response(200, asset_json("v2", deployed="v2")))
    result = client.deploy.publish(xls, media, asset_uid=UID)
    assert result.action == "unchanged" and not result.media.changed
    assert not [c for c in http.calls if c.method in ("PATCH", "DELETE") or c.path.endswith("deployment/")]
    assert [c.path for c in http.calls if c.method == "POST"] == ["/api/v2/imports/"]

    changed = [same[0], media_item("afY", "year1.csv", b"old year one")]
    client, http, _ = deploy_fake()
    http.route("POST", "/api/v2/imports/", response(201, {"uid": "i4", "status": "complete",
                                                          "messages": {"updated": [{"uid": UID}]}}))
    http.route("GET", A + "files/", response(200, page_body(changed)))
    http.route("DELETE", A + "files/afY/", response(204))
    http.route("POST", A + "files/", response(201, {"uid": "afZ"}))
    http.route("GET", A, response(200, asset_json("v2", deployed="v2")))
    http.route("PATCH", A + "deployment/", response(200, {"version_id": "v2", "active": True}))
    result = client.deploy.publish(xls, media, asset_uid=UID)
    assert result.action == "redeployed" and result.version_id == "v2"
    assert next(c for c in http.calls if c.method == "PATCH").kwargs["json"]["version_id"] == "v2"


def test_deploy_switches_verb_on_405():
    client, http, _ = deploy_fake()
    http.route("GET", A, response(200, asset_json("v3")), response(200, asset_json("v3", deployed="v3")))
    http.route("POST", A + "deployment/", response(405, {"detail": "Use PATCH to update an existing deployment"}))
    http.route("PATCH", A + "deployment/", response(200, {}))
    assert client.deploy.deploy(UID).action == "redeployed"


def test_deploy_that_does_not_take_is_an_error():
    client, http, _ = deploy_fake()
    http.route("GET", A, response(200, asset_json("v3", deployed="v1")))
    http.route("PATCH", A + "deployment/", response(200, {}))
    with pytest.raises(RefusedError, match="did not take"):
        client.deploy.deploy(UID)


def test_deploy_500_explains_the_version_mismatch():
    client, http, _ = deploy_fake()
    http.route("GET", A, response(200, asset_json("v3", deployed="v1")))
    http.route("PATCH", A + "deployment/", response(500, text="<h1>Server Error (500)</h1>", content_type="text/html"))
    with pytest.raises(RefusedError) as info:
        client.deploy.deploy(UID)
    assert info.value.status == 500 and "kpi#2205" in str(info.value)


def test_import_errors_and_timeouts(form_files):
    xls, _ = form_files
    client, http, _ = deploy_fake()
    http.route("POST", "/api/v2/imports/", response(201, {"uid": "i5", "status": "processing"}))
    http.route("GET", "/api/v2/imports/i5/", response(200, {"status": "error", "messages": {
        "error_type": "SyntaxError", "error": "xls upload must have one of these sheets: survey, library"}}))
    with pytest.raises(InputError, match="could not import y2.xlsx: SyntaxError: xls upload must have"):
        client.deploy.import_xlsform(xls, poll=0.1)

    client, http, sleeps = deploy_fake()
    http.route("POST", "/api/v2/imports/", response(201, {"uid": "i6", "status": "processing"}))
    http.route("GET", "/api/v2/imports/i6/", response(200, {"status": "processing"}))
    with pytest.raises(TransportError, match="did not finish within 3 s"):
        client.deploy.import_xlsform(xls, poll=1, timeout=3)
    assert sum(sleeps) == pytest.approx(3, abs=1)


def test_plan_media_compares_md5(tmp_path):
    a, b, c = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv"))
    for p in (a, b, c):
        p.write_text(p.stem)
    plan = plan_media([media_item("afA", "a.csv", b"a"), media_item("afB", "b.csv", b"old"),
                       media_item("afX", "x.csv", b"x"), {"uid": "afN", "metadata": {"filename": "c.csv"}}],
                      [a, b, c])
    assert plan.unchanged == ["a.csv"]
    assert [(u, p.name) for u, p in plan.replace] == [("afB", "b.csv"), ("afN", "c.csv")]  # no hash: re-upload
    assert plan.upload == [] and plan.extra == ["x.csv"] and plan.changed


# -- the token ---------------------------------------------------------------------------------------


class FakeKeyring:
    def __init__(self, store):
        self.store, self.asked = store, []

    def get_password(self, service, user):
        self.asked.append((service, user))
        return self.store.get((service, user))


def test_token_from_environment_then_keyring():
    assert resolve_token({"KOBO_TOKEN": f"  {TOKEN}\n"}) == TOKEN
    ring = FakeKeyring({("desbumi", "kf.example.org"): TOKEN})
    assert resolve_token({}, server_url=BASE, keyring_module=ring) == TOKEN
    assert ring.asked == [("desbumi", "kf.example.org")]
    ring = FakeKeyring({("desbumi", "kf.example.org"): TOKEN})
    assert resolve_token({"DESBUMI_SERVER": BASE}, keyring_module=ring) == TOKEN


def test_missing_or_malformed_token_explains_how_to_set_it():
    class Broken:
        def get_password(self, *_):
            raise RuntimeError("no backend")

    with pytest.raises(InputError) as info:
        resolve_token({}, server_url=BASE, keyring_module=Broken())
    message = str(info.value)
    assert "KOBO_TOKEN" in message and "export KOBO_TOKEN" in message and "desbumi.toml" in message
    assert info.value.exit_code == 2
    with pytest.raises(InputError, match="contains spaces") as info:
        resolve_token({"KOBO_TOKEN": "abc def"})
    assert "abc def" not in str(info.value)


def test_connect_reads_the_token_without_showing_it():
    client = KoboClient.connect(BASE, environ={"KOBO_TOKEN": TOKEN}, http=FakeHTTP())
    assert client.session.has_token and TOKEN not in repr(client)


# -- over loopback, against the sandbox server ------------------------------------------------------
# A few end-to-end checks that the client and the sandbox agree across real sockets; the full pull
# and deploy suites live with their commands.

LOOP_SURVEY = """
| type         | name  | label |
| text         | head  | Head  |
| image        | photo | Photo |
| select_one_from_file villages.csv | village | Village |
"""
LOOP_SETTINGS = """
| form_id   | form_title | version    |
| loop_form | Loop form  | 2026010101 |
"""
LOOP_DOCS = 1205


@pytest.fixture
def loop_server(tmp_path):
    from desbumi.sandbox import SandboxServer, SandboxState
    from xlsforms import write_xlsform

    form = write_xlsform(tmp_path / "loop.xlsx", {"survey": LOOP_SURVEY, "settings": LOOP_SETTINGS})
    state = SandboxState.create(None, seed=11)
    asset, _ = state.import_xlsform(form, library=False, standard_permissions=True)
    state.deploy(asset.uid, active=True, validate=False)
    for i in range(LOOP_DOCS):
        attachments = None
        if i == 2:
            attachments = [{"filename": "../../evil photo.jpg", "mimetype": "image/jpeg", "question_xpath": "photo",
                            "data": b"\xff\xd8" + bytes(range(256)) * 64 + b"\xff\xd9"}]
        state.add_submission(asset.uid, {"head": f"H{i}"} | ({"photo": "evil photo.jpg"} if attachments else {}),
                             attachments=attachments)
    with SandboxServer(state) as server:
        server.asset_uid = asset.uid
        server.form = form
        yield server


def loop_client(server, token=None, **options):
    options.setdefault("sleep", lambda s: None)
    return KoboClient(KoboSession(server.url, token or server.state.token(), **options))


def keyset_ids(client, uid, limit):
    ids, pages = [], []
    for page in client.submissions.pages_after(uid, None, limit):
        ids += [row["_id"] for row in page.results]
        pages.append(page)
    return ids, pages


def test_loopback_keyset_pull_detects_the_clamp_and_sweeps(loop_server):
    client = loop_client(loop_server)
    uid = loop_server.asset_uid
    assert uid in [a["uid"] for a in client.assets.list()]
    ids, pages = keyset_ids(client, uid, 30000)
    assert len(ids) == LOOP_DOCS and ids == sorted(set(ids))
    assert pages[0].clamped_to == 1000 and pages[1].requested_limit == 1000 and len(pages) == 2
    sweep = [row for page in client.submissions.sweep(uid, 1000) for row in page.results]
    assert [r["_id"] for r in sweep] == ids
    assert set(sweep[0]) >= {"_id", "_uuid", "_validation_status"} and "head" not in sweep[0]
    assert client.session.counters()["retries"] == 0


def test_loopback_error_messages(loop_server):
    wrong = loop_client(loop_server, token="f" * 40)
    with pytest.raises(RefusedError, match="the server rejected the token"):
        wrong.assets.list()
    client = loop_client(loop_server)
    with pytest.raises(RefusedError, match="wrong OR the token is missing/invalid"):
        client.submissions.after("aNoSuchAsset0000000000", 0, 10)
    with pytest.raises(RefusedError, match="removed v1 endpoint"):
        client.session.get_json(client.session.root_url("api", "v1", "data"))


def test_loopback_pull_under_seeded_faults_loses_and_duplicates_nothing(loop_server):
    clean_ids, _ = keyset_ids(loop_client(loop_server), loop_server.asset_uid, 200)
    retries = 0
    for seed in (1, 2, 3):
        loop_server.set_faults("500:0.08,502:0.08,429:0.05@0,reset:0.05,truncate:0.08", seed=seed)
        client = loop_client(loop_server, retries=8)
        ids, _ = keyset_ids(client, loop_server.asset_uid, 200)
        assert ids == clean_ids
        retries += client.session.counters()["retries"]
    loop_server.set_faults(None)
    assert retries > 0


def test_loopback_attachment_download_is_sanitised_and_hashed(loop_server, tmp_path):
    client = loop_client(loop_server)
    uid = loop_server.asset_uid
    doc = next(r for r in client.submissions.after(uid, 0, 10).results if r.get("_attachments"))
    (att,) = attachments_of(doc)
    path = safe_attachment_path(tmp_path / "attachments", uid, doc["_id"], att.basename or att.raw.get("filename"))
    assert tmp_path / "attachments" in path.parents
    digest, size = client.attachments.download(att.download_url, path)
    assert path.read_bytes()[:2] == b"\xff\xd8" and size == path.stat().st_size
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_loopback_deploy_flow(loop_server, tmp_path):
    client = loop_client(loop_server)
    media = tmp_path / "media"
    media.mkdir()
    villages = media / "villages.csv"
    villages.write_text("name,label\nd1,Desa 1\n", encoding="utf-8")

    first = client.deploy.publish(loop_server.form, [villages], poll=0.01, timeout=5)
    assert first.action == "deployed" and [p.name for p in first.media.upload] == ["villages.csv"]
    again = client.deploy.publish(loop_server.form, [villages], asset_uid=first.asset_uid, poll=0.01, timeout=5)
    assert again.action == "unchanged" and again.version_id == first.version_id
    villages.write_text("name,label\nd1,Desa 1\nd2,Desa 2\n", encoding="utf-8")
    media_only = client.deploy.publish(loop_server.form, [villages], asset_uid=first.asset_uid, poll=0.01, timeout=5)
    assert media_only.action == "redeployed" and media_only.version_id == first.version_id
    assert [name for _, name in [(u, p.name) for u, p in media_only.media.replace]] == ["villages.csv"]
    remote = client.files.list(first.asset_uid)
    assert [f["metadata"]["filename"] for f in remote] == ["villages.csv"]


def test_certificate_errors_are_not_retried():
    client, http, sleeps = make(requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(TransportError, match="secure connection to kf.example.org failed"):
        client.assets.get(UID)
    assert len(http.calls) == 1 and sleeps == []
