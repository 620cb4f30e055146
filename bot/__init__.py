"""A digital-skills assistant for the residents of a commune (first user: Thuan Chau, Son La)."""

import os

# python-telegram-bot 22 gives RetryAfter.retry_after as a timedelta when asked to (the coming
# default); the sender reads either form, and this keeps the deprecation warning out of logs.
os.environ.setdefault("PTB_TIMEDELTA", "1")
