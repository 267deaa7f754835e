"""Compile an XLSForm with pyxform (in-process) and validate the XForm with ODK Validate (JavaRosa).

Both engines speak in their own terms: pyxform writes "[row : 8] List name not in choices sheet",
JavaRosa prints a Java stack trace naming a node like /data/resp/age. Here both become Findings
that point at the sheet, Excel row and column a form designer has to fix, like every lint rule.

pyxform runs once per form; ODK Validate runs as one JVM per form (the jar ships in pyxform's wheel).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .findings import ERROR, WARNING, Finding
from .structure import walk
from .workbook import CHOICES, SETTINGS, SURVEY, XLSForm, read_xlsform

PYXFORM_ERROR = "pyxform-error"
PYXFORM_WARNING = "pyxform-warning"
ODK_VALIDATE = "odk-validate"
ODK_VALIDATE_WARNING = "odk-validate-warning"

VALIDATE_TIMEOUT = 120.0  # seconds; a 500-question form takes well under one

JAVA_MISSING = (
    "ODK Validate was skipped because Java was not found, so the form was not checked by JavaRosa "
    "(the engine inside ODK Collect). Install a Java runtime (Debian/Ubuntu: "
    "`apt-get install default-jre-headless`; Windows/macOS: Temurin from adoptium.net), make sure "
    "`java` is on the PATH, and run the check again."
)


@dataclass
class CompileResult:
    xform: str | None  # the XForm, None when pyxform refused the form
    findings: list[Finding]
    validate_skipped: str = ""  # why ODK Validate did not run; '' when it ran or was not asked
    itemsets: str | None = None  # itemsets.csv content for select_one_external, else None


@dataclass
class ValidateRun:
    """What one run of the ODK Validate jar gave back."""

    returncode: int | None  # None when it did not finish
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False


def odk_validate_jar() -> Path:
    from pyxform.validators import odk_validate

    return Path(odk_validate.ODK_VALIDATE_PATH)


def find_java() -> str | None:
    """The java executable on the PATH, None when there is none (tests replace this function)."""
    return shutil.which("java")


def run_odk_validate(xform_path: Path, java: str, *, timeout: float = VALIDATE_TIMEOUT) -> ValidateRun:
    """Run the ODK Validate jar once on one XForm file."""
    command = [java, "-Djava.awt.headless=true",
               # a short-lived JVM: the first JIT tier and the serial collector start fastest
               "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
               "-jar", str(odk_validate_jar()), str(xform_path)]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return ValidateRun(None, _decode(exc.stdout), _decode(exc.stderr), timed_out=True)
    return ValidateRun(proc.returncode, _decode(proc.stdout), _decode(proc.stderr))


def compile_xlsform(source: Path, *, validate: bool = True, form: XLSForm | None = None) -> CompileResult:
    """pyxform's XForm and findings for one XLSForm, then ODK Validate's verdict when asked.

    `form` (the already-read workbook) is only used to point findings at rows; it is read here,
    lazily, when a finding needs it and the caller did not pass it.
    """
    source = Path(source)
    locator = _Locator(source, form)
    findings: list[Finding] = []
    try:
        from pyxform.errors import PyXFormError
        from pyxform.xls2xform import convert
    except ImportError as exc:  # pragma: no cover - pyxform is a declared dependency
        raise InputError(f"pyxform cannot be imported ({exc}); reinstall desbumi: pip install -e .") from exc

    warnings: list[str] = []
    try:
        result = convert(str(source), warnings=warnings, pretty_print=True)
    except PyXFormError as exc:
        findings.append(locator.pyxform_finding(PYXFORM_ERROR, ERROR, str(exc)))
        findings.extend(_pyxform_warnings(locator, warnings))
        return CompileResult(xform=None, findings=findings)
    except Exception as exc:  # noqa: BLE001 - pyxform raises KeyError, ValueError, ... on bad input
        detail = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        findings.append(Finding(
            rule=PYXFORM_ERROR, severity=ERROR, file=str(source), sheet="", row=None, column="",
            message=(f"pyxform could not compile this form ({detail}). This usually means a malformed "
                     "sheet or cell pyxform does not expect; look at the rows changed last, or run "
                     "`desbumi-sync forms check` on the previous version to compare.")))
        findings.extend(_pyxform_warnings(locator, warnings))
        return CompileResult(xform=None, findings=findings)

    findings.extend(_pyxform_warnings(locator, result.warnings))
    compiled = CompileResult(xform=result.xform, findings=findings, itemsets=result.itemsets)
    if validate:
        _validate(compiled, locator)
    return compiled


# --------------------------------------------------------------------------- ODK Validate

_JVM_TROUBLE = ("UnsupportedClassVersionError", "Unable to access jarfile",
                "Could not create the Java Virtual Machine", "Error occurred during initialization of VM")


def _validate(compiled: CompileResult, locator: _Locator) -> None:
    java = find_java()
    if java is None:
        compiled.validate_skipped = JAVA_MISSING
        return
    with tempfile.TemporaryDirectory(prefix="desbumi-validate-") as tmp:
        xml_path = Path(tmp) / "form.xml"
        xml_path.write_text(compiled.xform or "", encoding="utf-8")
        try:
            run = run_odk_validate(xml_path, java)
        except OSError as exc:
            compiled.validate_skipped = (f"ODK Validate was skipped because Java could not be started "
                                         f"({java}: {exc}); reinstall a Java runtime (8 or later) and "
                                         "run the check again.")
            return
    if run.timed_out:
        compiled.findings.append(locator.plain(
            ODK_VALIDATE_WARNING, WARNING,
            f"ODK Validate did not finish within {VALIDATE_TIMEOUT:.0f} s, so JavaRosa's verdict is "
            "unknown; try again on a less busy machine, and look for very long repeats or "
            "calculations that depend on each other."))
        return
    if run.returncode and any(marker in run.stderr + run.stdout for marker in _JVM_TROUBLE):
        first = next((ln.strip() for ln in (run.stderr + run.stdout).splitlines() if ln.strip()), "")
        compiled.validate_skipped = (f"ODK Validate was skipped because Java could not run it ({first}); "
                                     "install Java 8 or later (Debian/Ubuntu: `apt-get install "
                                     "default-jre-headless`; Windows/macOS: Temurin from adoptium.net).")
        return
    if run.returncode:
        text = clean_javarosa(run.stderr) or clean_javarosa(run.stdout) or f"exit code {run.returncode}"
        compiled.findings.append(locator.javarosa_finding(
            ODK_VALIDATE, ERROR,
            f"ODK Validate (JavaRosa, the engine inside ODK Collect) rejects the form: {text}. "
            "ODK Collect would not open it; fix the expression or field named here.", run.stderr))
        return
    for text, raw in _warning_blocks(run.stderr):
        compiled.findings.append(locator.javarosa_finding(
            ODK_VALIDATE_WARNING, WARNING, f"ODK Validate (JavaRosa) warns: {text}", raw))


_FRAME = re.compile(r"^\s*(at\s+[\w$.<>]+\(.*\)|\.\.\.\s*\d+\s+more)\s*$")
_NOISE = re.compile(
    r"^\s*(>>.*|Validating:.*|The following files failed validation:?|Result:\s*\w+|\S+\.xml"
    r"|Picked up (JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS).*|SLF4J:.*"
    r"|OpenJDK .*VM warning:.*|WARNING: .*(illegal reflective|sun\.misc|--enable-native-access|restricted method).*"
    r"|Problem found at nodeset:\s*/html/head/model/bind\s*)$",
    re.I)
_EXCEPTION_PREFIX = re.compile(r"^(Caused by:\s*)?(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)\b:?\s*")
_OBJECT_REF = re.compile(r"\s*(Bad node:\s*)?(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*@[0-9a-f]+")
# a JavaRosa node path: /data/group[1]/field[1]; /html/... paths are XML locations, not fields
_NODE_PATH = re.compile(r"(?<![\w)\]'/:.])((?:/[A-Za-z_][\w.\-]*(?:\[\d+\])?){2,})")


def _field_token(match: re.Match) -> str:
    path = match.group(1)
    if path.startswith("/html"):
        return path
    return "${" + _path_parts(path)[-1] + "}"


def _path_parts(path: str) -> list[str]:
    return [re.sub(r"\[\d+\]$", "", p) for p in path.strip("/").split("/") if p]


def clean_javarosa(text: str) -> str:
    """JavaRosa's stderr without stack frames, class names and status banners, one sentence a line."""
    lines: list[str] = []
    for raw in text.splitlines():
        if not raw.strip() or _FRAME.match(raw) or _NOISE.match(raw):
            continue
        line = _EXCEPTION_PREFIX.sub("", raw.strip())
        line = _OBJECT_REF.sub("", line).strip()
        line = _NODE_PATH.sub(_field_token, line)
        line = re.sub(r"\s*\(\$\{[^}]+\}\)", "", line)  # "field 'age' (${age})" says it twice
        line = " ".join(line.split()).rstrip(".,;")
        if line and not any(line in kept for kept in lines):  # 'Caused by' repeats the message
            lines.append(line)
    text = ""
    for line in lines:
        text = f"{text} {line}" if text.endswith(":") else (f"{text}; {line}" if text else line)
    return text


def _warning_blocks(stderr: str) -> list[tuple[str, str]]:
    """Real warnings from a successful run, noise lines dropped: (cleaned text, raw text) each."""
    blocks: list[list[str]] = []
    for raw in stderr.splitlines():
        if not raw.strip() or _FRAME.match(raw) or _NOISE.match(raw):
            continue
        line = raw.strip()
        if raw[:1].isspace() and blocks:  # an indented continuation of the previous warning
            blocks[-1].append(line)
        else:
            blocks.append([line])
    out: list[tuple[str, str]] = []
    for block in blocks:
        raw = "\n".join(block)
        text = clean_javarosa(raw)
        if text and text not in (t for t, _ in out):
            out.append((text, raw))
    return out


# --------------------------------------------------------------------------- pyxform

_ROW = re.compile(r"\[row\s*:\s*(\d+)\]\s*")
_SHEET = re.compile(r"On the '(\w+)' sheet|sheet:? '(\w+)'|(?:an?|the) (\w+) sheet", re.I)
_COLUMN = re.compile(r"the '([\w:]+)' (?:value|column)", re.I)
_ELEMENT = re.compile(r"(?:element|question|group|repeat|field) (?:named|name) '([^']+)'", re.I)
_UNKNOWN_TYPE = re.compile(r"Unknown question type '([^']+)'", re.I)
_KNOWN_SHEETS = {SURVEY, CHOICES, SETTINGS, "external_choices", "entities", "osm"}


def _pyxform_warnings(locator: _Locator, warnings: list[str]) -> list[Finding]:
    findings = []
    for warning in warnings:
        # pyxform joins some warnings with newlines (one line per language)
        parts = [warning] if _ROW.search(warning) else [p for p in warning.splitlines() if p.strip()]
        for part in parts:
            findings.append(locator.pyxform_finding(PYXFORM_WARNING, WARNING, part))
    return findings


class _Locator:
    """Points engine messages at rows of the workbook, reading it only when a message needs it."""

    def __init__(self, source: Path, form: XLSForm | None):
        self.source = source
        self._form = form
        self._tried = form is not None

    @property
    def form(self) -> XLSForm | None:
        if not self._tried:
            self._tried = True
            try:
                self._form = read_xlsform(self.source)
            except InputError:
                self._form = None
        return self._form

    def plain(self, rule: str, severity: str, message: str) -> Finding:
        return Finding(rule=rule, severity=severity, file=str(self.source), sheet="", row=None,
                       column="", message=message)

    def _finding(self, rule, severity, message, sheet_key, row, column) -> Finding:
        sheet_name, cell = sheet_key, ""
        form = self.form if (sheet_key or row) else None
        if form is not None and sheet_key in form.sheets:
            sheet = form.sheets[sheet_key]
            sheet_name = sheet.name
            letter = sheet.letter(column) if column else ""
            if letter and row:
                cell = f"{letter}{row}"
        return Finding(rule=rule, severity=severity, file=str(self.source), sheet=sheet_name, row=row,
                       column=column, message=message, cell=cell)

    def pyxform_finding(self, rule: str, severity: str, text: str) -> Finding:
        match = _ROW.search(text)
        row = int(match.group(1)) if match else None
        message = _ROW.sub("", text, count=1) if match else text
        message = " ".join(message.split())  # pyxform appends dicts on new lines
        sheet_key = ""
        sheet_match = _SHEET.search(message)
        if sheet_match:
            named = next(g for g in sheet_match.groups() if g).lower()
            if named in _KNOWN_SHEETS and not (row and "choices sheet:" in message):
                sheet_key = named
        column_match = _COLUMN.search(message)
        column = column_match.group(1) if column_match else ""
        if row and not sheet_key:
            sheet_key = SURVEY  # pyxform's rows without a sheet name are survey rows
            if message.lower().startswith("list name not in choices sheet"):
                column = column or "type"
        elif row is None:
            row, column, sheet_key = self._guess_row(message, column, sheet_key)
        return self._finding(rule, severity, message, sheet_key, row, column)

    def _guess_row(self, message: str, column: str, sheet_key: str) -> tuple[int | None, str, str]:
        """Messages without '[row : n]' that still name a question or a type."""
        unknown = _UNKNOWN_TYPE.search(message)
        element = _ELEMENT.search(message)
        if not (unknown or element) or self.form is None:
            if "headers" in message.lower() and sheet_key:
                return 1, column, sheet_key
            return None, column, sheet_key
        for row in self.form.survey.rows:
            if unknown and row["type"].strip() == unknown.group(1).strip():
                return row.number, "type", SURVEY
            if element and row["name"].strip() == element.group(1):
                return row.number, column or "name", SURVEY
        return None, column, sheet_key

    def javarosa_finding(self, rule: str, severity: str, message: str, raw: str) -> Finding:
        """Map the first field JavaRosa names (/data/group/field) to its survey row."""
        paths = [p for p in _NODE_PATH.findall(raw) if not p.startswith("/html")]
        if not paths or self.form is None:
            return self.plain(rule, severity, message)
        items = walk(self.form)
        by_path = {item.path: item for item in items}
        for path in paths:
            parts = _path_parts(path)[1:]  # drop the instance root (/data)
            if not parts or parts[-1] in ("meta", "instanceID"):
                continue
            item = by_path.get("/".join(parts)) or next((i for i in items if i.name == parts[-1]), None)
            if item is not None:
                column = _javarosa_column(raw, item.row.values)
                return self._finding(rule, severity, message, SURVEY, item.row.number, column)
        return self.plain(rule, severity, message)


def _javarosa_column(text: str, values: dict[str, str]) -> str:
    lowered = text.lower()
    for needle, column in (("display condition", "relevant"), ("require condition", "required"),
                           ("readonly condition", "read_only"), ("read only condition", "read_only"),
                           ("constraint", "constraint"), ("calculate", "calculation"),
                           ("calculation", "calculation"), ("relevan", "relevant"),
                           ("itemset", "choice_filter"), ("repeat count", "repeat_count"),
                           ("jr:count", "repeat_count"), ("required", "required"),
                           ("readonly", "read_only"), ("read only", "read_only")):
        if needle in lowered:
            return column
    if "condition" in lowered:  # JavaRosa's name for relevant, required and read_only alike
        for column in ("relevant", "required", "read_only"):
            if values.get(column, "").strip().lower() not in ("", "yes", "no", "true", "false", "true()", "false()"):
                return column
    return ""


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")


__all__ = ["CompileResult", "ValidateRun", "compile_xlsform", "clean_javarosa", "find_java",
           "run_odk_validate", "odk_validate_jar", "JAVA_MISSING", "PYXFORM_ERROR", "PYXFORM_WARNING",
           "ODK_VALIDATE", "ODK_VALIDATE_WARNING"]
