"""Shared CSV reading for the importers: bytes or path in, a frame of strings out.

Every failure of the CSV layer (not UTF-8, malformed quoting, no header, empty) becomes one
``SignalDataError``; nothing from pandas escapes.
"""

from __future__ import annotations

import csv
import difflib
import io
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from gridshift.domain import ConfigError, SignalDataError

if TYPE_CHECKING:
    from gridshift.signals.importers import Source

_GZIP_MAGIC = b"\x1f\x8b"
MAX_BYTES = 512 * 1024 * 1024


def read_bytes(source: Source, label: str) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        try:
            if source.stat().st_size > MAX_BYTES:
                raise SignalDataError(
                    f"file is larger than {MAX_BYTES // 2**20} MiB",
                    source=label,
                    hint="split it by year and import each part",
                )
            data = source.read_bytes()
        except FileNotFoundError:
            raise SignalDataError("no such file", source=label) from None
        except IsADirectoryError:
            raise SignalDataError("is a directory, not a file", source=label) from None
        except PermissionError:
            raise SignalDataError("permission denied", source=label) from None
    if data[:2] == _GZIP_MAGIC:
        import gzip

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise SignalDataError(f"damaged gzip file ({exc})", source=label) from None
    return data


def read_csv(source: Source, label: str) -> pd.DataFrame:
    """The file as a frame of strings (no type guessing), header required."""
    data = read_bytes(source, label)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SignalDataError(
            f"not UTF-8 text (byte {exc.start})",
            source=label,
            hint="save the file as UTF-8 CSV",
        ) from None
    if "\x00" in text:
        raise SignalDataError("contains NUL bytes: not a CSV file", source=label)
    if not text.strip():
        raise SignalDataError("the file is empty", source=label)
    _check_field_counts(text, label)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            on_bad_lines="error",
            index_col=False,  # never guess an index column: rows longer than the header fail
            engine="c",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SignalDataError(f"not a readable CSV file ({first})", source=label) from None
    frame.columns = [str(c) for c in frame.columns]
    if len(set(frame.columns)) != len(frame.columns):
        raise SignalDataError("the header repeats a column name", source=label)
    return frame


def _check_field_counts(text: str, label: str) -> None:
    """Refuse rows with more fields than the header (pandas would shift or drop them)."""
    try:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, [])
        for line, row in enumerate(reader, start=2):
            if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
                raise SignalDataError(
                    f"row {line} has {len(row)} fields but the header has {len(header)}",
                    source=label,
                    rows=[line],
                    hint="check the delimiter and quoting of that row",
                )
    except csv.Error as exc:
        raise SignalDataError(f"not a readable CSV file ({exc})", source=label) from None


def rows_of(frame: pd.DataFrame) -> npt.NDArray[np.int64]:
    """1-based line numbers of the data rows (the header is line 1)."""
    return np.arange(2, len(frame) + 2, dtype=np.int64)


def normalise(name: str) -> str:
    return " ".join(name.replace("₂", "2").lower().split())


def find_column(
    frame: pd.DataFrame, wanted: str, *, field: str, label: str, candidates: tuple[str, ...] = ()
) -> str:
    """The column named ``wanted`` (exactly, else ignoring case, spacing and CO₂/CO2)."""
    if wanted in frame.columns:
        return wanted
    by_norm = {normalise(c): c for c in frame.columns}
    for name in (wanted, *candidates):
        if normalise(name) in by_norm:
            return by_norm[normalise(name)]
    close = difflib.get_close_matches(wanted, list(frame.columns), n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(
        "no such column in the file",
        source=label,
        field=field,
        value=wanted,
        accepted=f"{hint}columns are: {', '.join(repr(c) for c in frame.columns)}",
    )


def find_column_like(frame: pd.DataFrame, *needles: str) -> list[str]:
    """Columns whose normalised name contains every needle."""
    return [c for c in frame.columns if all(n in normalise(c) for n in needles)]
