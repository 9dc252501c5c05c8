"""The audit view (staff): every event, newest first, filterable, read-only."""

import re
from datetime import UTC
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q
from django.db.models.fields.json import KT
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from eventstore.access import staff_required
from eventstore.errors import EventStoreError
from eventstore.labels import stream_labels, streams_labelled
from eventstore.models import Event
from eventstore.personal import show
from eventstore.registry import registry

PAGE_SIZE = 50
AUDIT_STAFF_ONLY = (
    "Only staff users can read the audit trail. Ask a staff user if you need an order's history."
)


class UtcDateTimeField(forms.DateTimeField):
    """A date-time that exists in UTC (the calendar's first and last hours
    do not, east and west of it)."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is not None:
            try:
                parsed.astimezone(UTC)
            except OverflowError:
                raise forms.ValidationError("Out of the range of dates the log keeps.") from None
        return parsed


MIN_ID_PREFIX = 8
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")  # a SKU, or another label (a customer id)


class AuditFilterForm(forms.Form):
    aggregate_id = forms.CharField(
        label="Aggregate",
        required=False,
        max_length=64,
        help_text=f"id, its first {MIN_ID_PREFIX}+ characters, a SKU or a customer id",
    )
    aggregate_type = forms.CharField(label="Aggregate type", required=False, max_length=100)
    event_type = forms.CharField(label="Event type", required=False, max_length=100)
    user = forms.CharField(label="User", required=False, max_length=150, help_text="username or id")
    correlation_id = forms.CharField(label="Correlation id", required=False, max_length=128)
    since = UtcDateTimeField(
        label="From (UTC)", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = UtcDateTimeField(
        label="To (UTC)", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

    def clean_aggregate_id(self) -> str:
        value = self.cleaned_data["aggregate_id"].strip()
        if value and not (_id_range(value) or _LABEL.match(value)):
            raise forms.ValidationError(
                f"An id (or its first {MIN_ID_PREFIX} characters), a SKU or a customer id:"
                " letters, digits, - _ . and :."
            )
        return value


def _id_range(value: str) -> tuple[UUID, UUID] | None:
    """The ids starting with ``value``: a whole id, or a prefix of at least
    MIN_ID_PREFIX hex digits (dashes ignored, any case)."""
    digits = value.lower().replace("-", "")
    if not MIN_ID_PREFIX <= len(digits) <= 32 or any(c not in "0123456789abcdef" for c in digits):
        return None
    return UUID(digits.ljust(32, "0")), UUID(digits.ljust(32, "f"))


def _aggregate(qs, value: str):
    """Events of the streams ``value`` names: by id or id prefix, or by the
    SKU in their first event (eventstore.labels); and a note when it names
    none of them."""
    labelled = streams_labelled(value) if _LABEL.match(value) else []
    wanted = Q(aggregate_id__in=labelled)
    if span := _id_range(value):
        wanted |= Q(aggregate_id__gte=span[0], aggregate_id__lte=span[1])
    elif not labelled:
        note = f"No stream is named “{value}”; an id needs at least its first {MIN_ID_PREFIX} characters."
        return qs.none(), note
    return qs.filter(wanted), None


def _named(qs, field: str, value: str, known):
    """``field`` equal to ``value`` in any case: the registered name it
    stands for (an exact, indexed match), else a case-insensitive one."""
    names = {name.lower(): name for name in known}
    if value.lower() in names:
        return qs.filter(**{field: names[value.lower()]})
    return qs.filter(**{f"{field}__iexact": value})


def _metadata_in(qs, key: str, values: list[str]):
    """Events whose metadata ``key`` is one of ``values``. On PostgreSQL as
    ``metadata->>'key'``, the expression its audit indexes cover."""
    if connection.vendor == "postgresql":
        return qs.annotate(**{f"meta_{key}": KT(f"metadata__{key}")}).filter(**{f"meta_{key}__in": values})
    return qs.filter(**{f"metadata__{key}__in": values})


def _user_ids(value: str) -> list[str]:
    User = get_user_model()
    ids = [str(pk) for pk in User.objects.filter(username__iexact=value).values_list("pk", flat=True)]
    if value.isdigit():
        ids.append(value)
    return ids or [value]


def audit_rows(events: list[Event]) -> list[dict]:
    current = registry.current_versions
    users = {
        str(pk): name
        for pk, name in get_user_model()
        .objects.filter(
            pk__in={e.metadata.get("user_id") for e in events if str(e.metadata.get("user_id", "")).isdigit()}
        )
        .values_list("pk", "username")
    }
    labels = stream_labels({e.aggregate_id for e in events})
    rows = []
    # Staff see personal fields decrypted (marked as such), or erased.
    shown = show([(e.event_data, e.event_id) for e in events])
    for e, seen in zip(events, shown, strict=True):
        latest = current.get(e.event_type, e.schema_version)
        upcast = None
        if e.schema_version < latest:
            try:
                upcast = registry.upcast(e.event_type, e.schema_version, seen.data)
            except EventStoreError as exc:
                upcast = {"error": str(exc)}
        rows.append(
            {
                "event": e,
                "label": labels.get(e.aggregate_id),
                "user": users.get(str(e.metadata.get("user_id")), e.metadata.get("user_id")),
                "current_version": latest,
                "upcast": upcast,
                "data": seen.data,
                "personal": seen.personal,
                "erased": seen.erased,
                "personal_error": seen.error,
            }
        )
    return rows


@staff_required(AUDIT_STAFF_ONLY)
def audit(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events, next_before, status = [], None, 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        data = form.cleaned_data if form.is_bound else {}
        qs = Event.objects.order_by("-position")
        if data.get("aggregate_id"):
            qs, note = _aggregate(qs, data["aggregate_id"])
            if note:
                messages.info(request, note)
        if data.get("aggregate_type"):
            aggregate_types = {t["aggregate_type"] for t in registry.catalog() if t["aggregate_type"]}
            qs = _named(qs, "aggregate_type", data["aggregate_type"].strip(), aggregate_types)
        if data.get("event_type"):
            qs = _named(qs, "event_type", data["event_type"].strip(), registry.current_versions)
        if data.get("user"):
            qs = _metadata_in(qs, "user_id", _user_ids(data["user"]))
        if data.get("correlation_id"):
            qs = _metadata_in(qs, "correlation_id", [data["correlation_id"]])
        if data.get("since"):
            qs = qs.filter(created_at__gte=data["since"])
        if data.get("until"):
            qs = qs.filter(created_at__lte=data["until"])
        if data.get("before"):
            qs = qs.filter(position__lt=data["before"])
        events = list(qs[: PAGE_SIZE + 1])
        if len(events) > PAGE_SIZE:
            events = events[:PAGE_SIZE]
            next_before = events[-1].position
    params = request.GET.copy()
    params.pop("before", None)
    return render(
        request,
        "eventstore/audit.html",
        {
            "nav": "audit",
            "form": form,
            "rows": audit_rows(events),
            "next_before": next_before,
            "base_query": params.urlencode(),
            "trace": form.cleaned_data.get("correlation_id") if form.is_bound and form.is_valid() else None,
            "now": timezone.now(),
        },
        status=status,
    )
