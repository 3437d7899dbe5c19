"""The office's figures for a period: counts, series and the rates it is judged by (条例 第四十一条).

Every figure is computed in the database (:func:`compute`): one small query finds the band of
letter ids the period's letters hold, then **one statement** reads the period's letters, each with
the route it keeps (``letters.route_*``, written with each proposal and decision, ``store.routes``)
and its ``cases`` row, which carries the case's figures (the days of its first 转送/交办 or refusal,
受理 and 处理意见, its extension, 复查/复核 and ratings, written by each step as it is taken,
``casework.figures``), and counts them. No step is replayed and no letter's proposals or decisions
are searched here: a year's statistics read one row per letter and its case's row. On PostgreSQL
every count is one ``GROUPING SETS`` pass over those rows as they are read, the sums included (each
letter's flags and ratings are one more grouped key) and so are the overdue cases to list (a group
each, of which the first few are kept), so the letters are never written aside and read again;
SQLite groups by one set at a time over a materialised ``base``. Python receives grouped rows only
(about ten thousand for a year at a million letters), never the letters themselves, so the page
answers the same way at a million letters (``bench/office_statistics.py``).

**Which letters.** A period is a range of days of receipt (``letters.received_on``, the day the
office received the matter, 第十七条/第十九条), both ends included; merged letters are left out (they
continue in the letter they went into). A department scope keeps the letters whose *route* names
that department: the newest decision's department, else the newest proposal's, as the queue reads
it. Rates are over the letters *received* in the period (a cohort), judged as on ``today``.

**Route fields** (category, channel, disposition, domain, department) are the newest decision's,
else the newest proposal's: what the office decided, or until then what it was proposed. Each
letter keeps them, with its confidentiality, its newest decision's id and its newest proposal's
earliest deadline, in the transaction that stores the proposal or decision (``store.routes``).

**Region.** The letters' place names are anonymised (A市, A3区, A7县 …). :func:`region_of` reads
them from the letter: the county-level unit (区县) is the first ``[A-Z]<digits>区`` or ``…县`` in the
title, else in the text; the city (地市) is that unit's letter + 市 (A3区 lies in A市), else the first
``[A-Z]市`` in the title, else in the text; a letter naming neither is 未注明. The first unit and the
first city a letter names are kept on it (``letters.named_county``, ``named_city``, written with its
title and text by ``store.letters``), so the statement groups by those two columns and Python
turns each pair into the region (:func:`_region`): no regular expression runs per letter.

**The rates.** Each is a :class:`Rate`: numerator, denominator and their quotient (``None`` when the
denominator is 0). Statutory periods are counted as ``casework.periods`` counts them (the first
day not counted, a last day on a 法定休假日 moved to the next working day, 民法典第二百零三条): SQL
returns the day differences grouped, and only the ambiguous band of a few days around the nominal
end is judged in Python against the holiday calendar (:func:`_judge`).

- 及时受理率 (第二十二条第一款, 第二十三条第二款): of the letters whose 15-day clock from receipt
  has stopped or run out, those the office 转送 / 交办 or refused with its notice (不予受理、不再受理)
  within the 15 days. A letter still inside its 15 days without such a step is not counted yet; one
  past them without it counts as not timely. The steps are those of ``casework`` (``case_events``),
  as their figures on the ``cases`` row sum them up.
- 按期办结率 (第三十四条): of the 第三十一条第六项 matters (channel ``ordinary``) a body accepted
  (受理), whose conclusion clock has stopped or run out, those whose 处理意见 came within 60 days of
  受理, or 60 + the approved extension.
- 延期率 (第三十四条): accepted ordinary matters with an approved 延期, over accepted ordinary matters.
- 复查率 (第三十五条): ordinary matters with a 复查 request, over those given a 处理意见.
- 复核率 (第三十六条第一款): matters with a 复核 request, over those given a 复查意见.
- 重复信访率 (第三十六条第三款): letters an officer linked to an earlier case as the same matter
  (``cases.linked_to_id``), over all letters of the period.
- 满意度 (第二十一条第二款, 方便信访人评价): the 满意度评价 steps recorded on the period's letters,
  by grade; 满意率 = (满意 + 基本满意) / 评价次数. Without any, there is no figure
  (:data:`NO_SATISFACTION`), never a made-up one.
- 超期 (第四十条): a letter whose date next due (the case's earliest running duty, else the
  proposal's earliest deadline; ``store.queries_api.next_due_column``) is before ``today``.

**Confidentiality.** Confidential letters (检举控告, ``store.confidentiality``) are in every count
for everyone the page is for; the only list of letters (overdue cases) names only those the
reader's scope admits (``service.access.scope_of``) and says how many more it leaves out.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from casework.figures import RATING_COLUMNS
from casework.periods import CONCLUDE_DAYS, FORWARD_DAYS
from casework.states import STATE_NAMES, CaseState, Rating
from routing.codes import CATEGORY_NAMES, CHANNEL_NAMES, DISPOSITION_NAMES, Channel
from routing.deadlines import period_end
from service import access
from service.errors import Forbidden, InvalidInput
from store.letters import china_today, named_places
from store.models import FORM_NAMES, CaseRecord, Letter
from store.routes import ROUTE_COLUMNS
from store.routes import admits_clause as kept_admits_clause

#: Who reads the office's figures: the heads who answer for them and the analysts who study them.
STATISTICS_READERS: frozenset[str] = frozenset({access.SUPERVISOR, access.ANALYST})
#: What the page says instead of a satisfaction figure when no 满意度评价 was recorded.
NO_SATISFACTION = "暂无满意度评价数据"
#: How many rows the lists of bodies and of overdue cases show.
TOP = 10
OVERDUE_LISTED = 20
#: Outside this many days past a period's nominal end no holiday run can still move its last day
#: (the longest, 春节, is 8 days with its weekend), so SQL settles those letters alone.
_HOLIDAY_BAND = 20
UNNAMED_REGION = "未注明"
#: Between the route's fields in one grouped key (the unit separator: in no code or name).
_JOIN = "\x1f"
_COMBINED_FIELDS = ("category", "channel", "disposition", "domain", "department", "form", "state")
#: What bit i of a letter's grouped ``flags`` says of it (the sums over the period's letters).
_FLAGS = (
    "confidential",
    "linked",
    "overdue",
    "withheld",
    "accepted",
    "extended",
    "answered",
    "reviewed",
    "review_answered",
    "rechecked",
)
OFFICE_ITSELF = "本机关（尚未转送、交办）"

RATING_NAMES: dict[str, str] = {
    Rating.satisfied.value: "满意",
    Rating.basically_satisfied.value: "基本满意",
    Rating.dissatisfied.value: "不满意",
}

# ------------------------------------------------------------------------------------ periods


@dataclass(frozen=True)
class Period:
    """Days of receipt from ``start`` to ``end``, both included; ``code`` as given (2019-Q3)."""

    start: dt.date
    end: dt.date
    kind: str  # month, quarter, year or range
    code: str

    @property
    def label(self) -> str:
        if self.kind == "year":
            return f"{self.start.year}年"
        if self.kind == "quarter":
            return f"{self.start.year}年第{(self.start.month - 1) // 3 + 1}季度"
        if self.kind == "month":
            return f"{self.start.year}年{self.start.month}月"
        return f"{self.start.isoformat()} 至 {self.end.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


_PERIOD_RE = re.compile(r"^(\d{4})(?:-?(Q[1-4]|\d{1,2}))?$", re.I)
MAX_RANGE_DAYS = 3 * 366 + 1


def parse_period(code: str) -> Period:
    """A period from ``2019``, ``2019-Q3`` or ``2019-07``.

    Raises:
        InvalidInput: anything else, with the forms it takes.
    """
    text = (code or "").strip()
    match = _PERIOD_RE.match(text)
    if match is None:
        raise InvalidInput(
            f"统计期间“{code}”无法识别；请写年份（2019）、季度（2019-Q3）或月份（2019-07），"
            "或分别填写起止日期"
        )
    year = int(match[1])
    part = (match[2] or "").upper()
    if not 1900 <= year <= 2100:
        raise InvalidInput(f"统计期间的年份 {year} 不在 1900 至 2100 之间")
    if not part:
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), "year", f"{year}")
    if part.startswith("Q"):
        q = int(part[1])
        first = 3 * (q - 1) + 1
        last = dt.date(year, first + 2, calendar.monthrange(year, first + 2)[1])
        return Period(dt.date(year, first, 1), last, "quarter", f"{year}-Q{q}")
    month = int(part)
    if not 1 <= month <= 12:
        raise InvalidInput(f"统计期间“{code}”的月份应为 1 至 12")
    last_day = calendar.monthrange(year, month)[1]
    return Period(dt.date(year, month, 1), dt.date(year, month, last_day), "month", f"{year}-{month:02d}")


def date_range(start: dt.date, end: dt.date) -> Period:
    """A period of days of receipt given by its first and last day.

    Raises:
        InvalidInput: the end before the start, or a range over three years (a page is not an export).
    """
    for day in (start, end):
        if not 1900 <= day.year <= 2100:
            raise InvalidInput(f"统计日期 {day.isoformat()} 不在 1900 至 2100 年之间")
    if end < start:
        raise InvalidInput(f"统计截止日期 {end.isoformat()} 早于起始日期 {start.isoformat()}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput("统计期间最长三年；更长的期间请分年统计")
    return Period(start, end, "range", f"{start.isoformat()}..{end.isoformat()}")


def choose_period(code: str | None, start: dt.date | None, end: dt.date | None, today: dt.date) -> Period:
    """The period a form or a query string asks for: a code, else a range, else this month so far."""
    if code and code.strip():
        return parse_period(code)
    if start is not None or end is not None:
        return date_range(start or (end or today).replace(day=1), end or today)
    return parse_period(f"{today.year}-{today.month:02d}")


# ------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Rate:
    """A rate with what it is made of: ``numerator`` of ``denominator`` (``value`` None when 0)."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def shown(self) -> str:
        """The rate as the page and the report print it: 87.5%（35/40）, or —（0/0）."""
        value = self.value
        percent = "—" if value is None else f"{value * 100:.1f}%"
        return f"{percent}（{self.numerator}/{self.denominator}）"

    def as_dict(self) -> dict[str, Any]:
        return {"numerator": self.numerator, "denominator": self.denominator, "value": self.value}


@dataclass(frozen=True)
class Count:
    code: str
    name: str
    count: int


@dataclass(frozen=True)
class OverdueCase:
    """An overdue case the reader may open: its number, state, body and the date it fell due."""

    case_number: str
    state: str
    body: str
    next_due: dt.date


@dataclass(frozen=True)
class Satisfaction:
    by_rating: list[Count]
    rated: int
    satisfied_rate: Rate


#: The rates in display order: key -> (name, article, definition in one line).
RATE_DEFINITIONS: dict[str, tuple[str, str, str]] = {
    "timely_acceptance": (
        "及时受理率",
        "第二十二条、第二十三条第二款",
        "收到之日起15日内转送、交办或告知不予受理／不再受理的件数 ÷ 15日期限已届满或已办理的件数",
    ),
    "on_time_conclusion": (
        "按期办结率",
        "第三十四条",
        "受理之日起60日（经批准延期的加延长日数）内出具处理意见的件数 ÷ 已出具处理意见或期限已届满的受理件数",
    ),
    "extension": ("延期率", "第三十四条", "经批准延期的件数 ÷ 已受理的普通信访程序件数"),
    "review": ("复查率", "第三十五条", "请求复查的件数 ÷ 已出具处理意见的普通信访程序件数"),
    "recheck": ("复核率", "第三十六条第一款", "请求复核的件数 ÷ 已出具复查意见的件数"),
    "repeat": ("重复信访率", "第三十六条第三款", "关联为同一信访事项的来信件数 ÷ 本期来信件数"),
}


@dataclass(frozen=True)
class Statistics:
    """The figures of one period and scope, as on ``today`` (see the module's definitions)."""

    period: Period
    department: str | None
    department_name: str | None
    today: dt.date
    total: int
    confidential: int
    by_category: list[Count]
    by_channel: list[Count]
    by_disposition: list[Count]
    by_domain: list[Count]
    by_department: list[Count]
    by_form: list[Count]
    by_city: list[Count]
    by_county: list[Count]
    by_state: list[Count]
    series_day: list[Count]
    series_week: list[Count]
    series_month: list[Count]
    rates: dict[str, Rate]
    satisfaction: Satisfaction | None
    top_bodies_letters: list[Count]
    top_bodies_overdue: list[Count]
    overdue_total: int
    overdue_cases: list[OverdueCase] = field(default_factory=list)
    overdue_withheld: int = 0

    @property
    def scope_label(self) -> str:
        return self.department_name or "全机关"

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values (dates as ISO strings, each rate with its parts)."""

        def counts(items: list[Count]) -> list[dict[str, Any]]:
            return [asdict(c) for c in items]

        return {
            "period": {
                "code": self.period.code,
                "kind": self.period.kind,
                "label": self.period.label,
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
            },
            "scope": {"department": self.department, "name": self.scope_label},
            "as_of": self.today.isoformat(),
            "total": self.total,
            "confidential": self.confidential,
            "by_category": counts(self.by_category),
            "by_channel": counts(self.by_channel),
            "by_disposition": counts(self.by_disposition),
            "by_domain": counts(self.by_domain),
            "by_department": counts(self.by_department),
            "by_form": counts(self.by_form),
            "by_city": counts(self.by_city),
            "by_county": counts(self.by_county),
            "by_state": counts(self.by_state),
            "series": {
                "day": counts(self.series_day),
                "week": counts(self.series_week),
                "month": counts(self.series_month),
            },
            "rates": {
                key: {
                    **rate.as_dict(),
                    "name": RATE_DEFINITIONS[key][0],
                    "basis": RATE_DEFINITIONS[key][1],
                    "definition": RATE_DEFINITIONS[key][2],
                }
                for key, rate in self.rates.items()
            },
            "satisfaction": (
                {
                    "by_rating": counts(self.satisfaction.by_rating),
                    "rated": self.satisfaction.rated,
                    "satisfied_rate": self.satisfaction.satisfied_rate.as_dict(),
                }
                if self.satisfaction is not None
                else None
            ),
            "satisfaction_note": None if self.satisfaction is not None else NO_SATISFACTION,
            "top_bodies_letters": counts(self.top_bodies_letters),
            "top_bodies_overdue": counts(self.top_bodies_overdue),
            "overdue_total": self.overdue_total,
            "overdue_cases": [{**asdict(c), "next_due": c.next_due.isoformat()} for c in self.overdue_cases],
            "overdue_withheld": self.overdue_withheld,
        }


# ---------------------------------------------------------------------------------- the region


def region_of(title: str | None, text: str | None) -> tuple[str, str]:
    """(地市, 区县) of a letter, as the module's docstring defines them (the SQL forms agree)."""
    return _region(*named_places(title, text))


def _region(county: str | None, city: str | None) -> tuple[str, str]:
    """(地市, 区县) from the first county-level unit and the first city a letter names (None: none)."""
    if county is not None:
        return f"{county[0]}市", county
    return city or UNNAMED_REGION, UNNAMED_REGION


class _Dialect:
    """The few expressions PostgreSQL and SQLite write differently."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def days_between(self, later: Any, earlier: Any) -> Any:
        if self.pg:
            return cast(later, Date) - cast(earlier, Date)
        return cast(func.julianday(later) - func.julianday(earlier), Integer)

    def text(self, column: Any) -> Any:
        return cast(column, String)


# -------------------------------------------------------------------------------- the statement


# The values a statement takes at each call. The statement itself is built once per kind of call
# (:func:`_statement`), so SQLAlchemy compiles it once: building and compiling it took longer than
# the database took to run a month's figures.
_START = bindparam("stat_start", type_=Date)
_END = bindparam("stat_end", type_=Date)
_TODAY = bindparam("stat_today", type_=Date)
_BAND_FROM = bindparam("stat_band_from", type_=Integer)
_BAND_TO = bindparam("stat_band_to", type_=Integer)
_DEPARTMENT = bindparam("stat_department", type_=String)


@lru_cache(maxsize=32)
def _statement(
    dialect: str, by_department: bool, confidential: bool | None, routed_department: str | None
) -> Any:
    """The one statement: ``base`` materialised, then every grouped figure as (kind, k1, k2, k3, n).

    Its values are the ``stat_*`` parameters; the reader's scope is part of its shape.
    """
    d = _Dialect(dialect)
    reader_scope = access.Scope(confidential=confidential, routed_department=routed_department)
    department = _DEPARTMENT if by_department else None
    today = _TODAY
    ids_from, ids_to = _BAND_FROM, _BAND_TO

    # Every row read below belongs to a letter whose id lies between the smallest and the largest id
    # of the period's letters. Letters are numbered as they are registered, so the period's letters
    # hold a narrow band of ids: the range lets the database read those rows by index instead of
    # every proposal, decision, case and step (the joins on the letter keep the result exact).
    def in_band(column: Any) -> Any:
        return column.between(ids_from, ids_to)

    route_department = Letter.route_department
    next_due = case((CaseRecord.letter_id.is_(None), Letter.proposed_due), else_=CaseRecord.next_due)

    def flag(column: Any) -> Any:
        return case((column, 1), else_=0)

    state = func.coalesce(
        CaseRecord.state,
        case(
            (Letter.route_decision_id.is_not(None), CaseState.decided.value),
            else_=CaseState.registered.value,
        ),
    )
    # The route, its confidentiality and the newest decision are kept on the letter (``store.routes``):
    # one row per letter, where each letter's newest proposal and newest decision had to be found.
    base_query = (
        select(
            Letter.id.label("letter_id"),
            Letter.case_number,
            Letter.received_on,
            Letter.form,
            Letter.named_county.label("county_match"),
            Letter.named_city.label("city_match"),
            *(
                func.coalesce(getattr(Letter, column), "").label(name)
                for name, column in ROUTE_COLUMNS.items()
            ),
            flag(Letter.route_confidential).label("confidential"),
            case(
                (
                    kept_admits_clause(
                        confidential=reader_scope.confidential,
                        routed_department=reader_scope.routed_department,
                    ),
                    1,
                ),
                else_=0,
            ).label("admitted"),
            state.label("state"),
            func.coalesce(CaseRecord.handling_body, "").label("body"),
            next_due.label("next_due"),
            case((next_due < today, 1), else_=0).label("overdue"),
            case((CaseRecord.linked_to_id.is_not(None), 1), else_=0).label("linked"),
            # the case's figures, kept on its row as its steps are taken (``casework.figures``);
            # a letter without a row has taken no step
            CaseRecord.forwarded_on.label("forward_day"),
            CaseRecord.accepted_on.label("accept_day"),
            CaseRecord.answered_on.label("answer_day"),
            func.coalesce(CaseRecord.extension_days, 0).label("ext_days"),
            flag(CaseRecord.review_requested).label("reviewed"),
            flag(CaseRecord.review_answered).label("review_answered"),
            flag(CaseRecord.recheck_requested).label("rechecked"),
            *(
                func.coalesce(getattr(CaseRecord, column), 0).label(f"rated_{grade}")
                for grade, column in RATING_COLUMNS.items()
            ),
        )
        .select_from(Letter)
        .outerjoin(CaseRecord, and_(CaseRecord.letter_id == Letter.id, in_band(CaseRecord.letter_id)))
        .where(
            in_band(Letter.id),
            Letter.received_on >= _START,
            Letter.received_on <= _END,
            Letter.status != "merged",
        )
    )
    if department is not None:
        base_query = base_query.where(route_department == department)
    if d.pg:
        # Read once, by the one grouping pass below: kept as rows of its own, ``base`` cost as much
        # again as reading the letters (writing a hundred thousand rows and reading them back).
        base: Any = base_query.subquery("base")
    else:
        # SQLite groups by one set at a time, each reading ``base`` again
        base = base_query.cte("base").prefix_with("MATERIALIZED")
    b = base.c

    # The sums over the period's letters are counts too: each letter's flags (bit i of ``flags``
    # is ``_FLAGS[i]``) and its ratings are one more grouped key, whose few combinations Python
    # adds up; every letter is in exactly one of them.
    accepted = and_(b.accept_day.is_not(None), b.channel == Channel.ordinary.value)
    ordinary = b.channel == Channel.ordinary.value
    flag_values = {
        "confidential": b.confidential == 1,
        "linked": b.linked == 1,
        "overdue": b.overdue == 1,
        "withheld": and_(b.overdue == 1, b.admitted == 0, b.confidential == 1),
        "accepted": accepted,
        "extended": and_(accepted, b.ext_days > 0),
        "answered": and_(ordinary, b.answer_day.is_not(None)),
        "reviewed": and_(ordinary, b.reviewed == 1),
        "review_answered": b.review_answered == 1,
        "rechecked": b.rechecked == 1,
    }
    flags: Any = literal(0)
    for i, name in enumerate(_FLAGS):
        flags = flags + case((flag_values[name], 1 << i), else_=0)
    ratings = [b[f"rated_{grade}"] for grade in RATING_NAMES]

    # The grouped counts. Each is a set of ``keys`` columns; a letter that does not belong to a
    # set's figure has NULL in its first column there, and that group is not read.
    # 及时受理: (day of receipt, the days to the first forwarding step, bucketed): 'in' surely in
    # time, 'late' surely late, 'open' none yet, else the exact days for the holiday rule.
    lag = d.days_between(b.forward_day, b.received_on)
    bucket = case(
        (b.forward_day.is_(None), literal("open")),
        (lag <= FORWARD_DAYS, literal("in")),
        (lag > FORWARD_DAYS + _HOLIDAY_BAND, literal("late")),
        else_=cast(lag, String),
    )
    # 按期办结: ordinary matters accepted; (day of 受理, bucket, extension) as above.
    answer_lag = d.days_between(b.answer_day, b.accept_day)
    limit = CONCLUDE_DAYS + b.ext_days
    conclude_bucket = case(
        (b.answer_day.is_(None), literal("open")),
        (answer_lag <= limit, literal("in")),
        (answer_lag > limit + _HOLIDAY_BAND, literal("late")),
        else_=cast(answer_lag, String),
    )
    # The overdue cases the reader may open, each a group of its own, of which the statement
    # returns the first few (by the day they fell due, then case number).
    listed = and_(b.overdue == 1, b.admitted == 1)
    keys = (
        select(
            b.category,
            b.channel,
            b.disposition,
            b.domain,
            b.department,
            b.form,
            b.state,
            b.county_match,
            b.city_match,
            b.received_on,
            bucket.label("forward_bucket"),
            case((b.overdue == 1, b.body)).label("overdue_body"),
            case((accepted, b.accept_day)).label("conclude_day"),
            case((accepted, conclude_bucket)).label("conclude_bucket"),
            case((accepted, b.ext_days)).label("conclude_ext"),
            flags.label("flags"),
            *(rating.label(f"rated_{grade}") for grade, rating in zip(RATING_NAMES, ratings, strict=True)),
            case((listed, b.case_number)).label("listed_case"),
            case((listed, b.state.op("||")(literal("|")).op("||")(b.body))).label("listed_what"),
            case((listed, b.next_due)).label("listed_due"),
        )
        .select_from(base)
        .subquery("keys")
    )
    k = keys.c
    # kind -> (its grouping columns, the output's k1, k2, k3, due). The route's fields, the form
    # and the state are grouped together, one key for all seven; Python adds up each one's counts
    # from the combinations (a few thousand at most), as it adds up the days from the 及时受理 rows.
    combined = tuple(k[name] for name in _COMBINED_FIELDS)
    joined: Any = combined[0]
    for column in combined[1:]:
        joined = joined.op("||")(literal(_JOIN)).op("||")(column)
    rated = tuple(k[f"rated_{grade}"] for grade in RATING_NAMES)
    rated_joined: Any = cast(rated[0], String)
    for column in rated[1:]:
        rated_joined = rated_joined.op("||")(literal(",")).op("||")(cast(column, String))
    none: Any = None
    sets: dict[str, tuple[tuple[Any, ...], tuple[Any, ...]]] = {
        "fields": (combined, (joined, none, none, none)),
        "region": ((k.county_match, k.city_match), (k.county_match, k.city_match, none, none)),
        "body_overdue": ((k.overdue_body,), (k.overdue_body, none, none, none)),
        "forward": ((k.received_on, k.forward_bucket), (k.received_on, k.forward_bucket, none, none)),
        "conclude": (
            (k.conclude_day, k.conclude_bucket, k.conclude_ext),
            (k.conclude_day, k.conclude_bucket, k.conclude_ext, none),
        ),
        "flags": ((k.flags, *rated), (rated_joined, none, k.flags, none)),
        "listed": (
            (k.listed_case, k.listed_what, k.listed_due),
            (k.listed_case, k.listed_what, none, k.listed_due),
        ),
    }
    # SQLite has no date type: a CAST to DATE would make the day a number
    out_types: tuple[Any, ...] = (String, String, Integer, Date if d.pg else String)

    def row(kind: Any, out: tuple[Any, ...], n: Any) -> list[Any]:
        k1, k2, k3, due = (
            cast(value if value is not None else literal(None), type_).label(name)
            for name, value, type_ in zip(("k1", "k2", "k3", "due"), out, out_types, strict=True)
        )
        kind_column = literal(kind) if isinstance(kind, str) else kind
        return [kind_column.label("kind"), k1, k2, k3, cast(n, Integer).label("n"), due]

    if d.pg:
        # One pass over the letters for every grouped count (GROUPING SETS), instead of one pass
        # per count; ``grouping()`` tells each output row's set by the columns it leaves out.
        grouped = list(dict.fromkeys(column for columns, _ in sets.values() for column in columns))
        mask = func.grouping(*grouped)

        def left_out(columns: tuple[Any, ...]) -> int:
            return sum(1 << (len(grouped) - 1 - i) for i, c in enumerate(grouped) if c not in columns)

        def nth(i: int) -> Any:
            whens = {
                left_out(cs): cast(out[i], out_types[i]) for cs, out in sets.values() if out[i] is not None
            }
            return case(whens, value=mask)

        counts = (
            select(
                *row(
                    case({left_out(cs): literal(kind) for kind, (cs, _) in sets.items()}, value=mask),
                    tuple(nth(i) for i in range(len(out_types))),
                    func.count(),
                )
            )
            .select_from(keys)
            .group_by(func.grouping_sets(*(tuple_(*cs) for cs, _ in sets.values())))
            .cte("counts")
            .prefix_with("MATERIALIZED")
        )
        # the grouped rows, not the letters, are what is kept for the two reads below: the counts
        # and the overdue cases, of which only the first few are returned
        c = counts.c
        first = (
            select(c.kind, c.k1, c.k2, c.k3, c.n, c.due)
            .where(c.kind == "listed", c.k1.is_not(None))
            .order_by(c.due, c.k1)
            .limit(OVERDUE_LISTED)
            .subquery("first")
        )
        parts: list[Any] = [
            select(c.kind, c.k1, c.k2, c.k3, c.n, c.due).where(c.kind != "listed"),
            select(first.c.kind, first.c.k1, first.c.k2, first.c.k3, first.c.n, first.c.due),
        ]
    else:
        parts = []
        for kind, (columns, out) in sets.items():
            part = select(*row(kind, out, func.count())).select_from(keys).group_by(*columns)
            if kind == "listed":
                part = select(
                    part.where(k.listed_case.is_not(None))
                    .order_by(k.listed_due, k.listed_case)
                    .limit(OVERDUE_LISTED)
                    .subquery()
                )
            parts.append(part)
    return union_all(*parts)


# --------------------------------------------------------------------------------- computing


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@lru_cache(maxsize=4096)
def _due(start: dt.date, days: int) -> dt.date:
    return period_end(start, days)[0]


def _judge(rows: list[tuple[dt.date, str, int, int]], days: int, today: dt.date) -> Rate:
    """A rate from (start day, bucket, extension, count) rows: in time, late, open or exact days."""
    met = counted = 0
    for start, bucket, extension, n in rows:
        due = _due(start, days + extension)
        if bucket == "in":
            met += n
            counted += n
        elif bucket == "late":
            counted += n
        elif bucket == "open":
            if today > due:
                counted += n  # the period ran out without the step: not in time
        else:
            counted += n
            if start + dt.timedelta(days=int(bucket)) <= due:
                met += n
    return Rate(met, counted)


def _named(counter: Mapping[str, int], names: Mapping[str, str], *, blank: str = "（未定）") -> list[Count]:
    return [
        Count(code, names.get(code, code) if code else blank, n)
        for code, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _series(days: Mapping[dt.date, int], period: Period) -> tuple[list[Count], list[Count], list[Count]]:
    day_series: list[Count] = []
    weeks: dict[str, int] = {}
    months: dict[str, int] = {}
    current = period.start
    while current <= period.end:
        n = days.get(current, 0)
        day_series.append(Count(current.isoformat(), f"{current.month}月{current.day}日", n))
        iso = current.isocalendar()
        week = f"{iso.year}-W{iso.week:02d}"
        weeks[week] = weeks.get(week, 0) + n
        month = f"{current.year}-{current.month:02d}"
        months[month] = months.get(month, 0) + n
        current += dt.timedelta(days=1)
    week_series = [Count(k, f"{k[:4]}年第{int(k[6:])}周", n) for k, n in weeks.items()]
    month_series = [Count(k, f"{int(k[:4])}年{int(k[5:])}月", n) for k, n in months.items()]
    return day_series, week_series, month_series


def compute(
    session: Session,
    period: Period,
    *,
    department: str | None = None,
    reader_scope: access.Scope | None = None,
    today: dt.date | None = None,
    department_names: Mapping[str, str] | None = None,
) -> Statistics:
    """The figures of ``period`` for the whole office or one ``department``, as on ``today``.

    ``reader_scope`` is whose list of overdue cases it is: only letters it admits are named (every
    letter is counted). ``None`` lists none (a report for no one in particular).
    """
    today = today or china_today()
    names = dict(department_names or {})
    bind = session.get_bind()
    dialect = _Dialect(bind.dialect.name)
    # No reader: a scope that admits nothing (no decision routes a letter to the empty department).
    scope = reader_scope or access.Scope(confidential=True, routed_department="")
    # The band from the (day of receipt, id) index alone: merged letters are not left out here,
    # which can only widen the band (the statement leaves them out itself); a test of the status
    # would read every letter's row. ``id + 0``: over the bare primary key PostgreSQL would walk
    # that index from one end looking for the period's first letter, through every letter before it.
    low, high = session.execute(
        select(func.min(Letter.id + 0), func.max(Letter.id + 0)).where(
            Letter.received_on >= period.start, Letter.received_on <= period.end
        )
    ).one()
    statement = _statement(
        bind.dialect.name, department is not None, scope.confidential, scope.routed_department
    )
    values = {
        "stat_start": period.start,
        "stat_end": period.end,
        "stat_today": today,
        "stat_band_from": int(low or 0),
        "stat_band_to": int(high or -1),
        "stat_department": department,
    }
    if dialect.pg:
        # The planner cannot know how many letters a period holds and guesses high, which makes it
        # JIT-compile the statement: seconds of compiling for a query that runs in a fraction of one.
        session.execute(text("SET LOCAL jit = off"))
        # psycopg prepares a statement run five times on one connection; the plan must still be
        # made for each period's own band of ids, never a generic one for any band
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        # a year's letters and the hash tables of their grouped counts fit in memory, not on disk
        session.execute(text("SET LOCAL work_mem = '32MB'"))
    dims: dict[str, Counter[str]] = defaultdict(Counter)
    days: dict[dt.date, int] = {}
    forward: list[tuple[dt.date, str, int, int]] = []
    conclude: list[tuple[dt.date, str, int, int]] = []
    ratings: Counter[str] = Counter()
    listed: list[OverdueCase] = []
    total = 0
    sums: Counter[str] = Counter()
    for kind, k1, k2, k3, n, due in session.execute(statement, values):
        n = int(n or 0)
        if kind in ("body_overdue", "conclude", "listed") and k1 is None:
            continue  # the letters outside that figure (not overdue, not an accepted matter)
        if kind == "flags":
            total += n
            for i, name in enumerate(_FLAGS):
                if int(k3) >> i & 1:
                    sums[name] += n
            for grade, times in zip(RATING_NAMES, str(k1).split(","), strict=True):
                if int(times):
                    ratings[grade] += int(times) * n
        elif kind == "fields":
            for dim, code in zip(_COMBINED_FIELDS, str(k1).split(_JOIN), strict=True):
                dims[dim][code] += n
        elif kind == "forward":
            received = _date(k1)
            days[received] = days.get(received, 0) + n
            forward.append((received, str(k2), 0, n))
        elif kind == "conclude":
            conclude.append((_date(k1), str(k2), int(k3 or 0), n))
        elif kind == "region":
            city, county = _region(k1, k2)
            dims["city"][city] += n
            dims["county"][county] += n
        elif kind == "listed":
            state, _, body = str(k2).partition("|")
            listed.append(
                OverdueCase(
                    case_number=str(k1),
                    state=STATE_NAMES.get(CaseState(state), state) if state in set(CaseState) else state,
                    body=names.get(body, body) if body else OFFICE_ITSELF,
                    next_due=_date(due),
                )
            )
        else:
            dims[kind][str(k1) if k1 is not None else ""] += n
    day_series, week_series, month_series = _series(days, period)
    state_names = {s.value: name for s, name in STATE_NAMES.items()}
    satisfaction = None
    if ratings:
        rated = sum(ratings.values())
        satisfaction = Satisfaction(
            by_rating=[Count(code, name, ratings.get(code, 0)) for code, name in RATING_NAMES.items()],
            rated=rated,
            satisfied_rate=Rate(
                ratings.get(Rating.satisfied.value, 0) + ratings.get(Rating.basically_satisfied.value, 0),
                rated,
            ),
        )
    by_department = _named(dims["department"], names)
    return Statistics(
        period=period,
        department=department,
        department_name=names.get(department, department) if department else None,
        today=today,
        total=total,
        confidential=sums["confidential"],
        by_category=_named(dims["category"], CATEGORY_NAMES),
        by_channel=_named(dims["channel"], CHANNEL_NAMES),
        by_disposition=_named(dims["disposition"], DISPOSITION_NAMES),
        by_domain=_named(dims["domain"], {}),
        by_department=by_department,
        by_form=_named(dims["form"], FORM_NAMES),
        by_city=_named(dims["city"], {}),
        by_county=_named(dims["county"], {}),
        by_state=_named(dims["state"], state_names),
        series_day=day_series,
        series_week=week_series,
        series_month=month_series,
        rates={
            "timely_acceptance": _judge(forward, FORWARD_DAYS, today),
            "on_time_conclusion": _judge(conclude, CONCLUDE_DAYS, today),
            "extension": Rate(sums["extended"], sums["accepted"]),
            "review": Rate(sums["reviewed"], sums["answered"]),
            "recheck": Rate(sums["rechecked"], sums["review_answered"]),
            "repeat": Rate(sums["linked"], total),
        },
        satisfaction=satisfaction,
        top_bodies_letters=by_department[:TOP],
        top_bodies_overdue=_named(dims["body_overdue"], names, blank=OFFICE_ITSELF)[:TOP],
        overdue_total=sums["overdue"],
        overdue_cases=listed,
        overdue_withheld=sums["withheld"],
    )


def requested_statistics(
    session: Session,
    user: Any,
    catalogue: Any,
    *,
    period: str | None,
    start: dt.date | None,
    end: dt.date | None,
    department: str | None,
) -> Statistics:
    """:func:`statistics_for` of a period as a request names it (a code, or from/to days; the
    current month by default) and a department of ``catalogue`` (empty: the whole office)."""
    names = {d.code: d.name for d in catalogue.departments}
    chosen = choose_period(period, start, end, china_today())
    return statistics_for(session, user, chosen, department=department or None, department_names=names)


def statistics_for(
    session: Session,
    user: Any,
    period: Period,
    *,
    department: str | None = None,
    today: dt.date | None = None,
    department_names: Mapping[str, str] | None = None,
) -> Statistics:
    """The figures as ``user`` may read them: counts of every letter, a list of only theirs.

    Raises:
        Forbidden: the user's role does not read the office's figures.
        InvalidInput: an unknown department.
    """
    if user.role not in STATISTICS_READERS:
        raise Forbidden(
            f"{access.ROLE_NAMES.get(user.role, user.role)}不能查看统计分析；限科室负责人、统计分析人员"
        )
    if department is not None and department_names is not None and department not in department_names:
        choices = "、".join(f"{name}（{code}）" for code, name in department_names.items())
        raise InvalidInput(f"没有代码为“{department}”的承办部门；可选：{choices}")
    return compute(
        session,
        period,
        department=department,
        reader_scope=access.scope_of(user),
        today=today,
        department_names=department_names,
    )


__all__ = [
    "NO_SATISFACTION",
    "RATE_DEFINITIONS",
    "STATISTICS_READERS",
    "Count",
    "OverdueCase",
    "Period",
    "Rate",
    "Satisfaction",
    "Statistics",
    "choose_period",
    "compute",
    "date_range",
    "parse_period",
    "region_of",
    "statistics_for",
]
