"""The day of receipt and the form of a letter, checked alike wherever they are given.

``xinfang route`` (its options and JSONL fields), ``xinfang triage`` and the web batch upload (its
API field and its page's form) all take a letter's day and form through these checks, so a day
before 1990, a day in the future or an unknown form is refused with the same message everywhere.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import get_args

from routing.schemas import Letter

# The letter forms of 条例 第十七条, as routing.schemas.Letter declares them.
FORMS: tuple[str, ...] = get_args(Letter.model_fields["form"].annotation)
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)  # not full-width digits


def latest_day(*, tomorrow: bool) -> dt.date:
    """The latest day a letter may be dated: today in China, or tomorrow (a clock a few hours
    ahead of the office's, as the API allows)."""
    from store.letters import china_today

    return china_today() + dt.timedelta(days=1 if tomorrow else 0)


def check_day(name: str, day: dt.date, *, latest: dt.date) -> dt.date:
    """``day`` if it can be the date of a letter (``store.letters.EARLIEST_RECEIVED_ON`` to
    ``latest``); ``ValueError`` naming ``name`` (an empty ``name`` for a message that its caller
    prefixes, as click does with the option)."""
    from store.letters import EARLIEST_RECEIVED_ON, received_on_too_early

    subject = f"{name} {day.isoformat()}" if name else day.isoformat()
    if day < EARLIEST_RECEIVED_ON:
        raise ValueError(received_on_too_early(day, name))
    if day > latest:
        raise ValueError(
            f"{subject} is in the future (the latest allowed is {latest.isoformat()}); "
            "give the day it happened"
        )
    return day


def parse_day(name: str, value: object, *, latest: dt.date) -> dt.date | None:
    """A day given as ``YYYY-MM-DD`` text, checked by :func:`check_day`; ``None`` when absent or empty.

    Raises:
        ValueError: not ``YYYY-MM-DD``, no such day, before 1990 or after ``latest``; the message
            names ``name``.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DAY_RE.fullmatch(value):
        raise ValueError(f"{name} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-12-01")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not a day of the calendar; write it as YYYY-MM-DD") from None
    return check_day(name, day, latest=latest)


def check_form(value: object) -> str:
    """``value`` if it is a letter form; ``ValueError`` naming the field and the forms otherwise."""
    if not isinstance(value, str) or value not in FORMS:
        raise ValueError(f"form {value!r} is not a letter form; use one of {', '.join(FORMS)}")
    return value
