"""The demo chain, as far as it is built, on synthetic data in a fresh folder:

1. check and build every instrument into OUT/forms/;
2. generate a synthetic year-one cross-section from the year-one instrument (OUT/year1/, as csv,
   xlsx, dta and sav — the four formats a data officer may hold);
3. preload it into the year-two build's media (`forms preload`, from the .dta file);
4. generate year-two submissions in Kobo's JSON shape from the year-two build and that preload,
   and a coherent MEAL programme (trainings, registrations, pre/post tests, activity reports,
   village capacity assessments, MSC stories) from the MEAL builds (OUT/submissions/).

Each later step appends its stage here (sandbox, pull, QA, panel, exports), so that
`desbumi-sync demo` always exercises everything that exists.
"""

from __future__ import annotations

import csv
import json
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


Y1_FORM, Y2_FORM = "desbumi_ekonomi_y1", "desbumi_ekonomi_y2"
YEAR1_FORMATS = ("csv", "xlsx", "dta", "sav")
MEAL_FORMS = ("mel_registrasi", "mel_tes_gedsi", "mel_tes_digital", "mel_kegiatan", "mel_kapasitas_desa", "mel_msc")


@dataclass
class DemoResult:
    out_dir: Path
    source_dir: Path
    builds: list[BuildOutcome] = field(default_factory=list)
    year1_files: list[Path] = field(default_factory=list)
    preload_files: list[Path] = field(default_factory=list)
    submission_files: dict[str, int] = field(default_factory=dict)  # path -> submissions written

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
    built = {b.form_id: b for b in result.builds}
    if Y1_FORM in built and Y2_FORM in built:
        _panel_stages(result, built, panel_dir, respondents=respondents, seed=seed, progress=progress)
    if all(form_id in built for form_id in MEAL_FORMS):
        _meal_stage(result, built, seed=seed, progress=progress)
    return result


def _meal_stage(result: DemoResult, built: dict[str, BuildOutcome], *, seed: int,
                progress: Callable[[str], None]) -> None:
    from .synth import load_form
    from .synth.meal import meal_programme, write_meal_json

    progress("Generating a MEAL programme (trainings, tests, activity reports, capacity, MSC) …")
    forms = {form_id: load_form(built[form_id].path / "form.xlsx") for form_id in MEAL_FORMS}
    programme = meal_programme(seed, forms=forms)
    for path, count in write_meal_json(programme, result.out_dir / "submissions").items():
        result.submission_files[str(path)] = count


def _panel_stages(result: DemoResult, built: dict[str, BuildOutcome], panel_dir: Path, *, respondents: int,
                  seed: int, progress: Callable[[str], None]) -> None:
    """Year one -> preload -> year-two submissions, each stage reading what the previous one wrote."""
    from .forms.preload import preload
    from .synth import load_form, submissions, write_year_one, year_one

    out = result.out_dir
    progress(f"Generating a synthetic year-one cross-section of {respondents} respondents …")
    y1_form = load_form(built[Y1_FORM].path / "form.xlsx")
    rows = year_one(respondents, seed=seed, form=y1_form)
    for fmt in YEAR1_FORMATS:
        result.year1_files.append(write_year_one(rows, out / "year1" / f"year1.{fmt}", form=y1_form))

    progress("Preloading the year-one respondents into the year-two form's media …")
    preloaded = preload(out / "year1" / "year1.dta", panel_dir=panel_dir, forms_dir=out / "forms",
                        xlsform_src=result.source_dir, form=Y2_FORM)
    result.preload_files = [path for r in preloaded for path in r.written]
    media = {path.name: _read_csv(path) for path in result.preload_files}

    progress("Generating year-two submissions (Kobo JSON) from the built form and its preload …")
    y2 = submissions(load_form(built[Y2_FORM].path / "form.xlsx"), rows, seed=seed, media=media)
    target = out / "submissions" / f"{Y2_FORM}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(y2.submissions, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    result.submission_files[str(target)] = len(y2.submissions)


def _read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
