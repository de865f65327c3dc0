"""Helpers shared by the benchmark scripts: timing, peak memory and machine facts."""

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run_timed(args: list[str], **kwargs) -> tuple[float, float, int]:
    """Run a command; return its wall seconds, CPU seconds and peak RSS in bytes.

    ``os.wait4`` gives the resource usage of this one child, where
    ``getrusage(RUSAGE_CHILDREN)`` would mix in every earlier child.
    """
    started = time.perf_counter()
    process = subprocess.Popen(args, **kwargs)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, args)
    # ru_maxrss is in KiB on Linux.
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()}-core {platform.machine()}, {memory:.0f} GiB RAM"


def remove(*paths: Path) -> None:
    for path in paths:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
