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
