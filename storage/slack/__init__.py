"""The Slack delivery outbox: every message the bot owes someone is a stored row, sent by one worker."""

from storage.slack.models import SlackMessage, SlackMessageStatus  # noqa: F401  (registers the table)
