"""Replies to the person who acted: one presenter per use-case result, and one for user errors.

Importing this package registers every presenter with ``present``.
"""

from __future__ import annotations

from core.presentation.replies import home, people, requests, schedules, tasks, work
from core.presentation.replies.base import present, present_error
from core.presentation.replies.requests import request_message
from core.presentation.replies.work import evaluation_lines, ranking_line

__all__ = [
    "evaluation_lines",
    "home",
    "people",
    "present",
    "present_error",
    "ranking_line",
    "request_message",
    "requests",
    "schedules",
    "tasks",
    "work",
]
