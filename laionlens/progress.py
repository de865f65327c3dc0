"""Progress bars that stay readable when output goes to a log file instead of a terminal.

On a terminal tqdm redraws one line in place; in a log file every redraw is a new
line, ten a second. When stderr is not a terminal the bar is therefore redrawn at
most every :data:`LOG_INTERVAL_S` seconds, which still shows counts and rate.
"""

import sys

from tqdm import tqdm

TERMINAL_INTERVAL_S = 0.1
LOG_INTERVAL_S = 10.0


def progress_bar(*, enabled: bool = True, **options) -> tqdm:
    """Return a tqdm bar on stderr, shown when ``enabled``, redrawn less often in logs."""
    options.setdefault("mininterval", TERMINAL_INTERVAL_S if is_terminal() else LOG_INTERVAL_S)
    return tqdm(disable=not enabled, **options)


def is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
