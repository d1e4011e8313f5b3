"""The package's import graph, read from the source: no cycles, imports at module level, a Keras-free `folders`.

Every `import` and `from ... import` of an `ulmfit_tf` module counts, at
module level or inside a function: a deferred import that closes a cycle
still makes two modules that cannot be understood (or loaded) apart.
Importing `a.b.c` runs the packages `a.b` and `a` first, so an import
also depends on the target's packages, except those that hold the
importing module (they are already loading). The root package
`ulmfit_tf/__init__.py` imports its parts lazily and is left out.
"""

import ast
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `export/` installs as `ulmfit_tf.export` (see pyproject.toml).
SOURCES = {"ulmfit_tf": os.path.join(ROOT, "ulmfit_tf"), "ulmfit_tf.export": os.path.join(ROOT, "export")}
HEAVY = ("keras", "keras_hub", "tensorflow", "tensorflow_text", "tf_keras")
# The imports made inside functions, each for a reason; every other import is at module level.
FUNCTION_LEVEL = {
    # matplotlib is optional: only `LRFinder.plot` needs it.
    "ulmfit_tf.callbacks.lr_finder": {"matplotlib", "matplotlib.pyplot"},
    # The command line parses (and answers `--help`) before TensorFlow loads, then loads it quietly.
    "ulmfit_tf.cli.main": {"tensorflow", "tensorflow_text"},
    # The CLI imports `interruptions` at start; the callbacks load Keras, needed only after a signal.
    "ulmfit_tf.interruptions": {"ulmfit_tf.callbacks"},
    # `register_keras_objects` exists to load every registering module, when a model is loaded.
    "ulmfit_tf.model_directory": {
        "ulmfit_tf.layers", "ulmfit_tf.losses", "ulmfit_tf.models", "ulmfit_tf.optimizers", "ulmfit_tf.schedules",
        "ulmfit_tf.text",
    },
}


def package_modules():
    """`{module name: path}` for every module of the package."""
    modules = {}
    for prefix, folder in SOURCES.items():
        for root, folders, files in os.walk(folder):
            folders[:] = sorted(name for name in folders if name != "__pycache__" and not name.startswith("."))
            relative = os.path.relpath(root, folder)
            parts = [prefix] + ([] if relative == "." else relative.split(os.sep))
            if prefix == "ulmfit_tf" and parts[1:2] == ["export"]:
                continue  # a link to `export/` in some checkouts: read once, under its own name
            for name in files:
                if name.endswith(".py"):
                    module = ".".join(parts if name == "__init__.py" else parts + [name[:-3]])
                    modules[module] = os.path.join(root, name)
    return modules


def imported_names(path, module, is_package):
    """The absolute dotted names `path` imports (modules, or `module.attribute` for `from` imports)."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            names.append(source)
            names += [f"{source}.{alias.name}" for alias in node.names]
    return names


def function_level_imports(path):
    """The modules `path` imports inside functions or classes (not at module level, `try` and `if` included)."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    top = {id(node) for statement in tree.body if not isinstance(statement, (ast.FunctionDef, ast.ClassDef))
           for node in ast.walk(statement)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and id(node) not in top:
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and id(node) not in top:
            found.add("." * node.level + (node.module or ""))
    return found


def import_graph():
    """`({module: set of ulmfit_tf modules it imports}, {module: set of outside top-level packages})`."""
    modules = package_modules()
    graph, outside = {}, {}
    for module, path in modules.items():
        is_package = path.endswith("__init__.py")
        own_packages = {module.rsplit(".", i)[0] for i in range(module.count(".") + 1)} if is_package else {
            module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)
        }
        targets, third_party = set(), set()
        for name in imported_names(path, module, is_package):
            if name.split(".")[0] != "ulmfit_tf":
                third_party.add(name.split(".")[0])
                continue
            parts = name.split(".")
            for end in range(2, len(parts) + 1):  # the target and the packages above it
                candidate = ".".join(parts[:end])
                if candidate in modules and candidate not in own_packages:
                    targets.add(candidate)
        graph[module] = targets - {module}
        outside[module] = third_party
    graph.pop("ulmfit_tf", None)
    for targets in graph.values():
        targets.discard("ulmfit_tf")
    return graph, outside


def cycles(graph):
    """One cycle (a list of modules, first repeated last) per strongly connected component that has one."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(node):  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(set(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_one_cycle(graph, component) for component in components]


def _one_cycle(graph, component):
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to `start`
        node = frontier.pop(0)
        for target in sorted(graph[node] & component):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                frontier.append(target)
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def reachable(graph, start):
    seen, todo = {start}, [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_package_has_no_import_cycle():
    graph, _ = import_graph()
    assert len(graph) > 50, sorted(graph)  # the whole package was read
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_imports_are_at_module_level_unless_listed_with_a_reason():
    found = {module: function_level_imports(path) for module, path in package_modules().items()}
    found = {module: names for module, names in found.items() if names}
    assert found == FUNCTION_LEVEL, "function-level imports changed: move them to module level, or list them with why"


def test_folders_imports_neither_keras_nor_tensorflow():
    graph, outside = import_graph()
    heavy = {
        module: sorted(outside[module] & set(HEAVY)) for module in reachable(graph, "ulmfit_tf.folders")
        if outside[module] & set(HEAVY)
    }
    assert not heavy, f"ulmfit_tf.folders reaches modules that import Keras or TensorFlow: {heavy}"
    loaded = subprocess.run(
        [sys.executable, "-c", "import json, sys, ulmfit_tf.folders; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    assert not {name.split(".")[0] for name in json.loads(loaded)} & set(HEAVY), loaded


def test_the_graph_reads_every_kind_of_import(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from . import a\n")
    (package / "a.py").write_text("import os\n\ndef f():\n    from .b import g\n    import ulmfit_tf.folders\n")
    names = imported_names(str(package / "a.py"), "ulmfit_tf.pkg.a", False)
    assert names == ["os", "ulmfit_tf.pkg.b", "ulmfit_tf.pkg.b.g", "ulmfit_tf.folders"]
    assert imported_names(str(package / "__init__.py"), "ulmfit_tf.pkg", True) == ["ulmfit_tf.pkg", "ulmfit_tf.pkg.a"]
    assert function_level_imports(str(package / "a.py")) == {".b", "ulmfit_tf.folders"}
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
