"""Nudges: each one a stored row with a unique key, created before its message is queued (workflows/nudges.py)."""

from storage.nudges.models import Nudge, NudgeMute, SlackUserZone  # noqa: F401  (registers the tables)
