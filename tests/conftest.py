import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """No test sees the developer's token or DESBUMI_* settings."""
    for key in list(os.environ):
        if key.startswith("DESBUMI_") or key == "KOBO_TOKEN":
            monkeypatch.delenv(key, raising=False)


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[:500]!r}, err={self.err[:500]!r})"


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run desbumi-sync in-process (as the console script does) in a given working directory."""
    from desbumi.cli.main import main

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
