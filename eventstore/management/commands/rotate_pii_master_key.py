"""Rotate the master key of personal data: re-wrap every data key under a
new one, in one transaction. Events are not touched."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from eventstore.errors import MasterKeyError
from eventstore.master_key import master_key_id, new_master_key, parse_master_key, rotate


class Command(BaseCommand):
    help = (
        "Re-wrap every personal data key under a new master key: NEW_PII_MASTER_KEY from the "
        "environment, or one generated here. The current key is PII_MASTER_KEY (and any "
        "PII_MASTER_KEY_PREVIOUS)."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database: str, **options):
        given = os.environ.get("NEW_PII_MASTER_KEY", "")
        new_text = given or new_master_key()
        try:
            new_key = parse_master_key(new_text, "NEW_PII_MASTER_KEY")
        except MasterKeyError as exc:
            raise CommandError(str(exc)) from None
        local_file = settings.PII_MASTER_KEY_FILE
        in_file = not os.environ.get("PII_MASTER_KEY") and local_file.exists()
        pending = local_file.with_name(local_file.name + ".new")
        if in_file:
            # Written before the rotation commits, so a crash in between loses nothing.
            pending.write_text(new_text)
            pending.chmod(0o600)
        try:
            count = rotate(new_key, using=database)
        except MasterKeyError as exc:
            pending.unlink(missing_ok=True)
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Re-wrapped {count} data key(s) under master key {master_key_id(new_key)}.")
        if in_file:
            pending.replace(local_file)
            self.stdout.write(f"{local_file} holds the new key: restart the app and its workers.")
        elif not given:
            self.stdout.write(f"The new master key (shown once; keep it safe):\n{new_text}")
            self.stdout.write("Set PII_MASTER_KEY to it and restart the app and its workers.")
        else:
            self.stdout.write("Set PII_MASTER_KEY to NEW_PII_MASTER_KEY and restart the app and its workers.")
