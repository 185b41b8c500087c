"""Confidential requester name: a partner shown as industry + prefecture is never named to anyone else."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from adapters.console.session import ConsoleSession, SettableClock
from core.services.context import ServiceContext

HIDDEN_COMPANY = "株式会社ヒミツ技研"
# A leak may shorten or normalise the name, so the distinctive part is searched for as well.
HIDDEN_PARTS = (HIDDEN_COMPANY, "ヒミツ")
PARTNER = "himitsu"
SECRETARIAT = "secretariat"
TASK_CHANNEL = "#t1-市場調査"

BLOCK_HEADER = re.compile(r"^  \[→ (?P<audience>.+)\]$")
BLOCK_LINE_INDENT = "    "
INPUT_ECHO = "» "


@dataclass
class Block:
    """One output block: ``audience`` is a channel (``#name``) or the console user it is addressed to."""

    audience: str
    lines: list[str] = field(default_factory=list)

    def mentions(self, text: str) -> bool:
        return any(text in line for line in self.lines)


def split_output(lines: list[str]) -> tuple[list[Block], list[str]]:
    """Split console output into addressed blocks and the other lines, which everyone at the console can read.

    Input echoes (``» user place: text``) are dropped: they repeat what a person typed, not what the bot sent.
    """
    blocks: list[Block] = []
    others: list[str] = []
    current: Block | None = None
    for line in lines:
        if header := BLOCK_HEADER.match(line):
            audience = header["audience"]
            if audience.endswith(" only"):
                audience = audience.removesuffix(" only")
            elif audience.startswith("DM "):
                audience = audience.removeprefix("DM ")
            current = Block(audience)
            blocks.append(current)
        elif current is not None and line.startswith(BLOCK_LINE_INDENT):
            current.lines.append(line)
        else:
            current = None
            if not line.startswith(INPUT_ECHO):
                others.append(line)
    return blocks, others


def run_hidden_partner_flow(console: ConsoleSession) -> None:
    """Drive every step where the requester is shown: tasks, channels, evaluations, requests and their replies."""
    say = console.say
    say(
        f"/smarter register partner company={HIDDEN_COMPANY} display=anonymous industry=製造業 prefecture=大阪",
        user=PARTNER,
    )
    say("/smarter register member nickname=たろう", user="taro")
    say("/smarter register member nickname=はなこ", user="hanako")
    say("/smarter register member nickname=じろう", user="jiro")

    say(
        "/smarter task new practice title=市場調査 deadline=2026/12/31 types=research,analysis capacity=5", user=PARTNER
    )
    say("/smarter task new brainstorm title=新商品のアイデア deadline=2026/12/31", user=PARTNER)
    say('/smarter task new contest title=新規事業コンテスト deadline=2026/12/31 copyright="応募者に帰属"', user=PARTNER)
    say("/smarter task show T1", user=PARTNER)

    say("/smarter task list", user="taro")
    say("/smarter task list all", user="hanako")
    say("/smarter task show T1", user="taro")
    say("/smarter task show T3", user="hanako")
    say("/smarter join T1", user="taro")
    say("/smarter join T3", user="hanako")
    say("追加の資料を共有します。", user=PARTNER, place=TASK_CHANNEL)
    say("締め切りについて質問です。", user="taro", place=TASK_CHANNEL)
    say("無人の試食コーナー", user="hanako", place="#brainstorm/T2")
    say("/smarter post T2 駅前でのサンプリング", user="jiro")

    say('/smarter submit T1 text="調査結果の初版"', user="taro")
    say('/smarter submit T3 text="事業計画"', user="hanako")
    say("/smarter submissions T1", user=PARTNER)
    say("/smarter digest T2", user=PARTNER)
    levels = "logic=3 evidence=3 originality=2 feasibility=2 clarity=3"
    say(f'/smarter evaluate T1 たろう {levels} advice="出典を明記しましょう"', user=PARTNER)
    say(f'/smarter evaluate T3 はなこ {levels} advice="独自性が光ります"', user=PARTNER)
    say("/smarter evaluation T1", user="taro")
    say("/smarter ranking", user="taro")
    say("/smarter ranking month", user="hanako")

    say('/smarter request じろう T1 message="ぜひご参加ください"', user=PARTNER)
    say('/smarter request はなこ T1 message="ぜひご参加ください"', user=PARTNER)
    say("/smarter requests", user="jiro")
    say("/smarter decline R1", user="jiro")
    say("/smarter lang en", user="hanako")
    say("/smarter requests", user="hanako")
    say("/smarter task show T1", user="hanako")
    say("/smarter accept R2", user="hanako")
    say("/smarter leave T1", user="hanako")
    say("/smarter requests", user=PARTNER)

    say("/smarter task show T1", user=SECRETARIAT)
    say("/smarter task close T1", user=PARTNER)
    say("/smarter task finish T1", user=PARTNER)
    say("/smarter task archive T1", user=PARTNER)


def test_hidden_name_reaches_only_partner_and_secretariat(ctx: ServiceContext, clock: SettableClock) -> None:
    output: list[str] = []
    run_hidden_partner_flow(ConsoleSession(ctx, clock, write=output.append))
    blocks, others = split_output(output)

    leaks = [
        (block.audience, line)
        for block in blocks
        if block.audience not in (PARTNER, SECRETARIAT)
        for line in block.lines
        if any(part in line for part in HIDDEN_PARTS)
    ]
    assert leaks == []
    assert [line for line in others if any(part in line for part in HIDDEN_PARTS)] == []
    assert any(block.mentions(HIDDEN_COMPANY) for block in blocks if block.audience == PARTNER)
    assert any(block.mentions(HIDDEN_COMPANY) for block in blocks if block.audience == SECRETARIAT)


def test_hidden_name_flow_reaches_every_audience(ctx: ServiceContext, clock: SettableClock) -> None:
    output: list[str] = []
    run_hidden_partner_flow(ConsoleSession(ctx, clock, write=output.append))
    blocks, _ = split_output(output)

    audiences = {block.audience for block in blocks}
    expected = {TASK_CHANNEL, "#announcements", "#brainstorm", "taro", "hanako", "jiro", PARTNER, SECRETARIAT}
    assert expected <= audiences
    assert not [block for block in blocks if block.lines and block.lines[0].startswith(f"{BLOCK_LINE_INDENT}⚠")]


def test_hidden_partner_shown_as_industry_and_prefecture(ctx: ServiceContext, clock: SettableClock) -> None:
    output: list[str] = []
    run_hidden_partner_flow(ConsoleSession(ctx, clock, write=output.append))
    blocks, _ = split_output(output)

    member_blocks = [block for block in blocks if block.audience in ("taro", "hanako", "jiro", "#announcements")]
    assert any(block.mentions("大阪府の製造業の企業") for block in member_blocks)
    assert any(block.mentions("大阪府") and block.mentions("製造業") for block in blocks if block.audience == "hanako")


def test_company_display_named_to_members(ctx: ServiceContext, clock: SettableClock) -> None:
    output: list[str] = []
    console = ConsoleSession(ctx, clock, write=output.append)
    console.say("/smarter register partner company=株式会社オープン display=company", user="open")
    console.say("/smarter register member nickname=たろう", user="taro")
    console.say("/smarter task new practice title=市場調査 deadline=2026/12/31 types=research", user="open")
    console.say("/smarter task show T1", user="taro")
    console.say("/smarter task list", user="taro")
    blocks, _ = split_output(output)

    shown_to_member = [block for block in blocks if block.audience == "taro"]
    assert len(shown_to_member) == 3
    assert all(block.mentions("株式会社オープン") for block in shown_to_member[1:])
    assert any(block.mentions("株式会社オープン") for block in blocks if block.audience == "#announcements")
    assert any(block.mentions("株式会社オープン") for block in blocks if block.audience == TASK_CHANNEL)
