"""Ledger rows written after the answer, by a thread of the web worker's own.

A /v1 or /anthropic answer names no ledger row, so its INSERT need not hold the answer back:
the request thread prices the record and counts it (`usage_record_create(write_behind=True)`),
hands the row to this writer and answers; the writer INSERTs it a moment later on its own
pooled connection. That takes the INSERT's round trip and CPU off the single client's latency.
Under load, the rows that queued while the writer was busy go in one multi-row INSERT (up to
BATCH_ROWS, all or none): one round trip and one commit for them all, where a statement per
row would cost the worker's core a wake-up, a round trip and a commit each.

Started only by the web server's workers (config/gunicorn.conf.py, `LEDGER_WRITE_BEHIND`);
anywhere it is not running (Celery, commands, tests in process) `submit` answers False and the
caller writes the row itself, as it does when the queue is full (`LEDGER_WRITE_BEHIND_QUEUE`
rows), so a slow database slows calls down instead of growing memory.

What is guaranteed:
- A row the writer cannot write because the database is unreachable is retried for
  RETRY_SECONDS; a row the database refuses (bad data) is not retried. Either way a row given
  up on is logged in full, as the inline write logs it, and counted by
  `llm_ledger_write_failures_total`.
- A graceful stop (SIGTERM, `max_requests`) writes every queued row before the worker exits
  (`stop`, from gunicorn's `worker_exit`); rows still unwritten when its time is up are logged.
- The crash window: a worker killed outright (SIGKILL, the OOM killer, gunicorn's timeout)
  loses the rows still queued, a few milliseconds' worth; their calls were answered and
  counted in /metrics, their budget reservations settled.
"""

import contextlib
import queue
import threading
import time
from typing import Final

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connections,
)

from usage.models import UsageRecord
from usage.services import ledger_pg

RETRY_SECONDS: Final = 10.0
IDLE_SECONDS: Final = 1.0  # without a row for this long, the connection is given back
BATCH_ROWS: Final = ledger_pg.MAX_ROWS  # the most rows one INSERT writes
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 1.0
_STOP: Final = object()


class LedgerWriter:
    """A bounded queue of rows and the thread that writes them, oldest first."""

    def __init__(self, *, capacity: int, retry_seconds: float = RETRY_SECONDS) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=capacity)
        self._retry_seconds = retry_seconds
        self._abandon = threading.Event()  # set by stop() when its time is up: stop retrying
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, record: UsageRecord) -> bool:
        """Queue `record` for writing; False (nothing queued) when the queue is full."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            return False
        return True

    def flush(self) -> None:
        """Wait until every row queued so far has been written or given up on."""
        self._queue.join()

    def stop(self, timeout: float) -> None:
        """Write what is queued, for at most `timeout` seconds, then end the thread; rows
        still unwritten after that are logged in full."""
        with contextlib.suppress(queue.Full):  # still full when the time is up: logged below
            self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        self._abandon.set()  # a row being retried is given up on, and any row after it
        self._thread.join(1.0)
        while True:
            try:
                record = self._queue.get_nowait()
            except queue.Empty:
                break
            if record is not _STOP:
                self._give_up(record, None)
            self._queue.task_done()

    def _run(self) -> None:
        while True:
            try:
                batch = [self._queue.get(timeout=IDLE_SECONDS)]
            except queue.Empty:
                # Idle: a pooled connection goes back to the pool (CONN_MAX_AGE is 0 there), a
                # persistent one is kept unless it is too old or broken. While rows keep
                # coming the writer keeps its connection (the pool has one for it).
                close_old_connections()
                continue
            # Whatever else has queued meanwhile goes in the same INSERT, up to BATCH_ROWS.
            while len(batch) < BATCH_ROWS and batch[-1] is not _STOP:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = batch[-1] is _STOP
            records = batch[:-1] if stopping else batch
            try:
                if records:
                    self._write(records)
                if stopping:
                    connections.close_all()
                    return
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _write(self, records: list[UsageRecord]) -> None:
        """Write `records` (all or none), retrying while the database is unreachable; a batch
        the database refuses is written row by row, so that only the refused row is lost."""
        from usage.services.ledger import ledger_insert_batch  # ledger imports this module

        backoff = _BACKOFF_FIRST
        give_up_at = time.monotonic() + self._retry_seconds
        while True:
            try:
                ledger_insert_batch(records)
                return
            except (OperationalError, InterfaceError) as exc:  # unreachable: worth retrying
                connections.close_all()
                if self._abandon.is_set() or time.monotonic() + backoff > give_up_at:
                    for record in records:
                        self._give_up(record, exc)
                    return
                self._abandon.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            except Exception as exc:  # refused (retrying would not help), or a bug
                if isinstance(exc, DatabaseError):
                    connections.close_all()
                if len(records) == 1:
                    self._give_up(records[0], exc)
                    return
                for record in records:
                    self._write([record])
                return

    @staticmethod
    def _give_up(record: UsageRecord, exc: BaseException | None) -> None:
        from usage.services.ledger import record_lost

        record_lost(record, exc)


_writer: LedgerWriter | None = None
_lock = threading.Lock()


def ledger_writer_start() -> LedgerWriter:
    """Start this process's writer (once; a web worker calls this after it has forked)."""
    global _writer
    with _lock:
        if _writer is None:
            _writer = LedgerWriter(capacity=settings.LEDGER_WRITE_BEHIND_QUEUE)
            _writer.start()
        return _writer


def ledger_writer_stop(timeout: float) -> None:
    """Write what is queued (for at most `timeout` seconds) and stop: rows submitted after
    this are written by their callers."""
    global _writer
    with _lock:
        writer, _writer = _writer, None
    if writer is not None:
        writer.stop(timeout)


def ledger_writer_submit(record: UsageRecord) -> bool:
    """Hand `record` to the running writer; False when none runs or its queue is full."""
    writer = _writer
    return writer is not None and writer.submit(record)
