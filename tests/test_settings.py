"""Settings from environment variables: secretariat accounts and the default locale."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bots.settings import Settings


@pytest.mark.parametrize(
    "value",
    ["console:local:secretariat, slack:T01:U02", '["console:local:secretariat", "slack:T01:U02"]'],
)
def test_secretariat_list_forms(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SMARTER_SECRETARIAT", value)

    assert Settings().secretariat == ["console:local:secretariat", "slack:T01:U02"]


def test_secretariat_account_needs_three_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTER_SECRETARIAT", "secretariat")

    with pytest.raises(ValidationError, match="platform:workspace:user"):
        Settings()


def test_default_locale_rejects_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTER_DEFAULT_LOCALE", "fr")

    with pytest.raises(ValidationError, match="ja or en"):
        Settings()
