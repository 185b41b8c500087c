"""files.getUploadURLExternal and files.completeUploadExternal of the fake Slack.

The bytes go between the two calls to the upload URL, which the HTTP server of the fake serves.
"""

from __future__ import annotations

import copy
import mimetypes
from typing import Any

from tests.slack.api_chat import attach_to_thread, invalid_blocks_error, writable_channel
from tests.slack.blocks import check_message_blocks
from tests.slack.workspace import Args, FakeChannel, SlackError, Workspace, missing_argument

__all__ = ["METHODS"]


def get_upload_url(workspace: Workspace, args: Args) -> dict[str, Any]:
    filename = args.text("filename")
    if not filename:
        raise missing_argument("filename")
    if args.text("length") is None:
        raise missing_argument("length")
    length = args.integer("length", 0)

    file_id = workspace.new_id("F")
    workspace.files[file_id] = {"filename": filename, "length": length, "alt_txt": args.text("alt_txt")}
    return {"upload_url": f"{workspace.server_url}/upload/{file_id}", "file_id": file_id}


def _describe_file(workspace: Workspace, file_id: str, title: str, channel: FakeChannel | None) -> dict[str, Any]:
    pending = workspace.files[file_id]
    filename = pending["filename"]
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    described: dict[str, Any] = {
        "id": file_id,
        "name": filename,
        "title": title,
        "mimetype": mimetype,
        "filetype": filename.rsplit(".", 1)[-1].lower() if "." in filename else "binary",
        "user": workspace.bot_user_id,
        "size": len(workspace.uploads[file_id]),
        "url_private": f"{workspace.server_url}/files/{file_id}/{filename}",
        "channels": [channel.id] if channel is not None and not channel.is_private else [],
        "groups": [channel.id] if channel is not None and channel.is_private and not channel.is_im else [],
        "ims": [channel.id] if channel is not None and channel.is_im else [],
    }
    if pending["alt_txt"]:
        described["alt_txt"] = pending["alt_txt"]
    return described


def complete_upload(workspace: Workspace, args: Args) -> dict[str, Any]:
    entries = args.params.get("files")
    if not isinstance(entries, list) or not entries:
        raise missing_argument("files")
    # NOTE: Slack's error code for an id that was never issued or never uploaded is a guess here.
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("id") not in workspace.uploads:
            raise SlackError("file_not_found")
    channel_id = args.text("channel_id")
    channel_ids = args.items("channels") or ([channel_id] if channel_id else [])
    channels = [writable_channel(workspace, workspace.find_channel(channel_id)) for channel_id in channel_ids]
    blocks = args.params.get("blocks")
    if blocks is not None and (reasons := check_message_blocks(blocks)):
        raise invalid_blocks_error(reasons)

    files = []
    for entry in entries:
        title = entry.get("title") or workspace.files[entry["id"]]["filename"]
        files.append(_describe_file(workspace, entry["id"], title, channels[0] if channels else None))
    for channel in channels:
        _post_file_share(workspace, args, channel, files)
    return {"files": [{"id": file["id"], "title": file["title"]} for file in files]}


def _post_file_share(workspace: Workspace, args: Args, channel: FakeChannel, files: list[dict[str, Any]]) -> None:
    message: dict[str, Any] = {
        "type": "message",
        "user": workspace.bot_user_id,
        "team": args.team_id,
        "text": args.text("initial_comment") or "",
        "files": copy.deepcopy(files),
        "upload": True,
        "ts": workspace.new_ts(),
    }
    if args.params.get("blocks"):
        message["blocks"] = args.params["blocks"]
    attach_to_thread(channel, message, args.text("thread_ts"), broadcast=False)
    channel.messages.append(message)


METHODS = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
}
