"""Presentation: turns use-case results and user errors into neutral, localized messages."""
