"""The shapes of gridshift.yaml (DESIGN.md §3.4) and of a job spec (§3.3), as pydantic models.

These models check structure only: which keys exist, and their basic types. Meaning (durations,
times, units, cross-references) is checked when they become domain records, in ``site`` and
``jobs``. ``validate`` turns pydantic's errors into one ``ConfigError`` that names the file, the
field, the value and what would be accepted, with a "did you mean" for unknown keys.
"""

from __future__ import annotations

import difflib
import types
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gridshift.domain import ConfigError

Scalar = str | int | float


class Strict(BaseModel):
    # strict: YAML's true/false must not become 1/0, nor "8" become 8
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- gridshift.yaml ---------------------------------------------------------------------------


class GpuPowerSpec(Strict):
    idle: float
    max: float


class CapWindowSpec(Strict):
    start: str
    end: str
    kw: float


class PowerCapSpec(Strict):
    default: float | None = None
    windows: list[CapWindowSpec] = Field(default_factory=list)


class TariffSpec(Strict):
    kind: Literal["wholesale", "fixed"]
    adder_usd_per_mwh: float | None = None
    usd_per_mwh: float | None = None


class ClusterSpec(Strict):
    name: str
    zone: str
    executor: str = "local"
    executor_options: dict[str, Any] = Field(default_factory=dict)
    gpus: int | Literal["unlimited"]
    gpu_type: str = "H100"
    gpu_power_w: GpuPowerSpec | None = None
    pue: float = 1.4
    power_cap_kw: float | PowerCapSpec | None = None
    tariff: TariffSpec = TariffSpec(kind="wholesale")


class SignalSpec(Strict):
    zone: str
    kind: str
    source: str = "file"
    path: str | None = None
    format: str | None = None
    time_column: str | None = None
    value_column: str | None = None
    unit: str | None = None
    timezone: str | None = None
    start: str | None = None
    # live providers
    region: str | None = None
    base_url: str | None = None
    staleness: str | None = None
    emission_factor: str | None = None
    eur_usd: float | None = None
    latitude: float | None = None
    longitude: float | None = None


class ObjectiveSpec(Strict):
    mode: Literal["cost", "carbon", "combined"] | None = None
    carbon_price_usd_per_tonne: float | None = None


class SiteSpec(Strict):
    clusters: list[ClusterSpec]
    signals: list[SignalSpec] = Field(default_factory=list)
    objective: ObjectiveSpec = ObjectiveSpec()


# --- job spec ---------------------------------------------------------------------------------


class ResourcesSpec(Strict):
    gpus: int = 1
    gpu_type: str | None = None


class InterruptibleSpec(Strict):
    checkpoint_overhead: Scalar = "5m"


class ElasticSpec(Strict):
    min_gpus: int
    max_gpus: int


class PlacementSpec(Strict):
    zones: list[str] = Field(default_factory=list)


class PowerSpec(Strict):
    watts_per_gpu: float


class JobSpec(Strict):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["training", "fine-tuning", "batch-inference", "evaluation"] = "training"
    command: str | list[str] | None = None
    image: str | None = None
    env: dict[str, Scalar | bool] = Field(default_factory=dict)
    resources: ResourcesSpec = ResourcesSpec()
    duration: Scalar
    deadline: str | None = None
    within: Scalar | None = None
    earliest_start: str | None = None
    priority: Literal["low", "normal", "high", "critical"] = "normal"
    interruptible: bool | InterruptibleSpec = False
    elastic: ElasticSpec | None = None
    placement: PlacementSpec | None = None
    power: PowerSpec | None = None
    team: str | None = None
    workdir: str | None = None  # the working directory of the job's command (local executor)


# --- error translation ------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation may hold (through Optional, Union, list, dict)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list, dict):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that holds the key at ``loc`` (ignoring list indices and union branch tags)."""
    current: list[type[BaseModel]] = [root]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt: list[type[BaseModel]] = []
        for model in current:
            if part in model.model_fields:
                nxt.extend(_models_in(model.model_fields[part].annotation))
        if not nxt:
            # a union branch tag such as 'PowerCapSpec' or 'list[str]': stay where we are
            continue
        current = nxt
    return current[0] if current else None


def _field_path(loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        elif part in _all_fields(root):
            parts.append(part)
    return ".".join(parts)


def _all_fields(root: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    pending = [root]
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(name)
            pending.extend(_models_in(info.annotation))
    return names


def _accepted(model: type[BaseModel] | None) -> str | None:
    if model is None:
        return None
    return "keys " + ", ".join(model.model_fields)


def validate(model: type[M], data: Any, source: str, prefix: str = "") -> M:
    """``model`` from ``data``, or one ``ConfigError`` for the first problem (and a count)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of keys, got {type(data).__name__}",
            source=source,
            field=prefix or None,
            value=data if isinstance(data, str | int | float) else None,
            accepted=_accepted(model),
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # Prefer unknown keys (a typo explains the rest), then missing ones.
        errors.sort(key=lambda e: {"extra_forbidden": 0, "missing": 1}.get(e["type"], 2))
        first = errors[0]
        loc = tuple(first["loc"])
        located = loc[:-1] if first["type"] == "extra_forbidden" else loc
        field = ".".join(p for p in (prefix, _field_path(located, model)) if p) or None
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        if first["type"] == "extra_forbidden":
            holder = _model_at(model, loc[:-1])
            known = list(holder.model_fields) if holder else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            suggestion = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"unknown key {str(loc[-1])!r}{more}",
                source=source,
                field=field,
                value=first.get("input"),
                accepted=f"{suggestion}known keys here: {', '.join(known)}",
            ) from None
        if first["type"] == "missing":
            raise ConfigError(
                f"required key is missing{more}",
                source=source,
                field=field,
                accepted=f"add '{loc[-1]}:'",
            ) from None
        value = first.get("input")
        expected = _describe_expected(first)
        message = (
            "not one of the accepted values"
            if first["type"] == "literal_error"
            else (first["msg"].rstrip(".").lower())
        )
        raise ConfigError(
            f"{message}{more}",
            source=source,
            field=field,
            value=value if isinstance(value, str | int | float | bool) else None,
            accepted=expected,
        ) from None


def _describe_expected(error: Any) -> str | None:
    ctx = error.get("ctx") or {}
    if "expected" in ctx:
        return str(ctx["expected"])
    kind = error["type"]
    return {
        "int_parsing": "a whole number",
        "int_type": "a whole number",
        "int_from_float": "a whole number",
        "float_parsing": "a number",
        "float_type": "a number",
        "string_type": "text",
        "bool_type": "true or false",
        "bool_parsing": "true or false",
        "list_type": "a list",
        "dict_type": "a mapping of keys",
        "model_type": "a mapping of keys",
    }.get(kind)
