"""`fical-secure audit` end to end on a small synthetic federation (real scrubber, LLM, auditor).

Both audits run in this process so the scrubber, embedder and LLM load once;
sizes are small (1 client, 12 records a side, 6 scored by the LLM) to keep
the module within a couple of minutes on 2 cores.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fical_secure.cli import main
from fical_secure.crypto.keys import KeyBundle
from fical_secure.data.generator import generate_federation

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SIZES = [
    "--records",
    "12",
    "--mi-records",
    "6",
    "--canary-candidates",
    "15",
    "--recall-docs",
    "40",
]
SMALL = ["--synthetic", "--seed", "0", "--clients", "1", *SIZES]  # no client config: synthetic


@dataclass(frozen=True)
class Run:
    code: int
    out: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped example configurations beside freshly generated key files."""
    base = tmp_path_factory.mktemp("audit")
    for party in ("h01", "server"):
        folder = base / "keys" / party
        folder.mkdir(parents=True)
        bundle = KeyBundle.generate()
        bundle.save(folder / "private.key")
        bundle.public.save(folder / "public.key")
    for name in ("hardened.yaml", "raw-sharing.yaml", "compendium-h01.json", "h01.jsonl"):
        shutil.copy(ROOT / "audits" / "examples" / name, base / name)
    _inject_patient(base)
    return base


def _member_values() -> dict[str, str]:
    """Name, MRN, birth date and phone (and the rest) of one audited member of the bound data."""
    lines = (ROOT / "audits" / "examples" / "h01.jsonl").read_text(encoding="utf-8").splitlines()
    wanted = {"PERSON", "MRN", "DATE_OF_BIRTH", "PHONE_NUMBER"}
    for line in lines[:10]:  # among the first members: inside the audited subset of 12
        record = json.loads(line)
        values = {p["kind"]: p["value"] for p in record["pii"]}
        if record["split"] == "member" and wanted <= set(values):
            return values
    raise AssertionError("no member with a name, MRN, birth date and phone in h01.jsonl")


def _inject_patient(base: Path) -> None:
    """The hardened example with one entry that copies a member's identifiers."""
    values = _member_values()
    compendium = json.loads((base / "compendium-h01.json").read_text(encoding="utf-8"))
    tool = compendium["entries"][0]["tool"]
    leak = "Example patient: " + ", ".join(values.values()) + "."
    compendium["entries"].append({"tool": tool, "kind": "usage", "text": leak, "support": 1})
    (base / "compendium-injected.json").write_text(json.dumps(compendium), encoding="utf-8")
    config = (base / "hardened.yaml").read_text(encoding="utf-8")
    (base / "injected.yaml").write_text(
        config.replace("compendium: compendium-h01.json", "compendium: compendium-injected.json"),
        encoding="utf-8",
    )


def _run(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> Run:
    code = main(["audit", *args, "--out", str(out)])
    captured = capsys.readouterr()
    return Run(code, out, captured.out, captured.err)


@pytest.fixture(scope="module")
def runs(workspace: Path) -> Iterator[dict[str, Run]]:
    # module scope cannot use capsys: capture the command's output by redirection
    # Run from the workspace, outside the checkout: the default profile and the
    # report template must come from the package, not from a relative path.
    # The raw-sharing run points at an empty threat-model folder.
    (workspace / "no-threat-models").mkdir()
    extra = {
        "hardened": [],
        "injected": [],
        "raw-sharing": ["--threat-models", "no-threat-models"],
    }
    results: dict[str, Run] = {}
    for name in ("hardened", "injected", "raw-sharing"):
        out, err = io.StringIO(), io.StringIO()
        with (
            contextlib.chdir(workspace),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = main(
                [
                    "audit",
                    "--client-config",
                    f"{name}.yaml",
                    *SIZES,
                    *extra[name],
                    "--out",
                    f"out-{name}",
                ]
            )
        results[name] = Run(code, workspace / f"out-{name}", out.getvalue(), err.getvalue())
    yield results


def _report(run: Run) -> dict[str, object]:
    data: dict[str, object] = json.loads((run.out / "audit.json").read_text(encoding="utf-8"))
    return data


def test_hardened_configuration_passes_the_audit(runs: dict[str, Run]) -> None:
    run = runs["hardened"]
    assert run.code == 0, run.stdout + run.stderr
    report = _report(run)
    assert report["verdict"] == "pass" and report["failed_checks"] == []
    profile = report["profile"]
    assert profile["name"] == "strict"  # type: ignore[index]
    assert profile["source"].endswith("compliance/profiles/strict.yaml")  # type: ignore[index]
    ids = {c["id"] for c in report["checks"]}  # type: ignore[attr-defined]
    assert {
        "config.private_key_file",
        "config.share_mode",
        "scrubber.recall",
        "leakage.membership_auc",
        "leakage.canary_exposure",
        "leakage.pii_hits",
        "threat_models.coverage",
        "config.data_binding",
    } <= ids
    assert "audit PASSED" in run.stdout
    assert "h01.jsonl" in report["data"]["description"]  # type: ignore[index]
    assert "released items" in (run.out / "audit.html").read_text(encoding="utf-8")
    assert "built-in method" not in (run.out / "audit.html").read_text(encoding="utf-8")


def test_compendium_with_an_injected_patient_fails_showing_the_entry_masked(
    runs: dict[str, Run],
) -> None:
    run = runs["injected"]
    assert run.code == 1
    report = _report(run)
    assert "leakage.pii_hits" in report["failed_checks"]  # type: ignore[operator]
    check = next(c for c in report["checks"] if c["id"] == "leakage.pii_hits")  # type: ignore[attr-defined]
    kinds = {h["kind"] for h in check["evidence"]["hits"]}
    assert {"PERSON", "MRN", "DATE_OF_BIRTH", "PHONE_NUMBER"} <= kinds
    excerpt = check["evidence"]["hits"][0]["excerpt"]
    assert "Example patient" in excerpt and "[MRN]" in excerpt
    assert not [v for v in _member_values().values() if v in excerpt]
    assert check["remedy"] and "what to do:" in run.stdout


def test_worst_attack_named_is_the_one_with_the_highest_auc(runs: dict[str, Run]) -> None:
    check = next(
        c
        for c in _report(runs["raw-sharing"])["checks"]
        if c["id"] == "leakage.membership_auc"  # type: ignore[attr-defined]
    )
    best = max(check["evidence"]["attacks"], key=lambda r: r["auc"])
    assert f"strongest attack {best['attack']}" in check["summary"]


def test_config_whose_data_changed_is_refused_before_anything_runs(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("hardened.yaml", "compendium-h01.json"):
        shutil.copy(workspace / name, tmp_path / name)
    lines = (workspace / "h01.jsonl").read_text(encoding="utf-8").splitlines()
    (tmp_path / "h01.jsonl").write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    (tmp_path / "keys").symlink_to(workspace / "keys")
    run = _run(capsys, tmp_path / "out", "--client-config", str(tmp_path / "hardened.yaml"))
    assert run.code == 2
    assert "is not the data the compendium was built from" in run.stderr
    assert not (tmp_path / "out").exists()
    other = _run(
        capsys, tmp_path / "out2", "--client-config", str(workspace / "hardened.yaml"), *SMALL
    )
    assert other.code == 2 and "drop --data / --synthetic" in other.stderr


def test_raw_sharing_configuration_fails_naming_its_checks(runs: dict[str, Run]) -> None:
    run = runs["raw-sharing"]
    assert run.code == 1
    report = _report(run)
    failed = set(report["failed_checks"])  # type: ignore[arg-type]
    expected = {
        "config.share_mode",
        "config.transport_sealed",
        "leakage.pii_hits",
        "leakage.membership_auc",
        "scrubber.candidate_clean",
        "threat_models.coverage",  # --threat-models named an empty folder
    }
    assert expected <= failed
    for check in expected:
        assert check in run.stderr and f"FAIL  {check}" in run.stdout
    assert "config.private_key_file" not in failed


def test_audit_html_is_self_contained(runs: dict[str, Run]) -> None:
    for run in runs.values():
        html = (run.out / "audit.html").read_text(encoding="utf-8")
        refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", html, flags=re.IGNORECASE)
        assert refs and all(r.startswith("data:image/png;base64,") for r in refs)
        assert "<script" not in html.lower() and "<link" not in html.lower()
        assert "@import" not in html and "url(" not in html
        report = _report(run)
        assert report["profile"]["sha256"] in html  # type: ignore[index]
        assert "PERSON" in html and "Scrubber recall" in html


def test_reports_hold_no_planted_value_or_key_material(
    runs: dict[str, Run], workspace: Path
) -> None:
    federation = generate_federation(1, seed=0)
    records = (workspace / "h01.jsonl").read_text(encoding="utf-8").splitlines()
    bound = {p["value"] for line in records for p in json.loads(line)["pii"]}
    values = {v for v in bound | {p.value for p in federation.manifest} if len(v) >= 6}
    key_body = (
        (workspace / "keys" / "h01" / "private.key").read_text(encoding="ascii").split("\n")[1]
    )
    for run in runs.values():
        for name in ("audit.json", "audit.html"):
            text = (run.out / name).read_text(encoding="utf-8")
            assert key_body not in text
            assert not [v for v in values if v in text]


def test_broken_profile_is_a_usage_error(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "broken.yaml"
    text = (ROOT / "fical_secure" / "compliance" / "profiles" / "strict.yaml").read_text(
        encoding="utf-8"
    )
    profile.write_text(text.replace("max_mi_auc: 0.6", "max_mi_auc: 7"), encoding="utf-8")
    run = _run(
        capsys,
        tmp_path / "out",
        "--profile",
        str(profile),
        "--compendium",
        str(workspace / "compendium-h01.json"),
        *SMALL,
    )
    assert run.code == 2
    first = run.stderr.splitlines()[0]
    assert first.startswith("fical-secure audit: error: invalid audit profile")
    assert "release.max_mi_auc: must be a number in [0.5, 1]" in run.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--compendium", "/no/such/compendium.json"],
        ["--client-config", "/no/such/client.yaml"],
        [],
    ],
)
def test_missing_inputs_are_usage_errors(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(capsys, tmp_path / "out", *args, *SMALL)
    assert run.code == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
