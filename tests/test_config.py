"""Loading ``gridshift.yaml`` (DESIGN.md §3.4) and job specs (§3.3) from real files.

Every file is written into ``tmp_path``. Every refusal is checked the same way (``expect_error``):
a ``ConfigError`` (so a ``UserError``), whose ``source`` is the file, whose ``field`` is the dotted
path of the offending key, and whose message shows the offending value.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gridshift.config.jobs import load_job_spec, load_job_specs
from gridshift.config.site import SiteConfig, load_site
from gridshift.config.units import parse_duration, parse_time
from gridshift.config.yamlio import parse_yaml
from gridshift.domain import (
    ConfigError,
    GridshiftError,
    JobKind,
    ObjectiveMode,
    Priority,
    SignalKind,
    TariffKind,
    UserError,
)
from gridshift.signals.importers import import_file

SUBMITTED = datetime(2026, 11, 26, 8, tzinfo=UTC)

EM_CSV = textwrap.dedent(
    """\
    Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),\
Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,\
Data Estimated,Data Estimation Method
    2022-01-01 00:00:00,Germany,Germany,DE,163.46,213.79,81.25,73.73,entsoe.eu,false,
    2022-01-01 01:00:00,Germany,Germany,DE,166.66,218.0,80.81,72.84,entsoe.eu,false,
    2022-01-01 02:00:00,Germany,Germany,DE,170.00,220.0,80.00,72.00,entsoe.eu,true,TIME_SLICER
    """
)
PRICE_CSV = textwrap.dedent(
    """\
    Datetime (UTC),Datetime (Local),Price (USD/MWh)
    2022-01-01 00:00:00+00:00,2022-01-01 01:00:00+01:00,49.25
    2022-01-01 01:00:00+00:00,2022-01-01 02:00:00+01:00,-5.5
    2022-01-01 02:00:00+00:00,2022-01-01 03:00:00+01:00,45.0
    """
)

# DESIGN.md §3.4 as written, except GB's live provider (not shipped yet) -> bundled data.
SITE_EXAMPLE = """\
clusters:
  - name: fra-1
    zone: DE-LU
    executor: local                  # local | slurm | ray | kubernetes
    gpus: 64                         # or: unlimited
    gpu_type: H100
    gpu_power_w: {idle: 70, max: 700}
    pue: 1.2
    power_cap_kw: 60                 # optional site/grid limit
    tariff: {kind: wholesale, adder_usd_per_mwh: 25}   # or {kind: fixed, usd_per_mwh: 120}
signals:
  - {zone: DE-LU, kind: carbon, source: file, path: data/DE-LU_2022_hourly.csv,
     format: electricitymaps}
  - {zone: DE-LU, kind: price, source: file, path: prices.csv, format: csv,
     time_column: "Datetime (UTC)", value_column: "Price (USD/MWh)", unit: usd_per_mwh}
  - {zone: GB, kind: carbon, source: bundled}
objective: {carbon_price_usd_per_tonne: 100}
"""

# DESIGN.md §3.3 as written.
JOB_EXAMPLE = """\
name: finetune-llama-8b
kind: training              # training | fine-tuning | batch-inference | evaluation
command: python train.py --epochs 3
image: ghcr.io/acme/train:1.2   # used by executors that run containers
env: {WANDB_MODE: offline}
resources: {gpus: 8, gpu_type: H100}
duration: 6h                # estimate at the requested GPUs
deadline: 2026-11-27T09:00:00Z   # or: within: 24h   (relative to submission)
earliest_start: 2026-11-26T12:00:00Z   # optional
priority: normal            # low | normal | high | critical (critical is never deferred)
interruptible: {checkpoint_overhead: 5m}   # or false (the default)
elastic: {min_gpus: 4, max_gpus: 16}       # optional; throughput scaling curve optional
placement: {zones: [DE-LU, GB]}           # optional allow-list (data residency)
power: {watts_per_gpu: 550}               # optional override of the cluster's profile
"""

# One DE-LU cluster on bundled data: the smallest site that loads.
MINIMAL_SITE = """\
clusters:
  - {name: fra-1, zone: DE-LU, gpus: 8}
signals:
  - {zone: DE-LU, kind: carbon, source: bundled}
  - {zone: DE-LU, kind: price, source: bundled}
"""

# DE-LU on wholesale, GB on a fixed tariff (no GB price is needed then).
TWO_ZONE_SITE = """\
clusters:
  - {name: fra-1, zone: DE-LU, gpus: 64}
  - {name: lon-1, zone: GB, gpus: 32, tariff: {kind: fixed, usd_per_mwh: 120}}
signals:
  - {zone: DE-LU, kind: carbon, source: bundled}
  - {zone: DE-LU, kind: price, source: bundled}
  - {zone: GB, kind: carbon, source: bundled}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_signal_files(folder: Path) -> None:
    write(folder, "data/DE-LU_2022_hourly.csv", EM_CSV)
    write(folder, "prices.csv", PRICE_CSV)


def expect_error(
    load: Callable[[], Any], *, source: Path | str, field: str | None, shows: str | None
) -> ConfigError:
    """``load`` must raise a ConfigError located at ``source`` / ``field`` that shows ``shows``."""
    with pytest.raises(ConfigError) as info:
        load()
    err = info.value
    assert isinstance(err, UserError)
    assert err.source == str(source)
    assert err.field == field, err.one_line()
    line = err.one_line()
    assert line.startswith(f"{source}: ")
    assert "\n" not in line
    if shows is not None:
        assert shows in line, line
    return err


def site_with(tmp_path: Path, text: str, name: str = "gridshift.yaml") -> Path:
    return write(tmp_path, name, text)


def cluster_site(tmp_path: Path, extra: str) -> Path:
    """MINIMAL_SITE with ``extra`` (flow-style keys) added to its cluster."""
    return site_with(tmp_path, MINIMAL_SITE.replace("gpus: 8}", f"gpus: 8, {extra}}}"))


def job_with(tmp_path: Path, text: str, name: str = "job.yaml") -> Path:
    return write(tmp_path, name, text)


def base_job(extra: str = "", *, window: str = "within: 7d") -> str:
    return f"name: train\nduration: 6h\n{window}\n{extra}"


# --- gridshift.yaml: the example ---------------------------------------------------------------


def test_site_example_loads(tmp_path: Path) -> None:
    write_signal_files(tmp_path)
    path = site_with(tmp_path, SITE_EXAMPLE)
    site = load_site(path)
    assert isinstance(site, SiteConfig)
    assert site.path == path
    assert site.zones == ("DE-LU",)
    (fra,) = site.clusters
    assert site.cluster("fra-1") is fra
    assert (fra.name, fra.zone, fra.executor, fra.gpus, fra.gpu_type, fra.pue) == (
        "fra-1",
        "DE-LU",
        "local",
        64,
        "H100",
        1.2,
    )
    assert (fra.gpu_power.idle_w, fra.gpu_power.max_w) == (70.0, 700.0)
    assert fra.power_cap.default_kw == 60.0
    assert fra.power_cap.windows == ()
    assert fra.tariff.kind is TariffKind.WHOLESALE
    assert fra.tariff.adder_usd_per_mwh == 25.0
    assert site.objective.mode is ObjectiveMode.COMBINED
    assert site.objective.carbon_price_usd_per_tonne == 100.0

    carbon, price, gb = site.signals
    assert (carbon.zone, carbon.kind, carbon.source) == ("DE-LU", SignalKind.CARBON, "file")
    assert carbon.path == tmp_path / "data" / "DE-LU_2022_hourly.csv"
    assert carbon.options is not None
    assert carbon.options.format == "electricitymaps"
    assert (price.zone, price.kind, price.path) == (
        "DE-LU",
        SignalKind.PRICE,
        tmp_path / "prices.csv",
    )
    assert price.options is not None
    assert (price.options.time_column, price.options.value_column, price.options.unit) == (
        "Datetime (UTC)",
        "Price (USD/MWh)",
        "usd_per_mwh",
    )
    assert (gb.zone, gb.kind, gb.source, gb.path) == ("GB", SignalKind.CARBON, "bundled", None)
    with pytest.raises(KeyError):
        site.cluster("lon-1")


def test_site_example_signal_files_import_with_their_options(tmp_path: Path) -> None:
    write_signal_files(tmp_path)
    site = load_site(site_with(tmp_path, SITE_EXAMPLE))
    carbon, price, _ = site.signals
    assert carbon.path is not None
    assert carbon.options is not None
    carbon_series, _ = import_file(carbon.path, carbon.options)
    assert carbon_series.values.tolist() == [163.46, 166.66, 170.0]
    assert carbon_series.zone == "DE-LU"
    assert price.path is not None
    assert price.options is not None
    price_series, _ = import_file(price.path, price.options)
    assert price_series.values.tolist() == [49.25, -5.5, 45.0]
    assert price_series.unit == "usd_per_mwh"


def test_relative_signal_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    write_signal_files(conf)
    path = site_with(conf, SITE_EXAMPLE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    site = load_site(Path("..") / "conf" / "gridshift.yaml")
    assert site.signals[0].path is not None
    assert site.signals[0].path.resolve() == (conf / "data" / "DE-LU_2022_hourly.csv").resolve()
    assert site.signals[1].path is not None
    assert site.signals[1].path.resolve() == (conf / "prices.csv").resolve()
    # the same file named absolutely gives the same signals
    assert [s.path for s in load_site(path).signals] == [s.path for s in site.signals]


def test_absolute_signal_path(tmp_path: Path) -> None:
    csv = write(tmp_path / "elsewhere", "gb.csv", EM_CSV)
    path = site_with(
        tmp_path / "conf",
        "clusters:\n  - {name: lon-1, zone: GB, gpus: 4}\n"
        f"signals:\n  - {{zone: GB, kind: carbon, path: '{csv}', format: electricitymaps}}\n"
        "objective: {mode: carbon}\n",
    )
    assert load_site(path).signals[0].path == csv


def test_site_variants_load(tmp_path: Path) -> None:
    path = site_with(
        tmp_path,
        """\
clusters:
  - name: cloud
    zone: US-CAL-CISO
    executor: kubernetes
    executor_options: {namespace: ml, context: prod}
    gpus: unlimited
    gpu_type: a100
    tariff: {kind: fixed, usd_per_mwh: 120}
    power_cap_kw:
      default: 500
      windows:
        - {start: 2026-07-01T17:00:00-07:00, end: 2026-07-01T21:00:00-07:00, kw: 200}
signals:
  - {zone: US-CAL-CISO, kind: carbon, source: bundled}
""",
    )
    site = load_site(path)
    (cloud,) = site.clusters
    assert cloud.gpus is None
    assert cloud.unlimited
    assert dict(cloud.executor_options) == {"namespace": "ml", "context": "prod"}
    # a lower-case known GPU type takes that type's published figures
    assert (cloud.gpu_power.idle_w, cloud.gpu_power.max_w) == (55.0, 400.0)
    assert cloud.tariff.kind is TariffKind.FIXED
    assert cloud.tariff.fixed_usd_per_mwh == 120.0
    assert cloud.power_cap.default_kw == 500.0
    (w,) = cloud.power_cap.windows
    assert w.start == datetime(2026, 7, 2, 0, tzinfo=UTC)
    assert w.end == datetime(2026, 7, 2, 4, tzinfo=UTC)
    assert w.kw == 200.0
    assert site.objective.mode is ObjectiveMode.COMBINED


def test_defaults_of_a_minimal_cluster(tmp_path: Path) -> None:
    (fra,) = load_site(site_with(tmp_path, MINIMAL_SITE)).clusters
    assert (fra.executor, fra.gpu_type, fra.pue) == ("local", "H100", 1.4)
    assert (fra.gpu_power.idle_w, fra.gpu_power.max_w) == (78.8, 700.0)
    assert fra.tariff.kind is TariffKind.WHOLESALE
    assert fra.tariff.adder_usd_per_mwh == 0.0
    assert fra.power_cap.default_kw is None


# --- gridshift.yaml: refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "suggestion"),
    [
        (MINIMAL_SITE + "signal: []\n", "", "did you mean 'signals'"),
        (MINIMAL_SITE + "objectives: {mode: cost}\n", "", "did you mean 'objective'"),
        (MINIMAL_SITE.replace("gpus: 8}", "gpus: 8, gpu_typ: A100}"), "clusters[0]", "'gpu_type'"),
        (
            MINIMAL_SITE.replace("gpus: 8}", "gpus: 8, tariff: {kind: fixed, usd_per_mhw: 1}}"),
            "clusters[0].tariff",
            "did you mean 'usd_per_mwh'",
        ),
        (
            MINIMAL_SITE.replace("gpus: 8}", "gpus: 8, gpu_power_w: {idle: 1, maximum: 9}}"),
            "clusters[0].gpu_power_w",
            "did you mean 'max'",
        ),
        (
            MINIMAL_SITE.replace("source: bundled}\n", "sorce: bundled}\n", 1),
            "signals[0]",
            "did you mean 'source'",
        ),
        (MINIMAL_SITE + "objective: {mod: cost}\n", "objective", "did you mean 'mode'"),
    ],
    ids=["top", "top-2", "cluster", "tariff", "gpu_power_w", "signal", "objective"],
)
def test_site_unknown_keys_suggest_the_right_one(
    tmp_path: Path, text: str, field: str, suggestion: str
) -> None:
    path = site_with(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_site(path)
    err = info.value
    assert err.source == str(path)
    assert (err.field or "") == field
    assert "unknown key" in err.one_line()
    assert suggestion in err.one_line()


def test_unknown_key_in_the_second_cluster(tmp_path: Path) -> None:
    path = site_with(
        tmp_path,
        "clusters:\n"
        "  - {name: a, zone: DE-LU, gpus: 8}\n"
        "  - {name: b, zone: DE-LU, gpus: 8, executer: slurm}\n"
        "signals: [{zone: DE-LU, kind: carbon, source: bundled},"
        " {zone: DE-LU, kind: price, source: bundled}]\n",
    )
    err = expect_error(lambda: load_site(path), source=path, field="clusters[1]", shows="'slurm'")
    assert "unknown key 'executer'" in err.one_line()
    assert "did you mean 'executor'" in err.one_line()


def test_unknown_key_named_like_another_models_key_is_located_like_others(tmp_path: Path) -> None:
    path = cluster_site(tmp_path, "kind: H100")
    expect_error(lambda: load_site(path), source=path, field="clusters[0]", shows="'H100'")


def test_site_duplicate_yaml_keys_refused(tmp_path: Path) -> None:
    path = site_with(
        tmp_path,
        "clusters:\n  - name: a\n    zone: DE-LU\n    gpus: 8\n    gpus: 16\n",
    )
    err = expect_error(
        lambda: load_site(path), source=path, field=None, shows="duplicate key 'gpus'"
    )
    assert "line 5" in err.one_line()


def test_site_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = site_with(tmp_path, "clusters:\n  - name: a\n    zone: [DE-LU\n    gpus: 8\n")
    err = expect_error(lambda: load_site(path), source=path, field=None, shows="not valid YAML")
    assert "line 4" in err.one_line()


def test_site_tab_indentation_names_the_line(tmp_path: Path) -> None:
    path = site_with(tmp_path, "clusters:\n  - name: a\n    zone: GB\n\tgpus: 8\n")
    expect_error(lambda: load_site(path), source=path, field=None, shows="line 4")


@pytest.mark.parametrize(
    ("extra", "field", "shows"),
    [
        ("executor: nomad", "clusters[0].executor", "'nomad'"),
        ("gpu_type: MI300X", "clusters[0].gpu_type", "'MI300X'"),
        ("gpu_power_w: {idle: 800, max: 700}", "clusters[0].gpu_power_w", "800"),
        ("pue: 0.9", "clusters[0].pue", "(got 0.9)"),
        ("pue: 3.5", "clusters[0].pue", "(got 3.5)"),
        ("power_cap_kw: -5", "clusters[0].power_cap_kw", "(got -5.0)"),
        ("tariff: {kind: fixed}", "clusters[0].tariff.usd_per_mwh", "fixed tariff needs"),
        ("tariff: {kind: wholesale, usd_per_mwh: 90}", "clusters[0].tariff.usd_per_mwh", "90"),
        (
            "tariff: {kind: fixed, usd_per_mwh: 90, adder_usd_per_mwh: 5}",
            "clusters[0].tariff.adder_usd_per_mwh",
            "(got 5.0)",
        ),
        ("tariff: {kind: spot}", "clusters[0].tariff.kind", "'spot'"),
    ],
)
def test_cluster_field_refusals(tmp_path: Path, extra: str, field: str, shows: str) -> None:
    path = cluster_site(tmp_path, extra)
    expect_error(lambda: load_site(path), source=path, field=field, shows=shows)


@pytest.mark.parametrize(
    ("gpus", "shows"), [("lots", "'lots'"), ("-1", "(got -1)"), ("8.5", "8.5")]
)
def test_cluster_gpu_count_refusals(tmp_path: Path, gpus: str, shows: str) -> None:
    path = site_with(tmp_path, MINIMAL_SITE.replace("gpus: 8", f"gpus: {gpus}"))
    expect_error(lambda: load_site(path), source=path, field="clusters[0].gpus", shows=shows)


def test_cluster_zone_must_be_a_zone_id(tmp_path: Path) -> None:
    path = site_with(tmp_path, MINIMAL_SITE.replace("zone: DE-LU, gpus", "zone: Germany, gpus"))
    expect_error(lambda: load_site(path), source=path, field="clusters[0].zone", shows="'Germany'")


def test_unknown_executor_lists_the_known_ones(tmp_path: Path) -> None:
    path = cluster_site(tmp_path, "executor: nomad")
    err = expect_error(
        lambda: load_site(path), source=path, field="clusters[0].executor", shows="'nomad'"
    )
    assert "local, slurm, ray, kubernetes" in err.one_line()


def test_unknown_gpu_type_with_power_figures_is_accepted(tmp_path: Path) -> None:
    path = cluster_site(tmp_path, "gpu_type: MI300X, gpu_power_w: {idle: 90, max: 750}")
    (c,) = load_site(path).clusters
    assert c.gpu_type == "MI300X"
    assert (c.gpu_power.idle_w, c.gpu_power.max_w) == (90.0, 750.0)


def test_unknown_gpu_type_without_power_figures_says_how(tmp_path: Path) -> None:
    path = cluster_site(tmp_path, "gpu_type: MI300X")
    err = expect_error(
        lambda: load_site(path), source=path, field="clusters[0].gpu_type", shows="'MI300X'"
    )
    assert "gpu_power_w" in err.one_line()
    assert "H100" in err.one_line()


def test_power_cap_window_refusals(tmp_path: Path) -> None:
    path = cluster_site(
        tmp_path,
        "power_cap_kw: {windows: [{start: '2026-07-01 17:00', end: 2026-07-01T21:00:00Z, kw: 5}]}",
    )
    expect_error(
        lambda: load_site(path),
        source=path,
        field="clusters[0].power_cap_kw.windows[0].start",
        shows="'2026-07-01 17:00'",
    )
    path = cluster_site(
        tmp_path,
        "power_cap_kw: {windows: [{start: 2026-07-01T21:00:00Z, end: 2026-07-01T17:00:00Z,"
        " kw: 5}]}",
    )
    expect_error(
        lambda: load_site(path),
        source=path,
        field="clusters[0].power_cap_kw.windows",
        shows="2026-07-01T21:00:00+00:00",
    )


def test_negative_default_power_cap_refused(tmp_path: Path) -> None:
    path = cluster_site(tmp_path, "power_cap_kw: {default: -5}")
    expect_error(
        lambda: load_site(path), source=path, field="clusters[0].power_cap_kw.default", shows="-5"
    )


def test_gpus_unlimited(tmp_path: Path) -> None:
    site = load_site(site_with(tmp_path, MINIMAL_SITE.replace("gpus: 8", "gpus: unlimited")))
    assert site.clusters[0].gpus is None
    assert site.clusters[0].idle_kw() == 0.0


def test_wholesale_tariff_without_price_signal_refused(tmp_path: Path) -> None:
    path = site_with(
        tmp_path,
        "clusters:\n  - {name: lon-1, zone: GB, gpus: 8}\n"
        "signals:\n  - {zone: GB, kind: carbon, source: bundled}\n",
    )
    err = expect_error(lambda: load_site(path), source=path, field="clusters[0].zone", shows="'GB'")
    line = err.one_line()
    assert "'lon-1'" in line
    assert "price signal" in line
    assert "source: bundled" in line
    assert "kind: fixed" in line


def test_wholesale_tariff_without_price_signal_is_fine_in_carbon_mode(tmp_path: Path) -> None:
    path = site_with(
        tmp_path,
        "clusters:\n  - {name: lon-1, zone: GB, gpus: 8}\n"
        "signals:\n  - {zone: GB, kind: carbon, source: bundled}\n"
        "objective: {mode: carbon}\n",
    )
    site = load_site(path)
    assert site.objective.mode is ObjectiveMode.CARBON
    assert site.clusters[0].tariff.kind is TariffKind.WHOLESALE


def test_missing_carbon_signal_refused_unless_cost_mode(tmp_path: Path) -> None:
    text = (
        "clusters:\n  - {name: fra-1, zone: DE-LU, gpus: 8}\n"
        "signals:\n  - {zone: DE-LU, kind: price, source: bundled}\n"
    )
    path = site_with(tmp_path, text)
    err = expect_error(
        lambda: load_site(path), source=path, field="clusters[0].zone", shows="'DE-LU'"
    )
    assert "'fra-1' needs a carbon signal" in err.one_line()
    cost = load_site(site_with(tmp_path, text + "objective: {mode: cost}\n", "cost.yaml"))
    assert cost.objective.mode is ObjectiveMode.COST


def test_fixed_tariff_in_cost_mode_needs_no_signals(tmp_path: Path) -> None:
    path = site_with(
        tmp_path,
        "clusters:\n  - {name: lon-1, zone: GB, gpus: 8, tariff: {kind: fixed, usd_per_mwh: 95}}\n"
        "objective: {mode: cost}\n",
    )
    site = load_site(path)
    assert site.signals == ()
    assert site.clusters[0].tariff.price_usd_per_mwh([1.0, -3.0]).tolist() == [95.0, 95.0]


def test_the_second_cluster_missing_a_signal_is_named(tmp_path: Path) -> None:
    path = site_with(
        tmp_path,
        "clusters:\n  - {name: fra-1, zone: DE-LU, gpus: 8}\n  - {name: par-1, zone: FR, gpus: 4}\n"
        "signals:\n  - {zone: DE-LU, kind: carbon, source: bundled}\n"
        "  - {zone: DE-LU, kind: price, source: bundled}\n"
        "  - {zone: FR, kind: price, source: bundled}\n",
    )
    err = expect_error(lambda: load_site(path), source=path, field="clusters[1].zone", shows="'FR'")
    assert "'par-1' needs a carbon signal for FR" in err.one_line()


def test_duplicate_cluster_names(tmp_path: Path) -> None:
    path = site_with(
        tmp_path,
        MINIMAL_SITE.replace(
            "gpus: 8}\n",
            "gpus: 8}\n  - {name: fra-2, zone: DE-LU, gpus: 8}\n"
            "  - {name: fra-1, zone: DE-LU, gpus: 4}\n",
        ),
    )
    expect_error(lambda: load_site(path), source=path, field="clusters[2].name", shows="'fra-1'")


def test_no_clusters(tmp_path: Path) -> None:
    path = site_with(tmp_path, "clusters: []\n")
    expect_error(lambda: load_site(path), source=path, field="clusters", shows="no clusters")
    path = site_with(tmp_path, "signals: []\n", "no-clusters.yaml")
    err = expect_error(lambda: load_site(path), source=path, field="clusters", shows="missing")
    assert "add 'clusters:'" in err.one_line()


def test_duplicate_signal_sources(tmp_path: Path) -> None:
    write_signal_files(tmp_path)
    path = site_with(
        tmp_path,
        MINIMAL_SITE + "  - {zone: DE-LU, kind: carbon, path: data/DE-LU_2022_hourly.csv}\n",
    )
    err = expect_error(lambda: load_site(path), source=path, field="signals[2]", shows="'DE-LU'")
    assert "first at signals[0]" in err.one_line()


def test_missing_signal_file(tmp_path: Path) -> None:
    path = site_with(
        tmp_path / "conf",
        MINIMAL_SITE.replace(
            "{zone: DE-LU, kind: price, source: bundled}",
            "{zone: DE-LU, kind: price, path: data/prices-2023.csv}",
        ),
    )
    err = expect_error(
        lambda: load_site(path),
        source=path,
        field="signals[1].path",
        shows="'data/prices-2023.csv'",
    )
    # it says where it looked: next to the config file
    assert str(tmp_path / "conf" / "data" / "prices-2023.csv") in err.one_line()


def test_file_source_needs_a_path(tmp_path: Path) -> None:
    path = site_with(
        tmp_path, MINIMAL_SITE.replace("kind: price, source: bundled", "kind: price, source: file")
    )
    expect_error(
        lambda: load_site(path), source=path, field="signals[1].path", shows="needs a path"
    )


@pytest.mark.parametrize(
    ("old", "new", "field", "shows"),
    [
        ("kind: price, source: bundled", "kind: co2, source: bundled", "signals[1].kind", "'co2'"),
        ("kind: price, source: bundled", "kind: price, source: ftp", "signals[1].source", "'ftp'"),
        ("zone: DE-LU, kind: price", "zone: de-lu, kind: price", "signals[1].zone", "'de-lu'"),
        (
            "kind: price, source: bundled",
            "kind: price, path: p.csv, format: xls",
            "signals[1].format",
            "'xls'",
        ),
    ],
)
def test_signal_field_refusals(tmp_path: Path, old: str, new: str, field: str, shows: str) -> None:
    write(tmp_path, "p.csv", PRICE_CSV)
    path = site_with(tmp_path, MINIMAL_SITE.replace(old, new))
    expect_error(lambda: load_site(path), source=path, field=field, shows=shows)


def test_signal_path_with_unknown_home_is_a_config_error(tmp_path: Path) -> None:
    path = site_with(
        tmp_path,
        MINIMAL_SITE.replace(
            "kind: price, source: bundled", "kind: price, path: '~nosuchuser-gs/p.csv'"
        ),
    )
    expect_error(lambda: load_site(path), source=path, field="signals[1].path", shows="nosuchuser")


@pytest.mark.parametrize("unit", ["furlongs", "g_per_kwh"])
def test_signal_unit_is_checked_against_its_kind(tmp_path: Path, unit: str) -> None:
    write(tmp_path, "p.csv", PRICE_CSV)
    path = site_with(
        tmp_path,
        MINIMAL_SITE.replace(
            "kind: price, source: bundled", f"kind: price, path: p.csv, unit: {unit}"
        ),
    )
    expect_error(lambda: load_site(path), source=path, field="signals[1].unit", shows=unit)


def test_signal_format_is_checked_against_its_kind(tmp_path: Path) -> None:
    write(tmp_path, "p.csv", PRICE_CSV)
    path = site_with(
        tmp_path,
        MINIMAL_SITE.replace(
            "kind: price, source: bundled", "kind: price, path: p.csv, format: electricitymaps"
        ),
    )
    expect_error(
        lambda: load_site(path), source=path, field="signals[1].format", shows="electricitymaps"
    )


@pytest.mark.parametrize(
    ("objective", "field", "shows"),
    [
        (
            "{mode: cost, carbon_price_usd_per_tonne: 50}",
            "objective.carbon_price_usd_per_tonne",
            "(got 50.0)",
        ),
        (
            "{carbon_price_usd_per_tonne: -10}",
            "objective.carbon_price_usd_per_tonne",
            "(got -10.0)",
        ),
        ("{mode: greedy}", "objective.mode", "'greedy'"),
    ],
)
def test_objective_refusals(tmp_path: Path, objective: str, field: str, shows: str) -> None:
    path = site_with(tmp_path, MINIMAL_SITE + f"objective: {objective}\n")
    expect_error(lambda: load_site(path), source=path, field=field, shows=shows)


def test_objective_modes(tmp_path: Path) -> None:
    site = load_site(
        site_with(tmp_path, MINIMAL_SITE + "objective: {carbon_price_usd_per_tonne: 0}\n")
    )
    assert site.objective.mode is ObjectiveMode.COMBINED
    assert site.objective.carbon_price_usd_per_tonne == 0.0
    site = load_site(site_with(tmp_path, MINIMAL_SITE + "objective: {mode: cost}\n", "c.yaml"))
    assert site.objective.mode is ObjectiveMode.COST


@pytest.mark.parametrize(
    ("text", "shows"),
    [
        ("", "got NoneType"),
        ("- a\n- b\n", "got list"),
        ("just text\n", "got str"),
    ],
)
def test_site_file_that_is_not_a_mapping(tmp_path: Path, text: str, shows: str) -> None:
    path = site_with(tmp_path, text)
    expect_error(lambda: load_site(path), source=path, field=None, shows=shows)


def test_site_file_read_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    expect_error(lambda: load_site(missing), source=missing, field=None, shows="no such file")
    expect_error(lambda: load_site(tmp_path), source=tmp_path, field=None, shows="directory")
    binary = tmp_path / "latin1.yaml"
    binary.write_bytes("name: caf\xe9\n".encode("latin-1"))
    expect_error(lambda: load_site(binary), source=binary, field=None, shows="not UTF-8")


def test_unhashable_yaml_key_is_a_config_error(tmp_path: Path) -> None:
    path = site_with(tmp_path, "? [a, b]\n: 1\n")
    expect_error(lambda: load_site(path), source=path, field=None, shows="line 1")


# --- YAML reading ------------------------------------------------------------------------------


def test_yaml_timestamps_stay_strings() -> None:
    data = parse_yaml(
        "a: 2026-11-27 09:00:00\nb: 2026-11-27T09:00:00Z\nc: 2026-11-27\nd: 12\ne: true\n", "x.yaml"
    )
    assert data == {
        "a": "2026-11-27 09:00:00",
        "b": "2026-11-27T09:00:00Z",
        "c": "2026-11-27",
        "d": 12,
        "e": True,
    }


def test_yaml_duplicate_keys_nested() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a:\n  b: 1\n  c: 2\n  b: 3\n", "x.yaml")
    assert info.value.source == "x.yaml"
    assert "duplicate key 'b'" in info.value.one_line()
    assert "line 4" in info.value.one_line()


def test_yaml_unsafe_tags_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: !!python/object/apply:os.system ['true']\n", "x.yaml")
    assert "line 1" in info.value.one_line()


# --- job specs: the example --------------------------------------------------------------------


def two_zone_site(tmp_path: Path) -> SiteConfig:
    return load_site(site_with(tmp_path, TWO_ZONE_SITE, "site.yaml"))


def test_job_example_loads(tmp_path: Path) -> None:
    path = job_with(tmp_path, JOB_EXAMPLE)
    job = load_job_spec(path, submitted_at=SUBMITTED, site=two_zone_site(tmp_path))
    assert (job.id, job.name) == ("finetune-llama-8b", "finetune-llama-8b")
    assert job.kind is JobKind.TRAINING
    assert job.command == ("python", "train.py", "--epochs", "3")
    assert job.image == "ghcr.io/acme/train:1.2"
    assert dict(job.env) == {"WANDB_MODE": "offline"}
    assert (job.gpus, job.gpu_type) == (8, "H100")
    assert job.duration_s == 6 * 3600
    assert job.submitted_at == SUBMITTED
    assert job.deadline == datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert job.earliest_start == datetime(2026, 11, 26, 12, tzinfo=UTC)
    assert job.priority is Priority.NORMAL
    assert job.interruptible is not None
    assert job.interruptible.checkpoint_overhead_s == 300.0
    assert job.elastic is not None
    assert (job.elastic.min_gpus, job.elastic.max_gpus) == (4, 16)
    assert job.zones == ("DE-LU", "GB")
    assert job.watts_per_gpu == 550.0
    assert job.team == "default"
    # from 12:00 at 16 GPUs (x1.83): 21 h window minus 6 h / 1.83
    assert job.slack_s == pytest.approx(21 * 3600 - 21600 / 1.83)


def test_job_example_without_a_site(tmp_path: Path) -> None:
    job = load_job_spec(job_with(tmp_path, JOB_EXAMPLE), submitted_at=SUBMITTED)
    assert job.zones == ("DE-LU", "GB")


def test_placement_zone_not_served(tmp_path: Path) -> None:
    site = load_site(site_with(tmp_path, MINIMAL_SITE))
    path = job_with(tmp_path, JOB_EXAMPLE)
    err = expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED, site=site),
        source=path,
        field="placement.zones[1]",
        shows="'GB'",
    )
    assert "zones with clusters: DE-LU" in err.one_line()


def test_placement_zone_that_is_no_zone_id(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job("placement: {zones: [germany]}"))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="placement.zones",
        shows="'germany'",
    )


# --- job specs: deadline, within, times --------------------------------------------------------


def test_within_is_resolved_against_submission(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job(window="within: 24h"))
    job = load_job_spec(path, submitted_at=SUBMITTED)
    assert job.deadline == SUBMITTED + timedelta(hours=24)
    later = load_job_spec(path, submitted_at=SUBMITTED + timedelta(hours=5, minutes=30))
    assert later.deadline == datetime(2026, 11, 27, 13, 30, tzinfo=UTC)
    # a submission time in another zone gives a UTC deadline
    plus_one = timezone(timedelta(hours=1))
    other = load_job_spec(path, submitted_at=datetime(2026, 11, 26, 9, tzinfo=plus_one))
    assert other.deadline == datetime(2026, 11, 27, 8, tzinfo=UTC)
    assert other.deadline.utcoffset() == timedelta(0)


def test_deadline_and_within_together_refused(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job(window="deadline: 2026-11-30T00:00:00Z\nwithin: 24h"))
    err = expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="within",
        shows="'24h'",
    )
    assert "not both" in err.one_line()


def test_neither_deadline_nor_within_refused(tmp_path: Path) -> None:
    path = job_with(tmp_path, "name: train\nduration: 6h\n")
    err = expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="deadline",
        shows="needs a deadline",
    )
    assert "within: 24h" in err.one_line()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T09:00:00Z", datetime(2026, 11, 30, 9, tzinfo=UTC)),
        ("2026-11-30T09:00:00z", datetime(2026, 11, 30, 9, tzinfo=UTC)),
        ("'2026-11-30T10:00:00+01:00'", datetime(2026, 11, 30, 9, tzinfo=UTC)),
        ("2026-11-30T04:00:00-05:00", datetime(2026, 11, 30, 9, tzinfo=UTC)),
        ("2026-11-30 09:00:00+00:00", datetime(2026, 11, 30, 9, tzinfo=UTC)),
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
    ],
)
def test_deadline_times_become_utc(tmp_path: Path, text: str, expected: datetime) -> None:
    path = job_with(tmp_path, base_job(window=f"deadline: {text}"))
    job = load_job_spec(path, submitted_at=SUBMITTED)
    assert job.deadline == expected
    assert job.deadline.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["2026-11-30 09:00:00", "'2026-11-30 09:00:00'", "2026-11-30T09:00", "'2026-11-30T09:00:00'"],
)
def test_naive_deadline_refused(tmp_path: Path, text: str) -> None:
    path = job_with(tmp_path, base_job(window=f"deadline: {text}"))
    err = expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="deadline",
        shows=repr(text.strip("'")),
    )
    assert "no zone" in err.one_line()


@pytest.mark.parametrize("text", ["tomorrow", "'27/11/2026'", "2026-11-30T25:00:00Z"])
def test_unreadable_deadline_refused(tmp_path: Path, text: str) -> None:
    path = job_with(tmp_path, base_job(window=f"deadline: {text}"))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="deadline",
        shows=repr(text.strip("'")),
    )


def test_deadline_that_is_a_number_refused(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job(window="deadline: 20261130"))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="deadline",
        shows="20261130",
    )


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01"])
def test_impossible_bare_date_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = job_with(tmp_path, base_job(window=f"deadline: {text}"))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="deadline",
        shows=text,
    )


def test_time_beyond_year_9999_is_a_config_error(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job("earliest_start: 9999-12-31T23:00:00-05:00"))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="earliest_start",
        shows="9999",
    )


def test_naive_earliest_start_refused(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job("earliest_start: 2026-11-26 12:00:00"))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="earliest_start",
        shows="'2026-11-26 12:00:00'",
    )


def test_deadline_before_earliest_finish(tmp_path: Path) -> None:
    path = job_with(
        tmp_path,
        "name: train\nduration: 6h\nearliest_start: 2026-11-27T00:00:00Z\n"
        "deadline: 2026-11-27T05:00:00Z\n",
    )
    err = expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="deadline",
        shows="'2026-11-27T05:00:00Z'",
    )
    assert "2026-11-27T06:00:00Z" in err.one_line()


def test_within_shorter_than_duration(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job(window="within: 5h"))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="deadline",
        shows="'2026-11-26T13:00:00Z'",
    )


def test_elastic_speed_up_counts_towards_the_deadline(tmp_path: Path) -> None:
    spec = "resources: {gpus: 8}\nelastic: {min_gpus: 8, max_gpus: 16}\n"
    job = load_job_spec(
        job_with(tmp_path, base_job(spec, window="within: 4h")), submitted_at=SUBMITTED
    )
    assert job.slack_s == pytest.approx(4 * 3600 - 21600 / 1.83)


# --- job specs: durations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("15m", 900.0),
        ("6h", 21600.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("1.5h", 5400.0),
        ("6H", 21600.0),
        ("3600", 3600.0),
        ("2.5", 2.5),
    ],
)
def test_durations(tmp_path: Path, text: str, seconds: float) -> None:
    path = job_with(tmp_path, f"name: train\nduration: {text}\nwithin: 30d\n")
    assert load_job_spec(path, submitted_at=SUBMITTED).duration_s == seconds


@pytest.mark.parametrize(
    ("text", "shows"),
    [
        ("6 hours", "'6 hours'"),
        ("-6h", "'-6h'"),
        ("0", "(got 0)"),
        ("0s", "'0s'"),
        ("-60", "(got -60)"),
        ("abc", "'abc'"),
        ("'6'", "'6'"),
        ("1y", "'1y'"),
        (".nan", "nan"),
        (".inf", "inf"),
    ],
)
def test_bad_durations(tmp_path: Path, text: str, shows: str) -> None:
    path = job_with(tmp_path, f"name: train\nduration: {text}\nwithin: 30d\n")
    err = expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="duration",
        shows=shows,
    )
    assert "90s, 15m, 6h, 2d" in err.one_line()


def test_bad_within(tmp_path: Path) -> None:
    path = job_with(tmp_path, "name: train\nduration: 6h\nwithin: 1 day\n")
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="within",
        shows="'1 day'",
    )


def test_duration_true_refused_by_the_parser() -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(True, field="duration", source="j.yaml")
    assert info.value.field == "duration"
    assert info.value.value is True


@pytest.mark.parametrize("key", ["duration", "within"])
def test_duration_true_refused_in_a_job_spec(tmp_path: Path, key: str) -> None:
    values = {"duration": "1h", "within": "30d", key: "true"}
    path = job_with(
        tmp_path, f"name: train\nduration: {values['duration']}\nwithin: {values['within']}\n"
    )
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED), source=path, field=key, shows="True"
    )


def test_gpus_true_refused(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job("resources: {gpus: true}"))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="resources.gpus",
        shows="True",
    )


@pytest.mark.parametrize(
    "text",
    [
        "name: t\nduration: 99999999999d\nwithin: 1d\n",
        "name: t\nduration: 1h\nwithin: 99999999999w\n",
    ],
)
def test_huge_durations_are_config_errors(tmp_path: Path, text: str) -> None:
    path = job_with(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_job_spec(path, submitted_at=SUBMITTED)
    assert info.value.source == str(path)


# --- job specs: levers, command, env -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "overhead"),
    [
        ("interruptible: true", 300.0),
        ("interruptible: false", None),
        ("", None),
        ("interruptible: {checkpoint_overhead: 0s}", 0.0),
        ("interruptible: {checkpoint_overhead: 0}", 0.0),
        ("interruptible: {checkpoint_overhead: 90s}", 90.0),
        ("interruptible: {}", 300.0),
    ],
)
def test_interruptible_forms(tmp_path: Path, text: str, overhead: float | None) -> None:
    job = load_job_spec(job_with(tmp_path, base_job(text)), submitted_at=SUBMITTED)
    if overhead is None:
        assert job.interruptible is None
    else:
        assert job.interruptible is not None
        assert job.interruptible.checkpoint_overhead_s == overhead


@pytest.mark.parametrize(
    ("text", "field", "shows"),
    [
        ("interruptible: {checkpoint_overhead: -5m}", "interruptible.checkpoint_overhead", "'-5m'"),
        (
            "interruptible: {checkpoint_overhed: 5m}",
            "interruptible",
            "did you mean 'checkpoint_overhead'",
        ),
        ("interruptible: sometimes", "interruptible", "'sometimes'"),
    ],
)
def test_interruptible_refusals(tmp_path: Path, text: str, field: str, shows: str) -> None:
    path = job_with(tmp_path, base_job(text))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED), source=path, field=field, shows=shows
    )


def test_command_string_is_split_like_a_shell(tmp_path: Path) -> None:
    path = job_with(
        tmp_path, base_job("command: python train.py --name \"my run\" --lr=3e-4 'a b'")
    )
    job = load_job_spec(path, submitted_at=SUBMITTED)
    assert job.command == ("python", "train.py", "--name", "my run", "--lr=3e-4", "a b")


def test_command_list_is_kept(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job("command: [python, -c, 'print(\"a  b\")', '$HOME']"))
    job = load_job_spec(path, submitted_at=SUBMITTED)
    assert job.command == ("python", "-c", 'print("a  b")', "$HOME")


def test_no_command(tmp_path: Path) -> None:
    assert load_job_spec(job_with(tmp_path, base_job()), submitted_at=SUBMITTED).command == ()


def test_command_with_unbalanced_quotes(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job("command: python train.py --name 'my run"))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="command",
        shows='"python train.py --name \'my run"',
    )


def test_env_values_become_strings(tmp_path: Path) -> None:
    path = job_with(
        tmp_path,
        base_job("env: {WANDB_MODE: offline, EPOCHS: 3, LR: 0.5, DEBUG: true, QUIET: false}"),
    )
    job = load_job_spec(path, submitted_at=SUBMITTED)
    assert dict(job.env) == {
        "WANDB_MODE": "offline",
        "EPOCHS": "3",
        "LR": "0.5",
        "DEBUG": "true",
        "QUIET": "false",
    }
    assert all(isinstance(v, str) for v in job.env.values())


def test_env_value_that_is_a_list_refused(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job("env: {PATHS: [a, b]}"))
    with pytest.raises(ConfigError) as info:
        load_job_spec(path, submitted_at=SUBMITTED)
    assert info.value.source == str(path)
    assert info.value.field == "env"


@pytest.mark.parametrize(
    ("text", "field", "shows"),
    [
        ("resources: {gpu: 8}", "resources", "did you mean 'gpus'"),
        ("resources: {gpus: 8, gpu-type: H100}", "resources", "did you mean 'gpu_type'"),
        ("priorty: high", "", "did you mean 'priority'"),
        ("deadlines: 2026-12-01T00:00:00Z", "", "did you mean 'deadline'"),
        ("elastic: {min_gpu: 1, max_gpus: 4}", "elastic", "did you mean 'min_gpus'"),
        ("placement: {zone: [GB]}", "placement", "did you mean 'zones'"),
        ("power: {watts_per_gp: 300}", "power", "did you mean 'watts_per_gpu'"),
    ],
)
def test_job_unknown_keys_suggest_the_right_one(
    tmp_path: Path, text: str, field: str, shows: str
) -> None:
    path = job_with(tmp_path, base_job(text))
    with pytest.raises(ConfigError) as info:
        load_job_spec(path, submitted_at=SUBMITTED)
    err = info.value
    assert err.source == str(path)
    assert (err.field or "") == field
    assert "unknown key" in err.one_line()
    assert shows in err.one_line()


@pytest.mark.parametrize(
    ("text", "field", "shows"),
    [
        ("resources: {gpus: 0}", "resources.gpus", "(got 0)"),
        ("resources: {gpus: 8.5}", "resources.gpus", "8.5"),
        ("resources: {gpus: eight}", "resources.gpus", "'eight'"),
        ("elastic: {min_gpus: 8, max_gpus: 4}", "elastic", "'max_gpus': 4"),
        ("elastic: {min_gpus: 0, max_gpus: 4}", "elastic.min_gpus", "(got 0)"),
        ("resources: {gpus: 2}\nelastic: {min_gpus: 4, max_gpus: 8}", "resources.gpus", "(got 2)"),
        ("elastic: {min_gpus: 2}", "elastic.max_gpus", "add 'max_gpus:'"),
        ("priority: urgent", "priority", "'urgent'"),
        ("kind: pretraining", "kind", "'pretraining'"),
        ("power: {watts_per_gpu: -1}", "power.watts_per_gpu", "(got -1.0)"),
        ("command: [python, 3]", "command", "a valid string"),
    ],
)
def test_job_field_refusals(tmp_path: Path, text: str, field: str, shows: str) -> None:
    path = job_with(tmp_path, base_job(text))
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED), source=path, field=field, shows=shows
    )


def test_priority_and_kind_accept_their_values(tmp_path: Path) -> None:
    path = job_with(tmp_path, base_job("priority: critical\nkind: batch-inference\nteam: nlp"))
    job = load_job_spec(path, submitted_at=SUBMITTED)
    assert job.priority is Priority.CRITICAL
    assert job.kind is JobKind.BATCH_INFERENCE
    assert job.team == "nlp"


def test_job_name_required_and_bounded(tmp_path: Path) -> None:
    path = job_with(tmp_path, "duration: 6h\nwithin: 1d\n")
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field="name",
        shows="add 'name:'",
    )
    path = job_with(tmp_path, "name: ''\nduration: 6h\nwithin: 1d\n", "empty.yaml")
    expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED), source=path, field="name", shows=None
    )


def test_job_duplicate_keys_refused(tmp_path: Path) -> None:
    path = job_with(tmp_path, "name: a\nduration: 6h\nwithin: 1d\nduration: 2h\n")
    err = expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field=None,
        shows="duplicate key 'duration'",
    )
    assert "line 4" in err.one_line()


def test_job_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = job_with(tmp_path, "name: a\nduration: 6h\nwithin: 1d\nenv: {A: 1\n")
    err = expect_error(
        lambda: load_job_spec(path, submitted_at=SUBMITTED),
        source=path,
        field=None,
        shows="not valid YAML at line",
    )
    assert "line 5" in err.one_line()


# --- folders of job specs ----------------------------------------------------------------------


def test_folder_of_job_specs_loads_sorted(tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    write(folder, "b-eval.yaml", "name: eval\nduration: 1h\nwithin: 1d\n")
    write(folder, "a-train.yml", "name: train\nduration: 6h\nwithin: 2d\n")
    write(folder, "c-infer.YAML", "name: infer\nduration: 30m\nwithin: 12h\n")
    write(folder, "notes.txt", "not a job")
    write(folder, "README.md", "# jobs")
    jobs = load_job_specs(folder, submitted_at=SUBMITTED)
    assert [j.id for j in jobs] == ["train", "eval", "infer"]
    assert [j.duration_s for j in jobs] == [21600.0, 3600.0, 1800.0]


def test_single_job_spec_file_through_load_job_specs(tmp_path: Path) -> None:
    path = job_with(tmp_path, JOB_EXAMPLE)
    (job,) = load_job_specs(path, submitted_at=SUBMITTED)
    assert job.id == "finetune-llama-8b"


def test_folder_with_duplicate_job_names(tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    write(folder, "a.yaml", "name: train\nduration: 1h\nwithin: 1d\n")
    second = write(folder, "b.yaml", "name: train\nduration: 2h\nwithin: 1d\n")
    err = expect_error(
        lambda: load_job_specs(folder, submitted_at=SUBMITTED),
        source=second,
        field="name",
        shows="'train'",
    )
    assert "a.yaml" in err.one_line()


def test_folder_error_names_the_bad_file(tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    write(folder, "a.yaml", "name: ok\nduration: 1h\nwithin: 1d\n")
    bad = write(folder, "b.yaml", "name: bad\nduration: 1 hour\nwithin: 1d\n")
    expect_error(
        lambda: load_job_specs(folder, submitted_at=SUBMITTED),
        source=bad,
        field="duration",
        shows="'1 hour'",
    )


def test_empty_folder_refused(tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    folder.mkdir()
    expect_error(
        lambda: load_job_specs(folder, submitted_at=SUBMITTED),
        source=folder,
        field=None,
        shows="no job specs",
    )
    write(folder, "notes.txt", "nothing here")
    expect_error(
        lambda: load_job_specs(folder, submitted_at=SUBMITTED),
        source=folder,
        field=None,
        shows="no job specs",
    )


def test_missing_job_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    expect_error(
        lambda: load_job_specs(missing, submitted_at=SUBMITTED),
        source=missing,
        field=None,
        shows="no such file",
    )


# --- units, directly ---------------------------------------------------------------------------


def test_parse_time_forms() -> None:
    assert parse_time("2022-03-01", field="t") == datetime(2022, 3, 1, tzinfo=UTC)
    assert parse_time(" 2022-03-01T01:00:00+01:00 ", field="t") == datetime(2022, 3, 1, tzinfo=UTC)
    aware = datetime(2022, 3, 1, 3, tzinfo=timezone(timedelta(hours=3)))
    assert parse_time(aware, field="t") == datetime(2022, 3, 1, tzinfo=UTC)
    with pytest.raises(ConfigError) as info:
        parse_time(datetime(2022, 3, 1), field="t", source="s.yaml")
    assert (info.value.source, info.value.field) == ("s.yaml", "t")
    with pytest.raises(ConfigError) as info:
        parse_time(12, field="t")
    assert info.value.value == 12


def test_errors_are_gridshift_errors_not_others(tmp_path: Path) -> None:
    # a sweep of broken files: each one must give a ConfigError, never another exception
    broken = [
        "name: [a\n",
        "name: a\nduration: {h: 6}\nwithin: 1d\n",
        "name: a\nduration: 6h\nwithin: [1d]\n",
        "name: a\nduration: 6h\nwithin: 1d\nresources: 8\n",
        "name: a\nduration: 6h\nwithin: 1d\nplacement: GB\n",
        "name: a\nduration: 6h\nwithin: 1d\nenv: [A]\n",
        "name: 12\nduration: 6h\nwithin: 1d\n",
        "name: a\nduration: 6h\ndeadline: null\n",
        "name: a\nduration: 6h\nwithin: 1d\nearliest_start: 12\n",
        "name: a\nduration: .nan\nwithin: 1d\n",
    ]
    for i, text in enumerate(broken):
        path = job_with(tmp_path, text, f"broken-{i}.yaml")
        with pytest.raises(GridshiftError) as info:
            load_job_spec(path, submitted_at=SUBMITTED)
        assert isinstance(info.value, ConfigError), text
        assert info.value.source == str(path), text
        assert "\n" not in info.value.one_line(), text
