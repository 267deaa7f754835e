"""`forms check`: lint an instrument, compile it with pyxform, validate it with ODK Validate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .compile import compile_xlsform
from .findings import ERROR, Finding, has_errors, sort_key
from .lint import LintContext, lint
from .sources import media_dir_for
from .versions import last_build, sha256_file
from .workbook import XLSForm, read_xlsform


@dataclass
class CheckResult:
    source: Path
    form: XLSForm | None
    findings: list[Finding] = field(default_factory=list)
    xform: str | None = None
    source_sha256: str = ""
    validate_skipped: str = ""  # why ODK Validate did not run, '' when it ran or was not asked

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)


def check_form(source: Path, *, forms_dir: Path | None, validate: bool = True,
               generated_media: dict[str, list[str]] | None = None) -> CheckResult:
    """Lint, then compile (and validate) unless lint found errors pyxform would only restate."""
    source = Path(source)
    form = read_xlsform(source)
    digest = sha256_file(source)
    context = LintContext(
        form=form,
        source_sha256=digest,
        last_build=last_build(forms_dir, form.form_id) if forms_dir else None,
        media_dir=media_dir_for(source),
        generated_media=dict(generated_media or {}),
    )
    findings = lint(context)
    compiled = compile_xlsform(source, validate=validate, form=form)
    findings.extend(_not_restated(compiled.findings, findings))
    return CheckResult(source=source, form=form, findings=sorted(set(findings), key=sort_key),
                       xform=compiled.xform, source_sha256=digest,
                       validate_skipped=compiled.validate_skipped)


def _not_restated(engine: list[Finding], lint_findings: list[Finding]) -> list[Finding]:
    """pyxform's findings, minus errors at a cell where lint already explained the problem better."""
    explained = {(f.sheet, f.row, f.column) for f in lint_findings if f.severity == ERROR and f.row}
    return [f for f in engine
            if not (f.rule == "pyxform-error" and f.row and (f.sheet, f.row, f.column) in explained)]


def check_forms(sources: list[Path], **options) -> list[CheckResult]:
    return [check_form(s, **options) for s in sources]
