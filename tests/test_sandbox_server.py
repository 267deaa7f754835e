"""The sandbox Kobo server over real loopback sockets: routes, shapes and error bodies of KOBO_API.md."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from desbumi.errors import InputError
from desbumi.sandbox import SandboxServer, SandboxState, is_loopback
from desbumi.sandbox.state import OWNER, STRANGER, VIEWER_ASSET, VIEWER_DATA, content_from_xlsform
from xlsforms import EN, ID, write_xlsform

ROOT = Path(__file__).resolve().parents[1]

SURVEY = f"""
| type                 | name    | label::{ID}     | label::{EN}   | required |
| start                | start   | ""              | ""            | ""       |
| begin group          | hh      | Rumah tangga    | Household     | ""       |
| text                 | head    | Kepala          | Head          | yes      |
| integer              | size    | Jumlah          | Size          | ""       |
| end group            | ""      | ""              | ""            | ""       |
| begin repeat         | members | Anggota         | Members       | ""       |
| text                 | name    | Nama            | Name          | ""       |
| end repeat           | ""      | ""              | ""            | ""       |
| select_one yn        | ok      | Setuju?         | Agree?        | ""       |
| geopoint             | gps     | Lokasi          | Location      | ""       |
| image                | photo   | Foto            | Photo         | ""       |
"""
CHOICES = f"""
| list_name | name | label::{ID} | label::{EN} |
| yn        | 1    | Ya          | Yes         |
| yn        | 0    | Tidak       | No          |
"""
SETTINGS = """
| form_id   | form_title      | version    | default_language      |
| tiny_form | Formulir kecil  | 2026010101 | Bahasa Indonesia (id) |
"""
N_DOCS = 1100


def make_form(folder: Path, *, survey: str = SURVEY, title: str = "Formulir kecil") -> Path:
    settings = SETTINGS.replace("Formulir kecil", title)
    return write_xlsform(folder / f"{title.replace(' ', '_')}.xlsx",
                         {"survey": survey, "choices": CHOICES, "settings": settings})


def answers(i: int) -> dict:
    return {"start": "2026-03-02T09:00:00.000+07:00", "hh/head": f"Kepala {i}", "hh/size": str(i % 7 + 1),
            "members": [{"members/name": f"A{i}"}, {"members/name": f"B{i}"}], "ok": str(i % 2),
            "gps": "-7.39 109.46 0 5"}


@pytest.fixture(scope="module")
def form_path(tmp_path_factory) -> Path:
    return make_form(tmp_path_factory.mktemp("forms"))


def build_state(form_path: Path, data_dir: Path | None = None) -> tuple[SandboxState, dict[str, str]]:
    """One deployed survey with N_DOCS submissions (one with a photo), one undeployed survey, one block."""
    state = SandboxState.create(data_dir, seed=5)
    deployed, _ = state.import_xlsform(form_path, library=False, standard_permissions=True)
    state.deploy(deployed.uid, active=True)
    draft, _ = state.import_xlsform(form_path, library=False, standard_permissions=True)
    block = state.create_asset("A question block", "block", {"survey": [{"type": "text", "name": "q",
                                                                          "label": "Q"}]},
                               standard_permissions=True)
    for i in range(N_DOCS):
        attachments = None
        if i == 3:
            attachments = [{"filename": "foto 1.jpg", "mimetype": "image/jpeg", "question_xpath": "photo",
                            "data": b"\xff\xd8 not really a jpeg \xff\xd9"}]
        doc = answers(i) | ({"photo": "foto 1.jpg"} if attachments else {})
        state.add_submission(deployed.uid, doc, attachments=attachments,
                             submission_time=f"2026-03-{1 + i % 28:02d}T0{i % 10}:00:00")
    return state, {"deployed": deployed.uid, "draft": draft.uid, "block": block.uid}


@pytest.fixture()
def sandbox(form_path):
    state, uids = build_state(form_path)
    with SandboxServer(state) as server:
        server.uids = uids
        yield server


def auth(server: SandboxServer, username: str = OWNER) -> dict:
    return {"Authorization": f"Token {server.state.token(username)}"}


def get(server, path, username=OWNER, **kwargs):
    headers = kwargs.pop("headers", None) or (auth(server, username) if username else {})
    return requests.get(server.url + path, headers=headers, timeout=30, **kwargs)


# --------------------------------------------------------------------------- authentication and access


def test_an_unknown_token_is_401_with_www_authenticate_session_on_every_route(sandbox):
    uid = sandbox.uids["deployed"]
    for path in ("/me/", "/token/", "/api/v2/assets/", f"/api/v2/assets/{uid}/", f"/api/v2/assets/{uid}/data/",
                 "/api/v2/assets/aNoSuchAsset0000000000/data/"):
        response = get(sandbox, path, headers={"Authorization": "Token " + "0" * 40})
        assert response.status_code == 401, path
        assert response.json() == {"detail": "Invalid token."}
        assert response.headers["WWW-Authenticate"] == "Session"
        assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("header, detail", [
    ("Token", "Invalid token header. No credentials provided."),
    ("Token a b", "Invalid token header. Token string should not contain spaces."),
    ("Basic " + "ZGVzYnVtaTp3cm9uZw==", "Invalid username/password."),
])
def test_malformed_credentials_get_drf_messages(sandbox, header, detail):
    response = get(sandbox, "/api/v2/assets/", headers={"Authorization": header})
    assert (response.status_code, response.json()) == (401, {"detail": detail})


def test_anonymous_sees_an_empty_list_401_on_me_and_404_on_private_assets(sandbox):
    uid = sandbox.uids["deployed"]
    assert get(sandbox, "/api/v2/assets/", username=None).json() == {"count": 0, "next": None, "previous": None,
                                                                      "results": []}
    response = get(sandbox, "/me/", username=None)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    for path in (f"/api/v2/assets/{uid}/", f"/api/v2/assets/{uid}/data/", f"/api/v2/assets/{uid}/files/",
                 f"/api/v2/assets/{uid}/versions/"):
        response = get(sandbox, path, username=None)
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."}), path
    # a Bearer token is OAuth2's: unknown, it is ignored (anonymous), not rejected
    assert get(sandbox, "/api/v2/assets/", headers={"Authorization": "Bearer nope"}).json()["count"] == 0


def test_token_keyword_is_case_insensitive_and_basic_auth_gets_the_token(sandbox):
    state = sandbox.state
    assert get(sandbox, "/me/", headers={"Authorization": f"token {state.token()}"}).json()["username"] == OWNER
    password = state.users[OWNER].password
    response = requests.get(f"{sandbox.url}/token/?format=json", auth=(OWNER, password), timeout=10)
    assert response.json() == {"token": state.token()}
    assert re.fullmatch(r"[0-9a-f]{40}", state.token())
    assert requests.get(f"{sandbox.url}/token/", timeout=10).status_code == 401


def test_partial_permissions_hide_or_forbid_as_kpi_does(sandbox):
    uid = sandbox.uids["deployed"]
    data = f"/api/v2/assets/{uid}/data/"
    assert get(sandbox, f"/api/v2/assets/{uid}/", VIEWER_ASSET).status_code == 200
    assert get(sandbox, data, VIEWER_ASSET).status_code == 404  # view_asset only: data hidden
    assert get(sandbox, f"/api/v2/assets/{uid}/", VIEWER_ASSET).json()["deployment__submission_count"] is None
    assert get(sandbox, data, VIEWER_DATA).status_code == 200
    first = get(sandbox, data, VIEWER_DATA).json()["results"][0]["_id"]
    response = requests.delete(f"{sandbox.url}{data}{first}/", headers=auth(sandbox, VIEWER_DATA), timeout=10)
    assert (response.status_code, response.json()) == (
        403, {"detail": "You do not have permission to perform this action."})
    response = requests.patch(f"{sandbox.url}{data}bulk/", headers=auth(sandbox, VIEWER_DATA), timeout=10,
                              json={"payload": {"submission_ids": [first], "data": {"hh/head": "x"}}})
    assert response.status_code == 403
    for path in (f"/api/v2/assets/{uid}/", data, f"/api/v2/assets/{uid}/files/"):
        assert get(sandbox, path, STRANGER).status_code == 404
    assert get(sandbox, "/api/v2/assets/", STRANGER).json()["count"] == 0
    # unknown asset uid under a nested route: DRF >= 3.15 wording
    assert get(sandbox, "/api/v2/assets/aNoSuchAsset0000000000/data/").json() == {
        "detail": "No Asset matches the given query."}


def test_v1_is_gone_and_slashless_urls_redirect(sandbox):
    for path in ("/api/v1/forms", "/api/v1/data/12", "/assets/"):
        response = get(sandbox, path)
        assert response.status_code == 410
        assert response.json()["detail"].startswith("The V1 API has been removed.")
    uid = sandbox.uids["deployed"]
    response = get(sandbox, f"/api/v2/assets/{uid}/data?limit=1", allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"] == f"/api/v2/assets/{uid}/data/?limit=1"
    response = requests.post(f"{sandbox.url}/api/v2/assets/{uid}/deployment", json={"active": True},
                             headers=auth(sandbox), allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert get(sandbox, f"/api/v2/assets/{uid}/data.json?limit=1").json()["count"] == N_DOCS
    assert get(sandbox, "/no/such/route/").status_code == 404


# --------------------------------------------------------------------------- assets, versions, deployment


def test_asset_list_filters_orders_and_shapes(sandbox):
    everything = get(sandbox, "/api/v2/assets/").json()
    assert everything["count"] == 3
    assert [a["deployment_status"] for a in everything["results"]][0] == "deployed"  # deployed first
    assert {a["deployment_status"] for a in everything["results"]} == {"deployed", "draft", "-"}
    assert {a["asset_type"] for a in everything["results"]} == {"survey", "block"}
    item = everything["results"][0]
    assert "content" not in item and item["url"].startswith(sandbox.url)
    for key in ("uid", "name", "asset_type", "version_id", "has_deployment", "deployed_version_id",
                "deployment__active", "deployment__submission_count", "deployment__last_submission_time",
                "deployment__uuid", "deployment_status", "data", "downloads", "date_modified", "owner__username"):
        assert key in item, key
    surveys = get(sandbox, "/api/v2/assets/?q=asset_type:survey").json()
    assert surveys["count"] == 2
    deployed = get(sandbox, "/api/v2/assets/?q=asset_type:survey AND _deployment_status:deployed").json()
    assert [a["uid"] for a in deployed["results"]] == [sandbox.uids["deployed"]]
    either = get(sandbox, f"/api/v2/assets/?q=uid:{sandbox.uids['draft']} OR uid:{sandbox.uids['block']}").json()
    assert either["count"] == 2
    assert get(sandbox, "/api/v2/assets/?q=(asset_type:survey").json() == {"detail": "Bad syntax"}
    assert get(sandbox, "/api/v2/assets/?q=colour:blue").json() == {"detail": "Not supported field lookup"}
    assert get(sandbox, "/api/v2/assets/?q=ab").json() == {"detail": "Your query is too short"}
    paged = get(sandbox, "/api/v2/assets/?limit=1").json()
    assert paged["next"] == f"{sandbox.url}/api/v2/assets/?limit=1&start=1"


def test_asset_detail_carries_the_contract_fields_and_kobo_content(sandbox):
    uid = sandbox.uids["deployed"]
    asset = get(sandbox, f"/api/v2/assets/{uid}/").json()
    for key in ("uid", "name", "asset_type", "url", "data", "version_id", "deployed_version_id", "has_deployment",
                "deployment__active", "deployment_status", "deployment__submission_count",
                "deployment__last_submission_time", "deployment__uuid", "date_modified", "date_deployed",
                "summary", "downloads", "files", "effective_permissions", "content"):
        assert key in asset, key
    assert asset["data"] == f"{sandbox.url}/api/v2/assets/{uid}/data/"
    assert asset["deployment__submission_count"] == N_DOCS
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", asset["date_modified"])
    assert {"codename": "view_submissions"} in asset["effective_permissions"]
    content = asset["content"]
    assert content["translations"] == [ID, EN]
    assert content["translated"] == ["label"]
    head = next(r for r in content["survey"] if r.get("name") == "head")
    assert head["$xpath"] == "hh/head" and head["$autoname"] == "head" and len(head["$kuid"]) == 9
    assert head["label"] == ["Kepala", "Head"] and head["required"] is True
    name = next(r for r in content["survey"] if r.get("name") == "name")
    assert name["$xpath"] == "members/name"
    ok = next(r for r in content["survey"] if r.get("name") == "ok")
    assert (ok["type"], ok["select_from_list_name"]) == ("select_one", "yn")
    assert content["choices"][0] | {"$kuid": "x"} == {"list_name": "yn", "name": "1", "$autovalue": "1",
                                                     "$kuid": "x", "label": ["Ya", "Yes"]}
    assert content["settings"]["id_string"] == "tiny_form"
    assert get(sandbox, f"/api/v2/assets/{uid}/", VIEWER_ASSET).json()["effective_permissions"] == [
        {"codename": "view_asset"}]


def test_versions_change_only_with_content_or_name(sandbox):
    uid = sandbox.uids["draft"]
    url = f"{sandbox.url}/api/v2/assets/{uid}/"
    before = get(sandbox, f"/api/v2/assets/{uid}/").json()
    same = requests.patch(url, json={"content": before["content"]}, headers=auth(sandbox), timeout=10).json()
    assert same["version_id"] == before["version_id"]
    renamed = requests.patch(url, json={"name": "Another name"}, headers=auth(sandbox), timeout=10).json()
    assert renamed["version_id"] != before["version_id"]
    versions = get(sandbox, f"/api/v2/assets/{uid}/versions/").json()
    assert versions["count"] == 2
    assert versions["results"][0]["uid"] == renamed["version_id"]  # newest first
    assert all(v["date_deployed"] is False for v in versions["results"])
    detail = get(sandbox, f"/api/v2/assets/{uid}/versions/{before['version_id']}/").json()
    assert detail["content"]["survey"] == before["content"]["survey"]
    assert requests.patch(url, json={"name": "x"}, headers=auth(sandbox, VIEWER_ASSET), timeout=10).status_code == 403


def test_deployment_semantics(sandbox):
    uid = sandbox.uids["draft"]
    url = f"{sandbox.url}/api/v2/assets/{uid}/deployment/"
    headers = auth(sandbox)
    assert requests.get(url, headers=headers, timeout=10).status_code == 404
    assert get(sandbox, f"/api/v2/assets/{uid}/data/").json() == {"detail": "The specified asset has not been deployed"}
    response = requests.patch(url, json={"active": True}, headers=headers, timeout=10)
    assert (response.status_code, response.json()) == (405, {"detail": "Use POST to create a new deployment"})
    first = requests.post(url, json={}, headers=headers, timeout=10)  # active defaults to false
    assert first.status_code == 200
    body = first.json()
    assert (body["backend"], body["active"]) == ("openrosa", False)
    assert body["asset"]["deployment_status"] == "archived" and body["asset"]["has_deployment"] is True
    response = requests.post(url, json={"active": True}, headers=headers, timeout=10)
    assert (response.status_code, response.json()) == (405, {"detail": "Use PATCH to update an existing deployment"})
    toggled = requests.patch(url, json={"active": True}, headers=headers, timeout=10).json()
    assert toggled["active"] is True and toggled["asset"]["deployment_status"] == "deployed"
    wrong = requests.patch(url, json={"version_id": "vNotTheCurrentOne00000", "active": True}, headers=headers,
                           timeout=10)
    assert wrong.status_code == 500 and wrong.headers["Content-Type"].startswith("text/html")
    response = requests.patch(url, json={"backend": "kobocat", "active": True}, headers=headers, timeout=10)
    assert response.json() == {"backend": "This field cannot be modified after the initial deployment."}
    version = toggled["version_id"]
    before = toggled["asset"]["date_deployed"]
    time.sleep(0.01)
    again = requests.patch(url, json={"version_id": version, "active": True}, headers=headers, timeout=10).json()
    assert again["asset"]["date_deployed"] > before and again["version_id"] == version
    assert again["asset"]["deployed_version_id"] == version
    versions = get(sandbox, f"/api/v2/assets/{uid}/versions/").json()["results"]
    assert versions[0]["date_deployed"] == versions[0]["date_modified"]
    # a new submission now carries the deployed version and the XForm uuid
    doc = sandbox.add_submission(uid, {"hh/head": "x"})
    assert doc["__version__"] == version and doc["formhub/uuid"] == again["asset"]["deployment__uuid"]
    # non-surveys cannot be deployed: kpi fails with a bare 500
    block = f"{sandbox.url}/api/v2/assets/{sandbox.uids['block']}/deployment/"
    assert requests.post(block, json={"active": True}, headers=headers, timeout=10).status_code == 500


def test_deploying_a_broken_form_is_400_with_an_error(sandbox):
    created = requests.post(f"{sandbox.url}/api/v2/assets/", headers=auth(sandbox), timeout=10, json={
        "name": "Broken", "asset_type": "survey",
        "content": {"survey": [{"type": "select_one", "select_from_list_name": "nolist", "name": "q",
                                "label": "Q"}]}})
    assert created.status_code == 201
    uid = created.json()["uid"]
    assert created.json()["content"]["survey"][0]["label"] == ["Q"]
    response = requests.post(f"{sandbox.url}/api/v2/assets/{uid}/deployment/", json={"active": True},
                             headers=auth(sandbox), timeout=10)
    assert response.status_code == 400
    assert list(response.json()) == ["error"] and "choices" in response.json()["error"]


# --------------------------------------------------------------------------- imports and files


def test_import_is_processing_then_complete_after_a_poll(sandbox, form_path):
    headers = auth(sandbox)
    with open(form_path, "rb") as handle:
        response = requests.post(f"{sandbox.url}/api/v2/imports/", headers=headers, timeout=30,
                                 files={"file": ("form.xlsx", handle)}, data={"library": "false"})
    assert response.status_code == 201
    task = response.json()
    assert task["status"] == "processing" and task["uid"].startswith("i")
    assert task["url"] == f"{sandbox.url}/api/v2/imports/{task['uid']}/"
    assert requests.get(task["url"], headers=headers, timeout=10).json()["status"] == "processing"
    done = requests.get(task["url"], headers=headers, timeout=10).json()
    assert done["status"] == "complete"
    created = done["messages"]["created"][0]
    assert created["kind"] == "asset" and created["owner__username"] == OWNER
    asset = get(sandbox, f"/api/v2/assets/{created['uid']}/").json()
    assert (asset["asset_type"], asset["name"], asset["has_deployment"]) == ("survey", "Formulir kecil", False)
    # replace the form in place: destination, messages.updated
    with open(form_path, "rb") as handle:
        task = requests.post(f"{sandbox.url}/api/v2/imports/", headers=headers, timeout=30,
                             files={"file": ("form.xlsx", handle)},
                             data={"library": "false", "destination": asset["url"]}).json()
    for _ in range(3):
        done = requests.get(task["url"], headers=headers, timeout=10).json()
    assert done["messages"]["updated"][0]["uid"] == created["uid"]
    # library omitted means true: a block in the library
    with open(form_path, "rb") as handle:
        task = requests.post(f"{sandbox.url}/api/v2/imports/", headers=headers, timeout=30,
                             files={"file": ("form.xlsx", handle)}).json()
    for _ in range(2):
        done = requests.get(task["url"], headers=headers, timeout=10).json()
    assert get(sandbox, f"/api/v2/assets/{done['messages']['created'][0]['uid']}/").json()["asset_type"] == "block"
    # not a workbook
    task = requests.post(f"{sandbox.url}/api/v2/imports/", headers=headers, timeout=30,
                         files={"file": ("form.xlsx", b"not a workbook")}, data={"library": "false"}).json()
    for _ in range(2):
        done = requests.get(task["url"], headers=headers, timeout=10).json()
    assert done["status"] == "error" and done["messages"]["error_type"] and done["messages"]["error"]
    anonymous = requests.post(f"{sandbox.url}/api/v2/imports/", timeout=10, files={"file": ("f.xlsx", b"x")})
    assert anonymous.status_code == 401


def test_files_upload_hash_duplicate_delete_and_manifest(sandbox):
    uid = sandbox.uids["deployed"]
    url = f"{sandbox.url}/api/v2/assets/{uid}/files/"
    headers = auth(sandbox)
    csv_bytes = b"name,label\n3509,Jember\n"

    def upload(name="desa.csv", data=csv_bytes, **extra):
        fields = {"file_type": "form_media", "description": "default",
                  "metadata": json.dumps({"filename": name})} | extra
        return requests.post(url, headers=headers, timeout=10, data=fields, files={"content": (name, data)})

    created = upload()
    assert created.status_code == 201
    item = created.json()
    import hashlib

    assert item["metadata"] == {"hash": "md5:" + hashlib.md5(csv_bytes).hexdigest(), "filename": "desa.csv",
                                "mimetype": "text/csv"}
    assert item["uid"].startswith("af") and item["content"] == f"{url}{item['uid']}/content/"
    duplicate = upload()
    assert (duplicate.status_code, duplicate.json()) == (400, {"content": "File already exists"})
    assert upload("notes.docx", b"x").status_code == 400
    assert upload(description="").json() == {"description": ["This field is required."]}
    assert requests.get(item["content"], headers=headers, timeout=10).content == csv_bytes
    listed = requests.get(f"{url}?file_type=form_media", headers=headers, timeout=10).json()
    assert [f["uid"] for f in listed["results"]] == [item["uid"]]
    # media changed after deployment are invisible to the served form until a redeploy
    manifest = requests.get(f"{sandbox.url}/__sandbox__/assets/{uid}/manifest", timeout=10).json()
    assert manifest["media"] == []
    assert requests.delete(f"{url}{item['uid']}/", headers=headers, timeout=10).status_code == 204
    assert upload(data=b"name,label\n3509,Jember\n3510,Banyuwangi\n").status_code == 201
    assert get(sandbox, f"/api/v2/assets/{uid}/files/").json()["count"] == 1
    version = get(sandbox, f"/api/v2/assets/{uid}/").json()["version_id"]
    requests.patch(f"{sandbox.url}/api/v2/assets/{uid}/deployment/", json={"version_id": version, "active": True},
                   headers=headers, timeout=10).raise_for_status()
    manifest = requests.get(f"{sandbox.url}/__sandbox__/assets/{uid}/manifest", timeout=10).json()
    assert [m["filename"] for m in manifest["media"]] == ["desa.csv"]
    viewer = requests.post(url, headers=auth(sandbox, VIEWER_ASSET), timeout=10,
                           data={"file_type": "form_media", "description": "d"}, files={"content": ("a.csv", b"a")})
    assert viewer.status_code == 403


# --------------------------------------------------------------------------- the data endpoint


def test_data_paging_default_clamp_and_links(sandbox):
    uid = sandbox.uids["deployed"]
    base = f"{sandbox.url}/api/v2/assets/{uid}/data/"
    page = get(sandbox, f"/api/v2/assets/{uid}/data/").json()
    assert (page["count"], len(page["results"])) == (N_DOCS, 100)
    assert page["next"] == f"{base}?limit=100&start=100" and page["previous"] is None
    ids = [d["_id"] for d in page["results"]]
    assert ids == sorted(ids)
    clamped = get(sandbox, f"/api/v2/assets/{uid}/data/?limit=5000&format=json").json()
    assert len(clamped["results"]) == 1000
    assert clamped["next"] == f"{base}?format=json&limit=1000&start=1000"
    last = requests.get(clamped["next"], headers=auth(sandbox), timeout=30).json()
    assert len(last["results"]) == N_DOCS - 1000 and last["next"] is None
    assert last["previous"] == f"{base}?format=json&limit=1000"
    assert get(sandbox, f"/api/v2/assets/{uid}/data/?limit=0").json() == {"limit": "A positive integer is required"}
    assert get(sandbox, f"/api/v2/assets/{uid}/data/?start=99999").json()["results"] == []
    sandbox.page_mode = "legacy"
    legacy = get(sandbox, f"/api/v2/assets/{uid}/data/").json()
    assert len(legacy["results"]) == N_DOCS and legacy["next"] is None


def test_data_query_sort_and_fields(sandbox):
    uid = sandbox.uids["deployed"]
    first = get(sandbox, f"/api/v2/assets/{uid}/data/?limit=1").json()["results"][0]["_id"]
    query = json.dumps({"_id": {"$gt": first + 1000}})
    page = get(sandbox, f"/api/v2/assets/{uid}/data/", params={"query": query, "sort": '{"_id": 1}',
                                                                 "limit": "1000"}).json()
    assert page["count"] == N_DOCS - 1001
    assert page["results"][0]["_id"] == first + 1001
    assert get(sandbox, f"/api/v2/assets/{uid}/data/", params={"query": '{"_id": {"$gt": "5"}}'}).json()["count"] == 0
    assert get(sandbox, f"/api/v2/assets/{uid}/data/", params={"query": "{bad"}).json() == {
        "query": "Value must be valid JSON."}
    newest = get(sandbox, f"/api/v2/assets/{uid}/data/", params={"sort": '{"_id": -1}', "limit": "2"}).json()
    assert newest["results"][0]["_id"] > newest["results"][1]["_id"]
    light = get(sandbox, f"/api/v2/assets/{uid}/data/", params={"fields": '["hh/head"]', "limit": "3"}).json()
    assert set(light["results"][0]) == {"_id", "hh/head", "_uuid", "meta/rootUuid", "_validation_status"}
    by_answer = get(sandbox, f"/api/v2/assets/{uid}/data/", params={"query": '{"ok": "1"}'}).json()
    assert by_answer["count"] == N_DOCS // 2


def test_submission_shape_detail_and_attachments(sandbox):
    uid = sandbox.uids["deployed"]
    docs = get(sandbox, f"/api/v2/assets/{uid}/data/?limit=5").json()["results"]
    doc = docs[0]
    asset = get(sandbox, f"/api/v2/assets/{uid}/").json()
    assert doc["_xform_id_string"] == uid and doc["__version__"] == asset["deployed_version_id"]
    assert doc["formhub/uuid"] == asset["deployment__uuid"]
    assert doc["meta/instanceID"] == f"uuid:{doc['_uuid']}" == doc["meta/rootUuid"]
    assert doc["_geolocation"] == [-7.39, 109.46] and doc["_validation_status"] == {}
    assert doc["members"] == [{"members/name": "A0"}, {"members/name": "B0"}]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", doc["_submission_time"])
    assert get(sandbox, f"/api/v2/assets/{uid}/data/{doc['_id']}/").json() == doc
    assert get(sandbox, f"/api/v2/assets/{uid}/data/{doc['_uuid']}/").json()["_id"] == doc["_id"]
    assert get(sandbox, f"/api/v2/assets/{uid}/data/999/").json() == {"detail": "Not found."}
    with_photo = docs[3]
    attachment = with_photo["_attachments"][0]
    assert attachment["media_file_basename"] == "foto 1.jpg" == with_photo["photo"]
    assert attachment["download_url"] == (f"{sandbox.url}/api/v2/assets/{uid}/data/{with_photo['_id']}"
                                          f"/attachments/{attachment['uid']}/")
    assert attachment["download_small_url"].endswith("/small/")
    response = requests.get(attachment["download_url"], headers=auth(sandbox), timeout=10)
    assert response.content == b"\xff\xd8 not really a jpeg \xff\xd9"
    assert response.headers["Content-Type"] == "image/jpeg"
    assert requests.get(attachment["download_url"], timeout=10).status_code == 404  # anonymous


def test_edits_keep_the_id_and_change_the_uuid(sandbox):
    uid = sandbox.uids["deployed"]
    before = get(sandbox, f"/api/v2/assets/{uid}/data/?limit=1").json()["results"][0]
    sandbox.state.set_validation_status(uid, before["_id"], "validation_status_approved")
    response = requests.post(f"{sandbox.url}/__sandbox__/assets/{uid}/submissions/{before['_id']}/edit",
                             json={"hh/head": "Edited", "ok": "1"}, timeout=10)
    assert response.status_code == 200
    after = get(sandbox, f"/api/v2/assets/{uid}/data/{before['_id']}/").json()
    assert after["_id"] == before["_id"] and after["_uuid"] != before["_uuid"]
    assert after["meta/deprecatedID"] == before["meta/instanceID"]
    assert after["meta/rootUuid"] == before["meta/rootUuid"]
    for key in ("_submission_time", "_submitted_by"):
        assert after[key] == before[key]
    assert after["_validation_status"]["uid"] == "validation_status_approved"
    assert after["hh/head"] == "Edited" and "members" not in after  # answers replaced wholesale
    again = sandbox.edit_submission(uid, before["_id"], {"hh/head": "Twice"})
    assert again["meta/deprecatedID"] == after["meta/instanceID"]
    assert get(sandbox, f"/api/v2/assets/{uid}/data/").json()["count"] == N_DOCS


def test_deletes_vanish_single_bulk_and_admin(sandbox):
    uid = sandbox.uids["deployed"]
    ids = [d["_id"] for d in get(sandbox, f"/api/v2/assets/{uid}/data/?limit=6").json()["results"]]
    url = f"{sandbox.url}/api/v2/assets/{uid}/data/"
    response = requests.delete(f"{url}{ids[0]}/", headers=auth(sandbox), timeout=10)
    assert (response.status_code, response.content) == (204, b"")
    assert get(sandbox, f"/api/v2/assets/{uid}/data/{ids[0]}/").status_code == 404
    bulk = requests.delete(f"{url}bulk/", json={"payload": {"submission_ids": ids[1:3]}}, headers=auth(sandbox),
                           timeout=10)
    assert (bulk.status_code, bulk.json()) == (200, {"detail": "2 submissions have been deleted"})
    invalid = requests.delete(f"{url}bulk/", json={"payload": {"submission_ids": [ids[0]]}}, headers=auth(sandbox),
                              timeout=10)
    assert invalid.json() == {"detail": "One or more submission ids are invalid"}
    admin = requests.delete(f"{sandbox.url}/__sandbox__/assets/{uid}/submissions/{ids[3]}", timeout=10)
    assert admin.status_code == 204
    page = get(sandbox, f"/api/v2/assets/{uid}/data/?limit=1000").json()
    assert page["count"] == N_DOCS - 4
    assert not {d["_id"] for d in page["results"]} & set(ids[:4])
    assert get(sandbox, f"/api/v2/assets/{uid}/", VIEWER_DATA).json()["deployment__submission_count"] == N_DOCS - 4


def test_admin_adds_submissions_that_the_next_keyset_page_finds(sandbox):
    uid = sandbox.uids["deployed"]
    last = get(sandbox, f"/api/v2/assets/{uid}/data/", params={"sort": '{"_id": -1}', "limit": "1"}).json()
    last_id = last["results"][0]["_id"]
    response = requests.post(f"{sandbox.url}/__sandbox__/assets/{uid}/submissions",
                             json=[answers(9001), answers(9002)], timeout=10)
    assert response.status_code == 201
    new_ids = response.json()["ids"]
    assert new_ids == [last_id + 1, last_id + 2]
    page = get(sandbox, f"/api/v2/assets/{uid}/data/", params={"query": json.dumps({"_id": {"$gt": last_id}})}).json()
    assert [d["_id"] for d in page["results"]] == new_ids
    assert page["results"][0]["_submitted_by"] == OWNER
    undeployed = requests.post(f"{sandbox.url}/__sandbox__/assets/{sandbox.uids['draft']}/submissions",
                               json=answers(1), timeout=10)
    assert undeployed.status_code == 400


def test_exports_are_created_then_complete_with_a_result_file(sandbox):
    uid = sandbox.uids["deployed"]
    url = f"{sandbox.url}/api/v2/assets/{uid}/exports/"
    settings = {"fields_from_all_versions": True, "group_sep": "/", "hierarchy_in_labels": False, "lang": "_xml",
                "multiple_select": "both", "type": "csv"}
    missing = requests.post(url, json={"type": "csv"}, headers=auth(sandbox), timeout=10)
    assert missing.status_code == 400 and missing.json()["data"].startswith("Must contain all the following")
    created = requests.post(url, json=settings, headers=auth(sandbox), timeout=10)
    assert created.status_code == 201
    task = created.json()
    assert (task["status"], task["result"], task["uid"][0]) == ("created", None, "e")
    for _ in range(3):
        task = requests.get(task["url"], headers=auth(sandbox), timeout=30).json()
    assert task["status"] == "complete"
    result = requests.get(task["result"], headers=auth(sandbox), timeout=30)
    assert result.status_code == 200 and result.text.splitlines()[0].startswith("_id;")
    assert len(result.text.splitlines()) == N_DOCS + 1


# --------------------------------------------------------------------------- faults and threads


def test_faults_answer_like_a_proxy_reset_and_truncate(sandbox):
    uid = sandbox.uids["deployed"]
    path = f"/api/v2/assets/{uid}/data/?limit=1000"
    sandbox.set_faults("502:1", seed=1)
    response = get(sandbox, path)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html") and "502 Bad Gateway" in response.text
    assert requests.get(f"{sandbox.url}/__sandbox__/", timeout=10).status_code == 200  # admin is never faulted
    sandbox.set_faults("429:1@3")
    response = get(sandbox, path)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "3")
    sandbox.set_faults("reset:1")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(sandbox, path)
    sandbox.set_faults("truncate:1")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        get(sandbox, path).json()
    sandbox.set_faults("slow:1@0.3s")
    started = time.monotonic()
    assert get(sandbox, path).status_code == 200
    assert time.monotonic() - started >= 0.3
    requests.post(f"{sandbox.url}/__sandbox__/faults", json={"spec": None}, timeout=10).raise_for_status()
    assert get(sandbox, path).status_code == 200
    stats = requests.get(f"{sandbox.url}/__sandbox__/stats", timeout=10).json()
    assert stats["faults"] == {"429": 1, "502": 1, "reset": 1, "slow": 1, "truncate": 1}


def test_a_seeded_fault_schedule_is_the_same_every_run(form_path):
    outcomes = []
    for _ in range(2):
        state, uids = build_state(form_path)
        with SandboxServer(state, faults="500:0.3,503:0.2", fault_seed=11) as server:
            statuses = [get(server, f"/api/v2/assets/{uids['deployed']}/").status_code for _ in range(20)]
        outcomes.append(statuses)
    assert outcomes[0] == outcomes[1] and {500, 503, 200} <= set(outcomes[0])


def test_concurrent_requests_and_changes_stay_consistent(sandbox):
    uid = sandbox.uids["deployed"]
    errors: list[str] = []
    counts: list[int] = []

    def reader():
        with requests.Session() as session:
            session.headers.update(auth(sandbox))
            for start in range(0, 1000, 100):
                response = session.get(f"{sandbox.url}/api/v2/assets/{uid}/data/?start={start}&limit=100",
                                       timeout=30)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:100]}")
                    continue
                body = response.json()
                counts.append(body["count"])
                ids = [d["_id"] for d in body["results"]]
                if ids != sorted(ids) or len(ids) != len(set(ids)):
                    errors.append("unsorted page")

    def writer():
        for i in range(20):
            sandbox.add_submission(uid, answers(5000 + i))

    threads = [threading.Thread(target=reader) for _ in range(12)] + [threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert min(counts) >= N_DOCS and max(counts) <= N_DOCS + 20
    assert get(sandbox, f"/api/v2/assets/{uid}/data/?limit=1").json()["count"] == N_DOCS + 20
    assert sandbox.requests >= 120


def test_binding_refuses_a_public_address_unless_allowed():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    with pytest.raises(InputError, match="not a loopback address"):
        SandboxServer(None, host="0.0.0.0")
    server = SandboxServer(None, host="0.0.0.0", allow_public=True)
    server.stop()


# --------------------------------------------------------------------------- persistence and the CLI


def test_changes_survive_a_restart_without_reusing_ids(form_path, tmp_path):
    state, uids = build_state(form_path, tmp_path / "sandbox")
    uid = uids["deployed"]
    with SandboxServer(state) as server:
        added = server.add_submission(uid, answers(1))
        edited = server.edit_submission(uid, added["_id"] - 1, {"hh/head": "E"})
        server.delete_submission(uid, added["_id"])
    reloaded = SandboxState.load(tmp_path / "sandbox")
    assert reloaded.count(uid) == N_DOCS
    assert reloaded.submission(uid, edited["_id"])["_uuid"] == edited["_uuid"]
    fresh = reloaded.add_submission(uid, answers(2))
    assert fresh["_id"] == added["_id"] + 1  # a deleted id is never handed out again
    assert fresh["_uuid"] not in {d["_uuid"] for d in state.submissions(uid)}


def test_a_seeded_folder_is_served(tmp_path):
    from desbumi.sandbox.seed import seed_data_dir

    folder = tmp_path / "seeded"
    result = seed_data_dir(folder, respondents=20, seed=3, forms_dir=ROOT / "forms", xlsform_src=ROOT / "xlsform_src",
                           panel_dir=ROOT / "panel")
    state = SandboxState.load(folder)
    with SandboxServer(state) as server:
        assert server.token == result.token
        listed = get(server, "/api/v2/assets/?q=asset_type:survey AND _deployment_status:deployed&limit=100").json()
        assert {a["uid"] for a in listed["results"]} == set(result.assets.values())
        y2 = result.assets["desbumi_ekonomi_y2"]
        page = get(server, f"/api/v2/assets/{y2}/data/?limit=1000").json()
        assert page["count"] == result.counts["desbumi_ekonomi_y2"]
        asset = get(server, f"/api/v2/assets/{y2}/").json()
        assert page["results"][0]["__version__"] == asset["deployed_version_id"]
        assert page["results"][0]["formhub/uuid"] == asset["deployment__uuid"]
        assert asset["content"]["settings"]["id_string"] == "desbumi_ekonomi_y2"
        files = get(server, f"/api/v2/assets/{y2}/files/").json()["results"]
        assert {f["metadata"]["filename"] for f in files} >= {"desa.csv"}
        assert get(server, f"/api/v2/assets/{y2}/data/", "pemantau").status_code == 404
        assert get(server, f"/api/v2/assets/{y2}/data/", "pembaca").status_code == 200
    assert not (folder / "runtime").exists()  # serving without changes leaves the seed untouched
    # the field between two pulls, on a seeded folder: changes go to runtime/ and survive a restart
    with SandboxServer(SandboxState.load(folder)) as server:
        first = page["results"][0]
        added = requests.post(f"{server.url}/__sandbox__/assets/{y2}/submissions", json={"kab": "3509"},
                              timeout=10).json()["ids"][0]
        edited = requests.post(f"{server.url}/__sandbox__/assets/{y2}/submissions/{first['_id']}/edit",
                               json={"kab": "3509"}, timeout=10).json()
        later = requests.post(f"{server.url}/__sandbox__/assets/{y2}/delete_later", timeout=10).json()["deleted"]
    again = SandboxState.load(folder)
    assert (folder / "runtime" / "state.json").is_file()
    assert again.count(y2) == result.counts["desbumi_ekonomi_y2"] + 1 - later
    assert again.submission(y2, first["_id"])["_uuid"] == edited["_uuid"] != first["_uuid"]
    assert again.submission(y2, added)["formhub/uuid"] == first["formhub/uuid"]


def test_cli_serve_in_a_subprocess_prints_its_url_and_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESBUMI_") and k != "KOBO_TOKEN"}
    process = subprocess.Popen([sys.executable, "-c", "from desbumi.cli.main import main; main()", "sandbox", "serve",
                                "--port", "0", "--data", str(tmp_path / "empty")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        url = process.stdout.readline().strip()
        token = process.stdout.readline().strip()
        assert url.startswith("DESBUMI_SERVER=http://127.0.0.1:")
        assert re.fullmatch(r"KOBO_TOKEN=[0-9a-f]{40}", token)
        url, token = url.split("=", 1)[1], token.split("=", 1)[1]
        me = requests.get(f"{url}/me/", headers={"Authorization": f"Token {token}"}, timeout=10)
        assert me.status_code == 200 and me.json()["username"] == OWNER
        assert requests.get(f"{url}/api/v2/assets/", headers={"Authorization": f"Token {token}"},
                            timeout=10).json()["count"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _out, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, err
    assert "Sandbox stopped." in err


def test_cli_refuses_a_public_host(run_cli, tmp_path):
    result = run_cli("sandbox", "serve", "--host", "0.0.0.0", "--port", "0", "--data", str(tmp_path / "d"),
                     cwd=tmp_path)
    assert result.code == 2 and "not a loopback address" in result.err


def test_content_from_a_real_instrument_has_paths_for_every_question():
    content = content_from_xlsform(ROOT / "forms" / "desbumi_ekonomi_y2" / "2026112801" / "form.xlsx")
    rows = [r for r in content["survey"] if r["type"] not in ("end_group", "end_repeat")]
    assert all(r["$xpath"] and r["$kuid"] for r in rows)
    assert content["translations"][0] == "Bahasa Indonesia (id)"


def test_asset_renderings_xml_and_xls_round_trip(sandbox):
    uid = sandbox.uids["deployed"]
    xml = get(sandbox, f"/api/v2/assets/{uid}.xml")
    assert xml.status_code == 200 and f'id="{uid}"' in xml.text and "<__version__/>" in xml.text
    xls = get(sandbox, f"/api/v2/assets/{uid}.xls")
    assert xls.status_code == 200
    from desbumi.sandbox.state import content_from_xlsform as convert

    again = convert(xls.content)
    original = get(sandbox, f"/api/v2/assets/{uid}/").json()["content"]
    strip = lambda rows: [{k: v for k, v in r.items() if not k.startswith("$")} for r in rows]  # noqa: E731
    assert strip(again["survey"]) == strip(original["survey"])
    assert again["settings"]["id_string"] == "tiny_form"


def test_serving_a_folder_that_is_not_a_sandbox_is_refused(run_cli, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = run_cli("sandbox", "serve", "--port", "0", "--data", str(tmp_path), cwd=tmp_path)
    assert result.code == 2 and "not a sandbox folder" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
