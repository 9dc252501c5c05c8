"""The bulk of a rebuild through the Python folds: the events of a cut of the
log streamed into shadow tables, in this process or in one process per
share of the projections."""

import multiprocessing
import queue
from contextlib import closing

from django.db import connections

from eventstore import START, EventStore
from eventstore.cut import LogCut

REBUILD_BATCH = 5000


class RebuildError(Exception):
    pass


def apply(targets, batch, applied: dict[str, int]) -> None:
    for projection, tables in targets:
        applied[projection.name] = applied.get(projection.name, 0) + projection.apply(
            projection.relevant(batch), tables
        )


def stream(projections: list, using: str, cut: LogCut, shadow, progress=None) -> dict[str, int]:
    """Replay the cut's events of the projections' types into the shadow
    tables (``shadow(projection)``: logical name -> table), streaming the
    log (flat memory) and writing rows by COPY. Returns the events each
    applied."""
    store = EventStore(using=using)
    metadata = any(p.needs_metadata for p in projections)
    types = frozenset().union(*(p.event_types for p in projections))
    wanted = cut.of_types(types)
    targets = [(p, p.buffered_tables(using, rename=shadow(p))) for p in projections]
    batches = store.stream_all(
        START, batch=REBUILD_BATCH, metadata=metadata, until=cut.checkpoint, types=types
    )
    seen, applied = 0, {}
    # Closed however this ends: a failed fold must not leave the stream's
    # connection in its transaction for as long as the error is kept.
    with closing(batches):
        for batch in batches:
            apply(targets, batch, applied)
            for _, tables in targets:
                tables.maybe_flush()
            seen += len(batch)
            if progress:
                progress(seen, max(wanted, seen))
    for _, tables in targets:
        tables.flush()
    return applied


def in_processes(shares: list[list], using: str, cut: LogCut, shadow, progress) -> list[dict[str, int]]:
    """``stream`` for each share of the projections in a process of its own
    (forked: each opens its own connections)."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()

    def child(n: int, share: list) -> None:
        # The parent's connections (one holds the rebuild lock) are not to be
        # touched here, nor closed: keep them referenced, open new ones.
        _INHERITED.extend(connections[alias] for alias in connections)
        for alias in list(connections):
            del connections[alias]
        try:
            out.put((n, stream(share, using, cut, shadow, progress if n == 0 else None)))
        except BaseException as exc:
            out.put((n, RebuildError(f"rebuilding {', '.join(p.name for p in share)}: {exc!r}")))

    procs = [ctx.Process(target=child, args=(n, share), daemon=True) for n, share in enumerate(shares)]
    for proc in procs:
        proc.start()
    results: dict[int, dict[str, int]] = {}
    try:
        while len(results) < len(procs):
            try:
                n, found = out.get(timeout=1)
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise RebuildError("a rebuild process died") from None
                continue
            if isinstance(found, Exception):
                raise found
            results[n] = found
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    return [results[n] for n in range(len(procs))]


_INHERITED: list = []


def shares(projections: list, jobs: int) -> list[list]:
    """Split the projections into ``jobs`` shares of about equal work."""
    out: list[list] = [[] for _ in range(min(jobs, len(projections)))]
    work = [0] * len(out)
    for projection in sorted(projections, key=lambda p: -p.rebuild_weight):
        n = work.index(min(work))
        out[n].append(projection)
        work[n] += projection.rebuild_weight
    return out
