"""The package layout is the architecture: imports only go down the layers below, and no two modules import
each other, directly or round a loop (function-level imports count too: they are dependencies all the same).
A new module or package must be placed in LAYERS, which makes the placement a decision someone reviews."""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "kiosk"

# Bottom first. A unit is a top-level module or a package; it may import units of lower layers only.
LAYERS: list[set[str]] = [
    {"events", "config_check", "board", "spoken"},  # vocabulary and facts, no kiosk imports
    {"config", "event_json"},
    {"logs", "models"},                         # model manifest, fetching, locating
    {"speech", "knowledge"},                    # engines: Piper; documents, index, retrieval, grounding
    {"audio", "answer"},                        # sound devices; the turn pipeline
    {"listen", "avatar", "learn"},              # microphone judgement; the face and the screen; quizzes, roleplay
    {"runtime", "checks"},                      # the composition root; platform checks
    {"appliance"},                              # the kiosk loop, service, packs
    {"admin"},                                  # the local API and metrics, served on the kiosk's loop
    {"cli"},                                    # the `kiosk` command
]
LAYER = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "kiosk":
                found |= {f"kiosk.{alias.name}" for alias in node.names}
            elif node.module.startswith("kiosk."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("kiosk.")}
    return found


@functools.cache  # parsed once for the module's tests
def _graph() -> dict[str, frozenset[str]]:
    return {_module_name(p): frozenset(_imports(p)) for p in sorted(ROOT.rglob("*.py"))}


def _unit(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_every_unit_has_a_layer() -> None:
    units = {_unit(m) for m in _graph() if m != "kiosk"}
    assert units - LAYER.keys() == set(), "place the new module or package in tests/test_layout.py LAYERS"
    assert LAYER.keys() - units == set(), "LAYERS names a unit that no longer exists"


def test_imports_only_go_down() -> None:
    upward = []
    for module, targets in _graph().items():
        if module == "kiosk":
            continue
        for target in targets:
            a, b = _unit(module), _unit(target)
            if a != b and LAYER[b] >= LAYER[a]:
                upward.append(f"{module} imports {target} ({a}: layer {LAYER[a]}, {b}: layer {LAYER[b]})")
    assert upward == []


def test_no_import_cycles_between_modules() -> None:
    graph = _graph()
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the path, 2 done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if target not in graph:
                continue
            if state[target] == 1:
                cycles.append([*path[path.index(target):], target] if target in path else [module, target])
            elif state[target] == 0:
                visit(target, [*path, target])
        state[module] = 2

    for module in graph:
        if state[module] == 0:
            visit(module, [module])
    assert cycles == []


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from kiosk.avatar.backend_cuda import CudaBackend\n    import kiosk.events\n")
    assert _imports(source) == {"kiosk.avatar.backend_cuda", "kiosk.events"}
