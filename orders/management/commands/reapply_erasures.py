"""After restoring a backup: erase again the customers forgotten since.

A backup taken before an erasure still holds that customer's data key, so
restoring it brings their personal data back. This command re-runs the
erasures: those recorded as CustomerForgotten events in the log, and those
listed in a file (one customer id per line, optionally followed by the ISO
time of the erasure, UTC when it names no offset), for when the log itself
was restored from before them: keep that list outside the database
(`--list` prints it). A line it cannot read stops it before anything is
erased, saying which.

A customer who gave new personal data after being forgotten has a newer key,
which is kept: only keys created before the erasure are deleted.
"""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from eventstore.models import Event
from eventstore.personal import PersonalData
from orders import commands
from orders.domain import DomainError, rules
from orders.domain.customer import CUSTOMER_AGGREGATE, CustomerForgotten
from orders.errors import ContentionError


def recorded_erasures() -> dict[str, datetime]:
    """customer id -> time of their last erasure, from the event log."""
    found: dict[str, datetime] = {}
    rows = Event.objects.filter(
        aggregate_type=CUSTOMER_AGGREGATE, event_type=CustomerForgotten.event_type
    ).values_list("event_data", "created_at")
    for data, at in rows.order_by("position").iterator():
        found[data["customer_id"]] = at
    return found


def listed_erasures(path: str) -> dict[str, datetime | None]:
    found: dict[str, datetime | None] = {}
    try:
        lines = open(path, encoding="utf-8").read().splitlines()  # noqa: SIM115
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if not rules.is_customer_id(parts[0]) or len(parts) > 2:
            raise CommandError(f"{path}:{number}: not a customer id and an optional ISO date-time")
        found[parts[0]] = _erased_at(parts[1], f"{path}:{number}") if len(parts) > 1 else None
    return found


def _erased_at(text: str, where: str) -> datetime:
    """An ISO date-time; one without an offset is UTC (as --list writes them)."""
    try:
        at = parse_datetime(text)
    except ValueError:  # well formed, but no such time (a 13th month)
        at = None
    if at is None:
        raise CommandError(f"{where}: {text!r} is not an ISO date-time")
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Erase again the customers forgotten in the log (and in --ids FILE): run it after a restore."

    def add_arguments(self, parser):
        parser.add_argument("--ids", help="a file of customer ids (and erasure times), kept apart")
        parser.add_argument("--list", action="store_true", dest="print_list", help="print the log's erasures")
        parser.add_argument("--dry-run", action="store_true", help="say what would be erased, erase nothing")

    def handle(self, *args, ids: str | None, print_list: bool, dry_run: bool, **options):
        recorded = recorded_erasures()
        if print_list:
            for customer_id, at in sorted(recorded.items(), key=lambda item: item[1]):
                self.stdout.write(f"{customer_id}\t{at.isoformat()}")
            return
        wanted: dict[str, datetime | None] = dict(recorded)
        for customer_id, at in (listed_erasures(ids) if ids else {}).items():
            known = wanted.get(customer_id)
            wanted[customer_id] = max(known, at) if known and at else (known or at)
        personal, erased = PersonalData(), 0
        for customer_id, at in sorted(wanted.items()):
            created = personal.key_created_at(customer_id)
            if created is None:
                continue  # nothing to erase: no key
            if at is not None and created > at:
                continue  # a key made after the erasure: data given since, kept
            erased += 1
            self.stdout.write(f"{'would erase' if dry_run else 'erasing'} {customer_id}")
            if not dry_run:
                try:
                    commands.execute(commands.ForgetCustomer(customer_id))
                except (DomainError, ContentionError) as exc:
                    raise CommandError(f"could not erase {customer_id} ({exc}); run it again") from None
        self.stdout.write(f"{erased} customer(s) {'to erase' if dry_run else 'erased again'}.")
