"""REST input and error shapes every API endpoint shares.

Strict input fields: JSON types are checked, not coerced ("2" is not a
quantity), and unknown fields are refused instead of silently ignored.
Errors are RFC 9457 problem details; ``problem_responses`` documents them in
the OpenAPI schema.
"""

import re
from datetime import UTC

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from config.rest import PROBLEM_CONTENT_TYPE


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    """A code that matches its pattern as sent: a string, not trimmed, all of
    it (the schema's pattern is what is taken; " WIDGET-A" is not
    "WIDGET-A", and "$" does not let a final newline through)."""

    def __init__(self, regex, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(regex, **kwargs)
        self._whole = re.compile(regex) if isinstance(regex, str) else regex

    def to_internal_value(self, data):
        if not isinstance(data, str) or self._whole.fullmatch(data) is None:
            self.fail("invalid")
        return super().to_internal_value(data)


class UtcDateTimeField(serializers.DateTimeField):
    """An ISO-8601 date-time that exists in UTC (the calendar's first and
    last hours do not, east and west of it), as an aware datetime."""

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        try:
            parsed.astimezone(UTC)
        except OverflowError:
            raise serializers.ValidationError("Out of the range of dates this service keeps.") from None
        return parsed


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError({**exc.detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="A URI reference naming the problem type.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages, keyed by field path.",
    )


def problem_responses(*codes: int, described: dict[int, str] | None = None) -> dict:
    """OpenAPI responses: each status code answers problem+json (``described``:
    what some of them mean for this operation)."""
    said = described or {}
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description=said.get(code, ""))
        for code in codes
    }
