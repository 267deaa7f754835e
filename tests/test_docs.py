"""The README stays true: its commands exist, and CI runs exactly its test command."""

import re
from pathlib import Path

import click

from desbumi.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_quick_start_commands_are_in_the_readme():
    lines = code_lines()
    assert 'pip install -e ".[test]" && desbumi-sync demo' in lines
    assert "pytest" in lines


def test_every_desbumi_sync_command_in_the_readme_exists():
    commands = [line for line in code_lines() if "desbumi-sync " in line and not line.startswith("git ")]
    assert commands
    for line in commands:
        words = line.split("desbumi-sync ", 1)[1].split()
        command: click.Command = cli
        for word in words:
            if word.startswith("-") or not isinstance(command, click.Group):
                break
            assert word in command.commands, f"README runs `{line}` but `{word}` is not a command"
            command = command.commands[word]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -e \".[test]\"" in ci
    last_command = [line for line in ci.splitlines() if line.strip() and not line.startswith("#")][-1]
    assert last_command.strip() in code_lines()


def test_gitattributes_wires_forms_show_for_xlsx():
    assert "*.xlsx diff=xlsform" in (ROOT / ".gitattributes").read_text(encoding="utf-8")
    assert 'git config diff.xlsform.textconv "desbumi-sync forms show"' in README
