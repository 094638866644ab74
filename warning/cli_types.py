"""Click parameter types shared by commands.

A row id beyond a 64-bit integer cannot name a row on either database, and SQLite's driver
raises OverflowError on it: :data:`ROW_ID` refuses it as a usage error naming the argument.
"""

from __future__ import annotations

import click

from warning.store.models import MAX_ROW_ID

ROW_ID = click.IntRange(1, MAX_ROW_ID)
