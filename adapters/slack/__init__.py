"""Slack adapter: parses Slack requests, calls the core and renders its messages as Block Kit."""
