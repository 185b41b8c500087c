"""auth.test, users.info and team.info of the fake Slack."""

from __future__ import annotations

from typing import Any

from tests.slack.workspace import Args, SlackError, Workspace

__all__ = ["METHODS"]


def auth_test(workspace: Workspace, args: Args) -> dict[str, Any]:
    domain = workspace.team_domain(args.team_id)
    return {
        "url": f"https://{domain}.slack.com/",
        "team": workspace.teams[args.team_id],
        "user": workspace.users[workspace.bot_user_id]["name"],
        "team_id": args.team_id,
        "user_id": workspace.bot_user_id,
        "bot_id": workspace.bot_id,
        "is_enterprise_install": False,
    }


def users_info(workspace: Workspace, args: Args) -> dict[str, Any]:
    user_id = args.required("user")
    if user_id not in workspace.users:
        raise SlackError("user_not_found")
    return {"user": workspace.describe_user(user_id, include_locale=args.flag("include_locale"))}


def team_info(workspace: Workspace, args: Args) -> dict[str, Any]:
    team_id = args.text("team") or args.team_id
    if team_id not in workspace.teams:
        raise SlackError("team_not_found")
    domain = workspace.team_domain(team_id)
    return {"team": {"id": team_id, "name": workspace.teams[team_id], "domain": domain, "email_domain": ""}}


METHODS = {"auth.test": auth_test, "users.info": users_info, "team.info": team_info}
