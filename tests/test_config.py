from pathlib import Path

import pytest

from desbumi.config import DEFAULT_SERVER, load_config
from desbumi.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "desbumi.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path):
    cfg = load_config(cwd=tmp_path, environ={})
    assert cfg.source is None
    assert cfg.server_url == DEFAULT_SERVER
    assert cfg.xlsform_src == tmp_path.resolve() / "xlsform_src"
    assert cfg.store_dir == tmp_path.resolve() / "desbumi-data"


def test_file_in_working_directory_is_found_and_paths_are_relative_to_it(tmp_path):
    write(tmp_path, '[server]\nurl = "https://kobo.example.org/"\n[paths]\nforms = "build/forms"\n'
                    '[assets]\ndesbumi_ekonomi_y2 = "aBcD3fGh5jKl7mNo"\n')
    cfg = load_config(cwd=tmp_path, environ={})
    assert cfg.server_url == "https://kobo.example.org"
    assert cfg.forms_dir == tmp_path.resolve() / "build" / "forms"
    assert cfg.assets == {"desbumi_ekonomi_y2": "aBcD3fGh5jKl7mNo"}


def test_precedence_flag_over_environment_over_file(tmp_path):
    write(tmp_path, '[server]\nurl = "https://file.example.org"\n')
    env = {"DESBUMI_SERVER": "https://env.example.org", "DESBUMI_STORE": "/data/store"}
    assert load_config(cwd=tmp_path, environ=env).server_url == "https://env.example.org"
    assert load_config(cwd=tmp_path, environ=env).store_dir == Path("/data/store")
    flagged = load_config(cwd=tmp_path, environ=env, server="http://127.0.0.1:8000", store="here")
    assert flagged.server_url == "http://127.0.0.1:8000"
    assert flagged.store_dir == tmp_path.resolve() / "here"


@pytest.mark.parametrize("text, expected", [
    ("[server]\nurl = 5\n", "[server] url must be a non-empty str"),
    ('[server]\nurl = "kobo.example.org"\n', "is not a server address"),
    ('[server]\nport = 8000\n', "[server] port is not a known key"),
    ('[servers]\nurl = "x"\n', "unknown section [servers]"),
    ('[server]\ntoken = "abc"\n', "secrets never go into desbumi.toml"),
    ('[assets]\nform = "not a uid!"\n', "[assets] form = 'not a uid!' is not a Kobo asset uid"),
    ('server = "x"\n', "[server] must be a table"),
    ("[server\n", "is not valid TOML"),
])
def test_invalid_config_names_the_key_and_the_file(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(cwd=tmp_path, environ={})
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_bad_environment_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="environment variable DESBUMI_SERVER"):
        load_config(cwd=tmp_path, environ={"DESBUMI_SERVER": "not-a-url"})


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", cwd=tmp_path, environ={})
