"""Threat-model documents: parse them and check that every mitigation names live evidence.

The documents ship inside the package (``fical_secure/threat_models/``, package
data; the checkout's top-level ``threat_models/`` is a link to that folder, so
there is one copy). The evidence they cite (``tests/``, ``benchmarks/results/``)
lives only in a source checkout: :func:`source_checkout` finds the one the
package runs from; an installed wheel has none, and then the citations cannot
be verified and the coverage check fails, saying where to point it.

A threat model (``threat_models/<id>.md``) has the sections Assets,
Capabilities, Assumptions, Mitigations and Residual risk. Each top-level
bullet under Mitigations is one mitigation and must cite, in backticks, the
tests (``tests/test_x.py::test_name``) or benchmark results
(``benchmarks/results/x.json``) that check it. A citation resolves when the
results file exists, or the test file defines that test function (found by
parsing the file with :mod:`ast`, never importing it; a parametrized id such
as ``test_x[case]`` resolves by its base name).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from fical_secure.compliance.checks import CheckResult
from fical_secure.jsontypes import JsonObject

SECTIONS: tuple[str, ...] = (
    "Assets",
    "Capabilities",
    "Assumptions",
    "Mitigations",
    "Residual risk",
)
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)(?:\[[^\]`]*\])?`")
RESULT_REF = re.compile(r"`(benchmarks/results/[\w./-]+\.json)`")
_HEADING = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)
PACKAGED = Path(__file__).resolve().parents[1] / "threat_models"
"""The threat-model documents shipped with the package."""


@dataclass(frozen=True)
class Mitigation:
    """One mitigation bullet and the evidence it cites."""

    text: str
    tests: tuple[tuple[str, str], ...]  # (file, test name without parameters)
    results: tuple[str, ...]

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(f"{f}::{n}" for f, n in self.tests) + self.results


@dataclass(frozen=True)
class ThreatModel:
    """A parsed threat-model document."""

    model_id: str
    title: str
    sections: tuple[str, ...]
    mitigations: tuple[Mitigation, ...]


def sections_of(text: str) -> dict[str, str]:
    """Level-2 sections of a Markdown text, heading -> body."""
    heads = list(_HEADING.finditer(text))
    return {
        h.group(1): text[h.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        for i, h in enumerate(heads)
    }


def parse_mitigations(body: str) -> tuple[Mitigation, ...]:
    """Top-level ``- `` bullets of a section, continuation lines included."""
    bullets: list[str] = []
    for line in body.splitlines():
        if line.startswith("- "):
            bullets.append(line[2:])
        elif bullets and line.startswith(" ") and line.strip():
            bullets[-1] += " " + line.strip()
    return tuple(
        Mitigation(
            text=b,
            tests=tuple((m.group(1), m.group(2)) for m in TEST_REF.finditer(b)),
            results=tuple(m.group(1) for m in RESULT_REF.finditer(b)),
        )
        for b in bullets
    )


def parse_threat_model(path: Path) -> ThreatModel:
    """Parse one document (an unreadable file raises :class:`OSError`)."""
    text = path.read_text(encoding="utf-8")
    title = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), path.stem)
    sections = sections_of(text)
    return ThreatModel(
        model_id=path.stem,
        title=title,
        sections=tuple(sections),
        mitigations=parse_mitigations(sections.get("Mitigations", "")),
    )


def source_checkout() -> Path | None:
    """The fical-secure source tree this package runs from (its tests beside it), if any."""
    root = PACKAGED.parents[1]
    if (root / "pyproject.toml").is_file() and (root / "tests").is_dir():
        return root
    return None


def packaged_model(model_id: str) -> ThreatModel:
    """The shipped document of ``model_id`` (an unknown id raises :class:`OSError`)."""
    return parse_threat_model(PACKAGED / f"{model_id}.md")


def defined_test_ids(path: Path) -> set[str]:
    """Test ids a test file defines: ``test_x`` and ``TestClass::test_x`` (by :mod:`ast`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    ids: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            ids.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            ids.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and item.name.startswith("test")
            )
    return ids


def unresolved(model: ThreatModel, root: Path) -> list[str]:
    """References of ``model`` that do not resolve under the project ``root``."""
    missing: list[str] = []
    cache: dict[str, set[str]] = {}
    for mitigation in model.mitigations:
        for file, name in mitigation.tests:
            if file not in cache:
                path = root / file
                cache[file] = defined_test_ids(path) if path.is_file() else set()
            if name not in cache[file]:
                missing.append(f"{file}::{name}")
        missing.extend(r for r in mitigation.results if not (root / r).is_file())
    return missing


def model_problems(model: ThreatModel, root: Path) -> list[str]:
    """Everything wrong with one document: missing sections, uncited mitigations, dead links."""
    problems = [f"missing section '## {s}'" for s in SECTIONS if s not in model.sections]
    if not model.mitigations:
        problems.append("no mitigations listed")
    problems += [
        f"mitigation cites no test or result: {m.text[:60]}..."
        for m in model.mitigations
        if not m.references
    ]
    problems += [f"dead reference {ref}" for ref in unresolved(model, root)]
    return problems


def check_coverage(ids: tuple[str, ...], folder: Path, root: Path | None) -> CheckResult:
    """Every threat model the profile names exists, is complete and cites live evidence.

    ``root`` is the source tree the citations resolve under (None: none found).
    """
    if root is None:
        return CheckResult(
            "threat_models.coverage",
            "Required threat models are documented and tied to live evidence",
            False,
            "the cited tests and benchmark results are not installed: no source checkout",
            {"folder": str(folder), "models": []},
            ids,
            remedy="pass --evidence DIR: a fical-secure source checkout (its tests/ and "
            "benchmarks/results/), or run the audit from one",
        )
    if not folder.is_dir():
        return CheckResult(
            "threat_models.coverage",
            "Required threat models are documented and tied to live evidence",
            False,
            f"no threat model folder at {folder}",
            {"folder": str(folder), "models": []},
            ids,
            remedy="pass --threat-models DIR: a folder of threat-model documents, or leave it "
            "out to use the ones the package ships (fical_secure/threat_models/)",
        )
    rows: list[JsonObject] = []
    failures: list[str] = []
    for model_id in ids:
        path = folder / f"{model_id}.md"
        try:
            model = parse_threat_model(path)
        except OSError:
            rows.append({"id": model_id, "passed": False, "problems": ["document missing"]})
            failures.append(f"{model_id}: document missing")
            continue
        problems = model_problems(model, root)
        refs = sorted({r for m in model.mitigations for r in m.references})
        rows.append(
            {
                "id": model_id,
                "title": model.title,
                "mitigations": len(model.mitigations),
                "references": refs,
                "passed": not problems,
                "problems": problems,
            }
        )
        failures += [f"{model_id}: {p}" for p in problems]
    return CheckResult(
        "threat_models.coverage",
        "Required threat models are documented and tied to live evidence",
        not failures,
        "; ".join(failures[:5]) or f"{len(ids)} threat models, every mitigation cited",
        {"models": rows},
        ids,
        remedy=""
        if not failures
        else "write the missing threat models (threat_models/<id>.md) and make each "
        "mitigation cite a test or benchmark that exists",
    )
