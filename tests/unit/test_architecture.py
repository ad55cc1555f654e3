"""The import graph of jobwork_infra stays one-way (docs/architecture.md): no cycle, and no module
importing another module's `_private` name. Imports inside functions count too, so a cycle cannot
be hidden by moving an import into a function. Parsed with `ast`; nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent.parent / "jobwork_infra"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, str | None, int]]:
    """(module imported, name imported from it or None, line) for every import of a jobwork_infra module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "jobwork_infra"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "jobwork_infra":
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                out.append((sub, None, node.lineno) if sub in known else (source, alias.name, node.lineno))
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {target for target, _, _ in imports(name, path, known) if target in known and target != name}
            for name, path in known.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (as a path that returns to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_of_the_package_has_no_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_no_module_imports_another_modules_private_names():
    known = modules()
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {what} from {source}"
             for name, path in known.items()
             for source, what, line in imports(name, path, known)
             if what is not None and what.startswith("_") and not what.startswith("__") and source != name]
    assert found == []


def test_the_flow_imports_no_concrete_target():
    """The flow and its phases know the contract (deploy/target.py), never a target behind it."""
    edges = graph()
    for room in ("flow", "apply", "destroy", "gate", "target"):
        reached = {t for t in edges[f"jobwork_infra.deploy.{room}"]
                   if t.startswith(("jobwork_infra.deploy.cloudformation", "jobwork_infra.deploy.local",
                                    "jobwork_infra.deploy.factory"))}
        assert reached == set(), f"deploy/{room}.py imports {sorted(reached)}"


def test_the_guards_see_a_cycle_and_a_private_import(tmp_path):
    """The checks above can fail: a cycle is found, and a private name is told apart."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    path = PACKAGE / "deploy" / "flow.py"
    names = {what for _, what, _ in imports("jobwork_infra.deploy.flow", path, modules()) if what}
    assert "deploy" not in names and "plan_changes" in names


def test_docs_refusals_is_generated_from_the_registry():
    from jobwork_infra.deploy.gate import REFUSALS, refusals_markdown

    docs = PACKAGE.parent / "docs" / "refusals.md"
    assert docs.read_text() == refusals_markdown(), "run: python -m jobwork_infra.deploy.gate > docs/refusals.md"
    assert all(r.source and r.guards for r in REFUSALS.values())


def test_every_refusal_code_is_raised_somewhere():
    """No dead entry: each code of the registry is raised by some module of the package."""
    from jobwork_infra.deploy.gate import REFUSALS

    text = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py") if p.name != "gate.py")
    text += (PACKAGE / "deploy" / "gate.py").read_text().split("# The plan of one stack")[1]
    assert [c for c in REFUSALS if f'"{c}"' not in text] == []
