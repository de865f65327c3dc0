"""Turn SOURCE arguments (parquet files, folders of them, http(s) URLs) into local files.

A URL is streamed to a temporary folder that lives as long as the ``local_files``
context, so a 2 GB shard is never held in memory.
"""

import contextlib
import logging
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ingest.errors import (
    DownloadError,
    NoParquetFilesError,
    SourceNotFoundError,
    UnsupportedSchemeError,
)
from laionlens.progress import progress_bar

log = logging.getLogger("laionlens.ingest")

CHUNK_BYTES = 1 << 20


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


# A scheme followed by "://", as in ftp://host/x.parquet (RFC 3986 section 3.1).
URL_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def reject_unsupported_url(source: str | Path) -> None:
    """Raise UnsupportedSchemeError if ``source`` is a URL that is not http(s)."""
    match = URL_PREFIX.match(source) if isinstance(source, str) else None
    if match:
        scheme = match.group(0)[:-3]
        raise UnsupportedSchemeError(
            f"{source!r}: {scheme}:// URLs are not supported. Download the file and pass its "
            "path, or give an http:// or https:// URL."
        )


@contextlib.contextmanager
def local_files(sources: Sequence[str | Path], progress: bool = False) -> Iterator[list[tuple[Path, str]]]:
    """Yield ``(local path, origin)`` for every parquet file that ``sources`` name."""
    with tempfile.TemporaryDirectory(prefix="laionlens-download-") as folder:
        files: list[tuple[Path, str]] = []
        for number, source in enumerate(sources):
            if is_url(source):
                target = Path(folder) / f"{number}-{url_file_name(source)}"
                download(source, target, progress)
                files.append((target, source))
            else:
                reject_unsupported_url(source)
                files.extend((path, str(path)) for path in local_parquet_files(Path(source), str(source)))
        yield files


def local_parquet_files(path: Path, given: str | None = None) -> list[Path]:
    """Return ``path`` itself, or the ``*.parquet`` files under the folder ``path``, sorted.

    Messages quote ``given``, the source as the user typed it, because Path() folds
    "//" into "/".
    """
    given = str(path) if given is None else given
    if path.is_file():
        return [path.resolve()]
    if path.is_dir():
        found = sorted(p.resolve() for p in path.rglob("*.parquet") if p.is_file())
        if not found:
            raise NoParquetFilesError(f"{given}: no *.parquet file found in this folder. Pass a folder of LAION parquet files.")
        return found
    raise SourceNotFoundError(
        f"{given!r} is not a file, a folder or an http(s) URL. Check the path."
    )


def url_file_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "download.parquet"


def download(url: str, target: Path, progress: bool) -> None:
    """Stream ``url`` into ``target`` with a progress bar in bytes."""
    import httpx  # only URL sources need it; it adds a third to the start-up time

    log.info("downloading %s", url)
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            if response.status_code != 200:
                raise DownloadError(
                    f"{url}: the server returned HTTP {response.status_code}. Check the URL."
                )
            total = int(response.headers.get("content-length") or 0) or None
            with open(target, "wb") as handle, progress_bar(
                total=total, unit="B", unit_scale=True, desc=f"download {target.name}",
                enabled=progress,
            ) as bar:
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    handle.write(chunk)
                    bar.update(len(chunk))
    except httpx.HTTPError as error:
        raise DownloadError(f"{url}: download failed ({error}). Check the URL and the network.") from error
    log.info("downloaded %s (%d bytes)", url, target.stat().st_size)
