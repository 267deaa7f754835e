"""Talking to people and scripts: data to stdout, talk and progress to stderr, JSON on request."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..config import Config, load_config


@dataclass
class AppState:
    """What the global options decided; the config is loaded on first use so --help never fails."""

    config_path: Path | None = None
    server: str | None = None
    store: str | None = None
    verbose: bool = False
    quiet: bool = False
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path, server=self.server, store=self.store)
        return self._config

    def say(self, message: str = "", *, err: bool = True) -> None:
        """Talk on stderr, silenced by --quiet."""
        if not self.quiet:
            click.echo(message, err=err)


pass_state = click.make_pass_decorator(AppState, ensure=True)


def format_option(*choices: str, default: str = "text"):
    """The shared --format option of every command that lists things."""
    return click.option("--format", "output_format", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output for people (text) or scripts (json).")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def display_path(path: Path, base: Path | None = None) -> str:
    """A path as short as it can be honestly written: relative to the working directory when inside it."""
    base = base or Path.cwd()
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)
