"""views.open, views.update, views.push and views.publish of the fake Slack."""

from __future__ import annotations

import copy
from typing import Any

from tests.slack.blocks import check_view
from tests.slack.workspace import Args, SlackError, Workspace, missing_argument

__all__ = ["METHODS"]

VIEW_STACK_MAX = 3  # Slack keeps at most three views in a modal's stack


def _view_argument(args: Args, *, expected_type: str) -> dict[str, Any]:
    """Return the `view` argument after the checks Slack runs on it.

    Slack reports a malformed view as invalid_arguments with one `[ERROR] ...` message per problem.
    """
    view = args.params.get("view")
    if view is None:
        raise missing_argument("view")

    reasons = check_view(view)
    if not reasons and view.get("type") != expected_type:
        reasons = [f"type must be {expected_type} for this method [json-pointer:/view/type]"]
    if reasons:
        messages = [f"[ERROR] {reason}" for reason in reasons]
        raise SlackError("invalid_arguments", response_metadata={"messages": messages}, block_reasons=reasons)
    return dict(view)


def _exchange_trigger(workspace: Workspace, args: Args) -> None:
    """Use up a trigger_id: each one opens or pushes a single view."""
    trigger_id = args.text("trigger_id")
    if trigger_id is None:
        raise missing_argument("trigger_id")
    if not trigger_id.strip():
        raise SlackError("invalid_trigger_id")
    if trigger_id in workspace.expired_triggers:
        raise SlackError("expired_trigger_id")
    if trigger_id in workspace.used_triggers:
        raise SlackError("exchanged_trigger_id")


def _check_external_id(workspace: Workspace, view: dict[str, Any], *, own_id: str | None) -> None:
    external_id = view.get("external_id")
    if not external_id:
        return
    for view_id, stored in workspace.views.items():
        if stored.get("external_id") == external_id and view_id != own_id:
            raise SlackError("duplicate_external_id")


def _store_view(
    workspace: Workspace,
    args: Args,
    view: dict[str, Any],
    *,
    view_id: str,
    root_view_id: str | None,
    previous_view_id: str | None,
) -> dict[str, Any]:
    """Store a view as Slack returns it: the submitted fields, ids, a fresh hash and an empty state."""
    stored: dict[str, Any] = {
        "id": view_id,
        "team_id": args.team_id,
        "type": view["type"],
        "blocks": view.get("blocks", []),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": workspace.new_id("H"),
        "title": view.get("title"),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "external_id": view.get("external_id", ""),
        "root_view_id": root_view_id,
        "previous_view_id": previous_view_id,
        "app_id": "A0001",
        "app_installed_team_id": args.team_id,
        "bot_id": workspace.bot_id,
    }
    workspace.views[view_id] = stored
    return copy.deepcopy(stored)


def open_view(workspace: Workspace, args: Args) -> dict[str, Any]:
    _exchange_trigger(workspace, args)
    view = _view_argument(args, expected_type="modal")
    _check_external_id(workspace, view, own_id=None)

    workspace.used_triggers.add(args.required("trigger_id"))
    view_id = workspace.new_id("V")
    workspace.view_stacks.append([view_id])
    return {"view": _store_view(workspace, args, view, view_id=view_id, root_view_id=view_id, previous_view_id=None)}


def push_view(workspace: Workspace, args: Args) -> dict[str, Any]:
    _exchange_trigger(workspace, args)
    view = _view_argument(args, expected_type="modal")
    _check_external_id(workspace, view, own_id=None)
    # NOTE: the fake cannot tell which modal a trigger_id came from, so it pushes onto the latest one opened.
    if not workspace.view_stacks:
        raise SlackError("invalid_trigger_id")
    stack = workspace.view_stacks[-1]
    if len(stack) >= VIEW_STACK_MAX:
        raise SlackError("push_limit_reached")

    workspace.used_triggers.add(args.required("trigger_id"))
    view_id = workspace.new_id("V")
    stored = _store_view(workspace, args, view, view_id=view_id, root_view_id=stack[0], previous_view_id=stack[-1])
    stack.append(view_id)
    return {"view": stored}


def update_view(workspace: Workspace, args: Args) -> dict[str, Any]:
    view_id = args.text("view_id")
    external_id = args.text("external_id")
    if not view_id and not external_id:
        raise missing_argument("view_id")
    if not view_id:
        view_id = next((key for key, stored in workspace.views.items() if stored["external_id"] == external_id), None)
    if view_id is None or view_id not in workspace.views:
        raise SlackError("not_found")
    current = workspace.views[view_id]
    if args.text("hash") and args.text("hash") != current["hash"]:
        raise SlackError("hash_conflict")
    view = _view_argument(args, expected_type=current["type"])
    _check_external_id(workspace, view, own_id=view_id)

    stored = _store_view(
        workspace,
        args,
        view,
        view_id=view_id,
        root_view_id=current["root_view_id"],
        previous_view_id=current["previous_view_id"],
    )
    for user_id, home in workspace.home_views.items():
        if home["id"] == view_id:
            workspace.home_views[user_id] = stored
    return {"view": stored}


def publish_view(workspace: Workspace, args: Args) -> dict[str, Any]:
    user_id = args.required("user_id")
    if user_id not in workspace.users:
        raise SlackError("user_not_found")
    current = workspace.home_views.get(user_id)
    if current is not None and args.text("hash") and args.text("hash") != current["hash"]:
        raise SlackError("hash_conflict")
    view = _view_argument(args, expected_type="home")

    view_id = current["id"] if current is not None else workspace.new_id("V")
    stored = _store_view(workspace, args, view, view_id=view_id, root_view_id=None, previous_view_id=None)
    workspace.home_views[user_id] = stored
    return {"view": copy.deepcopy(stored)}


METHODS = {
    "views.open": open_view,
    "views.push": push_view,
    "views.update": update_view,
    "views.publish": publish_view,
}
