"""The README's two commands and `.ci/run` stay in step; the package layout."""

import pathlib
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).parent.parent


def readme_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    return [line.strip() for line in lines if line.strip().startswith("python3 -m venv .venv &&")]


def test_readme_opens_with_two_commands_and_ci_runs_the_second():
    commands = readme_commands()
    assert len(commands) == 2
    assert "ulmfit_tf.demo" in commands[0]
    assert "pytest" in commands[1]
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == commands[1]


def test_export_folder_installs_as_ulmfit_tf_export_only(tmp_path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    subpackages = {f"ulmfit_tf.{p.parent.name}" for p in (ROOT / "ulmfit_tf").glob("*/__init__.py")}
    assert set(project["packages"]) == {"ulmfit_tf", "ulmfit_tf.export"} | subpackages
    assert project["package-dir"] == {"ulmfit_tf.export": "export"}
    # Outside the repository, `ulmfit_tf.export` is the export/ folder and no `export` module exists.
    script = (
        "import importlib.util, ulmfit_tf.export as e; "
        "print(e.__file__); print(importlib.util.find_spec('export'))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    path, spec = out.stdout.strip().splitlines()[-2:]
    assert pathlib.Path(path) == ROOT / "export" / "__init__.py" or path.endswith("ulmfit_tf/export/__init__.py")
    assert spec == "None"
