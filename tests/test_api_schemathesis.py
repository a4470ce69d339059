"""schemathesis over the OpenAPI document (``/api/v1/openapi.json``) of the in-process app:
every operation, generated inputs valid and invalid, with an admin's token and a member's;
every default check (no server error, status codes, content types, headers and bodies that
match the document, invalid input rejected, ...). RELIABILITY.md's target: 0 server errors,
0 schema violations.

The engine's thread does not run (``start_engine=False``): passes run by hand at set-up give
the forecasts and the plan that ``/plan``, ``/clusters`` and ``/signals`` serve, and the jobs
the fuzzer submits are stored and quoted but never started (their commands are random
strings; none is run).

30 examples a case keep the file under 20 s on two cores; ``GRIDSHIFT_FUZZ=1`` (the switch
``make fuzz`` sets) makes it 1,000 and random (about 5 minutes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from api_fixtures import ADMIN_TOKEN, Api, job_spec, poll, running_api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from gridshift.api.app import PREFIX

MAX_EXAMPLES = 1000 if os.environ.get("GRIDSHIFT_FUZZ") else 30
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("GRIDSHIFT_FUZZ"),
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Fuzzed:
    api: Api
    member: str
    job_ids: list[str]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    with running_api(tmp_path_factory.mktemp("fuzz"), start_engine=False) as api:
        engine = api.runtime.engine
        engine.reconcile()
        engine.run_pass()  # forecasts for the quotes, without the engine's thread
        member = api.member("fuzz", gpu_quota=16)
        job_ids = [
            api.submit(member, api.waiting_spec("seed-waiting")).json()["id"],
            api.submit(
                member,
                job_spec(
                    "seed-unschedulable",
                    placement={"zones": ["GB"]},
                    resources={"gpus": 16, "gpu_type": "A100"},
                ),
            ).json()["id"],
        ]
        poll(  # passes until the plan has the waiting job (nothing is due to start)
            lambda: engine.run_pass() and api.get("/plan", ADMIN_TOKEN).json(),
            lambda plan: job_ids[0] in {j["id"] for j in plan["jobs"]},
            10,
            "the seeded job in the plan",
        )
        assert api.runtime.store.open_attempts() == []
        yield Fuzzed(api, member, job_ids)


@pytest.fixture(scope="module")
def api_schema(fuzzed: Fuzzed) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi(f"{PREFIX}/openapi.json", fuzzed.api.client.app)


# Every operation of the document (test_the_list_is_every_operation keeps it so). The schema is
# a fixture (the app lives in a temporary folder), so the operations are listed here and each
# test draws its cases from the operation's strategy: schemathesis' ``from_fixture`` loader
# does not run under pytest 9.
OPERATIONS = (
    "POST /jobs",
    "GET /jobs",
    "GET /jobs/{job_id}",
    "POST /jobs/{job_id}/cancel",
    "GET /jobs/{job_id}/logs",
    "GET /plan",
    "GET /clusters",
    "GET /signals",
    "GET /healthz",
    "POST /teams",
    "GET /teams",
    "POST /tokens",
    "GET /tokens",
    "DELETE /tokens/{token_id}",
)
# Operations with something to get wrong (a typed parameter or a body); the others take a
# token (tested in test_api_tenancy.py) and at most a path segment that any text fits.
NEGATABLE = {"POST /jobs", "GET /jobs", "GET /jobs/{job_id}/logs", "GET /signals"}
NEGATABLE |= {"POST /teams", "POST /tokens"}
CASES = [
    pytest.param(label, mode, id=f"{label}-{mode.value}")
    for label in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or label in NEGATABLE
]
# What the document cannot say (a duration's syntax, deadline xor within, a team that exists):
# schema-valid input these answer 422 for, naming the field, so "valid data is accepted" does
# not hold for them. Every other check still runs on them.
SEMANTIC = {"POST /jobs", "POST /tokens"}


def test_the_list_is_every_operation(api_schema: schemathesis.BaseSchema) -> None:
    documented = {
        f"{op.method.upper()} {op.path.removeprefix(PREFIX)}"
        for op in (result.ok() for result in api_schema.get_all_operations())
    }
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize("role", ["admin", "member"])
@pytest.mark.parametrize(("label", "mode"), CASES)
@FUZZ_SETTINGS
@given(data=st.data())
def test_every_operation(
    api_schema: schemathesis.BaseSchema,
    fuzzed: Fuzzed,
    label: str,
    mode: GenerationMode,
    role: str,
    data: st.DataObject,
) -> None:
    method, path = label.split(" ")
    operation = api_schema[PREFIX + path][method]
    case = data.draw(operation.as_strategy(mode))
    token = ADMIN_TOKEN if role == "admin" else fuzzed.member
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        excluded_checks=[positive_data_acceptance] if label in SEMANTIC else [],
    )


@pytest.mark.parametrize(
    "label", ["GET /jobs/{job_id}", "GET /jobs/{job_id}/logs", "POST /jobs/{job_id}/cancel"]
)
def test_existing_jobs_match_the_document(
    api_schema: schemathesis.BaseSchema, fuzzed: Fuzzed, label: str
) -> None:
    """Generated ids are never a job's: these answers (a job, its logs, a cancel) are checked
    on the seeded jobs, as their owner and as an admin."""
    method, path = label.split(" ")
    operation = api_schema[PREFIX + path][method]
    for job_id in fuzzed.job_ids:
        for token in (fuzzed.member, ADMIN_TOKEN):
            case = operation.Case(path_parameters={"job_id": job_id})
            response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
