"""Helpers shared by the benchmark scripts: timing, peak memory and machine facts."""

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run_timed(args: list[str], **kwargs) -> tuple[float, int]:
    """Run a command; return (wall seconds, its peak RSS in bytes). Raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(args, check=True, **kwargs)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far, in KiB on Linux.
    return seconds, max(peak, before) * 1024


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()}-core {platform.machine()}, {memory:.0f} GiB RAM"


def remove(*paths: Path) -> None:
    for path in paths:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
