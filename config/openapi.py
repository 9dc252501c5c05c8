"""What the OpenAPI schema says once for the whole API (drf-spectacular's
DESCRIPTION): the answers every operation shares, and those that belong to
no operation, for which OpenAPI has no place. Each operation lists its own
statuses with ``config.serializers.problem_responses``."""

DESCRIPTION = """\
Event-sourced order management: commands append events, queries read projections.

Every error is `application/problem+json` (RFC 9457: `type`, `title`, `status`, `detail`, and \
per-field `errors`), and each operation lists the statuses it can answer. Any operation can answer \
400 for a malformed `X-Correlation-ID`, 401 when credentials are needed and missing, or sent and \
not valid, 406 when `Accept` names no JSON type, and 411 when a body comes without `Content-Length` \
(chunked). Request bodies take only the fields their schema names.

Two answers belong to no operation below: a method that a path does not list answers 405 with an \
`Allow` header naming the methods it takes (OPTIONS, which describes the endpoint, is not part of \
this contract), and a path that is not listed (an order id that is not a UUID, say) answers 404.
"""
