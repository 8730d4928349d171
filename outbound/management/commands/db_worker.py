"""`manage.py db_worker`: django-tasks-db's worker, which also delivers the outbox.

Besides running queued tasks, every pass of the loop re-queues rows a dead
worker left in "sending" and delivers every outbox row that is due (retries
after backoff, rows whose task was lost), so delivery never depends on a
task surviving. `--batch` delivers everything due, runs every ready task and
exits: for cron and tests. All of django-tasks-db's options work as before.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

from django.db import close_old_connections, connection
from django.db.utils import OperationalError
from django.utils import timezone
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands.db_worker import Command as TasksDbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from helpdesk import heartbeats
from outbound.delivery import deliver_one, due_ids, recover_stale

logger = logging.getLogger("django_tasks_db")

_SIGNALS = [signal.SIGINT, signal.SIGTERM] + (
    [signal.SIGQUIT] if hasattr(signal, "SIGQUIT") else []
)

# Rows delivered per pass before the worker looks at its task queue again.
SWEEP_BATCH = 50


class OutboxWorker(Worker):  # type: ignore[misc]
    delivered = 0

    def sweep(self) -> int:
        """Deliver up to SWEEP_BATCH due outbox rows; how many were attempted."""
        now = timezone.now()
        recover_stale(now=now)
        attempted = 0
        for item_id in due_ids(now, SWEEP_BATCH):
            if not self.running:
                break
            self.running_task = True
            try:
                attempted += int(deliver_one(item_id))
            finally:
                self.running_task = False
        self.delivered += attempted
        return attempted

    @staticmethod
    def close_old_connections() -> None:
        # Not inside a transaction someone else opened (call_command in a test).
        if not connection.in_atomic_block:
            close_old_connections()

    def run_one_task(self) -> bool | None:
        """Run one ready task: True if one ran, False if none, None if the db was locked."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        try:
            with exclusive_transaction(tasks.db):
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
        except OperationalError as exc:
            if is_locked_database_exception(exc):
                return None
            raise
        if task_result is None:
            return False
        self.run_task(task_result)
        return True

    def run(self) -> None:
        logger.info(
            "Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names)
        )
        while self.running:
            self.close_old_connections()
            heartbeats.beat("worker")
            swept = self.sweep()
            ran = self.run_one_task() if self.running else False
            if self.batch and not swept and ran is False:
                logger.info("Nothing more is due; delivered %d outbox items.", self.delivered)
                return
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                return
            self.close_old_connections()
            if self.running and not swept and not ran:
                time.sleep(self.interval)


class Command(TasksDbWorkerCommand):  # type: ignore[misc]
    help = (
        "Run the background worker: Django Tasks from the database, and delivery of the "
        "outbox (mails and webhooks, with retries). --batch delivers everything due and exits."
    )

    def handle(self, **options: Any) -> None:
        self.configure_logging(options["verbosity"])
        queue_names = options["queue_name"].split(",")
        excluded = options["exclude_queues"].split(",") if options["exclude_queues"] else []
        if excluded and "*" not in queue_names:
            from django.core.management.base import CommandError

            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = OutboxWorker(
            queue_names=queue_names,
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
            excluded_queue_names=excluded,
        )
        if options["reload"] and not options["batch"]:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            # Restore the caller's handlers afterwards (call_command in tests).
            previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
            worker.configure_signals()
            try:
                worker.run()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
