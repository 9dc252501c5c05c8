"""The event log in the Django admin: read-only (no add, change, delete or
bulk actions) and with cheap counts, however long the log is."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from eventstore.models import Event, Snapshot


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
    readonly_fields = [f.name for f in Event._meta.fields]


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = ("aggregate_id", "aggregate_type", "version", "schema_version", "created_at")
    search_fields = ("=aggregate_id",)
