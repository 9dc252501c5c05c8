"""The event log in the Django admin: read-only (no add, change, delete or
bulk actions) and with cheap counts, however long the log is."""

import json

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.html import format_html

from eventstore.errors import PersonalDataError
from eventstore.models import Event, Snapshot
from eventstore.personal import PersonalData, show
from eventstore.snapshots import PERSONAL_STATE, snapshot_aad
from eventstore.types import Snapshot as Snap


class EstimatedCountPaginator(Paginator):
    """Avoids COUNT(*) over millions of rows: PostgreSQL's estimate for the
    whole table, an exact count when filtered down."""

    @cached_property
    def count(self):
        query = self.object_list.query
        if not query.where and self.object_list.db == "default":
            from django.db import connection

            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
                        [query.model._meta.db_table],
                    )
                    row = cursor.fetchone()
                if row and row[0] > 10_000:
                    return row[0]
        return super().count


class ReadOnlyAdmin(admin.ModelAdmin):
    actions = None
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = (
        "position",
        "created_at",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "version",
        "schema_version",
    )
    list_filter = ("aggregate_type", "event_type")
    search_fields = ("=aggregate_id", "=event_id")
    ordering = ("-position",)
    # The data with personal fields decrypted (or erased), never the ciphertexts.
    readonly_fields = [f.name if f.name != "event_data" else "data" for f in Event._meta.fields]

    @admin.display(description="event data")
    def data(self, obj: Event) -> str:
        [seen] = show([(obj.event_data, obj.event_id)])
        note = ""
        if seen.personal:
            state = "erased" if seen.erased else "decrypted"
            note = f"personal data ({state}): {', '.join(seen.personal)}"
        return format_html("<pre>{}</pre>{}", json.dumps(seen.data, indent=2, ensure_ascii=False), note)


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = ("aggregate_id", "aggregate_type", "version", "schema_version", "created_at")
    search_fields = ("=aggregate_id",)
    readonly_fields = [f.name if f.name != "state" else "shown_state" for f in Snapshot._meta.fields]

    @admin.display(description="state")
    def shown_state(self, obj: Snapshot) -> str:
        state = dict(obj.state)
        part = state.get(PERSONAL_STATE)
        if isinstance(part, dict):
            snap = Snap(obj.aggregate_id, obj.aggregate_type, obj.version, obj.schema_version, state)
            try:
                values = PersonalData().reveal(part["values"], snapshot_aad(snap))
            except PersonalDataError as exc:
                values = {"error": str(exc)}
            state[PERSONAL_STATE] = {**part, "values": values}
        return format_html("<pre>{}</pre>", json.dumps(state, indent=2, ensure_ascii=False))
