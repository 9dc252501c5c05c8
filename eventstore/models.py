"""Tables of the event store. Rows are written only through ``EventStore``;
the models exist for migrations, the admin audit view and ad-hoc queries."""

from django.db import models


class Event(models.Model):
    """One immutable event. UPDATE and DELETE are refused by a database trigger."""

    position = models.BigAutoField(primary_key=True)
    # PostgreSQL: id of the writing transaction (pg_current_xact_id), the first
    # key of the gap-safe global order. Always 0 on SQLite.
    tx_id = models.BigIntegerField(db_default=0, editable=False)
    event_id = models.UUIDField(unique=True, editable=False)
    aggregate_type = models.CharField(max_length=100)
    aggregate_id = models.UUIDField()
    event_type = models.CharField(max_length=100)
    # Ranges (version >= 1, schema_version >= 0) are checked by the database:
    # on PostgreSQL by the events_guard_insert trigger, which costs an append
    # less than CHECK constraints (migration 0009); on SQLite by CHECKs.
    schema_version = models.IntegerField(default=1)
    event_data = models.JSONField()
    metadata = models.JSONField(default=dict)
    version = models.IntegerField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "events"
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["aggregate_id", "version"], name="events_aggregate_version_uniq"),
        ]
        indexes = [
            models.Index(fields=["event_type", "created_at"], name="events_type_created_idx"),
            models.Index(fields=["tx_id", "position"], name="events_global_order_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.event_type} {self.aggregate_id} v{self.version}"


class Snapshot(models.Model):
    """Aggregate state at a stream version; derived data, safe to delete."""

    aggregate_id = models.UUIDField()
    aggregate_type = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    schema_version = models.PositiveIntegerField(default=1)
    state = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "snapshots"
        constraints = [
            models.UniqueConstraint(
                fields=["aggregate_id", "version"], name="snapshots_aggregate_version_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"snapshot {self.aggregate_id} v{self.version}"


class PersonalDataKey(models.Model):
    """A subject's data key, wrapped by the master key. Deleting the row is
    the subject's erasure: what the key encrypted can never be read again."""

    subject_id = models.CharField(max_length=200, primary_key=True)
    key_id = models.CharField(max_length=32, unique=True)
    kek_id = models.CharField(max_length=16, help_text="the master key that wraps it")
    wrapped_key = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "personal_data_keys"

    def __str__(self) -> str:
        return f"data key of {self.subject_id}"


class PersonalDataMasterCheck(models.Model):
    """A known plaintext sealed under the master key: start-up refuses a key
    that does not open it."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    kek_id = models.CharField(max_length=16)
    check_value = models.TextField()
    created_at = models.DateTimeField()
    rotated_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "personal_data_master_check"

    def __str__(self) -> str:
        return f"master key check ({self.kek_id})"
