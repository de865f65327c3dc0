"""Helpers shared by the benchmark scripts: timing, peak memory and machine facts."""

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_timed(args: list[str], **kwargs) -> tuple[float, float, int]:
    """Run a command; return (wall seconds, CPU seconds, peak RSS in bytes of the
    largest child so far). Raises if it fails."""
    cpu_before = cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(args, check=True, **kwargs)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before
    # ru_maxrss of children is in KiB on Linux.
    return seconds, cpu, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()}-core {platform.machine()}, {memory:.0f} GiB RAM"


def remove(*paths: Path) -> None:
    for path in paths:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
