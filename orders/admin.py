from django.contrib import admin

from eventstore.admin import ReadOnlyAdmin
from orders.models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("scope", "key", "command", "created_at", "expires_at")
    search_fields = ("=key",)
