"""The product's import graph: no cycles in bot/ or retrieval/ (lazy imports inside functions
count too: they are cycles with the check postponed), layers that import only downwards,
and nothing of the product importing tests or benchmarks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("bot", "retrieval", "prompts")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else ""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                )
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def product_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for top in PRODUCT for p in sorted((ROOT / top).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t for t in imports_of(path) if t in modules and t != name}
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules along it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                cycle = walk(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = walk(node)
            if cycle:
                return cycle
    return None


def test_the_product_has_no_import_cycle() -> None:
    graph = product_graph()
    assert len(graph) > 30  # the walk really saw the product
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("top", PRODUCT)
def test_the_product_never_imports_tests_or_benchmarks(top: str) -> None:
    for path in sorted((ROOT / top).rglob("*.py")):
        bad = {m for m in imports_of(path) if m.split(".")[0] in {"tests", "bench", "conftest"}}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


# Each layer may import only the layers listed for it (and itself).
LAYERS = {
    "retrieval": {"retrieval"},
    "prompts": {"prompts"},
    "bot.ops": {"bot.ops"},
    "bot.answering": {"bot.answering", "bot.ops", "retrieval", "prompts"},
    "bot.telegram": {"bot.telegram", "bot.answering", "bot.ops", "retrieval"},
    "bot.entry": {"bot.entry", "bot.telegram", "bot.answering", "bot.ops", "retrieval"},
}


def layer_of(module: str) -> str | None:
    return max(
        (k for k in LAYERS if module == k or module.startswith(k + ".")), key=len, default=None
    )


# The durable chat state (operations) stores the engine's turns: their value type, nothing
# of the engine's logic.
VALUE_TYPES = {"bot.answering.answer"}


def test_layers_import_only_downwards() -> None:
    wrong = []
    for module, targets in product_graph().items():
        layer = layer_of(module)
        if layer is None:
            continue
        for target in targets - VALUE_TYPES:
            target_layer = layer_of(target)
            if target_layer is not None and target_layer not in LAYERS[layer]:
                wrong.append(f"{module} → {target}")
    assert not wrong, wrong


def test_settings_load_without_the_retrieval_stack() -> None:
    """Reading the configuration must not import chromadb, bm25s or langchain."""
    imported = imports_of(ROOT / "bot" / "ops" / "settings.py")
    assert not {m for m in imported if m.split(".")[0] in {"retrieval", "chromadb", "bm25s"}}


def test_settings_default_coverage_is_the_retrievers() -> None:
    """The gate's default is written twice (settings may not import retrieval): kept equal."""
    from bot.ops.settings import Settings
    from retrieval.search import DEFAULT_MIN_COVERAGE

    assert Settings.model_fields["min_coverage"].default == DEFAULT_MIN_COVERAGE
