"""Run a producer one step ahead in a thread, so reading and converting the next batch
overlaps with SQLite writing the current one (sqlite3 releases the GIL while a
statement runs, and pyarrow while it decodes and computes)."""

import queue
import threading
from collections.abc import Iterable, Iterator

_DONE = object()


def prefetch(items: Iterable, depth: int = 1) -> Iterator:
    """Yield the items of ``items`` in order, produced by a background thread."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put((item, None))
        except BaseException as error:  # noqa: BLE001 - the consumer re-raises it
            slots.put((None, error))
            return
        slots.put((_DONE, None))

    thread = threading.Thread(target=produce, name="ingest-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                slots.get(timeout=0.1)
            except queue.Empty:
                pass
