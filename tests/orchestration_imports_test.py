"""The orchestration's modules import each other without cycles, at module level, and `--help` loads no TensorFlow."""

import ast
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "ulmfit_tf"
ORCHESTRATION = ["cli", "pipeline", "stages", "recipe.py", "fingerprint.py", "options.py", "training.py"]
# The one import made in a function: the command line loads TensorFlow quietly (`cli/main.py`), and each
# command's module only when it runs (`cli/commands.py`, through importlib).
FUNCTION_LEVEL_ALLOWED = {("ulmfit_tf.cli.main", "tensorflow"), ("ulmfit_tf.cli.main", "tensorflow_text")}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def orchestration_files():
    for entry in ORCHESTRATION:
        path = PACKAGE / entry
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


MODULES = {module_name(path): path for path in orchestration_files()}


def imports(path):
    """`(module-level imports, function-level imports)` of a file, as module names."""
    tree = ast.parse(path.read_text())
    top, inner = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:  # `from package import module` imports the module
            names = {f"{node.module}.{alias.name}" for alias in node.names}
            names = names if names <= set(MODULES) else {node.module}
        else:
            continue
        (top if node.col_offset == 0 else inner).update(names)
    return top, inner


def test_no_import_cycles_and_no_function_level_imports():
    graph = {}
    modules = MODULES
    for name, path in modules.items():
        top, inner = imports(path)
        graph[name] = {module for module in top if module in modules}
        assert {(name, module) for module in inner} <= FUNCTION_LEVEL_ALLOWED, (name, inner)

    def visit(name, trail):
        assert name not in trail, " -> ".join(trail + [name])
        for module in graph[name]:
            visit(module, trail + [name])

    for name in graph:
        visit(name, [])
    assert not any(module.startswith("ulmfit_tf.cli") for module in graph["ulmfit_tf.pipeline.run"])


def test_the_parser_and_the_recipe_load_no_tensorflow():
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from ulmfit_tf.cli import build_parser; build_parser().format_help(); "
         "import ulmfit_tf.recipe, ulmfit_tf.fingerprint, ulmfit_tf.options; "
         "print('tensorflow' in sys.modules, 'keras' in sys.modules)"],
        capture_output=True, text=True, timeout=120,
    )
    assert probe.stdout.split() == ["False", "False"], probe.stderr
