from django.contrib import admin

from eventstore.admin import ReadOnlyAdmin
from orders.models import FulfilmentProcess, IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("scope", "key", "command", "created_at", "expires_at")
    search_fields = ("=key",)


@admin.register(FulfilmentProcess)
class FulfilmentProcessAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "status", "order_version", "outcome", "updated_at")
    list_filter = ("status",)
    search_fields = ("=order_id",)
