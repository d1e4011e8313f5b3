"""Shared by the benchmarks: interleaved timing, fastai detection, BENCHMARKS.md sections, measurement rows."""

import json
import os
import platform
import sys
import time


# The /proc/cpuinfo flags that decide matrix-product speed (fp32 width, bf16 arithmetic, AMX tiles).
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


# What makes this CPU run the code an AVX2-only x86 CPU runs (no AVX-512, VNNI, BF16 or AMX) with ulmfit-tf:
# TensorFlow turns oneDNN on by default only where the CPU has VNNI, BF16 or AMX (elsewhere its matrix
# products are Eigen's, built for AVX without FMA), and `import ulmfit_tf` turns it on on every x86 CPU;
# PyTorch's own kernels, MKL and oneDNN capped at AVX2. Tables before 2026-12-06's fifth session ran
# TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's own default there); their machine lines say so.
AVX2_CODE_PATH = {
    "TF_ENABLE_ONEDNN_OPTS": "1",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}


def avx2_code_path():
    """Whether this process runs as on an AVX2-only CPU (every variable of `AVX2_CODE_PATH` set)."""
    return all(os.environ.get(name) == value for name, value in AVX2_CODE_PATH.items())


def cpu_name():
    """The CPU model and the flags of `SPEED_FLAGS` it has, e.g. "Intel Xeon (avx2 fma avx512f ...)"."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    found = " ".join(flag for flag in SPEED_FLAGS if flag in flags) or "none of " + ", ".join(SPEED_FLAGS)
    where = ""
    if avx2_code_path():
        where = " run on the AVX2-only code path (" + " ".join(f"{k}={v}" for k, v in AVX2_CODE_PATH.items()) + ")"
    return f"{name} (flags: {found}){where}"


def append_row(path, row):
    """Stamps `row` with the CPU and the date, prints it and appends it to the JSON-lines file `path`."""
    line = json.dumps(dict(row, cpu=cpu_name(), date=time.strftime("%Y-%m-%d")))
    print(line, flush=True)
    with open(path, "a") as f:
        f.write(line + "\n")


def with_torch_threads(heading, torch_threads):
    """`heading`, or `heading (PyTorch N threads)` for a run with N != 1 torch threads: a section of its own."""
    return heading if torch_threads == 1 else f"{heading} (PyTorch {torch_threads} threads)"


def write_section(heading, details, table, path="BENCHMARKS.md"):
    """Replaces (or appends) the `## heading` section with the command that
    ran (this process' own), `details`, the machine and date, and `table`."""
    if avx2_code_path():
        heading += ", AVX2 code path"
    command = " ".join(["python", os.path.relpath(sys.argv[0])] + sys.argv[1:])
    section = "\n".join(
        [
            f"## {heading}",
            "",
            f"Command: `{command}` ({details}). Machine: {cpu_name()}, "
            f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}.",
            "",
            *table,
            "",
        ]
    )
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    start = text.find(f"## {heading}\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end == -1 else "\n" + text[end + 1 :])
    from ulmfit_tf.folders import write_file_atomically

    write_file_atomically(path, lambda f: f.write(text), text=True, overwrite=True)


def fastai_available():
    try:
        import fastai.text.all  # noqa: F401
    except ImportError:
        return False
    return True


def measure(steps, warmup, rounds):
    """Interleaves the steps round by round; returns {name: [seconds per call]}."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return times
