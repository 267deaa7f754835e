"""The demo chain, as far as it is built, on synthetic data in a fresh folder OUT:

1. check and build every instrument into OUT/forms/;
2. seed a Kobo sandbox (OUT/sandbox/) from those builds: a synthetic year-one cross-section
   (OUT/sandbox/year1/year1.{csv,xlsx,dta,sav}), year-two panel submissions generated from the
   year-two form with that year one preloaded, and a MEAL programme;
3. preload the year-one respondents into the year-two build's media, as a data officer would
   (`forms preload --year1 …/year1.dta`);
4. serve the sandbox on loopback and pull every asset into a local store (OUT/store/), attachments
   included, exactly as `desbumi-sync pull` does against a real server;
5. report the store's status.

Each later step appends its stage here (QA, panel, exports), so that `desbumi-sync demo` always
exercises everything that exists.
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


Y2_FORM = "desbumi_ekonomi_y2"


@dataclass
class DemoResult:
    out_dir: Path
    source_dir: Path
    builds: list[BuildOutcome] = field(default_factory=list)
    year1_files: list[Path] = field(default_factory=list)
    preload_files: list[Path] = field(default_factory=list)
    server_url: str = ""
    pulls: list = field(default_factory=list)  # PullSummary per asset
    status: list[dict] = field(default_factory=list)  # the store's status rows

    @property
    def ok(self) -> bool:
        return all(b.ok for b in self.builds)


def run_demo(out_dir: Path, xlsform_src: Path, panel_dir: Path, *, validate: bool = True,
             respondents: int = 300, seed: int = 2026,
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
    if not result.ok:
        return result
    _sandbox_stages(result, panel_dir, respondents=respondents, seed=seed, progress=progress)
    return result


def _sandbox_stages(result: DemoResult, panel_dir: Path, *, respondents: int, seed: int,
                    progress: Callable[[str], None]) -> None:
    """Seed a sandbox from the builds, preload year one, serve on loopback, pull everything home."""
    from .forms.preload import preload
    from .kobo import KoboClient
    from .kobo.session import KoboSession
    from .pull import pull_asset
    from .sandbox import SandboxServer
    from .sandbox.seed import seed_data_dir
    from .store import Store

    out = result.out_dir
    progress(f"Seeding a Kobo sandbox with {respondents} year-one respondents, their year-two interviews "
             "and a MEAL programme …")
    seeded = seed_data_dir(out / "sandbox", respondents=respondents, seed=seed, forms_dir=out / "forms",
                           xlsform_src=result.source_dir, panel_dir=panel_dir)
    result.year1_files = list(seeded.year1_files)
    year1 = next((p for p in seeded.year1_files if p.suffix == ".dta"), None)
    if Y2_FORM in seeded.assets and year1 is not None:
        progress("Preloading the year-one respondents into the year-two form's media …")
        done = preload(year1, panel_dir=panel_dir, forms_dir=out / "forms", xlsform_src=result.source_dir,
                       form=Y2_FORM)
        result.preload_files = [path for r in done for path in r.written]
    with SandboxServer(out / "sandbox") as server, Store.open(out / "store") as store:
        result.server_url = server.url
        client = KoboClient(KoboSession(server.url, seeded.token))
        for form_id, uid in sorted(seeded.assets.items()):
            progress(f"Pulling {form_id} from the sandbox at {server.url} …")
            result.pulls.append(pull_asset(client, store, uid, form_id=form_id, attachments=True))
        result.status = store.status()
