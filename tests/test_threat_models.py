"""Threat models stay tied to live evidence: every cited test and result file exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from fical_secure.compliance.threat_models import (
    PACKAGED,
    SECTIONS,
    check_coverage,
    defined_test_ids,
    model_problems,
    packaged_model,
    parse_threat_model,
    source_checkout,
    unresolved,
)

ROOT = Path(__file__).resolve().parents[1]
FOLDER = PACKAGED
ADVERSARIES = (
    "honest-but-curious-server",
    "malicious-server",
    "malicious-client",
    "network-attacker",
    "compromised-hospital-host",
    "research-consumer",
)
DOCUMENTS = sorted(p for p in FOLDER.glob("*.md") if p.name != "README.md")


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.stem for p in DOCUMENTS])
def test_every_threat_model_reference_resolves(path: Path) -> None:
    assert unresolved(parse_threat_model(path), ROOT) == []


@pytest.mark.parametrize("model_id", ADVERSARIES)
def test_every_adversary_has_a_complete_document(model_id: str) -> None:
    model = parse_threat_model(FOLDER / f"{model_id}.md")
    assert model_problems(model, ROOT) == []
    assert list(SECTIONS) == [s for s in model.sections if s in SECTIONS]  # in order
    assert len(model.mitigations) >= 3


def test_readme_indexes_every_threat_model() -> None:
    index = (FOLDER / "README.md").read_text(encoding="utf-8")
    for path in DOCUMENTS:
        assert f"({path.name})" in index


def test_dead_references_and_missing_sections_are_reported(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_real.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('x', [1])\ndef test_alive(x):\n    assert x\n\n"
        "class TestGroup:\n    def test_member(self):\n        assert True\n",
        encoding="utf-8",
    )
    doc = tmp_path / "tm.md"
    doc.write_text(
        "# Threat model: x\n\n## Assets\n- a\n\n## Mitigations\n"
        "- alive `tests/test_real.py::test_alive[1]` and\n"
        "  `tests/test_real.py::TestGroup::test_member`\n"
        "- dead `tests/test_real.py::test_gone` and `benchmarks/results/none.json`\n"
        "  continued `tests/test_missing.py::test_x`\n"
        "- cites nothing\n",
        encoding="utf-8",
    )
    model = parse_threat_model(doc)
    assert unresolved(model, tmp_path) == [
        "tests/test_real.py::test_gone",
        "tests/test_missing.py::test_x",
        "benchmarks/results/none.json",
    ]
    problems = model_problems(model, tmp_path)
    assert "missing section '## Capabilities'" in problems
    assert any(p.startswith("mitigation cites no test") for p in problems)


def test_test_ids_come_from_the_syntax_tree_not_from_text(tmp_path: Path) -> None:
    path = tmp_path / "test_x.py"
    path.write_text(
        '"""def test_in_docstring(): ..."""\n\ndef helper():\n    def test_nested():\n'
        "        pass\n\nasync def test_async():\n    pass\n",
        encoding="utf-8",
    )
    assert defined_test_ids(path) == {"test_async"}


def test_coverage_check_fails_for_a_missing_document(tmp_path: Path) -> None:
    result = check_coverage(("no-such-adversary",), tmp_path, ROOT)
    assert not result.passed
    assert "no-such-adversary: document missing" in result.summary
    assert check_coverage(ADVERSARIES, FOLDER, ROOT).passed


def test_missing_threat_model_folder_fails_saying_where_to_point(tmp_path: Path) -> None:
    result = check_coverage(ADVERSARIES, tmp_path / "absent", tmp_path)
    assert not result.passed and "no threat model folder" in result.summary
    assert "--threat-models DIR" in result.remedy


def test_threat_models_ship_in_the_package_and_the_top_level_folder_is_the_same_files() -> None:
    assert FOLDER == ROOT / "fical_secure" / "threat_models" and DOCUMENTS
    assert (ROOT / "threat_models").resolve() == FOLDER.resolve()  # a link, not a copy
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"threat_models/*.md"' in pyproject  # declared package data
    assert packaged_model("research-consumer").title.startswith("Threat model:")
    with pytest.raises(OSError):
        packaged_model("no-such-adversary")


def test_citations_resolve_in_this_checkout_and_fail_closed_without_one() -> None:
    assert source_checkout() == ROOT
    result = check_coverage(ADVERSARIES, FOLDER, None)  # an installed wheel: no tests/
    assert not result.passed and "not installed" in result.summary
    assert "--evidence DIR" in result.remedy


def test_the_audit_reads_the_shipped_documents_and_resolves_them_under_evidence(
    tmp_path: Path,
) -> None:
    from fical_secure.compliance.runner import _coverage
    from fical_secure.compliance.settings import AuditSettings
    from fical_secure.config.profile import load_profile, resolve_profile

    profile = load_profile(resolve_profile("strict"))
    here = _coverage(profile, AuditSettings(profile=Path("strict"), out=tmp_path))
    assert here.passed  # shipped documents, this checkout's evidence
    elsewhere = _coverage(
        profile, AuditSettings(profile=Path("strict"), out=tmp_path, evidence=tmp_path)
    )
    assert not elsewhere.passed and "dead reference tests/" in elsewhere.summary
