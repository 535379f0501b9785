"""Import contract: the layer rules of ``../shared/DESIGN.md``, checked on every module's AST.

Every ``import`` statement counts, including the lazy ones inside functions
(those are where heavy or cross-layer dependencies hide). Run by ``make lint``
and by the test suite. Rules:

* only ``fical_secure.crypto`` imports ``cryptography``;
* crypto imports nothing of ours but itself, ``errors`` and ``atomic`` (so
  neither llm nor scrub, and it stays importable without torch);
* kcg, scrub and aggregate never import crypto;
* nothing in the library imports the command line (``cli``, ``commands``);
* ``pipeline`` never imports ``flower`` (flower drives pipeline, not the reverse),
  and only ``flower`` and the command line import ``flwr``;
* audit (read-only measurement) imports neither crypto nor the protocol.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fical_secure"


def _module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_name(path, root).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _violations(
    sources: tuple[str, ...], forbidden: tuple[str, ...], allowed_sources: tuple[str, ...] = ()
) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in MODULES.items()
        if (not sources or _in(module, *sources)) and not _in(module, *allowed_sources)
        for name in names
        if _in(name, *forbidden)
    )


def test_the_contract_sees_the_whole_package() -> None:
    assert "fical_secure.crypto.envelope" in MODULES
    primitives = MODULES["fical_secure.crypto.primitives"]
    assert "cryptography.hazmat.primitives.ciphers.aead" in primitives
    assert len(MODULES) > 50


def test_only_crypto_imports_cryptography() -> None:
    assert _violations((), ("cryptography",), allowed_sources=("fical_secure.crypto",)) == []


def test_crypto_imports_only_itself_errors_and_atomic() -> None:
    ours = sorted(
        f"{module} imports {name}"
        for module, names in MODULES.items()
        if _in(module, "fical_secure.crypto")
        for name in names
        if _in(name, "fical_secure")
        and not _in(name, "fical_secure.crypto", "fical_secure.errors", "fical_secure.atomic")
        and name != "fical_secure"
    )
    assert ours == []


@pytest.mark.parametrize(
    "layer", ["fical_secure.kcg", "fical_secure.scrub", "fical_secure.aggregate"]
)
def test_content_layers_never_import_crypto(layer: str) -> None:
    assert _violations((layer,), ("fical_secure.crypto", "cryptography")) == []


def test_the_library_never_imports_the_command_line() -> None:
    assert (
        _violations(
            (),
            ("fical_secure.cli", "fical_secure.commands"),
            allowed_sources=("fical_secure.cli", "fical_secure.commands"),
        )
        == []
    )


def test_pipeline_never_imports_flower_and_only_flower_imports_flwr() -> None:
    assert _violations(("fical_secure.pipeline",), ("fical_secure.flower",)) == []
    assert (
        _violations(
            (),
            ("flwr",),
            allowed_sources=("fical_secure.flower", "fical_secure.cli", "fical_secure.commands"),
        )
        == []
    )


def test_audit_measures_without_reaching_into_transport() -> None:
    assert (
        _violations(
            ("fical_secure.audit",),
            ("fical_secure.protocol", "fical_secure.crypto", "fical_secure.commands"),
        )
        == []
    )


def test_lazy_and_relative_imports_are_seen(tmp_path: Path) -> None:
    module = tmp_path / "fical_secure" / "scrub" / "fake.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "def f():\n    from cryptography.hazmat import x\n    from ..crypto import keys\n"
    )
    found = _imports(module, tmp_path)
    assert {"cryptography.hazmat", "fical_secure.crypto", "fical_secure.crypto.keys"} <= found
