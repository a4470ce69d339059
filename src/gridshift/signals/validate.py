"""Validation: turn the raw points an importer read into a ``Series`` and a quality report.

Every importer ends here, so every source obeys the same rules:

- **Refused** (``SignalDataError``, nothing stored): no rows; times that do not parse; times without
  a zone where the format does not define one; fewer than two distinct valid times; no finite
  value at all; a carbon, marginal or price series whose values are all zero (a source that
  returned no data).
- **Reported, then resolved in a stated way** (an ``Issue`` with counts and locations):
  non-monotonic times (sorted); duplicated times (the first kept; conflicting values said so);
  gaps (left as gaps: nothing is filled here; alignment decides); daylight-saving artefacts (gaps
  or duplicates at the zone's local clock changes, which is what local time labelled as UTC looks
  like); NaN or non-numeric values (kept as missing points); values out of the kind's range, such as
  negative carbon intensity (made missing); irregular steps.
- **Noted**: negative prices (valid market data), estimated points, the file's own zone label when
  it differs from the zone asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from gridshift.domain import Quality, Series, SignalDataError, SignalKind
from gridshift.domain.signal import unit_conversion, zone_timezone
from gridshift.domain.timeutil import to_iso

Severity = Literal["info", "warning"]
MAX_LOCATIONS = 5
EARLIEST_S = -2208988800  # 1900-01-01T00:00:00Z
LATEST_S = 7258118400  # 2200-01-01T00:00:00Z

ZONE_SUFFIX = r"(?:Z|z|UTC|[+-]\d\d:?\d\d)$"


@dataclass(frozen=True)
class Issue:
    """One kind of problem found in a series: how many points, and where (the first few)."""

    code: str  # gap | duplicate | non_monotonic | dst | nan | non_numeric | out_of_range | ...
    severity: Severity
    count: int
    message: str
    locations: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "count": self.count,
            "message": self.message,
            "locations": list(self.locations),
        }


@dataclass
class RawPoints:
    """What an importer read, before any validation. ``rows`` are 1-based file line numbers."""

    times: pd.Series[Any]  # strings, numbers (Unix seconds) or datetimes, as in the file
    values: pd.Series[Any]  # as in the file (strings or numbers)
    rows: npt.NDArray[np.int64]
    unit: str
    naive_times: Literal["utc", "reject"]  # what a time without a zone means in this format
    estimated: npt.NDArray[np.bool_] | None = None
    notes: list[Issue] = field(default_factory=list)


def _where(rows: npt.NDArray[np.int64], what: str = "row") -> tuple[str, ...]:
    return tuple(f"{what} {int(r)}" for r in rows[:MAX_LOCATIONS])


def _times_at(times: npt.NDArray[np.int64]) -> tuple[str, ...]:
    return tuple(to_iso(np.datetime64(int(t), "s")) for t in times[:MAX_LOCATIONS])


def _bad_rows(
    raw: RawPoints, bad: npt.NDArray[np.bool_], what: str, source: str
) -> SignalDataError:
    """'N <what>', with the bad rows and the first of them in the hint."""
    return SignalDataError(
        f"{int(bad.sum())} {what}",
        source=source,
        rows=raw.rows[bad],
        hint=f"first at {', '.join(_where(raw.rows[bad]))}",
    )


def parse_times(raw: RawPoints, source: str) -> npt.NDArray[np.int64]:
    """Unix seconds (UTC) for every row, or a ``SignalDataError`` naming the bad rows."""
    seconds = _parse_times(raw, source)
    bad = (seconds < EARLIEST_S) | (seconds >= LATEST_S)
    if bad.any():
        raise _bad_rows(raw, bad, "time(s) outside 1900-2199, the range gridshift handles", source)
    return seconds


def _parse_times(raw: RawPoints, source: str) -> npt.NDArray[np.int64]:
    times = raw.times
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        bad = times.isna().to_numpy()
        if bad.any():
            raise _bad_rows(raw, bad, "time value(s) could not be placed in UTC", source)
        # Whatever the column's unit, go to seconds without passing through nanoseconds
        # (which overflow after 2262).
        naive_utc = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return np.asarray(naive_utc.astype("datetime64[s]").astype(np.int64), dtype=np.int64)
    if pd.api.types.is_numeric_dtype(times.dtype):
        numbers = pd.to_numeric(times, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(numbers) | (np.abs(numbers) > 1e11)
        if bad.any():
            raise _bad_rows(raw, bad, "time value(s) are not valid Unix seconds", source)
        return np.round(numbers).astype(np.int64)
    try:
        text = times.astype("string").str.strip()
    except UnicodeDecodeError:  # binary values that are not UTF-8: keep them, marked
        text = (
            times.map(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
            .astype("string")
            .str.strip()
        )
    blank = text.isna() | (text == "")
    naive = (~text.str.contains(ZONE_SUFFIX, regex=True, na=False)) & ~blank
    if raw.naive_times == "reject" and bool(naive.any()):
        rows = raw.rows[naive.to_numpy()]
        raise SignalDataError(
            f"{int(naive.sum())} time(s) have no zone, e.g. {text[naive].iloc[0]!r} at "
            f"row {int(rows[0])}",
            source=source,
            rows=rows,
            hint="add --timezone UTC (or the zone the times are in), or use a column with offsets",
        )
    cleaned = text.str.replace(r"\s*UTC$", "Z", regex=True)
    try:
        parsed = pd.to_datetime(cleaned, format="ISO8601", utc=True, errors="coerce")
    except (ValueError, OverflowError, TypeError):
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    bad = parsed.isna().to_numpy() | blank.to_numpy()
    if bad.any():
        rows = raw.rows[bad]
        example = text[bad].iloc[0]
        raise SignalDataError(
            f"{int(bad.sum())} time value(s) could not be read as ISO-8601, e.g. {example!r} "
            f"at row {int(rows[0])}",
            source=source,
            rows=rows,
            hint="times must look like 2022-01-01 00:00:00 or 2022-01-01T00:00:00+01:00",
        )
    ns = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.asarray(ns // 1_000_000_000, dtype=np.int64)


def parse_values(raw: RawPoints, issues: list[Issue]) -> npt.NDArray[np.float64]:
    """Floats for every row; non-numeric text becomes NaN and is reported."""
    values = raw.values
    numbers = np.array(
        pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan),
        dtype=np.float64,
        copy=True,
    )
    if not pd.api.types.is_numeric_dtype(values.dtype):
        try:
            text = values.astype("string").str.strip()
        except (UnicodeDecodeError, ValueError, TypeError):
            raise SignalDataError(
                "the value column holds bytes that are not text", source=None
            ) from None
        present = ~(text.isna() | (text == "") | text.str.lower().isin(["nan", "null", "none"]))
        non_numeric = present.to_numpy() & np.isnan(numbers)
        if non_numeric.any():
            issues.append(
                Issue(
                    "non_numeric",
                    "warning",
                    int(non_numeric.sum()),
                    f"{int(non_numeric.sum())} value(s) are not numbers; kept as missing",
                    _where(raw.rows[non_numeric]),
                )
            )
    numbers[np.isinf(numbers)] = np.nan
    return numbers


def _dst_changes(zone: str, lo: int, hi: int) -> npt.NDArray[np.int64]:
    """UTC instants (Unix seconds) where the zone's local clock changes within ``[lo, hi]``."""
    name = zone_timezone(zone)
    if name == "UTC":
        return np.empty(0, dtype=np.int64)
    tz = ZoneInfo(name)
    hours = np.arange(lo - lo % 3600, hi + 3600, 3600, dtype=np.int64)
    if len(hours) > 24 * 366 * 30:  # a corrupt range; nothing sensible to check
        return np.empty(0, dtype=np.int64)
    instants = pd.DatetimeIndex(pd.to_datetime(hours, unit="s", utc=True))
    local = instants.tz_convert(tz).tz_localize(None)
    utcoff = np.asarray((local - instants.tz_localize(None)).total_seconds(), dtype=np.int64)
    changes = np.nonzero(np.diff(utcoff) != 0)[0] + 1
    return hours[changes]


def build_series(
    raw: RawPoints,
    *,
    zone: str,
    kind: SignalKind,
    source: str,
    unit_field: str = "unit",
) -> tuple[Series, list[Issue]]:
    """Validate raw points into a ``Series`` and the list of issues found (see module doc)."""
    issues: list[Issue] = list(raw.notes)
    if len(raw.rows) == 0:
        raise SignalDataError("the file has a header but no data rows", source=source)
    canonical, factor = unit_conversion(raw.unit, kind, unit_field)
    times = parse_times(raw, source)
    values = parse_values(raw, issues) * factor
    estimated = (
        raw.estimated if raw.estimated is not None else np.zeros(len(times), dtype=bool)
    ).astype(bool)
    rows = raw.rows

    # 1. Order: report descents, then sort (stable, so the first of duplicates stays first).
    descents = np.nonzero(np.diff(times) < 0)[0]
    if len(descents):
        issues.append(
            Issue(
                "non_monotonic",
                "warning",
                len(descents),
                f"times go backwards {len(descents)} time(s); sorted by time",
                _where(rows[descents + 1]),
            )
        )
        order = np.argsort(times, kind="stable")
        times, values, estimated, rows = times[order], values[order], estimated[order], rows[order]

    # 2. Duplicated times: keep the first; say whether the values disagreed.
    dup = np.zeros(len(times), dtype=bool)
    dup[1:] = times[1:] == times[:-1]
    if dup.any():
        first_idx = np.searchsorted(times, times[dup], side="left")
        conflicting = ~np.isclose(values[dup], values[first_idx], equal_nan=True)
        how = f", {int(conflicting.sum())} with conflicting values" if conflicting.any() else ""
        dup_issue = Issue(
            "duplicate",
            "warning",
            int(dup.sum()),
            f"{int(dup.sum())} duplicated time(s){how}; kept the first of each",
            _times_at(times[dup]),
        )
        dup_times = times[dup]
        times, values, estimated, rows = times[~dup], values[~dup], estimated[~dup], rows[~dup]
    else:
        dup_issue, dup_times = None, np.empty(0, dtype=np.int64)

    if len(times) < 2:
        raise SignalDataError(
            f"only {len(times)} distinct time(s); at least 2 are needed to know the resolution",
            source=source,
        )

    # 3. Values: NaN, out of range, all zero.
    nan = np.isnan(values)
    if nan.all():
        raise SignalDataError("no value in the file is a number", source=source)
    lower_bound = None if kind is SignalKind.PRICE else 0.0
    upper_bound = 1.0 if (kind is SignalKind.RENEWABLE and canonical == "fraction") else None
    out = np.zeros(len(values), dtype=bool)
    if lower_bound is not None:
        out |= values < lower_bound
    if upper_bound is not None:
        out |= values > upper_bound + 1e-9
    if out.any():
        allowed = ">= 0" if upper_bound is None else "between 0 and 1"
        issues.append(
            Issue(
                "out_of_range",
                "warning",
                int(out.sum()),
                f"{int(out.sum())} value(s) outside the valid range ({kind.value} must be "
                f"{allowed}); made missing",
                _times_at(times[out]),
            )
        )
        values = np.where(out, np.nan, values)
        nan = np.isnan(values)
    if nan.all():
        raise SignalDataError("no value in the file is valid", source=source)
    if nan.any():
        issues.append(
            Issue(
                "nan",
                "warning",
                int(nan.sum()),
                f"{int(nan.sum())} point(s) have no value; kept as missing",
                _times_at(times[nan]),
            )
        )
    finite = values[~nan]
    if kind is not SignalKind.RENEWABLE and bool(np.all(finite == 0)):
        raise SignalDataError(
            f"all {len(finite)} values are 0: the source returned no real {kind.value} data",
            source=source,
        )
    if kind is SignalKind.PRICE and bool(np.any(finite < 0)):
        negative = times[~nan][finite < 0]
        issues.append(
            Issue(
                "negative_price",
                "info",
                len(negative),
                f"{len(negative)} negative price(s): valid market data, kept",
                _times_at(negative),
            )
        )

    # 4. Resolution: the most common step. Gaps are steps larger than it.
    diffs = np.diff(times)
    steps, counts = np.unique(diffs, return_counts=True)
    step_s = int(steps[np.argmax(counts)])
    irregular = diffs % step_s != 0
    if irregular.any():
        issues.append(
            Issue(
                "irregular",
                "warning",
                int(irregular.sum()),
                f"{int(irregular.sum())} step(s) are not a multiple of the {step_s} s resolution",
                _times_at(times[1:][irregular]),
            )
        )
    gap_at = np.nonzero(diffs > step_s)[0]
    missing_steps = (diffs[gap_at] // step_s - 1).astype(np.int64)

    # 5. DST artefacts: gaps or duplicates next to the zone's local clock changes.
    changes = _dst_changes(zone, int(times[0]), int(times[-1]))
    near = max(2 * step_s, 7200)

    def at_change(instants: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        if len(changes) == 0 or len(instants) == 0:
            return np.zeros(len(instants), dtype=bool)
        distance = np.min(np.abs(changes[None, :] - instants[:, None]), axis=1)
        return np.asarray(distance <= near)

    gap_dst = at_change(times[gap_at] + step_s) if len(gap_at) else np.zeros(0, dtype=bool)
    dup_dst = at_change(dup_times)
    if gap_dst.any() or dup_dst.any():
        n_gap, n_dup = int(missing_steps[gap_dst].sum()), int(dup_dst.sum())
        where = np.concatenate([times[gap_at][gap_dst] + step_s, dup_times[dup_dst]])
        issues.append(
            Issue(
                "dst",
                "warning",
                n_gap + n_dup,
                f"{n_gap} missing and {n_dup} duplicated point(s) at {zone_timezone(zone)} "
                "clock changes: local time labelled as UTC looks like this",
                _times_at(np.sort(where)),
            )
        )
    if dup_issue is not None:
        issues.append(dup_issue)
    if len(gap_at):
        total = int(missing_steps.sum())
        if total:
            issues.append(
                Issue(
                    "gap",
                    "warning",
                    total,
                    f"{total} missing step(s) in {len(gap_at)} gap(s); left as gaps",
                    tuple(
                        f"{to_iso(np.datetime64(int(times[i] + step_s), 's'))} "
                        f"({int(missing_steps[k])} step(s))"
                        for k, i in enumerate(gap_at[:MAX_LOCATIONS])
                    ),
                )
            )

    quality = np.where(estimated, Quality.ESTIMATED, Quality.OK).astype(np.uint8)
    quality[nan] = Quality.MISSING
    if estimated.any():
        issues.append(
            Issue(
                "estimated",
                "info",
                int(estimated.sum()),
                f"{int(estimated.sum())} point(s) are estimates according to the source",
                _times_at(times[estimated]),
            )
        )
    series = Series(
        zone=zone,
        kind=kind,
        unit=canonical,
        times=times.astype("datetime64[s]"),
        values=values,
        quality=quality,
        step_s=step_s,
        source=source,
    )
    return series, issues


def coverage_pct(series: Series) -> float:
    """Share of the expected steps between the first and last point that hold a value (steps
    on the series' own grid, so irregular extra points never push it past 100 %)."""
    t = series.times.astype(np.int64)
    span = int(t[-1] - t[0]) // series.step_s + 1
    slots = np.unique((t[series.valid] - t[0]) // series.step_s)
    return 100.0 * float(len(slots)) / max(span, 1)
