"""Test doubles for Slack: a fake Web API server and helpers that sign requests the way Slack does."""

from tests.slack.fake import Call, FakeChannel, FakeSlack

__all__ = ["Call", "FakeChannel", "FakeSlack"]
