"""schemathesis against the API's own OpenAPI schema, in-process (WSGI), signed in as an owner
of a case with one object of every kind: no server error, and every response (status, content
type, body) as the schema says. SCHEMATHESIS_MAX_EXAMPLES sets the generated examples per
operation (fuzzing phase); SCHEMATHESIS_COVERAGE=0 skips the coverage phase."""

import json
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cases.tokens import token_create
from tests.api.test_permissions import _world_snapshot, world  # noqa: F401 (fixtures)

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5"))


def _schema() -> dict:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


schema = schemathesis.openapi.from_dict(_schema())
schema.app = get_wsgi_application()
# The coverage phase sends boundary and invalid values of every parameter and field (most of
# the run's time); SCHEMATHESIS_COVERAGE=0 leaves it out for a quick run.
schema.config.phases.coverage.enabled = os.environ.get("SCHEMATHESIS_COVERAGE", "1") != "0"


def real_ids(world, path: str) -> dict:  # noqa: F811
    """Point the path at the world's objects, so that the fuzzed bodies reach the services."""
    by_prefix = {
        "/api/v1/sources/": world.source.pk,
        "/api/v1/evidence/": world.photo.pk,
        "/api/v1/claims/": world.draft.pk,
        "/api/v1/links/": world.link.pk,
        "/api/v1/comments/": world.comment.pk,
    }
    ids = {"case_id": world.personas.case.pk, "user_id": world.member.pk}
    for prefix, pk in by_prefix.items():
        if path.startswith(prefix):
            ids["id"] = pk
    return ids


@pytest.fixture(autouse=True)
def no_name_lookups(monkeypatch):
    """Webhook addresses are resolved when a webhook is made (config.outbound): a fuzzed host
    name would be looked up in the DNS, answering differently from run to run (and hypothesis
    refuses a state machine whose steps are not reproducible). Only IP literals resolve here."""
    import ipaddress
    import socket

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            ip = ipaddress.ip_address(str(host).strip("[]"))
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "not looked up in tests") from None
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (str(ip), port))]

    monkeypatch.setattr("config.outbound.socket.getaddrinfo", getaddrinfo)


@pytest.fixture
def connections_kept():
    """Keep the test's database connection open across requests, as Django's test client does:
    the WSGI handler would otherwise close it when each request finishes (CONN_MAX_AGE)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.filterwarnings("ignore")
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, world, connections_kept):  # noqa: F811
    if case.path_parameters:
        ids = real_ids(world, case.path)
        # Keep a generated id now and then (a 404 must conform too).
        for name in case.path_parameters:
            if name in ids and hash(str(case.body)) % 4:
                case.path_parameters[name] = ids[name]
    if case.path.startswith("/api/v1/auth/logout"):
        return  # revokes the token the other operations use; covered in test_tokens
    _, key = token_create(user=world.personas.owner)
    case.call_and_validate(
        headers={"Authorization": f"Token {key}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


STATEFUL_SCENARIOS = int(os.environ.get("SCHEMATHESIS_STATEFUL_SCENARIOS", "30"))


@pytest.mark.filterwarnings("ignore")
def test_sequences_of_api_calls_give_no_server_error(world, connections_kept):  # noqa: F811
    """Stateful: schemathesis chains the operations along the links it infers from the schema
    (create a claim, then read, link, submit and review it; create evidence, then comment on it,
    …), as the owner, and no step may answer 5xx. Short by design (SCHEMATHESIS_STATEFUL_SCENARIOS
    scenarios of a few steps each); the conformance of each response is the test above's job."""
    # Logging out would revoke the machine's own token; covered in test_tokens.
    stateful = schema.exclude(path_regex="^/api/v1/auth/logout/")
    owner = world.personas.owner

    class Sequences(stateful.as_state_machine()):
        def setup(self):
            self.made = set()  # ids this scenario's own steps created or read
            # Every scenario starts from the same world: what one created, reviewed or deleted
            # is rolled back after it, so that the next draws what it drew the first time
            # (hypothesis replays scenarios and requires the same data generation).
            self.atomic = transaction.atomic()
            self.atomic.__enter__()

        def teardown(self):
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)

        def before_call(self, case):
            # An id that no step produced is a random one (a 404 that stops the sequence):
            # point it at the world's object of that kind instead, so the steps reach services.
            ids = real_ids(world, case.path)
            for name, value in (case.path_parameters or {}).items():
                if name in ids and value not in self.made:
                    case.path_parameters[name] = ids[name]

        def after_call(self, response, case):
            try:
                body = response.json()
            except ValueError:
                return
            if isinstance(body, dict) and isinstance(body.get("id"), int):
                self.made.add(body["id"])

        def get_call_kwargs(self, case):
            # A fresh token for every call: a step may revoke tokens (DELETE /auth/tokens/{id}/).
            _, key = token_create(user=owner)
            return {"headers": {"Authorization": f"Token {key}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=[not_a_server_error])

    Sequences.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
