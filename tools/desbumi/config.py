"""One validated Config from desbumi.toml, DESBUMI_* variables and command-line flags.

Precedence is explicit: flag > environment > desbumi.toml > defaults. Relative paths in the
file are taken from the file's own folder, so a config works from any working directory.
The Kobo token is never part of the config: it comes from KOBO_TOKEN or the keyring.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from .errors import ConfigError

CONFIG_NAME = "desbumi.toml"
DEFAULT_SERVER = "https://kf.kobotoolbox.org"

# section -> key -> (type, default); paths are resolved against the config's folder
_SCHEMA: dict[str, dict[str, tuple[type, object]]] = {
    "server": {"url": (str, DEFAULT_SERVER)},
    "paths": {
        "xlsform_src": (str, "xlsform_src"),
        "forms": (str, "forms"),
        "store": (str, "desbumi-data"),
        "panel": (str, "panel"),
    },
}
# Free-form sections: form_id -> asset uid.
_MAPPING_SECTIONS = {"assets"}

# DESBUMI_* variable -> (section, key)
ENVIRONMENT = {
    "DESBUMI_SERVER": ("server", "url"),
    "DESBUMI_XLSFORM_SRC": ("paths", "xlsform_src"),
    "DESBUMI_FORMS": ("paths", "forms"),
    "DESBUMI_STORE": ("paths", "store"),
    "DESBUMI_PANEL": ("paths", "panel"),
}
_SECRET_KEY = re.compile(r"token|password|secret", re.IGNORECASE)
_ASSET_UID = re.compile(r"^[A-Za-z0-9]{10,40}$")


@dataclass(frozen=True)
class Config:
    root: Path
    source: Path | None = None
    server_url: str = DEFAULT_SERVER
    xlsform_src: Path = Path("xlsform_src")
    forms_dir: Path = Path("forms")
    store_dir: Path = Path("desbumi-data")
    panel_dir: Path = Path("panel")
    assets: Mapping[str, str] = field(default_factory=dict)

    def with_overrides(self, **changes) -> "Config":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def find_config(start: Path) -> Path | None:
    """desbumi.toml in the working directory, else None (defaults apply)."""
    candidate = start / CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_config(
    path: Path | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    server: str | None = None,
    store: str | Path | None = None,
) -> Config:
    """Read, merge and validate; every problem names the key and where it came from."""
    cwd = Path(cwd or Path.cwd())
    environ = os.environ if environ is None else environ
    if path is None:
        path = find_config(cwd)
    elif not Path(path).is_file():
        raise ConfigError(f"Config file {path} does not exist.",
                          hint="Give an existing file with --config, or leave it out to use ./desbumi.toml.")
    raw = _read_toml(Path(path)) if path else {}
    origin = str(path) if path else "defaults"
    values = _validate(raw, origin)
    for variable, (section, key) in ENVIRONMENT.items():
        if environ.get(variable):
            values[section][key] = _check_value(section, key, environ[variable], f"environment variable {variable}")
    if server:
        values["server"]["url"] = _check_value("server", "url", server, "option --server")
    root = Path(path).resolve().parent if path else cwd.resolve()

    def resolve(value: str | Path) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else root / p

    return Config(
        root=root,
        source=Path(path).resolve() if path else None,
        server_url=values["server"]["url"].rstrip("/"),
        xlsform_src=resolve(values["paths"]["xlsform_src"]),
        forms_dir=resolve(values["paths"]["forms"]),
        store_dir=(cwd / store).resolve() if store else resolve(values["paths"]["store"]),
        panel_dir=resolve(values["paths"]["panel"]),
        assets=dict(values["assets"]),
    )


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from exc
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}.") from exc


def _validate(raw: dict, origin: str) -> dict:
    values: dict[str, dict] = {s: {k: d for k, (_, d) in keys.items()} for s, keys in _SCHEMA.items()}
    values["assets"] = {}
    for section, body in raw.items():
        if section not in _SCHEMA and section not in _MAPPING_SECTIONS:
            known = ", ".join(sorted([*_SCHEMA, *_MAPPING_SECTIONS]))
            raise ConfigError(f"{origin}: unknown section [{section}]; known sections are {known}.")
        if not isinstance(body, dict):
            raise ConfigError(f"{origin}: [{section}] must be a table of keys, not a single value.")
        for key, value in body.items():
            where = f"{origin}: [{section}] {key}"
            if _SECRET_KEY.search(key):
                raise ConfigError(f"{where}: secrets never go into desbumi.toml.",
                                  hint="Remove the key and set KOBO_TOKEN in the environment (or the system keyring).")
            if section == "assets":
                if not isinstance(value, str) or not _ASSET_UID.match(value):
                    raise ConfigError(f"{where} = {value!r} is not a Kobo asset uid (letters and digits, like 'aBcD3fGh5jKl7mNo').")
                values["assets"][key] = value
                continue
            if key not in _SCHEMA[section]:
                known = ", ".join(sorted(_SCHEMA[section]))
                raise ConfigError(f"{where} is not a known key; [{section}] takes {known}.")
            values[section][key] = _check_value(section, key, value, f"{origin}: [{section}] {key}")
    return values


def _check_value(section: str, key: str, value: object, where: str) -> object:
    expected, _ = _SCHEMA[section][key]
    if not isinstance(value, expected) or (isinstance(value, str) and not value.strip()):
        raise ConfigError(f"{where} must be a non-empty {expected.__name__}, got {value!r}.")
    if (section, key) == ("server", "url") and not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"{where} = {value!r} is not a server address; write it like https://kf.kobotoolbox.org.")
    return value
