"""ENTSO-E A44 answers read: pure functions from the XML bytes to ``Prices`` (``entsoe_prices``
turns them into a ``Series`` or ``Forecast`` in USD/MWh), or a ``SignalDataError``; ``entsoe``
fetches the documents.

The answer is a ``Publication_MarketDocument`` (namespace
``urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:0``, ``:7:3`` and later; elements are
matched by local name). Each ``TimeSeries`` carries ``currency_Unit.name`` (EUR),
``price_Measure_Unit.name`` (MWH) and ``curveType``, and holds ``Period`` elements: a
``timeInterval`` {``start``, ``end``}, a ``resolution`` (PT60M, PT30M, PT15M) and ``Point``
elements {``position`` (1-based), ``price.amount``}. With curve type A01 every position is
present; with A03 ("variable sized block") a position whose price equals the previous one is left
out, so missing positions are filled forward to the end of the period. A ``TimeSeries`` whose
``contract_MarketAgreement.type`` is not A01 (day-ahead) is skipped. A price is a plain ASCII
decimal (``-12.5``, ``1e3``); anything else (``1_000``, non-ASCII digits, ``NaN``) is kept as a
missing point and counted as non-numeric. Each price is converted to USD at its series' currency
rate (``entsoe_prices.usd_rate``).

Several auctions: where a zone has more than one day-ahead auction, each ``TimeSeries`` says which
in ``classificationSequence_AttributeInstanceComponent.position``. For DE-LU and AT, 1 is the
Single Day-Ahead Coupling (SDAC, gate closure 12:00 CE(S)T) and 2 the separate 10:15 EXAA auction.
Only position 1 (``DAY_AHEAD_SEQUENCE``) and series without the element are read; the series'
issues say so (``sequence``). Time that only another position covers (EXAA published, SDAC not
yet) is left out with a warning (``day_ahead_missing``); an answer with nothing else is a
``SignalDataError``: EXAA prices are never served as the day-ahead price.

Resolutions: since the SDAC's 15-minute go-live (delivery from 2025-10-01) a range can hold hourly
and 15-minute periods; a document's points are added finest resolution first, then in document
order, and ``entsoe_prices`` puts them on the finest step.

No data is answered with an ``Acknowledgement_MarketDocument`` (``Reason`` {``code`` 999,
``text`` "No matching data found ..."}), with HTTP 200 (an ``AcknowledgementError`` with the text
here) or HTTP 400 (a ``ProviderRequestError`` from the HTTP layer, whose message carries the same
text through ``acknowledgement_text``); ``is_no_data`` tells either apart from other
acknowledgements (ENTSO-E uses code 999 for other refusals too, so the text is checked as well).

``createdDateTime`` is when ENTSO-E built this answer (about when it was downloaded), not when the
prices were published; the newest one read is kept (``Prices.created``) as a forecast's
``generated_at`` bound. XML with a DOCTYPE or an ENTITY declaration is refused before parsing (no
entity expansion).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from gridshift.domain import (
    Forecast,
    ProviderRequestError,
    Series,
    SignalDataError,
    SignalKind,
)
from gridshift.domain.timeutil import require_utc
from gridshift.signals.providers._readers import aware_utc
from gridshift.signals.providers.entsoe_prices import (
    DAY_AHEAD_SEQUENCE,
    Prices,
    default_rates,
    to_forecast,
    to_series,
    usd_rate,
)

LABEL = "entsoe A44"
DAY_AHEAD = "A01"  # contract_MarketAgreement.type of day-ahead prices
SEQUENCE_TAG = "classificationSequence_AttributeInstanceComponent.position"
NO_DATA_REASON = "999"  # Reason.code of "No matching data found" (and of other refusals)
NO_DATA_TEXT = "no matching data"
MAX_PERIOD_SLOTS = 400 * 96  # a Period longer than this is refused (a normal one is a day)

RESOLUTIONS: dict[str, int] = {"PT15M": 900, "PT30M": 1800, "PT60M": 3600, "PT1H": 3600}
_POSITION_RE = re.compile(r"^[0-9]{1,9}$")
_PRICE_RE = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$", re.ASCII)
_ENCODING_RE = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_ENCODINGS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_ACK_PREFIX = "ENTSO-E answered with an acknowledgement: "
_ACK_CODE_RE = re.compile(r"\(reason ([^()]{0,10})\)")


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element if _local(child.tag) == name)


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next(_children(element, name), None)


def _text(element: ET.Element, name: str, where: str, label: str) -> str:
    child = _child(element, name)
    text = None if child is None or child.text is None else child.text.strip()
    if not text:
        raise SignalDataError(f"{where} has no {name}", source=label)
    return text


def _root(body: bytes, label: str) -> ET.Element:
    if not body or not body.strip():
        raise SignalDataError("the answer is empty", source=label)
    lowered = body.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise SignalDataError("the answer declares a DOCTYPE or ENTITY; refused", source=label)
    declared = _ENCODING_RE.match(body.removeprefix(b"\xef\xbb\xbf")[:400])
    encoding = declared.group(1).decode("ascii", "replace").lower() if declared else "utf-8"
    if b"\x00" in body or encoding not in _ENCODINGS:
        # Only UTF-8 is read, so the DOCTYPE/ENTITY check above cannot be bypassed by encoding.
        raise SignalDataError("the answer is not UTF-8 XML", source=label)
    try:
        return ET.fromstring(body)
    except (ET.ParseError, ValueError, LookupError, RecursionError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise SignalDataError(f"the answer is not valid XML ({detail})", source=label) from None


class AcknowledgementError(SignalDataError):
    """ENTSO-E answered an Acknowledgement_MarketDocument (usually: no matching data).

    ``reasons`` are its (code, text) pairs."""

    def __init__(
        self, message: str, *, source: str | None = None, reasons: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message, source=source)
        self.reasons = reasons


def _acknowledgement(root: ET.Element, label: str) -> AcknowledgementError:
    reasons: list[tuple[str, str]] = []
    for reason in _children(root, "Reason"):
        code, text = _child(reason, "code"), _child(reason, "text")
        said = " ".join((text.text or "").split())[:240] if text is not None else ""
        number = (code.text or "").strip()[:10] if code is not None else ""
        reasons.append((number, said))
    described = [
        f"{said or 'no reason text'}" + (f" (reason {number})" if number else "")
        for number, said in reasons[:3]
    ]
    return AcknowledgementError(
        f"{_ACK_PREFIX}{'; '.join(described) or 'no reason given'}",
        source=label,
        reasons=tuple(reasons),
    )


def acknowledgement_text(body: bytes) -> str | None:
    """The reason of an acknowledgement answer (ENTSO-E sends one with HTTP 400 too), or None
    when ``body`` is not one."""
    try:
        root = _root(body, "entsoe")
    except SignalDataError:
        return None
    if _local(root.tag) != "Acknowledgement_MarketDocument":
        return None
    return _acknowledgement(root, "entsoe").detail


def is_no_data(error: Exception) -> bool:
    """Whether ``error`` is ENTSO-E's "no matching data" acknowledgement: every reason has code
    999 and the text says no matching data (999 also stands for other refusals, such as too much
    data asked for). Answered with HTTP 200 it is an ``AcknowledgementError``; with HTTP 400 a
    ``ProviderRequestError`` whose message holds ``acknowledgement_text``."""
    if isinstance(error, AcknowledgementError):
        return bool(error.reasons) and all(
            code == NO_DATA_REASON and NO_DATA_TEXT in text.lower() for code, text in error.reasons
        )
    if isinstance(error, ProviderRequestError) and error.status == 400:
        _, marker, said = error.detail.partition(_ACK_PREFIX)
        found = _ACK_CODE_RE.findall(said)
        return (
            bool(marker)
            and bool(found)
            and all(code == NO_DATA_REASON for code in found)
            and NO_DATA_TEXT in said.lower()
        )
    return False


def _price(text: str | None) -> float:
    """A plain ASCII decimal, or NaN (``float`` alone would take ``1_000``, ``١٢`` and ``inf``)."""
    if text is None or not _PRICE_RE.fullmatch(text):
        return math.nan
    value = float(text)
    return value if math.isfinite(value) else math.nan


def _position(point: ET.Element, where: str, slots: int, label: str) -> int:
    text = _text(point, "position", where, label)
    if not _POSITION_RE.match(text) or not 1 <= int(text) <= slots:
        raise SignalDataError(f"{where}: position {text[:20]!r} is not in 1..{slots}", source=label)
    return int(text)


def _sequence(series: ET.Element, where: str, label: str) -> int | None:
    """The ``classificationSequence_AttributeInstanceComponent.position`` of a ``TimeSeries``, or
    None when it has none."""
    element = _child(series, SEQUENCE_TAG)
    text = None if element is None or element.text is None else element.text.strip()
    if not text:
        return None
    if not _POSITION_RE.match(text):
        raise SignalDataError(
            f"{where}: classificationSequence position {text[:20]!r} is not a number",
            source=label,
        )
    return int(text)


def _period(period: ET.Element, where: str, label: str) -> tuple[int, int, int]:
    """(start in Unix seconds, step in seconds, number of slots) of a ``Period``."""
    interval = _child(period, "timeInterval")
    if interval is None:
        raise SignalDataError(f"{where} has no timeInterval", source=label)
    start = aware_utc(_text(interval, "start", where, label), f"{where} start", label)
    end = aware_utc(_text(interval, "end", where, label), f"{where} end", label)
    resolution = _text(period, "resolution", where, label)
    if resolution not in RESOLUTIONS:
        raise SignalDataError(
            f"{where}: resolution {resolution[:20]!r} is not one of {', '.join(RESOLUTIONS)}",
            source=label,
        )
    step = RESOLUTIONS[resolution]
    span = int((end - start).total_seconds())
    if span <= 0 or span % step or span // step > MAX_PERIOD_SLOTS:
        raise SignalDataError(
            f"{where}: {start:%Y-%m-%dT%H:%MZ}..{end:%Y-%m-%dT%H:%MZ} is not a whole number "
            f"of {resolution} steps (at most {MAX_PERIOD_SLOTS})",
            source=label,
        )
    return int(start.timestamp()), step, span // step


@dataclass(frozen=True)
class _PeriodPrices:
    """One Period read: its span in Unix seconds, its step, its (time, price) points and the
    count of non-numeric prices."""

    start: int
    end: int
    step: int
    points: list[tuple[int, float]]
    non_numeric: int


def _period_prices(period: ET.Element, where: str, fill: bool, label: str) -> _PeriodPrices:
    """The prices of one Period; with ``fill`` (curve type A03) a left-out position repeats the
    price before it, to the end of the period."""
    start, step, slots = _period(period, where, label)
    given: dict[int, float] = {}
    bad = 0
    for n, point in enumerate(_children(period, "Point"), 1):
        position = _position(point, f"{where} Point {n}", slots, label)
        amount = _child(point, "price.amount")
        text = None if amount is None or amount.text is None else amount.text.strip()
        if not text:
            raise SignalDataError(f"{where} Point {n} has no price.amount", source=label)
        price = _price(text)
        bad += math.isnan(price)
        given.setdefault(position, price)
    out: list[tuple[int, float]] = []
    last: float | None = None
    for position in range(1, slots + 1):
        current = given.get(position, last if fill else None)
        if current is not None:
            out.append((start + (position - 1) * step, current))
        last = current
    return _PeriodPrices(start, start + step * slots, step, out, bad)


def _uncovered(start: int, end: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``[start, end)`` outside the sorted, disjoint intervals ``covered``."""
    out: list[tuple[int, int]] = []
    cursor = start
    for lo, hi in covered:
        if hi <= cursor:
            continue
        if lo >= end:
            break
        if lo > cursor:
            out.append((cursor, lo))
        cursor = max(cursor, hi)
        if cursor >= end:
            break
    if cursor < end:
        out.append((cursor, end))
    return out


def _merged(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def read_document(
    body: bytes,
    label: str,
    rates: Mapping[str, float],
    raw: Prices,
    sequence: int = DAY_AHEAD_SEQUENCE,
) -> None:
    """Add a Publication_MarketDocument's day-ahead prices (USD/MWh) to ``raw``: the series of
    auction ``sequence`` and those that name none (see the module docstring)."""
    root = _root(body, label)
    kind = _local(root.tag)
    if kind == "Acknowledgement_MarketDocument":
        raise _acknowledgement(root, label)
    if kind != "Publication_MarketDocument":
        raise SignalDataError(f"unexpected document <{kind[:60]}>", source=label)
    created_text = _text(root, "createdDateTime", "the document", label)
    created = aware_utc(created_text, "createdDateTime", label)
    raw.created = created if raw.created is None else max(raw.created, created)
    kept: list[tuple[_PeriodPrices, float]] = []  # with the USD rate
    others: list[tuple[int, int, int, int]] = []  # (start, end, step, sequence)
    series = list(_children(root, "TimeSeries"))
    if not series:
        raise SignalDataError("the document holds no TimeSeries", source=label)
    for s, ts in enumerate(series, 1):
        where = f"TimeSeries {s}"
        contract = _child(ts, "contract_MarketAgreement.type")
        if contract is not None and (contract.text or "").strip() not in ("", DAY_AHEAD):
            continue
        position = _sequence(ts, where, label)
        if position is not None and position != sequence:  # another auction (EXAA): its span
            for p, period in enumerate(_children(ts, "Period"), 1):
                start, step, slots = _period(period, f"{where} Period {p}", label)
                others.append((start, start + step * slots, step, position))
            raw.other_sequences.add(position)
            continue
        rate = usd_rate(_text(ts, "currency_Unit.name", where, label), rates, label)
        measure = _text(ts, "price_Measure_Unit.name", where, label)
        if measure.upper() != "MWH":
            raise SignalDataError(
                f"{where}: prices are per {measure[:20]!r}, not MWH", source=label
            )
        curve = _child(ts, "curveType")
        fill = curve is not None and (curve.text or "").strip() == "A03"
        for p, period in enumerate(_children(ts, "Period"), 1):
            read = _period_prices(period, f"{where} Period {p}", fill, label)
            kept.append((read, rate))
            raw.non_numeric += read.non_numeric
            if position is not None:
                raw.sequence_points += len(read.points)
    covered = _merged([(read.start, read.end) for read, _ in kept])
    for start, end, step, position in others:
        for lo, hi in _uncovered(start, end, covered):
            raw.other_only.append((lo, hi, step, position))
    for read, rate in sorted(kept, key=lambda item: item[0].step):  # finest first, then in order
        for moment, price in read.points:
            raw.times.append(moment)
            raw.values.append(price * rate)
            raw.steps.append(read.step)


def parse_document(
    body: bytes,
    zone: str,
    kind: SignalKind,
    label: str = LABEL,
    rates: Mapping[str, float] | None = None,
) -> Series:
    """An A44 answer as a ``Series`` in USD/MWh, or ``SignalDataError``."""
    raw = Prices()
    read_document(body, label, default_rates() if rates is None else rates, raw)
    return to_series(raw, zone, kind, label)


def parse_forecast(
    body: bytes,
    zone: str,
    kind: SignalKind,
    now: datetime,
    label: str = LABEL,
    rates: Mapping[str, float] | None = None,
) -> Forecast:
    """The prices of an A44 answer from the step holding ``now`` on, as a ``Forecast``.

    ``as_of`` and ``generated_at`` are the document's ``createdDateTime`` (when ENTSO-E built the
    answer), or ``now`` when that is later (a clock ahead of ours)."""
    raw = Prices()
    read_document(body, label, default_rates() if rates is None else rates, raw)
    return to_forecast(raw, zone, kind, require_utc(now, "now"), label)
