"""schemathesis over the admin API's OpenAPI schema, over real HTTP, with an admin token:
no 5xx, and every response matches the schema (status codes, content types, bodies).
HOCVUSO_FUZZ_EXAMPLES=500 runs a deeper search than the suite's 25 examples per operation."""
from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

import admin_api
from schemathesis.checks import (allow_header_conformance, negative_data_rejection, positive_data_acceptance,
                                 unsupported_method)
from bot.web import create_app
from tests.http_helpers import serving

TOKEN = "fuzz-admin-token-0123456789abcdef0123"


def _schema() -> dict:
    app = FastAPI(title="admin API")
    app.include_router(admin_api.router)
    return app.openapi()


schema = schemathesis.openapi.from_dict(_schema())


@pytest.fixture
def base_url(settings_for, assistant):
    with serving(create_app(settings_for(HOCVUSO_ADMIN_TOKEN=TOKEN), assistant)) as client:
        yield str(client.base_url)


@schema.parametrize()
@settings(max_examples=int(os.environ.get("HOCVUSO_FUZZ_EXAMPLES", "25")), deadline=None, suppress_health_check=list(HealthCheck))
def test_admin_api_never_fails_and_keeps_to_its_schema(case, base_url):
    # Not applied, as they test more than "no 5xx, no response outside the schema":
    # - positive-data acceptance: schema-valid input may be refused by design (an unknown
    #   village id, "from" after "to");
    # - negative-data rejection: unknown query parameters are ignored, and a number is read as
    #   a Unix time where a date-time is due, as FastAPI does;
    # - the checks of methods a path does not have (GET /broadcasts/preview reaches
    #   GET /broadcasts/{id} and is refused with 422, not 405).
    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"},
                           excluded_checks=[positive_data_acceptance, negative_data_rejection, unsupported_method,
                                            allow_header_conformance])
