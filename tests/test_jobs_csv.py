"""The gridshift jobs CSV (DESIGN.md §3.5): ``read_jobs_csv`` on files written in tmp_path.

Every refusal is a ``ConfigError`` (a ``UserError``) whose ``source`` is the file, whose ``field``
names the row (``row N.<column>``, N being the line of the file, the header being line 1) and
whose message shows the offending value.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridshift.config.jobs_csv import COLUMNS, read_jobs_csv
from gridshift.config.site import SiteConfig, load_site
from gridshift.domain import ConfigError, Elastic, Interruptible, Priority, UserError

HEADER = ",".join(COLUMNS)
REQUIRED_HEADER = "id,submit_time,duration_s"
T0 = datetime(2022, 6, 1, 6, tzinfo=UTC)

SITE_YAML = """\
clusters:
  - name: fra-1
    zone: DE-LU
    executor: local
    gpus: 16
    gpu_type: H100
    pue: 1.2
    tariff: {kind: wholesale, adder_usd_per_mwh: 25}
signals:
  - {zone: DE-LU, kind: carbon, source: bundled}
  - {zone: DE-LU, kind: price, source: bundled}
objective: {carbon_price_usd_per_tonne: 100}
"""


def write_csv(tmp_path: Path, *lines: str, name: str = "jobs.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    text = "\n".join(lines) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def full_row(
    job_id: str = "a",
    *,
    submit: str = "2022-06-01T06:00:00Z",
    duration: str = "3600",
    gpus: str = "1",
    deadline: str = "2022-06-02T06:00:00Z",
    interruptible: str = "",
    priority: str = "",
    team: str = "",
    zones: str = "",
    min_gpus: str = "",
    max_gpus: str = "",
    watts: str = "",
) -> str:
    return ",".join(
        [
            job_id,
            submit,
            duration,
            gpus,
            deadline,
            interruptible,
            priority,
            team,
            zones,
            min_gpus,
            max_gpus,
            watts,
        ]
    )


def refused(path: Path, **kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        read_jobs_csv(path, **kwargs)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, UserError)
    return err


def assert_row_error(err: ConfigError, path: Path, field: str, value: str | None) -> None:
    """The error points at the file, the row and the column, and shows the value."""
    assert err.source == str(path)
    assert err.field == field
    line = err.one_line()
    assert line.startswith(f"{path}: {field}: ")
    if value is not None:
        assert value in line


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    path = tmp_path / "gridshift.yaml"
    path.write_text(SITE_YAML)
    return load_site(path)


# --- accepted files ----------------------------------------------------------------------------


def test_all_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        HEADER,
        "llama-ft,2022-06-01T06:00:00Z,21600,8,2022-06-02T06:00:00Z,false,normal,nlp,,,,",
        "embed,2022-06-01T07:30:00Z,14400,8,2022-06-02T12:00:00Z,10m,low,search,DE-LU|GB,,,550",
        "shard,2022-06-01T06:00:00Z,36000,16,2022-06-03T00:00:00Z,true,high,research,,8,32,",
    )
    jobs = read_jobs_csv(path)
    assert [j.id for j in jobs] == ["llama-ft", "embed", "shard"]
    assert [j.name for j in jobs] == ["llama-ft", "embed", "shard"]

    llama, embed, shard = jobs
    assert llama.submitted_at == T0
    assert llama.submitted_at.tzinfo is UTC
    assert llama.deadline == datetime(2022, 6, 2, 6, tzinfo=UTC)
    assert llama.duration_s == 21600.0
    assert llama.gpus == 8
    assert llama.interruptible is None
    assert llama.priority is Priority.NORMAL
    assert llama.team == "nlp"
    assert llama.zones == ()
    assert llama.elastic is None
    assert llama.watts_per_gpu is None
    assert llama.release == T0

    assert embed.submitted_at == datetime(2022, 6, 1, 7, 30, tzinfo=UTC)
    assert embed.interruptible == Interruptible(600.0)
    assert embed.priority is Priority.LOW
    assert embed.team == "search"
    assert embed.zones == ("DE-LU", "GB")
    assert embed.watts_per_gpu == 550.0

    assert shard.interruptible == Interruptible()
    assert shard.interruptible.checkpoint_overhead_s == 300.0
    assert shard.priority is Priority.HIGH
    assert shard.elastic == Elastic(8, 32)
    assert shard.gpus == 16


def test_only_required_columns_with_default_within(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        REQUIRED_HEADER,
        "a,2022-06-01T06:00:00Z,3600",
        "b,2022-06-01T12:15:00Z,900.5",
    )
    jobs = read_jobs_csv(path, default_within_s=24 * 3600)
    a, b = jobs
    assert a.deadline == T0 + timedelta(hours=24)
    assert b.deadline == datetime(2022, 6, 2, 12, 15, tzinfo=UTC)
    assert b.duration_s == 900.5
    for job in jobs:
        assert job.gpus == 1
        assert job.priority is Priority.NORMAL
        assert job.interruptible is None
        assert job.elastic is None
        assert job.zones == ()
        assert job.watts_per_gpu is None
        assert job.team == "default"


def test_explicit_deadline_wins_over_default_within(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "id,submit_time,duration_s,deadline",
        "a,2022-06-01T06:00:00Z,3600,2022-06-01T09:00:00Z",
        "b,2022-06-01T06:00:00Z,3600,",
    )
    a, b = read_jobs_csv(path, default_within_s=6 * 3600)
    assert a.deadline == datetime(2022, 6, 1, 9, tzinfo=UTC)
    assert b.deadline == T0 + timedelta(hours=6)


def test_times_with_offsets_become_utc(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        REQUIRED_HEADER + ",deadline",
        "a,2022-06-01T08:00:00+02:00,3600,2022-06-01T20:00:00-04:00",
    )
    (job,) = read_jobs_csv(path)
    assert job.submitted_at == T0
    assert job.deadline == datetime(2022, 6, 2, 0, tzinfo=UTC)
    assert job.deadline.utcoffset() == timedelta(0)


def test_columns_in_any_order_and_padded_with_spaces(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        " duration_s , id ,gpus, submit_time,deadline",
        " 7200 , x , 4 , 2022-06-01T06:00:00Z , 2022-06-01T18:00:00Z",
    )
    (job,) = read_jobs_csv(path)
    assert job.id == "x"
    assert job.duration_s == 7200.0
    assert job.gpus == 4
    assert job.deadline == datetime(2022, 6, 1, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", Interruptible(300.0)),
        ("TRUE", Interruptible(300.0)),
        ("yes", Interruptible(300.0)),
        ("false", None),
        ("no", None),
        ("", None),
        ("10m", Interruptible(600.0)),
        ("90s", Interruptible(90.0)),
        ("1h", Interruptible(3600.0)),
        ("0s", Interruptible(0.0)),
    ],
)
def test_interruptible_values(tmp_path: Path, text: str, expected: Interruptible | None) -> None:
    path = write_csv(tmp_path, HEADER, full_row(interruptible=text))
    (job,) = read_jobs_csv(path)
    assert job.interruptible == expected


def test_interruptible_nonsense_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(), full_row("b", interruptible="sometimes"))
    err = refused(path)
    assert_row_error(err, path, "row 3.interruptible", "'sometimes'")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("low", Priority.LOW),
        ("normal", Priority.NORMAL),
        ("high", Priority.HIGH),
        ("critical", Priority.CRITICAL),
        ("", Priority.NORMAL),
    ],
)
def test_priorities(tmp_path: Path, text: str, expected: Priority) -> None:
    path = write_csv(tmp_path, HEADER, full_row(priority=text))
    (job,) = read_jobs_csv(path)
    assert job.priority is expected


def test_unknown_priority_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(priority="urgent"))
    err = refused(path)
    assert_row_error(err, path, "row 2.priority", "'urgent'")
    assert "low, normal, high, critical" in err.one_line()


# --- zones ---------------------------------------------------------------------------------------


def test_zones_split_on_pipe_without_site(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        HEADER,
        full_row("a", zones="DE-LU|GB|US-CAL-CISO"),
        full_row("b", zones=" DE-LU | GB "),
        full_row("c", zones="GB"),
    )
    a, b, c = read_jobs_csv(path)
    assert a.zones == ("DE-LU", "GB", "US-CAL-CISO")
    assert b.zones == ("DE-LU", "GB")
    assert c.zones == ("GB",)


def test_site_zones_loaded_from_bundled_signals(site: SiteConfig) -> None:
    assert site.zones == ("DE-LU",)
    assert [c.name for c in site.clusters] == ["fra-1"]


def test_zone_served_by_site_accepted(tmp_path: Path, site: SiteConfig) -> None:
    path = write_csv(tmp_path, HEADER, full_row(zones="DE-LU"), full_row("b"))
    a, b = read_jobs_csv(path, site=site)
    assert a.zones == ("DE-LU",)
    assert b.zones == ()


def test_zone_no_cluster_serves_refused(tmp_path: Path, site: SiteConfig) -> None:
    path = write_csv(
        tmp_path,
        HEADER,
        full_row("a", zones="DE-LU"),
        full_row("b", zones="DE-LU|GB"),
    )
    err = refused(path, site=site)
    assert_row_error(err, path, "row 3.zones", "'GB'")
    assert err.value == "GB"
    assert "DE-LU" in err.one_line()  # what would be accepted
    # without a site the same file is fine
    assert [j.zones for j in read_jobs_csv(path)] == [("DE-LU",), ("DE-LU", "GB")]


def test_malformed_zone_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(zones="DE-LU|not a zone"))
    err = refused(path)
    assert err.source == str(path)
    assert err.field is not None
    assert err.field.startswith("row 2.")
    assert "'not a zone'" in err.one_line()


# --- elastic, power ------------------------------------------------------------------------------


def test_min_max_gpus_make_elastic(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        HEADER,
        full_row("both", gpus="8", min_gpus="4", max_gpus="16"),
        full_row("only-max", gpus="8", max_gpus="32"),
        full_row("only-min", gpus="8", min_gpus="2"),
        full_row("neither", gpus="8"),
    )
    both, only_max, only_min, neither = read_jobs_csv(path)
    assert both.elastic == Elastic(4, 16)
    assert only_max.elastic == Elastic(8, 32)
    assert only_min.elastic == Elastic(2, 8)
    assert neither.elastic is None
    assert {j.gpus for j in (both, only_max, only_min, neither)} == {8}


def test_min_above_max_gpus_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(gpus="8", min_gpus="16", max_gpus="4"))
    err = refused(path)
    assert err.source == str(path)
    assert err.field == "row 2.elastic"
    assert "16" in err.one_line()
    assert "4" in err.one_line()


def test_gpus_outside_elastic_range_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(gpus="64", min_gpus="4", max_gpus="16"))
    err = refused(path)
    assert err.source == str(path)
    assert err.field is not None
    assert err.field.startswith("row 2.")
    assert "64" in err.one_line()


def test_watts_per_gpu(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row("a", watts="550"), full_row("b", watts="412.5"))
    a, b = read_jobs_csv(path)
    assert a.watts_per_gpu == 550.0
    assert b.watts_per_gpu == 412.5


def test_nonpositive_watts_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(watts="-5"))
    err = refused(path)
    assert err.source == str(path)
    assert err.field is not None
    assert err.field.startswith("row 2.")
    assert "-5" in err.one_line()


# --- refusals ------------------------------------------------------------------------------------


def test_missing_deadline_without_default_refused(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        REQUIRED_HEADER + ",deadline",
        "a,2022-06-01T06:00:00Z,3600,2022-06-02T00:00:00Z",
        "b,2022-06-01T06:00:00Z,3600,2022-06-02T00:00:00Z",
        "c,2022-06-01T06:00:00Z,3600,",
    )
    err = refused(path)
    assert_row_error(err, path, "row 4.deadline", None)
    assert "deadline" in err.one_line()
    assert "--default-within" in err.one_line()


def test_missing_deadline_column_without_default_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, REQUIRED_HEADER, "a,2022-06-01T06:00:00Z,3600")
    err = refused(path)
    assert_row_error(err, path, "row 2.deadline", None)


def test_deadline_before_earliest_finish_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(duration="36000", deadline="2022-06-01T07:00:00Z"))
    err = refused(path)
    assert_row_error(err, path, "row 2.deadline", "2022-06-01T07:00:00Z")
    assert "2022-06-01T16:00:00Z" in err.one_line()  # the earliest possible finish


def test_duplicate_ids_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row("a"), full_row("b"), full_row("a"))
    err = refused(path)
    assert_row_error(err, path, "row 4.id", "'a'")
    assert "twice" in err.one_line()


def test_unknown_column_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, REQUIRED_HEADER + ",deadline,colour", full_row())
    err = refused(path)
    assert err.source == str(path)
    assert err.field == "header"
    assert "colour" in err.one_line()
    assert "watts_per_gpu" in err.one_line()  # the accepted columns are listed


@pytest.mark.parametrize("missing", ["id", "submit_time", "duration_s"])
def test_missing_required_column_refused(tmp_path: Path, missing: str) -> None:
    columns = [c for c in ("id", "submit_time", "duration_s", "deadline") if c != missing]
    path = write_csv(tmp_path, ",".join(columns), ",".join("x" for _ in columns))
    err = refused(path, default_within_s=3600.0)
    assert err.source == str(path)
    assert err.field == "header"
    assert f"missing column(s) {missing}" in err.one_line()


def test_naive_submit_time_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(), full_row("b", submit="2022-06-01T06:00:00"))
    err = refused(path)
    assert_row_error(err, path, "row 3.submit_time", "'2022-06-01T06:00:00'")
    assert "no zone" in err.one_line()


def test_naive_deadline_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(deadline="2022-06-02 06:00:00"))
    err = refused(path)
    assert_row_error(err, path, "row 2.deadline", "'2022-06-02 06:00:00'")


def test_garbage_time_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(submit="yesterday"))
    err = refused(path)
    assert_row_error(err, path, "row 2.submit_time", "'yesterday'")


def test_zero_duration_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(duration="0"))
    err = refused(path)
    assert_row_error(err, path, "row 2.duration_s", "0")


def test_zero_gpus_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(gpus="0"))
    err = refused(path)
    assert err.source == str(path)
    assert err.field is not None
    assert err.field.startswith("row 2.")
    assert "(got 0)" in err.one_line()


def test_bad_number_error_shows_value(tmp_path: Path) -> None:
    """What does hold today: a ConfigError, the column and the value are named."""
    path = write_csv(tmp_path, HEADER, full_row(gpus="abc"))
    err = refused(path)
    assert "gpus" in (err.field or "")
    assert "'abc'" in err.one_line()
    assert "whole number" in err.one_line()


@pytest.mark.parametrize(
    ("column", "kwargs"),
    [
        ("gpus", {"gpus": "abc"}),
        ("duration_s", {"duration": "abc"}),
        ("min_gpus", {"min_gpus": "abc", "max_gpus": "4"}),
        ("max_gpus", {"min_gpus": "1", "max_gpus": "abc"}),
        ("watts_per_gpu", {"watts": "abc"}),
    ],
)
def test_bad_number_error_names_file_and_row(
    tmp_path: Path, column: str, kwargs: dict[str, str]
) -> None:
    path = write_csv(tmp_path, HEADER, full_row(**kwargs))
    err = refused(path)
    assert_row_error(err, path, f"row 2.{column}", "'abc'")


def test_fractional_gpus_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(gpus="2.5"))
    err = refused(path)
    assert "'2.5'" in err.one_line()


# --- encoding and shape of the file --------------------------------------------------------------


def test_bom_at_start_of_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row("a"), full_row("b"), bom=True)
    jobs = read_jobs_csv(path)
    assert [j.id for j in jobs] == ["a", "b"]
    assert jobs[0].submitted_at == T0


def test_bom_with_only_required_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path, REQUIRED_HEADER, "a,2022-06-01T06:00:00Z,60", bom=True)
    (job,) = read_jobs_csv(path, default_within_s=3600.0)
    assert job.id == "a"
    assert job.deadline == T0 + timedelta(hours=1)


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_bytes(f"{HEADER}\r\n{full_row('a')}\r\n{full_row('b')}\r\n".encode())
    assert [j.id for j in read_jobs_csv(path)] == ["a", "b"]


def test_header_only_file_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER)
    err = refused(path)
    assert err.source == str(path)
    assert "no jobs" in err.one_line()
    assert err.one_line().startswith(str(path))


def test_zero_byte_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_bytes(b"")
    err = refused(path)
    assert err.source == str(path)
    assert "missing column(s) id, submit_time, duration_s" in err.one_line()


def test_missing_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    err = refused(path)
    assert err.source == str(path)
    assert "no such file" in err.one_line()


def test_not_utf8_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_bytes(f"{HEADER}\n".encode() + b"caf\xe9," + full_row()[2:].encode() + b"\n")
    err = refused(path)
    assert err.source == str(path)
    assert "UTF-8" in err.one_line()


def test_quoted_fields(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        HEADER,
        '"job, with comma",2022-06-01T06:00:00Z,3600,1,2022-06-02T06:00:00Z,,,'
        '"team x","DE-LU|GB",,,',
    )
    (job,) = read_jobs_csv(path)
    assert job.id == "job, with comma"
    assert job.team == "team x"
    assert job.zones == ("DE-LU", "GB")


def test_row_number_after_blank_line_is_the_file_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path, HEADER, full_row("a"), "", full_row("b", deadline="2022-06-02T06:00:00")
    )
    err = refused(path)
    assert err.field == "row 4.deadline"  # line 4 of the file; today it says "row 3"


def test_empty_id_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row(""))
    err = refused(path)
    assert_row_error(err, path, "row 2.id", None)


def test_row_with_extra_fields_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER, full_row() + ",surplus")
    err = refused(path)
    assert err.source == str(path)
    assert err.field is not None
    assert err.field.startswith("row 2")


def test_duplicate_column_refused(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "id,submit_time,duration_s,gpus,gpus,deadline",
        "a,2022-06-01T06:00:00Z,3600,1,2,2022-06-02T06:00:00Z",
    )
    err = refused(path)
    assert err.source == str(path)
    assert err.field == "header"
