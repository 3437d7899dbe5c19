"""Hot issues (热点问题) over the store's letters: many letters on one matter or one place in a window.

``hot_issues(session, user, since=…, until=…)`` reads the letters received in the window (at most
:data:`MAX_DAYS` days, the newest :data:`MAX_LETTERS` of them), clusters them with
:mod:`classifier.clustering` and returns the clusters of at least ``min_size`` letters, largest
first, as :class:`HotIssue` values: plain frozen dataclasses, so a statistics page or a report can
take them as they are.

Confidentiality (条例 第三十条第三款, 第四十六条(五)). Clustering reads every letter of the window,
so a confidential letter counts in its cluster's size and weekly counts; but for a reader whose
role may not open it (``service.access.scope_of`` read in SQL by ``store.confidentiality``) it is
never listed, never the central letter, its words never in the keywords and its department never
among the bodies. A title once taken from an uploaded file's name that the reader may not see is
withheld as everywhere else, and such a letter does not label its cluster either.

The clustering of a window is cached by the letters' content (ids, days, titles and texts), so
a second reader of the same window, or the same reader again, does not cluster it twice; any
letter added, split, merged or edited changes the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func
from sqlalchemy.orm import Session

from classifier.clustering import ClusterConfig, Clustering, LetterDoc, cluster_letters
from service import access
from service.errors import Forbidden, InvalidInput
from store.confidentiality import admits_clause, withheld_title
from store.letters import china_today
from store.models import Decision, Letter, Proposal
from store.queries_api import scoped_select

#: Who sees hot issues: 科室负责人 and analysts (statistics and reports).
HOT_ISSUE_ROLES = frozenset({access.SUPERVISOR, access.ANALYST})
#: The window when none is given, and the longest one allowed.
DEFAULT_DAYS = 90
MAX_DAYS = 366
#: At most this many letters of a window are clustered (the newest): a page must stay fast.
MAX_LETTERS = 5000
#: Characters of each letter's text read (``ClusterConfig.text_chars``); the rest is not fetched.
TEXT_CHARS = ClusterConfig().text_chars
#: The days a window may name: letters are received from 1990 on (``service.dates``), and a year
#: far out would overflow the window's arithmetic.
EARLIEST = dt.date(1990, 1, 1)
LATEST = dt.date(2100, 12, 31)
#: Most letters listed under one hot issue (the newest the reader may open); the size counts all.
LISTED_LETTERS = 50


@dataclass(frozen=True)
class HotIssueLetter:
    """A member letter the reader may open."""

    case_number: str
    title: str
    received_on: dt.date


@dataclass(frozen=True)
class HotIssue:
    """One hot issue.

    Attributes:
        keywords: the label: top TF-IDF terms of the letters the reader may see.
        central_case_number: the member closest to the cluster's centre among those letters, or
            None when the reader may open none of them.
        central_title: that letter's title (None with it).
        size: every member letter, confidential ones included.
        weeks: the first day of each 7-day period of the window, the last ending on ``until``;
            ``weekly_counts`` the letters of each.
        bodies: department codes of the listed letters (decision, else proposal), most letters first.
        spike: the spike rule of ``classifier.clustering.is_spike`` on ``weekly_counts``.
        first_received, last_received: the first and last day of receipt among all members.
        letters: the members the reader may open, newest first (at most :data:`LISTED_LETTERS`).
        withheld: members counted but not listed (letters the reader may not open).
    """

    keywords: tuple[str, ...]
    central_case_number: str | None
    central_title: str | None
    size: int
    weeks: tuple[dt.date, ...]
    weekly_counts: tuple[int, ...]
    bodies: tuple[str, ...]
    spike: bool
    first_received: dt.date
    last_received: dt.date
    letters: tuple[HotIssueLetter, ...]
    withheld: int


@dataclass(frozen=True)
class Window:
    """The window read: its days, the letters clustered and whether the cap cut older ones off."""

    since: dt.date
    until: dt.date
    letters: int
    capped: bool


def window(
    since: dt.date | None, until: dt.date | None, *, today: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The window asked for, with the defaults filled in (the last :data:`DEFAULT_DAYS` days).

    Raises:
        InvalidInput: ``since`` after ``until``, a window longer than :data:`MAX_DAYS` days, or a
            day outside :data:`EARLIEST` to :data:`LATEST`.
    """
    for day, what in ((since, "起始日期"), (until, "截止日期")):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise InvalidInput(
                f"{what} {day.isoformat()} 超出可查询范围（{EARLIEST.isoformat()} 至 {LATEST.isoformat()}）"
            )
    until = until or today or china_today()
    since = since or max(EARLIEST, until - dt.timedelta(days=DEFAULT_DAYS - 1))
    if since > until:
        raise InvalidInput(f"起始日期 {since.isoformat()} 晚于截止日期 {until.isoformat()}；请调换或改正日期")
    days = (until - since).days + 1
    if days > MAX_DAYS:
        raise InvalidInput(f"统计区间为 {days} 天，超过上限 {MAX_DAYS} 天；请缩短区间")
    return since, until


def may_view(user: Any) -> bool:
    return getattr(user, "role", None) in HOT_ISSUE_ROLES


def _check_role(user: Any) -> None:
    if not may_view(user):
        role = access.ROLE_NAMES.get(user.role, user.role)
        raise Forbidden(f"{role}不能查看热点问题；限科室负责人、数据分析人员")


@dataclass(frozen=True)
class _Row:
    letter_id: int
    case_number: str
    title: str
    text: str
    received_on: dt.date
    department: str | None
    visible: bool
    title_withheld_file: int | None


_CACHE: OrderedDict[str, Clustering] = OrderedDict()
_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


def _cluster_cached(rows: list[_Row], since: dt.date, until: dt.date, config: ClusterConfig) -> Clustering:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr((since, until, config)).encode())
    for r in rows:
        digest.update(f"\x00{r.letter_id}\x00{r.received_on}\x00{r.title}\x00{r.text}".encode())
    key = digest.hexdigest()
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return cached
    docs = [LetterDoc(r.title, r.text, r.received_on) for r in rows]
    clustering = cluster_letters(docs, config, since=since, until=until)
    with _CACHE_LOCK:
        _CACHE[key] = clustering
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return clustering


def _read(
    session: Session, user: Any, since: dt.date, until: dt.date, scope: str | None, limit: int
) -> list[_Row]:
    reader = access.scope_of(user)
    readable = admits_clause(confidential=reader.confidential, routed_department=reader.routed_department)
    department = func.coalesce(Decision.department, Proposal.department)
    stmt = scoped_select(
        [
            Letter.id,
            Letter.case_number,
            Letter.title,
            func.substr(Letter.text, 1, TEXT_CHARS),
            Letter.received_on,
            department,
            case((readable, True), else_=False),
            Letter.source_file_id,
        ]
    ).where(
        Letter.received_on >= since,
        Letter.received_on <= until,
        # A merged letter's text lives on in the letter it was merged into.
        Letter.merged_into_id.is_(None),
        Letter.status != "merged",
    )
    if scope is not None:
        stmt = stmt.where(department == scope)
    rows = session.execute(stmt.order_by(Letter.received_on.desc(), Letter.id.desc()).limit(limit)).all()
    # Titles of batch letters were once their file's name: withheld where the name is
    # (service.access.sees_file_name), i.e. when the file holds a letter outside the reader's scope.
    files = {r[7] for r in rows if r[7] is not None}
    hidden_files = (
        set(
            session.scalars(
                scoped_select([Letter.source_file_id])
                .where(Letter.source_file_id.in_(files), ~readable)
                .distinct()
            )
        )
        if files
        else set()
    )
    return [
        _Row(
            letter_id=r[0],
            case_number=r[1],
            title=r[2] or "",
            text=r[3] or "",
            received_on=r[4],
            department=r[5],
            visible=bool(r[6]),
            title_withheld_file=r[7] if r[7] in hidden_files and r[2] else None,
        )
        for r in rows
    ]


def hot_issues(
    session: Session,
    user: Any,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    scope: str | None = None,
    min_size: int = 2,
    limit: int = 30,
    config: ClusterConfig | None = None,
) -> list[HotIssue]:
    """The hot issues of the letters received from ``since`` to ``until`` (inclusive).

    Args:
        session: an open session (only read).
        user: the reader; supervisors and analysts only.
        since, until: the window; by default the last :data:`DEFAULT_DAYS` days up to today in China.
        scope: a department code: only letters routed to it (decision, else proposal); None: all.
        min_size: the fewest letters a hot issue has (1 lists every letter as its own issue).
        limit: the most hot issues returned, largest first.
        config: clustering thresholds; the tuned defaults when None.

    Raises:
        Forbidden: a role other than supervisor or analyst.
        InvalidInput: a reversed or too long window, or a size or limit out of range.
    """
    return hot_issues_in_window(
        session, user, since=since, until=until, scope=scope, min_size=min_size, limit=limit, config=config
    )[0]


def hot_issues_in_window(
    session: Session,
    user: Any,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    scope: str | None = None,
    min_size: int = 2,
    limit: int = 30,
    config: ClusterConfig | None = None,
    max_letters: int = MAX_LETTERS,
) -> tuple[list[HotIssue], Window]:
    """:func:`hot_issues` and the window it read (for a page saying what it covers)."""
    _check_role(user)
    since, until = window(since, until)
    if not 1 <= min_size <= 1000:
        raise InvalidInput(f"最少来信数须在 1 到 1000 之间，收到 {min_size}")
    if not 1 <= limit <= 500:
        raise InvalidInput(f"热点数量上限须在 1 到 500 之间，收到 {limit}")
    config = config or ClusterConfig()
    rows = _read(session, user, since, until, scope, max_letters + 1)
    capped = len(rows) > max_letters
    rows = rows[:max_letters]
    info = Window(since=since, until=until, letters=len(rows), capped=capped)
    if not rows:
        return [], info
    clustering = _cluster_cached(rows, since, until, config)
    issues = []
    for cluster in clustering.clusters:
        if len(cluster.members) < min_size:
            continue  # clusters come largest first: the rest are smaller still
        listed = sorted(
            (i for i in cluster.members if rows[i].visible),
            key=lambda i: (rows[i].received_on, rows[i].letter_id),
            reverse=True,
        )
        # Only letters the reader may open, with a title they may see, label the cluster.
        eligible = [i for i in listed if rows[i].title_withheld_file is None]
        label = clustering.describe(cluster, eligible, keywords=config.keywords)
        bodies: Counter[str] = Counter(d for i in listed if (d := rows[i].department))
        central = rows[label.central] if label.central is not None else None
        issues.append(
            HotIssue(
                keywords=label.keywords,
                central_case_number=central.case_number if central else None,
                central_title=central.title if central else None,
                size=len(cluster.members),
                weeks=cluster.weeks,
                weekly_counts=cluster.weekly,
                bodies=tuple(code for code, _ in sorted(bodies.items(), key=lambda kv: (-kv[1], kv[0]))),
                spike=cluster.spike,
                first_received=cluster.first,
                last_received=cluster.last,
                letters=tuple(
                    HotIssueLetter(
                        case_number=rows[i].case_number,
                        title=_shown_title(rows[i]),
                        received_on=rows[i].received_on,
                    )
                    for i in listed[:LISTED_LETTERS]
                ),
                withheld=len(cluster.members) - len(listed),
            )
        )
        if len(issues) >= limit:
            break
    return issues, info


def _shown_title(row: _Row) -> str:
    return withheld_title(row.title_withheld_file) if row.title_withheld_file is not None else row.title


def sparkline(counts: tuple[int, ...] | list[int], *, width: int = 120, height: int = 24) -> str:
    """An inline SVG polyline of weekly counts, drawn on the server (no script, no library).

    Returns the SVG element as markup; every value in it is a number this function computed.
    """
    values = list(counts) or [0]
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    last_x = (len(values) - 1) * step
    last_y = height - 2 - (values[-1] / top) * (height - 4)
    return (
        f'<svg class="sparkline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="每 7 天来信数：{"、".join(str(v) for v in values)}">'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2"/></svg>'
    )


def clear_cache() -> None:
    """Forget every cached clustering (tests; a model or threshold change needs nothing else)."""
    with _CACHE_LOCK:
        _CACHE.clear()


__all__ = [
    "DEFAULT_DAYS",
    "HOT_ISSUE_ROLES",
    "LISTED_LETTERS",
    "MAX_DAYS",
    "MAX_LETTERS",
    "HotIssue",
    "HotIssueLetter",
    "Window",
    "clear_cache",
    "hot_issues",
    "hot_issues_in_window",
    "may_view",
    "sparkline",
    "window",
]
