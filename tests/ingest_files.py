"""Parquet files for the ingest tests, written with pyarrow under each LAION schema.

Column names and types are the published ones (see the schema table in the ingest
issue): float64 WIDTH and HEIGHT with NaN, signed int64 hash, lower-case relaion
columns. Every file contains the same three logical rows so the stored values can be
compared across schemas.
"""

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

F64, F32, I64, STR = pa.float64(), pa.float32(), pa.int64(), pa.string()
NAN = math.nan
HASH = -3942810832793181892

# The logical rows, as images column -> value; None where the row has no value.
ROWS = {
    "url": ["https://www.Example.com/a.jpg", "http://img.test.org/b.png", "http://img.test.org/c.png"],
    "caption": ["Dvořák at the piano, 東京の夜景", None, "plain caption"],
    "width": [1024.0, NAN, 360.0],
    "height": [768.0, NAN, 480.0],
    "similarity": [0.31, 0.29, NAN],
    "punsafe": [0.01, 0.5, 0.2],
    "pwatermark": [0.2, 0.9, 0.1],
    "aesthetic": [6.5, 5.0, NAN],
    "hash": [HASH, 17, 0],
    "language": ["en", None, "de"],
    "license": ["?", None, "cc-by"],
    "nsfw": ["UNLIKELY", "UNSURE", None],
}
EXTRA = {
    "SAMPLE_ID": (I64, [1, 2, 3]),
    "md5": (STR, ["a" * 32, "b" * 32, "c" * 32]),
    "__index_level_0__": (I64, [0, 1, 2]),
    "key": (STR, ["000000001", "000000002", "000000003"]),
    "original_width": (I64, [2048, 0, 720]),
    "sha256": (STR, ["d" * 64, "e" * 64, "f" * 64]),
}

# release -> [(parquet column, images column or None for an extra, parquet type)]
_BASE = [("SAMPLE_ID", None, I64), ("URL", "url", STR), ("TEXT", "caption", STR),
         ("HEIGHT", "height", F64), ("WIDTH", "width", F64), ("LICENSE", "license", STR),
         ("NSFW", "nsfw", STR), ("similarity", "similarity", F64)]
_JOINED = _BASE + [("punsafe", "punsafe", F32), ("pwatermark", "pwatermark", F32)]
SCHEMAS = {
    "laion400m": _BASE,
    "laion2B-en-joined": _JOINED,
    "laion2B-en-md5": _JOINED + [("md5", None, STR)],
    "laion2B-en-aesthetic": [
        ("URL", "url", STR), ("TEXT", "caption", STR), ("WIDTH", "width", F64),
        ("HEIGHT", "height", F64), ("similarity", "similarity", F64), ("hash", "hash", I64),
        ("punsafe", "punsafe", F32), ("pwatermark", "pwatermark", F32), ("aesthetic", "aesthetic", F32),
    ],
    "improved_aesthetics_6plus": [
        ("URL", "url", STR), ("TEXT", "caption", STR), ("WIDTH", "width", F64),
        ("HEIGHT", "height", F64), ("similarity", "similarity", F64), ("punsafe", "punsafe", F32),
        ("pwatermark", "pwatermark", F32), ("AESTHETIC_SCORE", "aesthetic", F32),
        ("hash", "hash", I64), ("__index_level_0__", None, I64),
    ],
    "laion-art": [
        ("URL", "url", STR), ("TEXT", "caption", STR), ("similarity", "similarity", F64),
        ("hash", "hash", I64), ("punsafe", "punsafe", F32), ("pwatermark", "pwatermark", F32),
        ("aesthetic", "aesthetic", F32), ("LANGUAGE", "language", STR),
    ],
    "laion-high-resolution": [
        ("URL", "url", STR), ("TEXT", "caption", STR), ("similarity", "similarity", F64),
        ("hash", "hash", I64), ("punsafe", "punsafe", F32), ("pwatermark", "pwatermark", F32),
        ("LANGUAGE", "language", STR),
    ],
    "relaion2B-en-research": [
        ("url", "url", STR), ("caption", "caption", STR), ("key", None, STR),
        ("similarity", "similarity", F64), ("width", "width", I64), ("height", "height", I64),
        ("original_width", None, I64), ("sha256", None, STR), ("punsafe", "punsafe", F64),
        ("pwatermark", "pwatermark", F64),
    ],
}

# Columns each release is expected to report as not stored.
UNKNOWN = {
    "laion400m": ["SAMPLE_ID"],
    "laion2B-en-joined": ["SAMPLE_ID"],
    "laion2B-en-md5": ["SAMPLE_ID", "md5"],
    "relaion2B-en-research": ["key", "original_width", "sha256"],
}


def column_values(target: str, type_: pa.DataType, release: str) -> pa.Array:
    values = list(ROWS[target])
    if target == "url":
        # Distinct URLs per release, so one database can hold every release.
        values = [f"{url}?release={release}" for url in values]
    if pa.types.is_integer(type_) and target in ("width", "height"):
        values = [None if isinstance(v, float) and math.isnan(v) else int(v) for v in values]
    return pa.array(values, type_)


def write_release(release: str, folder: Path) -> Path:
    """Write the three rows under ``release``'s schema and return the file's path."""
    arrays, names = [], []
    for name, target, type_ in SCHEMAS[release]:
        arrays.append(pa.array(EXTRA[name][1], type_) if target is None
                      else column_values(target, type_, release))
        names.append(name)
    path = folder / f"{release}.parquet"
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path)
    return path


def write_table(path: Path, columns: dict[str, list], types: dict[str, pa.DataType] | None = None) -> Path:
    """Write ``columns`` (name -> values) to ``path``; typed as ``types`` gives, string by default."""
    types = types or {}
    arrays = [pa.array(values, types.get(name, STR)) for name, values in columns.items()]
    pq.write_table(pa.Table.from_arrays(arrays, names=list(columns)), path)
    return path
