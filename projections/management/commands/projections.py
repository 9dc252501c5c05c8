"""``python manage.py projections status|run|rebuild|retry|skip``."""

import getpass
import os
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from projections import checkpoints, failures, rebuild, runner
from projections.base import registry
from projections.health import judge
from projections.status import holding_back, status


class Command(BaseCommand):
    help = "Watch, run and repair projections."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="checkpoint, lag and failures of every projection")
        run = sub.add_parser("run", help="run projections in the foreground (no Celery needed)")
        run.add_argument("name", nargs="?", help="one projection (default: all)")
        run.add_argument("--follow", action="store_true", help="keep running, polling for new events")
        run.add_argument("--interval", type=float, default=1.0, help="seconds between polls with --follow")
        rb = sub.add_parser("rebuild", help="rebuild from position 0 into shadow tables, then swap them in")
        rb.add_argument("names", nargs="*", metavar="NAME", help="projections to rebuild in one pass")
        rb.add_argument("--all", action="store_true", help="rebuild every projection")
        rb.add_argument(
            "--jobs",
            type=int,
            help="processes replaying the log at once, or connections taking a set-based rebuild's slices"
            " (PROJECTION_REBUILD_JOBS; 0: one per core)",
        )
        rb.add_argument(
            "--in-python",
            action="store_true",
            help="replay every event through the Python folds, also where SQL could build the tables",
        )
        rt = sub.add_parser("retry", help="release a held projection to try its failed event again")
        rt.add_argument("name")
        sk = sub.add_parser("skip", help="move a held projection past its failed event")
        sk.add_argument("name")
        sk.add_argument("--position", type=int, required=True, help="the failed event's position")
        sk.add_argument("--by", default=None, help="who is skipping (default: the OS user)")

    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"do_{action}")(**options)
        except (KeyError, failures.SkipError, rebuild.RebuildError) as exc:
            raise CommandError(str(exc).strip("'\"")) from None

    def do_status(self, **options):
        rows = status()
        self.stdout.write(judge(rows).line)
        if held := holding_back(rows):
            self.stdout.write(
                f"held back by transaction of pid {held['pid']} ({held['state']}, "
                f"{held['application_name'] or 'no application name'}), open for {held['age_seconds']} s"
            )
        columns = ("projection", "consistency", "position", "lag (events)", "lag (s)")
        self.stdout.write("{:<18} {:<11} {:>10} {:>13} {:>9}  state".format(*columns))
        for row in rows:
            lag = f"{row['lag_events']}{'+' if row['lag_events_capped'] else ''}"
            self.stdout.write(
                f"{row['name']:<18} {row['consistency']:<11} {row['checkpoint']['position']:>10} "
                f"{lag:>13} {row['lag_seconds']:>9.1f}  {row['state']}"
            )
            for failure in row["failures"]:
                if failure["resolved_at"] is None:
                    self.stdout.write(
                        f"  failed at position {failure['position']} ({failure['event_type']}), "
                        f"{failure['attempts']} attempt(s): {failure['error']}"
                    )

    def do_run(self, name=None, follow=False, interval=1.0, **options):
        projections = [registry.get(name)] if name else registry.all()
        checkpoints.ensure()
        while True:
            for projection in projections:
                count = runner.run_projection(projection)
                if count:
                    self.stdout.write(f"{projection.name}: {count} event(s)")
            if not follow:
                return
            time.sleep(interval)

    def do_rebuild(self, names, all=False, **options):
        if not names and not all:
            raise CommandError("name the projections to rebuild, or pass --all")
        projections = registry.projections() if all else [registry.get(n) for n in names]
        progress = Progress(self.stderr)
        # Rebuilds create and swap tables: the owner's direct session when
        # there is one (DATABASE_DIRECT_URL), as for migrations.
        using = "direct" if "direct" in connections.databases else "default"
        jobs = options.get("jobs")
        jobs = settings.PROJECTION_REBUILD_JOBS if jobs is None else jobs
        jobs = jobs or os.cpu_count() or 1
        result = rebuild.rebuild(
            projections, using=using, progress=progress, jobs=jobs, in_sql=not options.get("in_python")
        )
        progress.done()
        self.stdout.write(
            f"{', '.join(p.name for p in projections)}: rebuilt from {result.events} event(s) in "
            f"{result.seconds:.1f} s ({result.events / max(result.seconds, 1e-9):,.0f} events/s)"
            " and swapped in"
        )

    def do_retry(self, name, **options):
        failure = failures.retry(name, by=getpass.getuser())
        if failure is None:
            self.stdout.write(f"{name} is not held; nothing to retry")
        else:
            self.stdout.write(f"{name}: will retry position {failure.position} on its next run")

    def do_skip(self, name, position, by=None, **options):
        failure = failures.skip(name, position, by=by or getpass.getuser())
        self.stdout.write(f"{name}: skipped {failure.event_type} at position {position}")


class Progress:
    """A one-line progress bar on stderr (plain lines when not a terminal)."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else 2.0) and done < total:
            return
        self.last = now
        fraction = done / total if total else 1.0
        bar = "#" * int(fraction * 30)
        line = f"[{bar:<30}] {fraction:6.1%} {done:,}/{total:,} events"
        if self.tty:
            self.stream.write("\r" + line, ending="")
            self.stream.flush()
        else:
            self.stream.write(line)

    def done(self) -> None:
        if self.tty:
            self.stream.write("")
