"""The ``smarter-bot`` command: run the bot, replay a transcript, upgrade the database."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from adapters.console.repl import run_repl
from adapters.console.session import ConsoleSession, SettableClock
from adapters.console.transcript import TranscriptError, replay
from bots.background import background_services
from bots.settings import Settings
from bots.slack_runner import run_slack
from bots.wiring import build_context, slack_config, smtp_config
from core.domain.rubric import RubricError
from core.domain.text import TOKYO
from core.services.rankings import rebuild_rankings
from core.services.schedules import UnknownSchedule, run_latest, schedule_infos
from core.storage.db import create_db_engine
from core.storage.migrate import upgrade

__all__ = ["main"]

logger = logging.getLogger("smarter_bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smarter-bot", description="SMARTER×SMARTER in chat.")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default: WARNING)")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the bot: on Slack when its credentials are set, else on the console")
    run.add_argument("--script", type=Path, help="replay a transcript file and print what every user sees")
    run.add_argument(
        "--database", help="database URL (default: from settings; a new temporary SQLite file with --script)"
    )
    run.add_argument("--user", default="guest", help="console user to start as (default: guest)")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="upgrade the database to the latest schema")
    db_upgrade.add_argument("--database", help="database URL (default: from settings)")

    jobs = commands.add_parser("jobs", help="scheduled announcements and reminders")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_list = jobs_commands.add_parser("list", help="list the scheduled jobs with their next fire time (Japan time)")
    jobs_list.add_argument("--database", help="database URL (default: from settings)")
    jobs_run = jobs_commands.add_parser(
        "run", help="run a job now for its latest fire time; a time that already ran is not run twice"
    )
    jobs_run.add_argument("name", help="schedule name, as `jobs list` shows it")
    jobs_run.add_argument("--database", help="database URL (default: from settings)")

    ranking = commands.add_parser("ranking", help="ranking maintenance")
    ranking_commands = ranking.add_subparsers(dest="ranking_command", required=True)
    rebuild = ranking_commands.add_parser(
        "rebuild", help="recompute every ranking total from the evaluations (after changing the ranking prior)"
    )
    rebuild.add_argument("--database", help="database URL (default: from settings)")
    return parser


def _run(args: argparse.Namespace, settings: Settings) -> int:
    slack = slack_config(settings) if not args.script else None
    if slack is not None:
        if args.database:
            settings = settings.model_copy(update={"database_url": args.database})
        ctx = build_context(settings)
        logger.info("Slack adapter starting on %s", settings.database_url.split("@")[-1])
        try:
            run_slack(ctx, settings, slack, smtp_config(settings))
        except OSError as error:
            if slack.socket_mode:
                print(f"error: cannot connect to Slack over Socket Mode: {error}", file=sys.stderr)
            else:
                print(
                    f"error: cannot listen on {settings.slack_http_host}:{settings.slack_http_port}: "
                    f"{error.strerror or error}; stop the other process or choose another port with "
                    "SMARTER_SLACK_HTTP_PORT",
                    file=sys.stderr,
                )
            return 2
        finally:
            ctx.session_factory.kw["bind"].dispose()
        return 0
    with tempfile.TemporaryDirectory(prefix="smarter-bot-") as scratch:
        if args.database:
            settings = settings.model_copy(update={"database_url": args.database})
        elif args.script:
            settings = settings.model_copy(update={"database_url": f"sqlite:///{scratch}/transcript.db"})
        clock = SettableClock()
        ctx = build_context(settings, clock=clock)
        mail = smtp_config(settings)
        session = ConsoleSession(
            ctx, clock, write=lambda text: print(text, flush=True), user=args.user, email_preview=mail is None
        )
        logger.info("console adapter started on %s", settings.database_url.split("@")[-1])
        if args.script:
            # A replay is deterministic: scheduled jobs run only when the transcript advances the clock.
            try:
                replay(session, args.script)
            except (TranscriptError, OSError) as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
        else:
            with background_services(ctx, settings, after_run=session.deliver, mail=mail):
                run_repl(session)
        logger.info("console adapter stopped")
        ctx.session_factory.kw["bind"].dispose()
    return 0


def _jobs(args: argparse.Namespace, settings: Settings, engine: Engine) -> int:
    ctx = build_context(settings, engine=engine)
    if args.jobs_command == "list":
        for info in schedule_infos(ctx):
            next_fire = f"{info.next_fire.astimezone(TOKYO):%Y-%m-%d %H:%M} JST" if info.next_fire else "paused"
            last_run = f"{info.last_run.astimezone(TOKYO):%Y-%m-%d %H:%M} JST" if info.last_run else "never"
            table = f"  table={info.table}" if info.table else ""
            print(f"{info.name:<22} {info.job:<21} {info.cron:<14} {info.timezone:<11} ", end="")
            print(f"next {next_fire:<20}  last {last_run}{table}")
        return 0
    schedule_enabled = next((info.enabled for info in schedule_infos(ctx) if info.name == args.name), True)
    try:
        result = run_latest(ctx, args.name)
    except UnknownSchedule as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    slot = f"{result.slot.astimezone(TOKYO):%Y-%m-%d %H:%M} JST"
    paused = " (the schedule is paused; it ran because it was asked by name)" if not schedule_enabled else ""
    if not result.ran:
        print(f"{result.schedule} already ran for {slot}; nothing new was queued")
    elif result.queued:
        messages = "1 message" if result.queued == 1 else f"{result.queued} messages"
        print(f"{result.schedule} ran for {slot}: {messages} queued for the running bot to deliver{paused}")
    else:
        print(f"{result.schedule} ran for {slot}: nothing to send (no ranked member or no reminder due){paused}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if logging.getLogger().level > logging.DEBUG:
        # APScheduler logs each run of the leader check (every few seconds) at INFO. The scheduler's own
        # log lines already report what was done.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        settings = Settings()
        if args.command == "run":
            return _run(args, settings)
        url = args.database or settings.database_url
        engine = create_db_engine(url)
        settings = settings.model_copy(update={"database_url": url})
        if args.command == "db":
            upgrade(engine)
            print("database is at the latest schema")
        elif args.command == "jobs":
            status = _jobs(args, settings, engine)
            engine.dispose()
            return status
        else:
            ctx = build_context(settings, engine=engine)
            with ctx.transaction() as session:
                written = rebuild_rankings(session, ctx.policy.ranking_prior)
            print(f"rebuilt {written} ranking totals")
        engine.dispose()
    except ValidationError as error:
        # Only the field and the problem: the input values may contain secrets such as the SMTP password.
        for problem in error.errors(include_url=False, include_input=False):
            field = ".".join(str(part) for part in problem["loc"])
            # A check across several settings has no location; its message names the settings itself.
            message = str(problem["msg"]).removeprefix("Value error, ")
            print(
                f"error: invalid setting {field}: {message}" if field else f"error: invalid settings: {message}",
                file=sys.stderr,
            )
        return 2
    except SettingsError as error:
        print(f"error: invalid setting: {error} (lists and tables in the environment are JSON)", file=sys.stderr)
        return 2
    except (RubricError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OperationalError as error:
        print(f"error: cannot use the database: {error.orig}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
