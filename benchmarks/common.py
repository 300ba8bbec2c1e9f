"""Shared helpers for the benchmark scripts: machine description, timing, and RESULTS.md sections.

Every script writes `benchmarks/results/<name>.md` (a Markdown section) and `<name>.json` (the raw numbers);
`python benchmarks/make_results.py` concatenates the sections into `benchmarks/RESULTS.md`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def enable_x64() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)


def versions(*packages: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in ("jax", "jaxlib", "equinox", "numpy", *packages):
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
        mem_s = f"{mem:.1f} GiB"
    except (OSError, ValueError, IndexError):
        mem_s = "?"
    import jax

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem_s,
        "platform": platform.platform(),
        "jax_backend": jax.default_backend(),
        "x64": str(bool(jax.config.jax_enable_x64)),
    }


def median_time(fn, *, repeats: int = 5, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time of `fn()` (which must block until its result is ready) over `repeats` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def header_lines(extra_packages: tuple[str, ...] = ()) -> list[str]:
    m = machine()
    v = versions(*extra_packages)
    return [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['platform']}; JAX backend {m['jax_backend']}, "
        f"x64={m['x64']}.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`; "
        f"run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
    ]


def write_section(name: str, title: str, body_lines: list[str], data: dict, extra_packages=()) -> Path:
    RESULTS.mkdir(exist_ok=True)
    lines = [f"## {title}", "", *header_lines(extra_packages), "", *body_lines, ""]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines))
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=float))
    return path


def git_commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, text=True).strip()
    except Exception:
        return "?"
