"""Errors raised by the routing package. Each says what was wrong and what to do next."""

from __future__ import annotations


class RoutingError(Exception):
    """Base of every error the routing package raises."""


class RulebookError(RoutingError, ValueError):
    """A rulebook file is malformed: the message names the file, the rule id and the field."""


class UnknownCodeError(RoutingError, KeyError):
    """A label code is not in its label set; the message lists the allowed codes."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CatalogueError(RoutingError, ValueError):
    """The department catalogue is malformed or misses a code the model predicts."""


class CalendarError(RoutingError, ValueError):
    """The office's holiday file is malformed: the message names the file, the year and the entry."""
