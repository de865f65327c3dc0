"""The mapping from parquet columns to ``images`` columns, decided from the file's schema alone.

LAION releases spell the same column differently (``URL`` and ``url``, ``TEXT`` and
``caption``, ``AESTHETIC_SCORE`` and ``aesthetic``), so names are matched without
regard to case through :data:`ALIASES`. Types are checked here, once per file, from
the parquet schema rather than from sampled rows, so a float64 WIDTH is known to be a
float column even when its first rows happen to be whole numbers.
"""

from dataclasses import dataclass, field

import pyarrow as pa

from ingest.errors import ColumnTypeError, MissingColumnError

# images column -> accepted parquet names, lower-cased, in order of preference.
ALIASES = {
    "url": ("url",),
    "caption": ("text", "caption"),
    "width": ("width",),
    "height": ("height",),
    "similarity": ("similarity",),
    "punsafe": ("punsafe",),
    "pwatermark": ("pwatermark",),
    "aesthetic": ("aesthetic", "aesthetic_score"),
    "hash": ("hash",),
    "language": ("language",),
    "license": ("license",),
    "nsfw": ("nsfw",),
}

REQUIRED = ("url", "caption")

# Storage kind of each images column: "text", "int" or "real".
KINDS = {
    "url": "text", "caption": "text", "language": "text", "license": "text", "nsfw": "text",
    "width": "int", "height": "int", "hash": "int",
    "similarity": "real", "punsafe": "real", "pwatermark": "real", "aesthetic": "real",
}

# Columns that carry no information of their own and are dropped without a report:
# pandas writes its row index under this name.
IGNORED = frozenset({"__index_level_0__"})


@dataclass
class ColumnPlan:
    """The mapping for one file: images column -> parquet column, plus what is left over."""

    sources: dict[str, str]
    types: dict[str, pa.DataType]
    unknown: list[str] = field(default_factory=list)

    @property
    def read_columns(self) -> list[str]:
        """Parquet columns to read, so unknown columns are never decoded."""
        return list(self.sources.values())


def plan_columns(schema: pa.Schema, file_name: str) -> ColumnPlan:
    """Match ``schema`` against :data:`ALIASES`; raise if a required column is missing."""
    by_alias = {alias: target for target, names in ALIASES.items() for alias in names}
    sources: dict[str, str] = {}
    types: dict[str, pa.DataType] = {}
    unknown: list[str] = []
    for name, type_ in zip(schema.names, schema.types):
        target = by_alias.get(name.lower())
        if target is None or target in sources:
            if name not in IGNORED:
                unknown.append(name)
            continue
        check_type(target, type_, name, file_name)
        sources[target] = name
        types[target] = type_
    for target in REQUIRED:
        if target not in sources:
            raise MissingColumnError(missing_message(target, schema.names, file_name))
    return ColumnPlan(sources, types, unknown)


def missing_message(target: str, found: list[str], file_name: str) -> str:
    expected = " or ".join(name.upper() if target == "url" else name for name in ALIASES[target])
    return (
        f"{file_name}: no {target} column (expected {expected}, any case). "
        f"Columns found: {', '.join(found) or '(none)'}. "
        "Pass a LAION metadata parquet file that has URL and TEXT (or url and caption) columns."
    )


def check_type(target: str, type_: pa.DataType, name: str, file_name: str) -> None:
    """Raise ColumnTypeError unless ``type_`` can be stored as ``KINDS[target]``."""
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    kind = KINDS[target]
    numeric = pa.types.is_integer(type_) or pa.types.is_floating(type_)
    textual = pa.types.is_string(type_) or pa.types.is_large_string(type_)
    # A caption column that pandas saw only as NaN is written as float64.
    ok = pa.types.is_null(type_) or (textual or pa.types.is_floating(type_) if kind == "text" else numeric)
    if not ok:
        expected = "a string" if kind == "text" else "a number"
        raise ColumnTypeError(
            f"{file_name}: column {name!r} has type {type_}, expected {expected} "
            f"for images.{target}. Rewrite the file with {name} as {expected} column "
            "or rename the column so it is not read."
        )
