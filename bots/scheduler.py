"""The APScheduler wiring: one cron job per stored schedule, run only by the process holding the scheduler lock.

Jobs are added by textual reference (``bots.scheduler:run_job``) with a service id and a schedule name as
arguments, so a persistent job store would pickle nothing but plain strings.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bots.leader import SchedulerLock
from core.domain.schedule import DEFAULT_TIMEZONE, latest_slot, parse_cron, parse_timezone
from core.services.context import ServiceContext
from core.services.schedules import catch_up, load_schedules, run_schedule
from core.storage.models import Schedule

__all__ = ["SchedulerService", "run_job", "tick"]

logger = logging.getLogger(__name__)

JOB_PREFIX = "schedule:"
LEADER_JOB = "leader"
# Running services by id: jobs carry the id (a string) instead of the service object.
_services: dict[str, SchedulerService] = {}


def run_job(service_id: str, name: str) -> None:
    """APScheduler entry point of a schedule's job."""
    service = _services.get(service_id)
    if service is None:
        logger.warning("job %s fired for scheduler %s, which is stopped", name, service_id)
        return
    service.run(name)


def tick(service_id: str) -> None:
    """APScheduler entry point of the periodic leader check."""
    service = _services.get(service_id)
    if service is not None:
        service.check_leadership()


@dataclass(frozen=True, slots=True)
class _Registered:
    cron: str
    timezone: str


class SchedulerService:
    """Runs the stored schedules with APScheduler while this process holds the scheduler lock.

    Every ``poll_seconds`` the service checks the lock: a standby process tries to take it, and the holder
    picks up schedules the secretariat changed. On taking the lock it first catches up missed runs.
    """

    def __init__(
        self,
        ctx: ServiceContext,
        lock: SchedulerLock,
        *,
        misfire_grace_seconds: int = 600,
        poll_seconds: float = 10.0,
        after_run: Callable[[], object] | None = None,
    ) -> None:
        self.ctx = ctx
        self.lock = lock
        self.poll_seconds = poll_seconds
        self.after_run = after_run
        self.id = uuid.uuid4().hex
        self.scheduler = BackgroundScheduler(
            timezone=parse_timezone(DEFAULT_TIMEZONE),
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": misfire_grace_seconds},
        )
        self._registered: dict[str, _Registered] = {}
        self._standing_by = False

    def start(self) -> None:
        _services[self.id] = self
        self.scheduler.start()
        self.scheduler.add_job(
            "bots.scheduler:tick",
            IntervalTrigger(seconds=self.poll_seconds, timezone=parse_timezone(DEFAULT_TIMEZONE)),
            args=[self.id],
            id=LEADER_JOB,
            # APScheduler keeps wall-clock time, so the first check is now by the system clock, not the service clock.
            next_run_time=datetime.now(UTC),
        )
        logger.info("scheduler %s started; checking the scheduler lock every %g s", self.id, self.poll_seconds)

    def stop(self) -> None:
        # Unregister first, so a check or job that fires now returns at once. shutdown(wait=True) could
        # deadlock: APScheduler holds its job store lock while waiting for a running check, and that check
        # may itself be waiting for the lock to add a job. A job still running after this keeps its run
        # record, which stops another process from running the same slot again.
        _services.pop(self.id, None)
        self.scheduler.shutdown(wait=False)
        self.lock.release()
        logger.info("scheduler %s stopped", self.id)

    def check_leadership(self) -> None:
        """Take the lock if free (then catch up and add the jobs), follow schedule changes, or step down."""
        if self.lock.holds():
            self.sync_jobs()
            # A run that missed its misfire grace time while this process was busy or suspended is made up here.
            catch_up(self.ctx, scans=False)
            # Deliver on each check, so that items written outside a job (a failure report of the e-mail
            # worker, a run made up above) do not wait for the next job.
            self._notify()
            return
        if self._registered:
            logger.error("scheduler %s lost the scheduler lock; removing its jobs", self.id)
            self._remove_jobs(list(self._registered))
        if not self.lock.acquire():
            if not self._standing_by:
                logger.info("scheduler %s standing by: another process holds the scheduler lock", self.id)
                self._standing_by = True
            return
        self._standing_by = False
        try:
            caught_up = catch_up(self.ctx)
        except Exception:
            logger.exception("catch-up after taking the scheduler lock failed; the jobs are added anyway")
        else:
            logger.info("catch-up ran %d schedules", sum(result.ran for result in caught_up))
        self._notify()
        self.sync_jobs()

    def sync_jobs(self) -> None:
        """Add, change or remove APScheduler jobs so that they match the stored, enabled schedules."""
        enabled = {schedule.name: schedule for schedule in load_schedules(self.ctx) if schedule.enabled}
        self._remove_jobs([name for name in self._registered if name not in enabled])
        for name, schedule in enabled.items():
            registered = _Registered(schedule.cron, schedule.timezone)
            if self._registered.get(name) != registered:
                self._add_job(schedule)

    def _add_job(self, schedule: Schedule) -> None:
        try:
            trigger = parse_cron(schedule.cron, schedule.timezone)
        except ValueError as error:
            # Rules are checked when they are set, so this is a row edited by hand; the other jobs still run.
            logger.error("schedule %s is not added: %s", schedule.name, error)
            return
        self.scheduler.add_job(
            "bots.scheduler:run_job",
            trigger,
            args=[self.id, schedule.name],
            id=JOB_PREFIX + schedule.name,
            name=schedule.name,
            replace_existing=True,
        )
        self._registered[schedule.name] = _Registered(schedule.cron, schedule.timezone)
        logger.info("job %s added: %s (%s)", schedule.name, schedule.cron, schedule.timezone)

    def _remove_jobs(self, names: list[str]) -> None:
        for name in names:
            if self.scheduler.get_job(JOB_PREFIX + name) is not None:
                self.scheduler.remove_job(JOB_PREFIX + name)
            self._registered.pop(name, None)
            logger.info("job %s removed", name)

    def run(self, name: str) -> None:
        """Run schedule ``name`` for its latest fire time; a slot that already ran writes nothing."""
        if not self.lock.holds():
            logger.warning("job %s skipped: scheduler %s no longer holds the scheduler lock", name, self.id)
            return
        schedule = next((row for row in load_schedules(self.ctx) if row.name == name), None)
        if schedule is None or not schedule.enabled:
            logger.info("job %s skipped: the schedule was removed or paused", name)
            return
        now = self.ctx.now()
        slot = latest_slot(parse_cron(schedule.cron, schedule.timezone), now)
        if slot is None:
            return
        result = run_schedule(self.ctx, name, slot, now=now)
        logger.info("job %s for %s: %s", name, slot.isoformat(), "done" if result.ran else "already done")
        self._notify()

    def _notify(self) -> None:
        if self.after_run is not None:
            try:
                self.after_run()
            except Exception:
                logger.exception("delivery after a scheduled run failed; the outbox keeps the items")
