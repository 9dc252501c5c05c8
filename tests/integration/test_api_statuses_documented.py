"""The OpenAPI schema tells the truth about the statuses the API answers.

For every operation in the generated schema, the failures a client can
cause knowing nothing but the schema (no credentials, a refused token, a
user without the right, a browser session without its CSRF token, an
unknown id, a body that is not JSON or is too large, an Accept header it
cannot meet, a malformed X-Correlation-ID, a stale If-Match) answer
problem+json with a status that operation lists. The statuses these probes
can provoke are listed exactly where they happen, so the schema neither
misses one nor promises one that cannot come. Each answer carries the
headers its status declares as required, and declares each header of the
API's own it carries. A method that a path does not list answers 405 with an
Allow header naming the documented ones.

An operation added later is probed as soon as the schema has it; a command
whose unknown id should answer 404 needs a body it accepts in VALID_BODIES.
Runs on PostgreSQL and SQLite alike (the probes are plain requests)."""

import json
import uuid
from dataclasses import dataclass
from functools import cached_property

import pytest
from django.test import Client, override_settings

from tests.support import login, token_headers

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
METHODS = ("get", "post", "put", "patch", "delete")
# The statuses the probes below can provoke: an operation lists one of these
# exactly when some probe made it answer that.
PROBED = {400, 401, 403, 404, 406, 413, 415}
# The headers the API sets on its answers.
API_HEADERS = (
    "X-Correlation-ID",
    "ETag",
    "Location",
    "Idempotent-Replayed",
    "Retry-After",
    "WWW-Authenticate",
    "X-Consistency-Token",
    "X-Projection-Position",
)
# A well-formed SKU or customer id that names nothing (a UUID path parameter gets a new UUID).
UNKNOWN_KEY = "NO-SUCH-1"
# A body each command with an id in its path accepts, so that the unknown id,
# not the body, decides the answer.
VALID_BODIES = {
    "add_item": {"sku": "WIDGET-A", "quantity": 1},
    "change_line_quantity": {"quantity": 1},
    "patch_line_quantity": {"quantity": 1},
    "add_note": {"text": "A note."},
    "cancel_order": {"reason": "Changed my mind."},
    "change_shipping_address": {"line1": "1 Row", "city": "London", "country": "GB"},
    "change_product_price": {"price_cents": 100},
    "rename_product": {"name": "A name"},
    "receive_stock": {"quantity": 1},
}


@dataclass
class Operation:
    path: str
    method: str
    spec: dict
    path_parameters: list

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path} ({self.spec['operationId']})"

    @cached_property
    def documented(self) -> set[int]:
        return {int(code) for code in self.spec["responses"]}

    @cached_property
    def headers(self) -> set[str]:
        return {p["name"] for p in self.spec.get("parameters", []) if p["in"] == "header"}

    def response_headers(self, status: int) -> dict[str, dict]:
        return self.spec["responses"].get(str(status), {}).get("headers", {})

    @property
    def anonymous_allowed(self) -> bool:
        return {} in self.spec.get("security", [])

    @property
    def reads_body(self) -> bool:
        # A body is part of an Idempotency-Key, so it is read even where none is documented.
        return "requestBody" in self.spec or "Idempotency-Key" in self.headers

    @cached_property
    def url(self) -> str:
        url = self.path
        for p in self.path_parameters:
            value = str(uuid.uuid4()) if p["schema"].get("format") == "uuid" else UNKNOWN_KEY
            url = url.replace("{" + p["name"] + "}", value)
        return url


def operations(schema: dict) -> list[Operation]:
    found = []
    for path, item in schema["paths"].items():
        for method, spec in item.items():
            if method in METHODS:
                params = [*item.get("parameters", []), *spec.get("parameters", [])]
                found.append(Operation(path, method, spec, [p for p in params if p["in"] == "path"]))
    return found


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def send(client: Client, op: Operation, *, body=None, raw=None, content_type="application/json", **headers):
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return client.generic(op.method.upper(), op.url, data, content_type=content_type, headers=headers)


def problem_error(response) -> str | None:
    """Why ``response`` is not an RFC 9457 problem of its own status (None if it is)."""
    if response["Content-Type"] != PROBLEM:
        return f"Content-Type {response['Content-Type']!r}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"a body that is not JSON: {response.content[:100]!r}"
    if body.get("status") != response.status_code or not all(
        body.get(k) for k in ("type", "title", "detail")
    ):
        return f"not a problem of status {response.status_code}: {body}"
    return None


def header_errors(op: Operation, response) -> list[str]:
    """How ``response``'s headers disagree with those its status declares."""
    declared = op.response_headers(response.status_code)
    missing = [name for name, spec in declared.items() if spec.get("required") and name not in response]
    undeclared = [name for name in API_HEADERS if name in response and name not in declared]
    return [f"without {name}, declared required" for name in missing] + [
        f"with {name}, not declared" for name in undeclared
    ]


def probes(op: Operation, staff, reader):
    """(what, response, the status it must be or None) for each failure that applies."""
    api, staff_token = Client(), token_headers(staff)  # no session: credentials per request
    body = VALID_BODIES.get(op.spec["operationId"])
    yield "no credentials", send(api, op, body=body), None if op.anonymous_allowed else 401
    refused = {"Authorization": "Token " + "0" * 40}
    yield "a refused token", send(api, op, body=body, **refused), 401
    yield "a user without the right", send(api, op, body=body, **token_headers(reader)), None
    if op.method != "get":
        session = login(staff, enforce_csrf_checks=True)
        yield "a session without its CSRF token", send(session, op, body=body), 403
    yield "unknown ids (staff)", send(api, op, body=body, **staff_token), None
    key = {"Idempotency-Key": f"probe-{uuid.uuid4()}"}  # makes even a command without a body read it
    not_json = send(api, op, raw="not json", content_type="text/plain", **staff_token, **key)
    yield "a body that is not JSON", not_json, 415 if op.reads_body else None
    with override_settings(API_MAX_BODY_BYTES=16):
        key = {"Idempotency-Key": f"probe-{uuid.uuid4()}"}
        large = send(api, op, body={"padding": "x" * 32}, **staff_token, **key)
    yield "a body over API_MAX_BODY_BYTES", large, 413 if op.reads_body else None
    yield "Accept: text/html", send(api, op, body=body, Accept="text/html", **staff_token), 406
    bad_correlation = {"X-Correlation-ID": "not an id!"}
    yield (
        "a malformed X-Correlation-ID",
        send(api, op, body=body, **staff_token, **bad_correlation),
        400,
    )
    if "If-Match" in op.headers:
        yield "a stale If-Match", send(api, op, body=body, **staff_token, **{"If-Match": '"999"'}), None


def test_every_failure_a_client_can_cause_answers_a_documented_status(schema, staff, reader, catalogue):
    failures = []
    for op in operations(schema):
        answered = set()
        for what, response, expected in probes(op, staff, reader):
            status = response.status_code
            answered.add(status)
            if status not in op.documented:
                failures.append(f"{op.name}: {what} answered {status}, not in {sorted(op.documented)}")
            if expected is not None and status != expected:
                failures.append(f"{op.name}: {what} answered {status}, not {expected}")
            if status >= 400 and (why := problem_error(response)):
                failures.append(f"{op.name}: {what} answered {status} with {why}")
            failures.extend(f"{op.name}: {what} answered {status} {e}" for e in header_errors(op, response))
        for status in sorted((op.documented ^ answered) & PROBED):
            if status in op.documented:
                hint = " (add a body it accepts to VALID_BODIES?)" if status == 404 else ""
                failures.append(f"{op.name}: lists {status}, which no probe provoked{hint}")
    assert not failures, "\n".join(failures)


def test_each_operation_lists_the_statuses_its_headers_can_cause(schema):
    failures = []
    for op in operations(schema):
        if ("If-Match" in op.headers) != (412 in op.documented):
            failures.append(
                f"{op.name}: takes If-Match: {'If-Match' in op.headers}, lists 412: {412 in op.documented}"
            )
        if ("Idempotency-Key" in op.headers) != (422 in op.documented):
            failures.append(
                f"{op.name}: takes Idempotency-Key: {'Idempotency-Key' in op.headers}, "
                f"lists 422: {422 in op.documented}"
            )
        for code, response in op.spec["responses"].items():
            if int(code) >= 400 and set(response.get("content", {})) != {PROBLEM}:
                failures.append(f"{op.name}: {code} is documented as {sorted(response.get('content', {}))}")
    assert not failures, "\n".join(failures)


def test_a_method_a_path_does_not_list_answers_405_with_allow(schema, staff):
    headers = token_headers(staff)
    failures = []
    for path, ops in _by_path(operations(schema)).items():
        listed = {op.method for op in ops}
        allowed = {m.upper() for m in listed} | {"OPTIONS"} | ({"HEAD"} if "get" in listed else set())
        url = ops[0].url
        for method in (*METHODS, "head"):
            if method.upper() in allowed:
                continue
            response = Client().generic(method.upper(), url, headers=headers)
            if response.status_code != 405:
                failures.append(f"{method.upper()} {path}: answered {response.status_code}, not 405")
                continue
            if set(response.get("Allow", "").replace(" ", "").split(",")) != allowed:
                failures.append(
                    f"{method.upper()} {path}: Allow {response.get('Allow')!r}, not {sorted(allowed)}"
                )
            if method != "head" and (why := problem_error(response)):  # a HEAD answer has no body
                failures.append(f"{method.upper()} {path}: 405 with {why}")
    assert not failures, "\n".join(failures)


def _by_path(ops: list[Operation]) -> dict[str, list[Operation]]:
    grouped: dict[str, list[Operation]] = {}
    for op in ops:
        grouped.setdefault(op.path, []).append(op)
    return grouped


def test_the_patch_of_a_line_documents_the_body_it_requires(schema):
    """PATCH takes the same body as PUT, its field required: not a "Patched"
    copy with every field optional, which a generated client would send empty."""
    assert [name for name in schema["components"]["schemas"] if name.startswith("Patched")] == []
    [path] = [p for p in schema["paths"] if p.startswith("/api/orders/") and p.endswith("/items/{sku}")]
    body = schema["paths"][path]["patch"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert body["required"] is True and schema["components"]["schemas"][ref]["required"] == ["quantity"]
