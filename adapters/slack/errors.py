"""Reading Slack's error responses."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

__all__ = ["error_code"]


def error_code(error: SlackApiError) -> str:
    """Return Slack's error code, or the HTTP status when the response was not JSON (a proxy's error page)."""
    data = error.response.data
    return str(data.get("error", "")) if isinstance(data, dict) else f"HTTP {error.response.status_code}"
