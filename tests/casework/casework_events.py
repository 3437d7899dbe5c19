"""Events of a case for the casework tests: one ordinary letter's life, dated on the 2026 calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from casework.states import CHINA_TZ, HANDLER, INTAKE, SUPERVISOR, CaseEvent, Step

D = dt.date
BODY = "city_housing"
OTHER_BODY = "district_transport"


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=CHINA_TZ)


def ev(step: Step, day: dt.date, role: str = INTAKE, **particulars: Any) -> CaseEvent:
    """An event recorded at 10:00 Beijing time on ``day`` by a user named after their role."""
    if role == HANDLER:
        particulars.setdefault("actor_department", BODY)
    return CaseEvent(step=step, actor=f"{role}-1", role=role, at=at(day), **particulars)


def handler(step: Step, day: dt.date, department: str = BODY, **particulars: Any) -> CaseEvent:
    return ev(step, day, HANDLER, actor_department=department, **particulars)


def supervisor(step: Step, day: dt.date, **particulars: Any) -> CaseEvent:
    return ev(step, day, SUPERVISOR, **particulars)


def register(day: dt.date) -> CaseEvent:
    return ev(Step.register, day)


def decide(day: dt.date, channel: str = "ordinary", disposition: str = "accept") -> CaseEvent:
    return ev(Step.decide, day, channel=channel, disposition=disposition, body=BODY)


def transfer(day: dt.date, body: str = BODY, seq: int = 1) -> CaseEvent:
    return ev(Step.transfer, day, body=body, document_no=f"X信转〔{day.year}〕{seq}号")


def accept(day: dt.date, department: str = BODY) -> CaseEvent:
    return handler(Step.accept, day, department, document_no=f"X信受告〔{day.year}〕1号")


def answer(day: dt.date) -> CaseEvent:
    return handler(Step.answer, day, document_no=f"X信处意〔{day.year}〕1号")


def serve(day: dt.date, recorded: dt.date | None = None) -> CaseEvent:
    return ev(Step.serve, recorded or day, effective_on=day)


def ordinary_until_handling(
    received: dt.date, accepted: dt.date, channel: str = "ordinary"
) -> list[CaseEvent]:
    """Registered on ``received``, decided and transferred the same day, received and accepted on
    ``accepted``."""
    return [
        register(received),
        decide(received, channel),
        transfer(received),
        handler(Step.receive, accepted),
        accept(accepted),
    ]
