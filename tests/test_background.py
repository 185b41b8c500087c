"""The services started beside the console: the e-mail worker thread sends request e-mails through SMTP."""

from __future__ import annotations

import dataclasses
import time

from bots.background import background_services
from bots.wiring import smtp_config
from core.services import registration, requests
from core.services.context import ServiceContext
from tests.conftest import actor, make_settings
from tests.scenario import open_task, partner
from tests.test_email import MailHandler, mail_server  # noqa: F401 (fixture)


def test_email_thread_sends_request(ctx: ServiceContext, mail_server: MailHandler) -> None:  # noqa: F811
    settings = make_settings(
        smtp_host="127.0.0.1", smtp_port=mail_server.port, smtp_security="none", mail_from="bot@smarter.example"
    )
    config = smtp_config(settings)
    assert config is not None
    partner(ctx)
    registration.register_member(ctx, actor("hanako"), nickname="hanako", email="hanako@example.com")
    requests.send_request(ctx, actor("acme"), "hanako", open_task(ctx), message="ぜひ")

    with background_services(ctx, settings, mail=dataclasses.replace(config, local_hostname="localhost")):
        deadline = time.monotonic() + 15
        while not mail_server.received and time.monotonic() < deadline:
            time.sleep(0.05)

    assert len(mail_server.received) == 1
    assert mail_server.received[0].rcpt_tos == ["hanako@example.com"]
    assert mail_server.received[0].message["From"].addresses[0].addr_spec == "bot@smarter.example"


def test_smtp_config_off_without_host() -> None:
    assert smtp_config(make_settings(smtp_host="")) is None
