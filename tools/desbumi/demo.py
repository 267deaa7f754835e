"""The demo chain, as far as it is built: check and build every instrument into a fresh folder.

Each later step appends its stage here (sandbox, pull, QA, panel, exports), so that
`desbumi-sync demo` always exercises everything that exists.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import InputError
from .forms.build import BuildOutcome, build_forms
from .forms.preload import generated_media_for
from .forms.sources import instrument_paths

MARKER = ".desbumi-demo"


def project_root() -> Path:
    """The source tree this package was installed from (editable installs: the repository)."""
    return Path(__file__).resolve().parents[2]


def demo_sources(xlsform_src: Path) -> tuple[Path, list[Path]]:
    """The configured instruments, else the project's own (so the demo runs from any folder)."""
    for folder in (xlsform_src, project_root() / "xlsform_src"):
        paths = instrument_paths(folder)
        if paths:
            return folder, paths
    raise InputError(f"No instruments found in {xlsform_src} nor in {project_root() / 'xlsform_src'}.",
                     hint="Run the demo from a clone of the desbumi repository.")


def prepare_out_dir(out_dir: Path) -> Path:
    """Empty a previous demo folder; never touch a folder the demo did not make."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(f"{out_dir} exists and is not a folder; choose another --out.")
        if any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
            raise InputError(f"{out_dir} is not empty and was not made by the demo; nothing was deleted.",
                             hint="Choose an empty or new folder with --out.")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    (out_dir / MARKER).write_text("made by desbumi-sync demo; emptied by the next demo run\n", encoding="utf-8")
    return out_dir


@dataclass
class DemoResult:
    out_dir: Path
    source_dir: Path
    builds: list[BuildOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(b.ok for b in self.builds)


def run_demo(out_dir: Path, xlsform_src: Path, panel_dir: Path, *, validate: bool = True,
             progress: Callable[[str], None] = lambda message: None) -> DemoResult:
    out_dir = prepare_out_dir(out_dir)
    source_dir, sources = demo_sources(xlsform_src)
    if source_dir != xlsform_src:  # the project's own instruments go with the project's own panel/
        panel_dir = source_dir.parent / "panel"
    generated_media = generated_media_for(None, panel_dir)
    result = DemoResult(out_dir=out_dir, source_dir=source_dir)
    progress(f"Checking and building {len(sources)} instrument(s) from {source_dir} …")
    for source in sources:
        progress(f"  {source.name}")
        result.builds.extend(build_forms([source], out_dir / "forms", validate=validate,
                                         project_root=source_dir.parent, generated_media=generated_media))
    return result
