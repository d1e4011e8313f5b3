"""The guides' examples run: every ```python and ```bash block of README.md and docs/*.md.

The convention (docs/development.md, "The examples in the guides"): a fenced
```python or ```bash block runs, unless the line just before its fence is an
HTML comment `<!-- not run: REASON -->` saying why not (it needs fastai's
weights, a GPU, a download, a Docker server...). Blocks in other languages
(json, kotlin, js, text) never run. Each file's blocks run in order in one
fresh process in an empty temporary folder, sharing one Python namespace, so
a later block builds on an earlier one; a ```bash block runs under
`bash -euo pipefail` in the same folder with this environment's `ulmfit-tf`
first on PATH. A failure names the file and the line of the block (a Python
traceback points at the Markdown line itself).
"""

import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).parent.parent
DOCUMENTS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
RUN_LANGUAGES = ("python", "bash")
NOT_RUN = re.compile(r"^\s*<!-- not run: (?P<reason>\S.*?) -->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<language>[\w+-]*)\s*$")

# Files whose examples train, export or start several `ulmfit-tf` processes: longer than the
# default run can afford (the other files take about 3 minutes on 2 loaded cores); they run with
# `pytest -m slow`. The quick run still has Python and bash blocks of each guide kind.
SLOW = {"README.md", "understanding.md", "classifier.md", "cli.md", "distributed.md", "export.md", "stages.md"}


@dataclasses.dataclass
class Block:
    path: pathlib.Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    not_run: str | None  # the reason, when marked

    @property
    def where(self):
        return f"{shown(self.path)}:{self.line}"


def shown(path):
    """A document's path as messages give it: relative to the repository when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def blocks(path, text=None):
    """The fenced code blocks of a Markdown file (or of `text`, said to be that file's), with their markers."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening or not opening["language"]:
            index += 1
            continue
        indent, start = len(opening["indent"]), index
        index += 1
        body = []
        while index < len(lines) and lines[index].strip() != "```":
            line = lines[index]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            index += 1
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = NOT_RUN.match(previous)
        found.append(Block(path, start + 1, opening["language"], "\n".join(body) + "\n", marker and marker["reason"]))
        index += 1
    return found


def runnable(path):
    return [b for b in blocks(path) if b.language in RUN_LANGUAGES and b.not_run is None]


# Runs one file's blocks in order; exits 1 naming the first block that failed.
RUNNER = textwrap.dedent(
    """
    import json, os, subprocess, sys, traceback
    namespace = {"__name__": "__main__"}
    for block in json.load(open(sys.argv[1])):
        print(f"--- {block['where']} ({block['language']})", flush=True)
        if block["language"] == "bash":
            result = subprocess.run(["bash", "-euo", "pipefail", "-c", block["code"]])
            if result.returncode:
                print(f"FAILED: the bash block at {block['where']} exited with {result.returncode}", flush=True)
                sys.exit(1)
            continue
        source = "\\n" * block["line"] + block["code"]  # tracebacks give the Markdown file's own lines
        try:
            exec(compile(source, block["file"], "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            print(f"FAILED: the python block at {block['where']}", flush=True)
            sys.exit(1)
    """
)


def test_every_document_has_a_runnable_example():
    for path in DOCUMENTS:
        assert runnable(path), f"{path.relative_to(ROOT)} has no example that runs"


def test_every_block_not_run_says_why_and_is_code():
    for path in DOCUMENTS:
        for block in blocks(path):
            if block.not_run is not None:
                assert block.language in RUN_LANGUAGES, f"{block.where}: a `not run` marker on a {block.language} block"
                assert len(block.not_run) > 5, f"{block.where}: say why the block is not run"


def test_the_convention_finds_the_blocks():
    text = "x\n<!-- not run: needs a GPU -->\n```python\nif a:\n    a = 1\n```\n\n  ```bash\n  if x; then\n    echo hi\n  fi\n  ```\n```json\n{}\n```\n"
    path = ROOT / "docs" / "convention_probe.md"
    found = blocks(path, text)
    assert [(b.line, b.language, b.code, b.not_run) for b in found] == [
        (3, "python", "if a:\n    a = 1\n", "needs a GPU"),
        (8, "bash", "if x; then\n  echo hi\nfi\n", None),
        (13, "json", "{}\n", None),
    ]


def _params():
    for path in DOCUMENTS:
        marks = [pytest.mark.slow] if path.name in SLOW else []
        yield pytest.param(path, marks=marks, id=str(path.relative_to(ROOT)))


def run_examples(path, folder, timeout=900):
    """Runs `path`'s blocks in order in a fresh process in `folder/work`.

    Returns:
        `None` when every block ran, else the message: the failing block's
        file and line, then the end of the output.
    """
    program = [
        {"where": b.where, "file": str(b.path), "line": b.line, "language": b.language, "code": b.code}
        for b in runnable(path)
    ]
    blocks_file = folder / "blocks.json"
    blocks_file.write_text(json.dumps(program))
    work = folder / "work"
    work.mkdir()
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    env["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    try:
        result = subprocess.run(
            [sys.executable, "-c", RUNNER, str(blocks_file)], cwd=work, env=env, capture_output=True, text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        return f"{shown(path)}: the examples ran over {error.timeout} s"
    if result.returncode == 0:
        return None
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    headline = failed[-1] if failed else f"{shown(path)}: the examples exited with {result.returncode}"
    return headline + "\n" + (result.stdout + result.stderr)[-6000:]


def test_a_failing_block_is_named_by_file_and_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\nvalue = 1\n```\n\nText.\n\n```python\nassert value == 2, 'wrong'\n```\n")
    (tmp_path / "python").mkdir()
    message = run_examples(page, tmp_path / "python", timeout=120)
    assert message.startswith(f"FAILED: the python block at {page}:7")
    assert f'File "{page}", line 8' in message and "AssertionError: wrong" in message  # the Markdown line
    page.write_text("```bash\necho ran > ran.txt\n```\n<!-- not run: would fail -->\n```bash\nexit 5\n```\n"
                    "```bash\ntest -f ran.txt\nfalse | cat\n```\n")
    (tmp_path / "bash").mkdir()
    message = run_examples(page, tmp_path / "bash", timeout=120)
    assert message.startswith(f"FAILED: the bash block at {page}:8 exited with 1")  # pipefail; the same folder


@pytest.mark.parametrize("path", list(_params()))
def test_examples_run(path, tmp_path):
    message = run_examples(path, tmp_path)
    assert message is None, message
