"""What every recorded benchmark result states about the machine it ran on.

Figures are only comparable on the same machine, and other work running beside a benchmark skews
them, so each results file carries this description and the load average around the run.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import psutil


def describe(**versions: str) -> dict[str, str]:
    """CPU model, cores, memory, OS and Python, then the tool versions the benchmark names."""
    cpuinfo = Path("/proc/cpuinfo")
    models = [
        line.split(":", 1)[1].strip()
        for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
        if line.startswith("model name")
    ]
    return {
        "CPU": models[0] if models else platform.processor() or "unknown",
        "Cores": str(os.cpu_count()),
        "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        **versions,
    }


def load_average() -> str:
    """The 1, 5 and 15-minute load averages."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())
