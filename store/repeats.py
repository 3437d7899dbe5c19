"""Repeat and related letters (重复信访, 一事一码): the index of who wrote and about what, the
earlier letters of a letter, and the officers' "unrelated" marks.

Each letter has rows in two indexed tables: its petitioner's identity keys (``petitioner_keys``)
and its matter's LSH bands (``matter_bands``), both from :mod:`classifier.similarity`.
:func:`index_letter` rewrites them whenever a letter is registered or its title, text or
particulars change (``store.letters.create_letter``, ``store.regroup``), so finding the earlier
letters of a new one reads a few index entries, never every stored letter.

:func:`earlier_letters` lists them newest first: letters of the same petitioner (an ID number or a
phone, which identify one person, always; a name only beside a similar matter, since strangers
share names) and letters of the same matter (a shared band or place and a score of at least
``MATTER_SCORE_FLOOR``). The matter's candidates are the letters sharing the most, and the rarest,
index keys, not the newest ones: among a million letters a busy road is named by thousands, and a
matter written again years later must not lose its first letter to them. When there are more
earlier letters than the list holds, the likeliest to be the same matter make it. It filters by
the reader's scope in SQL (``store.confidentiality``) before anything is counted, so an earlier
letter the reader may not open is not there at all.

Like the rest of ``store`` these take an open ``Session`` and never commit.
"""

from __future__ import annotations

import datetime as dt
import math
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Engine,
    Select,
    String,
    and_,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ColumnElement

from classifier.similarity import (
    MATTER_SCORE_FLOOR,
    SAME_MATTER_THRESHOLD,
    SIGNATURE_VERSION,
    MatterVector,
    matter_keys,
    matter_vector,
    petitioner_keys,
    vector_score,
)
from store.audit import append_event, lock_audit_head
from store.confidentiality import admits_clause, handling_body_column, is_confidential
from store.errors import InvalidStateError, InvalidValueError, NotFoundError
from store.models import (
    CaseRecord,
    Decision,
    Letter,
    MatterBand,
    PetitionerKey,
    Proposal,
    UnrelatedMark,
    User,
)

#: At most this many letters found by identity keys are read for one letter, the newest first: a
#: phone shared by a whole village committee must not make one page read thousands of letters.
CANDIDATE_LIMIT = 200
#: At most this many letters found by the matter's keys (bands and places) are read and scored,
#: those sharing the most, and the rarest, keys first (``_rank_matter``). Among a million letters a
#: letter meets some 290 unrelated ones in one band each by chance (``classifier.similarity``) and
#: a busy road is named by thousands, while a letter on its matter shares several bands, or a
#: place few others name.
MATTER_CANDIDATE_LIMIT = 200
#: Letters read per matter key, the newest first: what one lookup reads stays bounded however many
#: letters name a district's main road, and a key that many letters share weighs next to nothing.
KEY_POSTINGS_LIMIT = 2000
#: The number of letters a key's rarity is reckoned against (an office's letters over years); a
#: constant, so that a letter's candidates do not change with each letter registered meanwhile.
_RARITY_BASE = 1_000_000
_BAND_PREFIX = f"{SIGNATURE_VERSION}:"
#: What an earlier letter is listed for, strongest first, with its words on the page.
WHY_NAMES: dict[str, str] = {
    "id": "同一身份证号码",
    "phone": "同一联系电话",
    "name": "同一姓名且内容相近",
    "matter": "内容相近",
}
#: Identity keys that name one person: a letter they find is listed whatever it is about.
_STRONG_KEYS = ("id", "phone")


# --------------------------------------------------------------------------------- the index


def _keys_of(letter: Letter) -> list[tuple[str, str]]:
    return list(
        dict.fromkeys(petitioner_keys(letter.petitioner_name, letter.id_number, letter.contact_phone))
    )


_HAS_INDEX: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def _has_index(session: Session) -> bool:
    # A database still before migration 0008 (restored from an older backup, or filled by the
    # migration tests of earlier revisions) has no index tables: its letters register without
    # index rows, and ``xinfang letters reindex`` indexes them after the upgrade. Asked once per
    # engine, since a new schema comes with a new engine.
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    known = _HAS_INDEX.get(engine)
    if known is None:
        known = inspect(session.connection()).has_table(MatterBand.__tablename__)
        if known:  # only a positive answer is kept: the same engine may be upgraded meanwhile
            _HAS_INDEX[engine] = known
    return known


def index_letter(session: Session, letter: Letter) -> None:
    """(Re)write the letter's identity keys and matter bands from its title, text and particulars.

    A merged letter has none: its text lives on in the letter it went into, which would otherwise
    be found twice.
    """
    session.flush()  # the letter's id, and any pending change to its text
    if not _has_index(session):
        return
    session.execute(delete(PetitionerKey).where(PetitionerKey.letter_id == letter.id))
    session.execute(delete(MatterBand).where(MatterBand.letter_id == letter.id))
    if letter.status == "merged":
        return
    keys = _keys_of(letter)
    if keys:
        session.execute(
            insert(PetitionerKey),
            [{"kind": k, "value": v, "letter_id": letter.id} for k, v in keys],
        )
    # the place keys share the bands' table and index: one lookup path, one reindex
    bands = matter_keys(letter.title, letter.text)
    if bands:
        session.execute(insert(MatterBand), [{"band": b, "letter_id": letter.id} for b in bands])


def reindex_batch(session: Session, *, after_id: int = 0, limit: int = 500) -> tuple[int, int]:
    """Index up to ``limit`` letters with ids above ``after_id``, in id order.

    Returns:
        ``(letters indexed, the last id done)``; ``(0, after_id)`` when none is left. The command
        line commits after each batch, so what an interrupted run indexed stays indexed; running it
        again indexes every letter once more, which changes nothing for those already done.
    """
    letters = session.scalars(
        select(Letter).where(Letter.id > after_id).order_by(Letter.id).limit(limit)
    ).all()
    for letter in letters:
        index_letter(session, letter)
    return len(letters), (letters[-1].id if letters else after_id)


def reindex_all(
    session: Session, *, batch_size: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """Index every stored letter (a database registered before migration 0008); returns how many."""
    done, last = 0, 0
    while True:
        count, last = reindex_batch(session, after_id=last, limit=batch_size)
        if not count:
            return done
        done += count
        session.flush()
        session.expunge_all()  # a million letters must not stay in the identity map
        if progress is not None:
            progress(done)


def refresh_statistics(session: Session) -> None:
    """Have the database measure the index tables again after filling them in bulk.

    Without statistics PostgreSQL's planner guesses a band matches 7 % of the table and scans all
    of it (measured: a parallel scan of 32 million rows per page instead of a 0.5 ms index lookup)
    until autovacuum gets round to them; after ``reindex_all`` it should not have to guess.
    """
    session.execute(text("ANALYZE matter_bands"))
    session.execute(text("ANALYZE petitioner_keys"))


def index_counts(session: Session) -> dict[str, int]:
    """How many letters, and how many of them have index rows (for ``xinfang letters reindex``)."""
    return {
        "letters": int(session.scalar(select(func.count()).select_from(Letter)) or 0),
        "with_bands": int(session.scalar(select(func.count(func.distinct(MatterBand.letter_id)))) or 0),
        "with_keys": int(session.scalar(select(func.count(func.distinct(PetitionerKey.letter_id)))) or 0),
    }


# ------------------------------------------------------------------------ the earlier letters


@dataclass(frozen=True)
class UnrelatedInfo:
    """The standing mark that an earlier letter is not this letter's matter."""

    marked_by: str
    marked_at: dt.datetime
    reason: str | None


@dataclass(frozen=True)
class EarlierLetter:
    """One earlier letter of the same petitioner or matter, with why it is listed.

    ``why`` names the identity keys it shares (``id``, ``phone``, ``name``) and ``matter`` when it
    shares a band; ``score`` is ``matter_score`` of the two letters. ``state`` is its case's state
    (``cases.state``, else ``decided``/``registered``) and ``decision_*`` its newest decision.
    """

    letter_id: int
    case_number: str
    title: str
    received_on: dt.date
    status: str
    source_file_id: int | None
    state: str
    decision_disposition: str | None
    decision_channel: str | None
    decision_category: str | None
    decided_at: dt.datetime | None
    why: tuple[str, ...]
    shared_bands: int
    score: float
    confidential: bool
    linked: bool
    unrelated: UnrelatedInfo | None

    @property
    def same_matter(self) -> bool:
        """Whether the workbench calls it "可能同一事项" (``SAME_MATTER_THRESHOLD``)."""
        return self.score >= SAME_MATTER_THRESHOLD

    @property
    def why_names(self) -> tuple[str, ...]:
        return tuple(WHY_NAMES[w] for w in self.why)


def _scoped(columns: Sequence[Any], *, with_case: bool = False) -> Select[Any]:
    """Letters joined to their newest proposal and newest decision, what ``store.confidentiality``
    reads, for a handful of letters named by id.

    ``store.queries_api.scoped_select`` joins every letter's newest rows through a grouped
    subquery, which suits a queue that reads them all; here each letter's newest rows are looked
    up through the (letter_id, id) indexes, so the cost does not grow with the letters stored.
    """
    p, d = aliased(Proposal), aliased(Decision)
    newest_p = select(func.max(p.id)).where(p.letter_id == Letter.id).correlate(Letter)
    newest_d = select(func.max(d.id)).where(d.letter_id == Letter.id).correlate(Letter)
    stmt = (
        select(*columns)
        .select_from(Letter)
        .outerjoin(Proposal, Proposal.id == newest_p.scalar_subquery())
        .outerjoin(Decision, Decision.id == newest_d.scalar_subquery())
    )
    if with_case:
        stmt = stmt.outerjoin(CaseRecord, CaseRecord.letter_id == Letter.id)
    return stmt


def _earlier_than(letter: Letter) -> ColumnElement[bool]:
    # Earlier by the day of receipt, then by registration: a backlog registered today with its
    # real days of receipt still finds the letters that truly came before it.
    return or_(
        Letter.received_on < letter.received_on,
        and_(Letter.received_on == letter.received_on, Letter.id < letter.id),
    )


def _key_matches(session: Session, letter: Letter) -> dict[int, set[str]]:
    keys = _keys_of(letter)
    if not keys:
        return {}
    rows = session.execute(
        select(PetitionerKey.letter_id, PetitionerKey.kind)
        .where(
            or_(*(and_(PetitionerKey.kind == k, PetitionerKey.value == v) for k, v in keys)),
            PetitionerKey.letter_id != letter.id,
        )
        .order_by(PetitionerKey.letter_id.desc())
        .limit(CANDIDATE_LIMIT * len(keys))
    ).all()
    found: dict[int, set[str]] = {}
    for letter_id, kind in rows:
        found.setdefault(int(letter_id), set()).add(str(kind))
    return found


def _matter_keys_of(letter: Letter) -> list[str]:
    return matter_keys(letter.title, letter.text)


def _postings(session: Session, keys: Sequence[str]) -> dict[str, list[int]]:
    """The letters indexed under each key, the newest :data:`KEY_POSTINGS_LIMIT` of each.

    Each key's entries are read through the (band, letter_id) primary key, newest first, up to the
    limit and no further.
    """
    found: dict[str, list[int]] = {}
    if not keys:
        return found
    if session.get_bind().dialect.name == "postgresql":
        # One small statement for any number of keys: among a million letters the compound SELECT
        # below, of some forty limited parts, took a median 16 ms against 1.7 ms for this join.
        wanted = (
            func.unnest(bindparam("keys", list(keys), type_=postgresql.ARRAY(String)))
            .table_valued("band")
            .render_derived(name="wanted")
        )
        newest = (
            select(MatterBand.letter_id)
            .where(MatterBand.band == wanted.c.band)
            .order_by(MatterBand.letter_id.desc())
            .limit(KEY_POSTINGS_LIMIT)
            .lateral("newest")
        )
        stmts: list[Executable] = [
            select(wanted.c.band, newest.c.letter_id).select_from(wanted).join(newest, true())
        ]
    else:
        # SQLite has no LATERAL: a compound SELECT of one limited part per key, at most 500 parts
        # to a statement.
        stmts = []
        for part in range(0, len(keys), 250):
            parts = [
                select(MatterBand.band, MatterBand.letter_id)
                .where(MatterBand.band == key)
                .order_by(MatterBand.letter_id.desc())
                .limit(KEY_POSTINGS_LIMIT)
                .subquery()
                for key in keys[part : part + 250]
            ]
            stmts.append(union_all(*(select(n.c.band, n.c.letter_id) for n in parts)))
    for stmt in stmts:
        for band, owner in session.execute(stmt):
            found.setdefault(str(band), []).append(int(owner))
    return found


def _rank_matter(letter_id: int, keys: Sequence[str], postings: dict[str, list[int]]) -> dict[int, int]:
    """The :data:`MATTER_CANDIDATE_LIMIT` letters that share the most with the letter, each with the
    number of bands it shares.

    A shared key weighs the more, the fewer letters have it (``log(1 + base / letters)``, an
    inverse document frequency): a band two copies share, or a compound a few letters name, says
    more than a ward that thousands name. Recency only breaks ties. ``earlier_letters`` and
    ``letters_with_earlier`` both rank through here, so they read the same candidates.
    """
    weight: dict[int, float] = {}
    bands: dict[int, int] = {}
    for key in dict.fromkeys(keys):
        owners = postings.get(key, [])
        if not owners:
            continue
        w = math.log1p(_RARITY_BASE / len(owners))
        is_band = key.startswith(_BAND_PREFIX)
        for owner in owners:
            if owner == letter_id:
                continue
            weight[owner] = weight.get(owner, 0.0) + w
            if is_band:
                bands[owner] = bands.get(owner, 0) + 1
    ranked = sorted(weight, key=lambda o: (weight[o], o), reverse=True)[:MATTER_CANDIDATE_LIMIT]
    return {o: bands.get(o, 0) for o in ranked}


def _matter_matches(session: Session, letter: Letter) -> dict[int, int]:
    keys = _matter_keys_of(letter)
    return _rank_matter(letter.id, keys, _postings(session, keys)) if keys else {}


def earlier_letters(
    session: Session,
    letter: Letter,
    *,
    limit: int = 20,
    confidential: bool | None = None,
    routed_department: str | None = None,
    include_unrelated: bool = True,
) -> list[EarlierLetter]:
    """The earlier letters of ``letter``'s petitioner and matter that the reader's scope admits,
    newest first.

    Args:
        session: the open session.
        letter: the letter whose history is asked for.
        limit: at most this many (1..200): those of the highest ``score``, then the newest.
        confidential, routed_department: the reader's scope (``service.access.queue_scope``);
            None and None is every letter, for the office's own checks.
        include_unrelated: also the letters an officer marked unrelated (shown apart, so the mark
            can be cleared); False leaves them out, as the counts on a batch page do.

    Raises:
        InvalidValueError: ``limit`` outside 1..200.
    """
    if not 1 <= limit <= 200:
        raise InvalidValueError(f"最多列出 1 至 200 封在先来信，收到的是 {limit}")
    by_key = _key_matches(session, letter)
    by_band = _matter_matches(session, letter)
    candidates = set(by_key) | set(by_band)
    if not candidates:
        return []

    # First what is scored: the text of each candidate the reader may open; the full rows only of
    # those that make the list.
    texts: list[Any] = list(
        session.execute(
            _scoped([Letter.id, Letter.title, Letter.text, Letter.received_on]).where(
                Letter.id.in_(sorted(candidates)),
                Letter.status != "merged",
                _earlier_than(letter),
                admits_clause(confidential=confidential, routed_department=routed_department),
            )
        ).all()
    )
    if not texts:
        return []
    marks = _standing_marks(session, letter.id, [int(r[0]) for r in texts])
    mine = matter_vector(letter.title, letter.text)
    listed: dict[int, tuple[tuple[str, ...], float]] = {}
    ranked: list[tuple[float, dt.date, int]] = []
    for other_id, title, body, received_on in texts:
        if not include_unrelated and other_id in marks:
            continue
        kinds = by_key.get(other_id, set())
        score = round(vector_score(mine, matter_vector(title, body)), 4)
        why: list[str] = [k for k in _STRONG_KEYS if k in kinds]
        if "name" in kinds and score >= MATTER_SCORE_FLOOR:
            why.append("name")
        if other_id in by_band and score >= MATTER_SCORE_FLOOR:
            why.append("matter")
        if not why:
            continue  # a shared name or band, but another matter: not this petitioner's history
        listed[other_id] = (tuple(why), score)
        ranked.append((score, received_on, other_id))
    # Which letters make the list: the likeliest to be this matter, whatever their age (a matter
    # written about again years later, after many newer letters on the same street); the list
    # itself is read newest first.
    chosen = [other_id for _, _, other_id in sorted(ranked, reverse=True)[:limit]]
    if not chosen:
        return []
    # The scope again: a decision committed between the two statements may have changed it.
    rows = session.execute(
        _scoped([Letter, Proposal, Decision, CaseRecord.state], with_case=True).where(
            Letter.id.in_(chosen),
            Letter.status != "merged",
            admits_clause(confidential=confidential, routed_department=routed_department),
        )
    ).all()
    linked_to = session.scalar(select(CaseRecord.linked_to_id).where(CaseRecord.letter_id == letter.id))
    found: list[EarlierLetter] = []
    for other, proposal, decision, state in rows:
        why_listed, score = listed[other.id]
        found.append(
            EarlierLetter(
                letter_id=other.id,
                case_number=other.case_number,
                title=other.title,
                received_on=other.received_on,
                status=other.status,
                source_file_id=other.source_file_id,
                state=state or ("decided" if decision is not None else "registered"),
                decision_disposition=decision.disposition if decision is not None else None,
                decision_channel=decision.channel if decision is not None else None,
                decision_category=decision.category if decision is not None else None,
                decided_at=decision.decided_at if decision is not None else None,
                why=why_listed,
                shared_bands=by_band.get(other.id, 0),
                score=score,
                confidential=is_confidential(proposal, decision),
                linked=linked_to == other.id,
                unrelated=marks.get(other.id),
            )
        )
    found.sort(key=lambda e: (e.received_on, e.letter_id), reverse=True)
    return found


def letters_with_earlier(
    session: Session,
    letters: Sequence[Letter],
    *,
    confidential: bool | None = None,
    routed_department: str | None = None,
) -> dict[int, int]:
    """For each of ``letters``, how many earlier letters the scope admits, those marked unrelated
    left out: what ``earlier_letters(..., include_unrelated=False)`` would list, without a limit.

    For a batch page: the index is read for a hundred letters at a time, so a page of many
    letters costs a few queries rather than a few per letter.
    """
    counts: dict[int, int] = {}
    for start in range(0, len(letters), 100):
        counts.update(_count_chunk(session, letters[start : start + 100], confidential, routed_department))
    return counts


def _count_chunk(
    session: Session, letters: Sequence[Letter], confidential: bool | None, routed_department: str | None
) -> dict[int, int]:
    keys = {letter.id: _keys_of(letter) for letter in letters}
    matter = {letter.id: _matter_keys_of(letter) for letter in letters}
    all_keys = sorted({k for ks in keys.values() for k in ks})
    owners_of_key: dict[tuple[str, str], set[int]] = {}
    if all_keys:
        for kind, value, owner in session.execute(
            select(PetitionerKey.kind, PetitionerKey.value, PetitionerKey.letter_id).where(
                or_(*(and_(PetitionerKey.kind == k, PetitionerKey.value == v) for k, v in all_keys))
            )
        ):
            owners_of_key.setdefault((kind, value), set()).add(int(owner))
    postings = _postings(session, sorted({k for ks in matter.values() for k in ks}))
    by_key: dict[int, dict[int, set[str]]] = {}
    by_band: dict[int, set[int]] = {}
    for letter in letters:
        found: dict[int, set[str]] = {}
        for kind, value in keys[letter.id]:
            for owner in owners_of_key.get((kind, value), ()):
                found.setdefault(owner, set()).add(kind)
        by_key[letter.id] = found
        by_band[letter.id] = set(_rank_matter(letter.id, matter[letter.id], postings))
    candidates = {o for f in by_key.values() for o in f} | {o for f in by_band.values() for o in f}
    if not candidates:
        return {letter.id: 0 for letter in letters}

    others: dict[int, Letter] = {}
    ids = sorted(candidates)
    for part in range(0, len(ids), 1000):
        for (other,) in session.execute(
            _scoped([Letter]).where(
                Letter.id.in_(ids[part : part + 1000]),
                Letter.status != "merged",
                admits_clause(confidential=confidential, routed_department=routed_department),
            )
        ):
            others[other.id] = other
    marked = {
        (int(a), int(b))
        for a, b in session.execute(
            select(UnrelatedMark.letter_id, UnrelatedMark.other_letter_id).where(
                UnrelatedMark.letter_id.in_([letter.id for letter in letters]),
                UnrelatedMark.cleared_at.is_(None),
            )
        )
    }
    vectors: dict[int, MatterVector] = {}

    def vector(row: Letter) -> MatterVector:
        if row.id not in vectors:
            vectors[row.id] = matter_vector(row.title, row.text)
        return vectors[row.id]

    counts: dict[int, int] = {}
    for letter in letters:
        n = 0
        for other_id in set(by_key[letter.id]) | by_band[letter.id]:
            other = others.get(other_id)
            if other is None or other.id == letter.id or (letter.id, other.id) in marked:
                continue
            if (other.received_on, other.id) >= (letter.received_on, letter.id):
                continue
            kinds = by_key[letter.id].get(other.id, set())
            strong = any(k in kinds for k in _STRONG_KEYS)
            similar = ("name" in kinds or other.id in by_band[letter.id]) and (
                vector_score(vector(letter), vector(other)) >= MATTER_SCORE_FLOOR
            )
            n += strong or similar
        counts[letter.id] = n
    return counts


def file_letter_states(
    session: Session, file_ids: Iterable[int]
) -> dict[int, list[tuple[Proposal | None, Decision | None, str | None]]]:
    """The newest proposal and decision and the case's handling body of every letter read from each
    file: whether a reader may see a file's name, and a title taken from it, depends on them all
    (``service.access``)."""
    ids = sorted(set(file_ids))
    if not ids:
        return {}
    out: dict[int, list[tuple[Proposal | None, Decision | None, str | None]]] = {i: [] for i in ids}
    for file_id, proposal, decision, body in session.execute(
        _scoped([Letter.source_file_id, Proposal, Decision, handling_body_column()]).where(
            Letter.source_file_id.in_(ids)
        )
    ):
        out[int(file_id)].append((proposal, decision, body))
    return out


# ------------------------------------------------------------------------ the "unrelated" marks


def _standing_marks(session: Session, letter_id: int, others: Iterable[int]) -> dict[int, UnrelatedInfo]:
    ids = sorted(set(others))
    if not ids:
        return {}
    rows = session.execute(
        select(
            UnrelatedMark.other_letter_id,
            UnrelatedMark.marked_by,
            UnrelatedMark.marked_at,
            UnrelatedMark.reason,
        )
        .where(
            UnrelatedMark.letter_id == letter_id,
            UnrelatedMark.other_letter_id.in_(ids),
            UnrelatedMark.cleared_at.is_(None),
        )
        .order_by(UnrelatedMark.id)
    ).all()
    return {int(r[0]): UnrelatedInfo(marked_by=r[1], marked_at=r[2], reason=r[3]) for r in rows}


def _mark_row(session: Session, letter_id: int, other_id: int) -> UnrelatedMark | None:
    return session.scalars(
        select(UnrelatedMark).where(
            UnrelatedMark.letter_id == letter_id,
            UnrelatedMark.other_letter_id == other_id,
            UnrelatedMark.cleared_at.is_(None),
        )
    ).first()


def _lock_letter(session: Session, letter_id: int) -> None:
    # Raising nothing but taking the row lock: two officers marking the same pair at once queue
    # here, so a pair never has two standing marks.
    session.execute(
        update(Letter)
        .where(Letter.id == letter_id)
        .values(version=Letter.version)
        .execution_options(synchronize_session=False)
    )


def mark_unrelated(
    session: Session,
    letter: Letter,
    other: Letter,
    *,
    actor: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[UnrelatedMark, bool]:
    """Record that ``other`` is not ``letter``'s matter (audited). Marking it again changes nothing.

    Returns:
        The standing mark, and whether this call made it.

    Raises:
        InvalidValueError: the letter itself, or a letter received after it.
        InvalidStateError: the earlier letter is linked to this one as the same matter.
        NotFoundError: no such user.
    """
    if other.id == letter.id:
        raise InvalidValueError(f"{letter.case_number} 不能标为与自身无关")
    if (other.received_on, other.id) > (letter.received_on, letter.id):
        raise InvalidValueError(f"{other.case_number} 不是 {letter.case_number} 的在先来信，不能标为无关")
    if session.scalar(select(User.id).where(User.username == actor)) is None:
        raise NotFoundError(f"账户“{actor}”不存在")
    linked = session.scalar(select(CaseRecord.linked_to_id).where(CaseRecord.letter_id == letter.id))
    if linked == other.id:
        raise InvalidStateError(
            f"{letter.case_number} 已关联 {other.case_number} 为同一事项；请先取消关联，再标为无关"
        )
    now = now or dt.datetime.now(dt.UTC)
    reason = (reason or "").strip() or None
    lock_audit_head(session)  # lock order: audit head, then the letter row
    _lock_letter(session, letter.id)
    existing = _mark_row(session, letter.id, other.id)
    if existing is not None:
        return existing, False
    mark = UnrelatedMark(
        letter_id=letter.id, other_letter_id=other.id, marked_by=actor, marked_at=now, reason=reason
    )
    session.add(mark)
    session.flush()
    append_event(
        session,
        actor=actor,
        action="letter_unrelated",
        object=f"letter:{letter.case_number}",
        details={
            "letter_id": letter.id,
            "other": other.case_number,
            "other_letter_id": other.id,
            "reason": reason,
        },
        at=now,
    )
    return mark, True


def clear_unrelated(
    session: Session, letter: Letter, other: Letter, *, actor: str, now: dt.datetime | None = None
) -> bool:
    """Withdraw the mark that ``other`` is unrelated to ``letter`` (audited); False when there was none.

    The row stays, with who cleared it and when: the office's judgements are kept, changed ones too.
    """
    now = now or dt.datetime.now(dt.UTC)
    lock_audit_head(session)
    _lock_letter(session, letter.id)
    existing = _mark_row(session, letter.id, other.id)
    if existing is None:
        return False
    existing.cleared_by = actor
    existing.cleared_at = now
    session.flush()
    append_event(
        session,
        actor=actor,
        action="letter_unrelated_cleared",
        object=f"letter:{letter.case_number}",
        details={"letter_id": letter.id, "other": other.case_number, "other_letter_id": other.id},
        at=now,
    )
    return True


__all__ = [
    "CANDIDATE_LIMIT",
    "KEY_POSTINGS_LIMIT",
    "MATTER_CANDIDATE_LIMIT",
    "WHY_NAMES",
    "EarlierLetter",
    "UnrelatedInfo",
    "clear_unrelated",
    "file_letter_states",
    "earlier_letters",
    "index_counts",
    "index_letter",
    "letters_with_earlier",
    "mark_unrelated",
    "reindex_all",
    "refresh_statistics",
    "reindex_batch",
]
