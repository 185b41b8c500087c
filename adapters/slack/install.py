"""Installations: one workspace's bot token, or slack_sdk's SQLAlchemy stores for OAuth in many workspaces."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine

from adapters.slack.config import SlackConfig
from core.services.outbox import PermanentDeliveryError

__all__ = ["Installations", "ThreadedInstallationStore", "ThreadedStateStore"]

logger = logging.getLogger(__name__)

# An OAuth state is valid this long between the Install button and Slack's redirect back.
STATE_EXPIRY_SECONDS = 600


class ThreadedInstallationStore(AsyncInstallationStore):
    """slack_sdk's SQLAlchemy installation store for Bolt's asyncio app, run in worker threads.

    The project's engine is synchronous (psycopg or sqlite3), so the store shares it instead of opening a second,
    asynchronous engine. Each call blocks a worker thread, never the event loop.
    """

    def __init__(self, store: SQLAlchemyInstallationStore) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return logger

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self.store.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self.store.save_bot, bot)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        return await asyncio.to_thread(
            self.store.find_bot,
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await asyncio.to_thread(
            self.store.find_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.store.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await asyncio.to_thread(
            self.store.delete_installation, enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.store.delete_all, enterprise_id=enterprise_id, team_id=team_id)


class ThreadedStateStore(AsyncOAuthStateStore):
    """slack_sdk's SQLAlchemy OAuth state store for Bolt's asyncio app, run in worker threads."""

    def __init__(self, store: SQLAlchemyOAuthStateStore) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.store.issue, *args, **kwargs)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self.store.consume, state)


class Installations:
    """Bot tokens per workspace: the configured token for one workspace, or the OAuth installations."""

    def __init__(self, config: SlackConfig, engine: Engine) -> None:
        self.config = config
        self.store: SQLAlchemyInstallationStore | None = None
        self.state_store: SQLAlchemyOAuthStateStore | None = None
        if config.oauth:
            assert config.client_id is not None
            self.store = SQLAlchemyInstallationStore(client_id=config.client_id, engine=engine)
            self.state_store = SQLAlchemyOAuthStateStore(expiration_seconds=STATE_EXPIRY_SECONDS, engine=engine)
            # slack_sdk owns these tables' schema; create_all only adds the ones that are missing.
            self.store.create_tables()  # type: ignore[no-untyped-call]
            self.state_store.create_tables()  # type: ignore[no-untyped-call]

    def bot_token(self, team_id: str) -> str:
        """Return the bot token for ``team_id``; raise PermanentDeliveryError if the app is not installed there."""
        if self.store is None:
            if self.config.bot_token is None:
                raise PermanentDeliveryError("no Slack bot token is configured")
            return self.config.bot_token
        bot = self.store.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            raise PermanentDeliveryError(f"the Slack app is not installed in workspace {team_id}")
        return bot.bot_token
