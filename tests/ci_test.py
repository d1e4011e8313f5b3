"""The README's two commands and `.ci/run` stay in step."""

import pathlib

ROOT = pathlib.Path(__file__).parent.parent


def readme_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    return [line.strip() for line in lines if line.strip().startswith("python3 -m venv .venv")]


def test_readme_opens_with_two_commands_and_ci_runs_the_second():
    commands = readme_commands()
    assert len(commands) == 2
    assert "ulmfit_tf.demo" in commands[0]
    assert "pytest" in commands[1]
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == commands[1]
