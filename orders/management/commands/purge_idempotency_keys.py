from django.core.management.base import BaseCommand

from orders.idempotency import purge_expired


class Command(BaseCommand):
    help = "Delete expired Idempotency-Key records (IDEMPOTENCY_KEY_TTL, 24 h by default)."

    def handle(self, *args, **options):
        deleted = purge_expired()
        self.stdout.write(f"deleted {deleted} expired idempotency key(s)")
