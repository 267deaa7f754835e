"""`forms deploy FORM` over loopback against the sandbox server, and the desbumi.toml edit it makes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tomllib
from pathlib import Path

import pytest

from desbumi.deploy import Build, deploy_build, referenced_media, set_asset_in_config, set_asset_text
from desbumi.errors import ConfigError, InputError
from desbumi.forms.build import build_form, bump_version
from desbumi.sandbox import SandboxServer
from desbumi.store import Store
from xlsforms import clean_sheets, set_cell, write_xlsform

FORM = "lint_clean"
V1 = "2026112801"
TODAY = dt.date(2026, 11, 28)
MEDIA = "name,label\n1,Desa A\n2,Desa B\n"


# --------------------------------------------------------------------------- fixtures

@pytest.fixture
def project(tmp_path):
    """A project folder with one instrument (and a media CSV), built into forms/."""
    root = tmp_path / "proj"
    source = write_xlsform(root / "xlsform_src" / "clean.xlsx", clean_sheets())
    media = root / "xlsform_src" / "clean-media"
    media.mkdir()
    (media / "villages.csv").write_text(MEDIA, encoding="utf-8")
    assert build_form(source, root / "forms", validate=False).status == "built"
    return root


@pytest.fixture
def server():
    srv = SandboxServer(None).start()  # an empty sandbox: the four standard users, no assets
    srv.state.configure(import_polls=0)  # imports finish at the first poll (one test keeps the delay)
    yield srv
    srv.stop()


@pytest.fixture
def deploy(run_cli, project, server, monkeypatch):
    monkeypatch.setenv("KOBO_TOKEN", server.token)

    def run(*extra: str, fmt: str = "json"):
        result = run_cli("--server", server.url, "forms", "deploy", FORM, "--format", fmt, *extra, cwd=project)
        if fmt == "json" and result.code == 0:
            result.report = json.loads(result.out)
        return result

    return run


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def toml_assets(root: Path) -> dict:
    return tomllib.loads((root / "desbumi.toml").read_text(encoding="utf-8")).get("assets", {})


def writes(server) -> dict:
    """Requests by route that change something on the server."""
    return {k: v for k, v in server.stats()["by_route"].items() if not k.startswith("GET ")}


def live_media(server, uid) -> dict[str, str]:
    return {f.filename: f.md5 for f in server.state.asset(uid).live_files("form_media")}


# --------------------------------------------------------------------------- the flow

def test_first_deploy_creates_the_asset_and_remembers_it_in_the_config_and_the_store(deploy, project, server):
    server.state.configure(import_polls=1)  # the import says "processing" once: the client polls
    result = deploy()
    assert result.code == 0, result
    report = result.report
    uid = report["asset_uid"]
    assert (report["form"], report["deployment"], report["asset_source"]) == ("created", "deployed", "new")
    assert report["media"] == {"uploaded": ["villages.csv"], "replaced": [], "kept": [], "server_only": []}

    [asset] = server.state.assets.values()
    assert asset.uid == uid and asset.asset_type == "survey" and asset.deployment.active
    assert asset.deployment.version_id == asset.version_id == report["version_id"]
    assert asset.content["settings"]["version"] == V1
    [task] = server.state.imports.values()
    assert task.params["library"] in (False, "false") and not task.params.get("destination")
    media_md5 = md5(MEDIA.encode())
    assert live_media(server, uid) == {"villages.csv": media_md5}
    assert [m["hash"] for m in asset.deployment.media] == [f"md5:{media_md5}"]  # the served form has it

    assert toml_assets(project) == {FORM: uid}
    with Store.open(project / "desbumi-data", create=False) as store:
        [record] = store.assets()
        assert (record.uid, record.form_id, record.deployed_version_id) == (uid, FORM, report["version_id"])
    assert report["remembered"]["config_changed"] is True


def test_second_deploy_with_nothing_changed_does_nothing(deploy, project, server):
    first = deploy().report
    config = (project / "desbumi.toml").read_bytes()
    asset = server.state.asset(first["asset_uid"])
    versions, deployed_at, imports = len(asset.versions), asset.deployment.date_deployed, len(server.state.imports)
    server.reset_stats()

    result = deploy(fmt="text")

    assert result.code == 0, result
    assert "Nothing to do" in result.err and "unchanged" in result.out and "kept villages.csv" in result.out
    assert writes(server) == {}  # no import, no upload, no delete, no deployment call
    assert sum(server.stats()["by_route"].values()) == 3  # the asset, its files, the asset again
    assert len(server.state.imports) == imports and len(asset.versions) == versions
    assert asset.deployment.date_deployed == deployed_at
    assert (project / "desbumi.toml").read_bytes() == config


def test_a_media_only_change_replaces_the_file_and_redeploys_the_same_version(deploy, project, server):
    first = deploy().report
    uid = first["asset_uid"]
    asset = server.state.asset(uid)
    versions, imports = len(asset.versions), len(server.state.imports)
    new_media = MEDIA + "3,Desa C\n"
    (project / "forms" / FORM / V1 / "media" / "villages.csv").write_text(new_media, encoding="utf-8")

    report = deploy().report

    assert (report["form"], report["deployment"]) == ("unchanged", "redeployed")
    assert report["media"]["replaced"] == ["villages.csv"] and not report["media"]["uploaded"]
    assert report["version_id"] == first["version_id"] and report["asset_uid"] == uid
    assert len(asset.versions) == versions and len(server.state.imports) == imports
    assert live_media(server, uid) == {"villages.csv": md5(new_media.encode())}
    assert [m["hash"] for m in asset.deployment.media] == [f"md5:{md5(new_media.encode())}"]
    assert deploy().report["changed"] is False  # and then it is settled


def test_a_changed_form_with_a_bumped_version_goes_into_the_same_asset(deploy, project, server):
    first = deploy().report
    uid = first["asset_uid"]
    source = project / "xlsform_src" / "clean.xlsx"
    sheets = clean_sheets()
    set_cell(sheets["survey"], "age", "label::English (en)", "Age in years?")
    write_xlsform(source, sheets)
    _, v2 = bump_version(source, TODAY, forms_dir=project / "forms")
    assert build_form(source, project / "forms", validate=False).status == "built"

    report = deploy().report

    assert (report["form"], report["deployment"], report["version"]) == ("replaced", "redeployed", v2)
    assert report["asset_uid"] == uid and report["version_id"] != first["version_id"]
    assert report["media"]["kept"] == ["villages.csv"]
    assert list(server.state.assets) == [uid]  # no second project
    asset = server.state.asset(uid)
    assert asset.content["settings"]["version"] == v2 and asset.deployment.version_id == asset.version_id
    task = list(server.state.imports.values())[-1]
    assert task.params["destination"].rstrip("/").endswith(uid)
    assert toml_assets(project) == {FORM: uid}


def test_an_existing_config_gets_one_line_and_keeps_everything_else(deploy, project, server):
    original = ("# DESBUMI field office\n[server]\nurl = \"https://kf.kobotoolbox.org\"  # production\n\n"
                "[assets]\n# year-one survey, deployed by hand\ndesbumi_ekonomi_y1 = \"aOldOldOldOldOld1\"\n\n"
                "# where things are\n[paths]\nstore = \"desbumi-data\"\n")
    (project / "desbumi.toml").write_text(original, encoding="utf-8")
    uid = deploy().report["asset_uid"]
    expected = original.replace('"aOldOldOldOldOld1"\n', f'"aOldOldOldOldOld1"\n{FORM} = "{uid}"\n')
    assert (project / "desbumi.toml").read_text(encoding="utf-8") == expected


def test_the_store_remembers_the_asset_when_the_config_line_is_gone(deploy, project, server):
    uid = deploy().report["asset_uid"]
    (project / "desbumi.toml").unlink()
    report = deploy().report
    assert report["asset_uid"] == uid and report["asset_source"] == "store" and not report["changed"]
    assert list(server.state.assets) == [uid]
    assert toml_assets(project) == {FORM: uid}


def test_an_asset_holding_another_form_is_not_overwritten(deploy, project, server):
    other = write_xlsform(project / "other.xlsx", {**clean_sheets(), "settings": [
        ["form_id", "form_title", "version"], ["lain", "Another form", "2026010101"]]})
    asset, _ = server.state.import_xlsform(other.read_bytes())
    (project / "desbumi.toml").write_text(f'[assets]\n{FORM} = "{asset.uid}"\n', encoding="utf-8")
    result = deploy()
    assert result.code == 2 and "holds the form 'lain'" in result.err and "--force" in result.err
    assert server.state.asset(asset.uid).content["settings"]["id_string"] == "lain"


def test_no_build_is_exit_2_with_advice_and_no_request(run_cli, tmp_path, server, monkeypatch):
    monkeypatch.setenv("KOBO_TOKEN", server.token)
    result = run_cli("--server", server.url, "forms", "deploy", FORM, cwd=tmp_path)
    assert result.code == 2
    assert "no build" in result.err and f"desbumi-sync forms build {FORM}" in result.err
    assert server.stats()["requests"] == 0 and not (tmp_path / "desbumi.toml").exists()


def test_a_wrong_token_is_exit_3_and_remembers_nothing(run_cli, project, server, monkeypatch):
    monkeypatch.setenv("KOBO_TOKEN", "0" * 40)
    result = run_cli("--server", server.url, "forms", "deploy", FORM, cwd=project)
    assert result.code == 3 and "rejected the token" in result.err
    assert "0" * 40 not in result.err + result.out
    assert not server.state.assets and not (project / "desbumi.toml").exists()


def test_a_missing_media_file_the_form_reads_stops_the_deploy(tmp_path):
    xml = ('<instance id="responden_y1" src="jr://file-csv/responden_y1.csv"/>'
           '<instance id="desa" src="jr://file-csv/desa.csv"/><text><value form="image">jr://images/a b.png'
           '</value></text><instance src="jr://file-csv/desa.csv"/>')
    assert referenced_media(xml) == ["responden_y1.csv", "desa.csv", "a"]
    media = tmp_path / "desa.csv"
    media.write_text("x\n")
    build = Build(form_id="y2", version=V1, title="", folder=tmp_path, xlsx=tmp_path / "form.xlsx",
                  media=(media,), media_subfolders=("3509",), referenced_media=("responden_y1.csv", "desa.csv"))
    with pytest.raises(InputError) as info:
        deploy_build(None, build)  # refused before any request
    assert "responden_y1.csv" in str(info.value) and "forms preload" in str(info.value)
    assert "per-district" in str(info.value)


# --------------------------------------------------------------------------- the desbumi.toml edit

def test_toml_edit_creates_the_table_in_an_empty_or_tableless_file():
    assert set_asset_text("", FORM, "aNewNewNewNewNew1") == f'[assets]\n{FORM} = "aNewNewNewNewNew1"\n'
    text = '[server]\nurl = "https://kobo.example.org"'  # no final newline
    assert set_asset_text(text, FORM, "aNewNewNewNewNew1") == \
        text + f'\n\n[assets]\n{FORM} = "aNewNewNewNewNew1"\n'


def test_toml_edit_inserts_after_the_last_key_of_the_table():
    text = ('[assets]\n  a = "aAAAAAAAAAAAAAA1"\n\n# b is next\n[paths]\nforms = "forms"\n')
    assert set_asset_text(text, "x.y", "aNewNewNewNewNew1") == (
        '[assets]\n  a = "aAAAAAAAAAAAAAA1"\n"x.y" = "aNewNewNewNewNew1"\n\n# b is next\n[paths]\nforms = "forms"\n')
    empty = '[assets]\n# none yet\n\n[paths]\nforms = "forms"\n'
    assert set_asset_text(empty, FORM, "aNewNewNewNewNew1") == \
        f'[assets]\n{FORM} = "aNewNewNewNewNew1"\n# none yet\n\n[paths]\nforms = "forms"\n'


def test_toml_edit_replaces_only_the_value_of_an_existing_line():
    text = f'[assets]\r\n  "{FORM}"   =   \'aOldOldOldOldOld1\'   # deployed 2026-11\r\nother = "aBBBBBBBBBBBBBB2"\r\n'
    assert set_asset_text(text, FORM, "aNewNewNewNewNew1") == \
        f'[assets]\r\n  "{FORM}" = "aNewNewNewNewNew1"   # deployed 2026-11\r\nother = "aBBBBBBBBBBBBBB2"\r\n'
    assert set_asset_text(text, "z", "aNewNewNewNewNew1").endswith('other = "aBBBBBBBBBBBBBB2"\r\nz = "aNewNewNewNewNew1"\r\n')
    same = f'[assets]\n{FORM} = "aNewNewNewNewNew1" # x\n'
    assert set_asset_text(same, FORM, "aNewNewNewNewNew1") == same


@pytest.mark.parametrize("text", [f'assets.{FORM} = "aOldOldOldOldOld1"\n',
                                  'assets = { other = "aOldOldOldOldOld1" }\n',
                                  f'[assets]\n{FORM} = """aOldOldOldOldOld1"""\n'])
def test_toml_edit_refuses_what_it_cannot_edit_safely(text):
    with pytest.raises(ConfigError, match="by hand"):
        set_asset_text(text, FORM, "aNewNewNewNewNew1")


def test_toml_file_is_created_or_left_untouched(tmp_path):
    path = tmp_path / "desbumi.toml"
    assert set_asset_in_config(path, FORM, "aNewNewNewNewNew1") is True
    assert tomllib.loads(path.read_text())["assets"] == {FORM: "aNewNewNewNewNew1"}
    before = path.stat().st_mtime_ns
    assert set_asset_in_config(path, FORM, "aNewNewNewNewNew1") is False and path.stat().st_mtime_ns == before
    assert [p.name for p in tmp_path.iterdir()] == ["desbumi.toml"]  # no temporary file left
