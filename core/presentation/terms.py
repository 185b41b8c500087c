"""Terms shown inside other messages (statuses, menus, work types, roles), listed for extraction."""

from __future__ import annotations

from core.domain.errors import T_

__all__ = ["TERMS"]

TERMS = (
    # task statuses
    T_("open"), T_("closed"), T_("evaluated"), T_("archived"),
    # task menus
    T_("brainstorm"), T_("practice"), T_("contest"),
    # work types
    T_("research"), T_("analysis"), T_("ideas"), T_("organizing"),
    # roles and membership
    T_("partner"), T_("member"), T_("free"), T_("paid"),
    # participation request statuses
    T_("pending"), T_("accepted"), T_("declined"), T_("expired"),
    # placeholders for an empty value
    T_("none"), T_("not set"),
    # field names used in length and format errors
    T_("nickname"), T_("company name"), T_("title"), T_("description"), T_("copyright"), T_("post"),
    T_("text"), T_("link"), T_("file"), T_("advice"), T_("remark"), T_("message"),
)  # fmt: skip
