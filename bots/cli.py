"""The ``smarter-bot`` command: run the bot, replay a transcript, upgrade the database."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from adapters.console.repl import run_repl
from adapters.console.session import ConsoleSession, SettableClock
from adapters.console.transcript import TranscriptError, replay
from bots.settings import Settings
from bots.wiring import build_context
from core.domain.rubric import RubricError
from core.services.rankings import rebuild_rankings
from core.storage.db import create_db_engine
from core.storage.migrate import upgrade

__all__ = ["main"]

logger = logging.getLogger("smarter_bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smarter-bot", description="SMARTER×SMARTER in chat.")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default: WARNING)")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the bot; with no Slack or Discord credentials, on the console")
    run.add_argument("--script", type=Path, help="replay a transcript file and print what every user sees")
    run.add_argument(
        "--database", help="database URL (default: from settings; a new temporary SQLite file with --script)"
    )
    run.add_argument("--user", default="guest", help="console user to start as (default: guest)")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="upgrade the database to the latest schema")
    db_upgrade.add_argument("--database", help="database URL (default: from settings)")

    ranking = commands.add_parser("ranking", help="ranking maintenance")
    ranking_commands = ranking.add_subparsers(dest="ranking_command", required=True)
    rebuild = ranking_commands.add_parser(
        "rebuild", help="recompute every ranking total from the evaluations (after changing the ranking prior)"
    )
    rebuild.add_argument("--database", help="database URL (default: from settings)")
    return parser


def _run(args: argparse.Namespace, settings: Settings) -> int:
    with tempfile.TemporaryDirectory(prefix="smarter-bot-") as scratch:
        if args.database:
            settings = settings.model_copy(update={"database_url": args.database})
        elif args.script:
            settings = settings.model_copy(update={"database_url": f"sqlite:///{scratch}/transcript.db"})
        clock = SettableClock()
        ctx = build_context(settings, clock=clock)
        session = ConsoleSession(ctx, clock, write=lambda text: print(text, flush=True), user=args.user)
        logger.info("console adapter started on %s", settings.database_url.split("@")[-1])
        if args.script:
            try:
                replay(session, args.script)
            except (TranscriptError, OSError) as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
        else:
            run_repl(session)
        logger.info("console adapter stopped")
        ctx.session_factory.kw["bind"].dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
        if args.command == "run":
            return _run(args, settings)
        url = args.database or settings.database_url
        engine = create_db_engine(url)
        if args.command == "db":
            upgrade(engine)
            print("database is at the latest schema")
        else:
            ctx = build_context(settings.model_copy(update={"database_url": url}), engine=engine)
            with ctx.transaction() as session:
                written = rebuild_rankings(session, ctx.policy.ranking_prior)
            print(f"rebuilt {written} ranking totals")
        engine.dispose()
    except ValidationError as error:
        print(f"error: invalid setting: {error}", file=sys.stderr)
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
