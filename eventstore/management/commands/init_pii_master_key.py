"""Make a local master key for personal data (var/pii_master_key), as
`make run` does on first start. Production sets PII_MASTER_KEY instead."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from eventstore.master_key import holds_personal_data, new_master_key


class Command(BaseCommand):
    help = "Generate var/pii_master_key (the master key of personal data) unless one is configured."
    requires_system_checks = []

    def handle(self, *args, **options):
        if settings.PII_MASTER_KEY:
            return  # PII_MASTER_KEY, or var/pii_master_key, is there already
        try:
            existing = holds_personal_data("default")
        except DatabaseError:
            existing = False
        if existing:
            raise CommandError(
                "This database already holds personal data keys, wrapped by a master key that is not "
                "configured: a new key could not read them. Set PII_MASTER_KEY (or restore "
                f"{settings.PII_MASTER_KEY_FILE}) instead."
            )
        path = settings.PII_MASTER_KEY_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_master_key())
        path.chmod(0o600)
        self.stdout.write(
            f"Generated the master key of personal data in {path}. Keep it (and back it up apart from "
            "the database): without it no personal data can be read."
        )
