"""Deterministic matching of a rulebook against letters.

How to read the hits (the contract the route proposal relies on):

1. ``match_rules`` returns at most one :class:`~routing.schemas.RuleHit` per rule, sorted by
   ``priority`` (higher first), then by rule id. The same letter and rulebook always give the same
   hits.
2. ``kind == "exclusion"`` hits carry a ``disposition`` (``not_accepted`` 不予受理 or
   ``no_longer_accepted`` 不再受理) and, where the law names one, the ``channel`` and
   ``target_body`` the writer is to be pointed to. They outrank every channel rule.
3. ``kind == "channel"`` hits set a statutory route (``channel``, ``disposition``,
   ``target_body``). When several fire, the one with the highest priority decides the route
   (:func:`primary_channel_hit`); the others are kept for the officer, and channels that differ
   signal a conflict worth review.
4. ``kind == "flag"`` hits never change the route. Their ``flags`` (``urgent``, ``procedural``,
   ``representatives_over_limit``…) apply in addition to whatever route is chosen. Channel and
   exclusion hits may carry flags too (``confidential`` on discipline hits): a flag applies when
   any hit carries it.
5. ``start``/``end`` are offsets into the normalised ``title`` or ``text`` (same length as the raw
   field) and ``matched`` is exactly that slice. A hit caused by the letter's metadata alone (a
   visit of more than five people) has ``start == end == 0`` and ``matched == ""``.

Matching runs over ``classifier.normalize.normalize`` followed by ``compact`` (white space next to
Chinese characters removed, as OCR and scans insert it mid-word); offsets are mapped back.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

try:  # the regex parser, to find the literals a pattern cannot match without
    import re._constants as _sre_c
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - other Pythons: every pattern is simply always scanned
    _sre_parse = None

from classifier.normalize import compact, normalize
from routing.rulebook import Context, FieldName, Rule, Rulebook, Trigger, expand_phrases, expand_terms
from routing.schemas import Letter, RuleHit

# Sentence and clause boundaries in normalised text (normalise keeps Chinese punctuation and turns
# full-width ASCII punctuation into half-width, so both forms are listed).
_SENTENCE_BREAKS = "。！？；!?;\n"
_CLAUSE_BREAKS = _SENTENCE_BREAKS + "，,：:"

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def parse_count(s: str) -> int | None:
    """Read a head count such as ``30``, ``三十``, ``十几``, ``数十``, ``上百`` or ``两百``.

    Vague amounts count as their lower bound (``几十`` -> 10, ``上百`` -> 100); ``几``/``数`` alone
    (``几个人``) count as 2, which keeps them below any representatives limit.
    """
    s = s.strip()
    if not s:
        return None
    if s.isdigit():
        return int(s)
    s = s.lstrip("上近约")
    total, current = 0, 0
    vague = False
    for ch in s:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch in "几数":
            vague = True
            current = 1
        elif ch in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
        else:
            return None
    total += 0 if vague and current == 1 and total else current
    if vague and total <= 1:
        return 2
    return total or None


# ------------------------------------------------------------------------------ literal prefilter
#
# Scanning a letter with each of ~100 patterns costs ~100 passes. Instead every pattern gets the
# set of literal strings one of which any match must contain (its "anchors"); one pass finds which
# anchors occur in the letter, and only the rules whose anchors occur are run. The prefilter is
# exact: it only skips patterns that cannot match.


def _best(candidates: list[frozenset[str]]) -> frozenset[str] | None:
    # Longer literals are rarer; among equally long ones, fewer alternatives filter better.
    if not candidates:
        return None
    return max(candidates, key=lambda c: (min(len(x) for x in c), -len(c)))


def _seq_anchors(seq: Any) -> frozenset[str] | None:
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in list(seq):
        if op is _sre_c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append(frozenset({"".join(run)}))
            run = []
        found = _item_anchors(op, av)
        if found:
            candidates.append(found)
    if run:
        candidates.append(frozenset({"".join(run)}))
    return _best(candidates)


def _item_anchors(op: Any, av: Any) -> frozenset[str] | None:
    if op is _sre_c.LITERAL:
        return frozenset({chr(av)})
    if op is _sre_c.SUBPATTERN:
        return _seq_anchors(av[-1])
    if op is _sre_c.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            found = _seq_anchors(alt)
            if not found:
                return None  # an alternative with no literal (or an empty one) defeats the filter
            out |= found
        return frozenset(out)
    if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and av[0] >= 1:
        return _seq_anchors(av[2])
    if op is _sre_c.IN and all(o is _sre_c.LITERAL for o, _ in av) and len(av) <= 40:
        return frozenset(chr(a) for _, a in av)
    return None


def _anchors(pattern: str) -> frozenset[str] | None:
    """Literals one of which every match of ``pattern`` contains, or None when none can be told."""
    if _sre_parse is None:
        return None
    try:
        return _seq_anchors(_sre_parse.parse(pattern))
    except Exception:  # pragma: no cover - a parser change must only cost speed, never matches
        return None


class _AnchorScanner:
    """Finds which anchors occur in a text, in one C-level regex pass plus a few dict lookups.

    Single characters are tested with ``in``. Longer anchors are keyed by their first two
    characters; the regex ``[first](?=[second])`` proposes positions, and the bigram table and
    ``startswith`` confirm them. (An alternation of all anchors is slower in ``re``: it tries every
    branch at every position whose character starts some anchor.)
    """

    def __init__(self, anchors: Iterable[str]) -> None:
        words = set(anchors)
        self.single = tuple(sorted(a for a in words if len(a) == 1))
        by_bigram: dict[str, list[str]] = {}
        for a in sorted(words):
            if len(a) > 1:
                by_bigram.setdefault(a[:2], []).append(a)
        self.by_bigram = {k: tuple(v) for k, v in by_bigram.items()}
        first = "".join(sorted({k[0] for k in by_bigram}))
        second = "".join(sorted({k[1] for k in by_bigram}))
        self.regex = re.compile(f"[{re.escape(first)}](?=[{re.escape(second)}])") if by_bigram else None

    def present(self, text: str) -> set[str]:
        out = {a for a in self.single if a in text}
        if self.regex is None:
            return out
        table = self.by_bigram
        for m in self.regex.finditer(text):
            p = m.start()
            for a in table.get(text[p : p + 2], ()):
                if text.startswith(a, p):
                    out.add(a)
        return out


@dataclass(frozen=True)
class _CPattern:
    regex: re.Pattern[str]
    anchors: frozenset[str] | None  # None: always run


@dataclass(frozen=True)
class _CContext:
    pattern: re.Pattern[str]
    within: int
    scope: str
    side: str


@dataclass(frozen=True)
class _CTrigger:
    patterns: tuple[_CPattern, ...]
    context: tuple[_CContext, ...]
    exclude: tuple[_CContext, ...]
    negation: bool
    hypothetical: bool
    count_group: str | None
    count_min: int
    source: Trigger


@dataclass(frozen=True)
class _CRule:
    rule: Rule
    triggers: tuple[_CTrigger, ...]
    fields: tuple[FieldName, ...]


@dataclass(frozen=True)
class _Compiled:
    rules: tuple[_CRule, ...]
    scanner: _AnchorScanner
    # anchor -> indices of the rules it may wake; rules that must always be tried
    anchor_rules: dict[str, frozenset[int]]
    always: frozenset[int]
    negation: re.Pattern[str]
    negation_window: int
    negation_scope: str
    hypothetical: re.Pattern[str]
    hypothetical_window: int
    hypothetical_scope: str


def _alternation(phrases: Iterable[str]) -> str:
    # Longest first, so the reported match is the most specific phrase at a position.
    return "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))


def _compile_context(c: Context, terms: dict[str, tuple[str, ...]]) -> _CContext:
    parts = []
    if c.any:
        parts.append(_alternation(expand_phrases(c.any, terms)))
    parts.extend(f"(?:{expand_terms(r, terms)})" for r in c.regex)
    return _CContext(re.compile("|".join(parts)), c.within, c.scope, c.side)


def _compile_trigger(t: Trigger, terms: dict[str, tuple[str, ...]]) -> _CTrigger:
    patterns: list[_CPattern] = []
    if t.keywords:
        phrases = expand_phrases(t.keywords, terms)
        patterns.append(_CPattern(re.compile(_alternation(phrases)), frozenset(phrases)))
    for r in t.regex:
        expanded = expand_terms(r, terms)
        regex = re.compile(expanded)
        # Anchors are compared case-sensitively; a case-insensitive pattern is always run.
        anchors = None if regex.flags & re.IGNORECASE else _anchors(expanded)
        patterns.append(_CPattern(regex, anchors))
    return _CTrigger(
        patterns=tuple(patterns),
        context=tuple(_compile_context(c, terms) for c in t.context),
        exclude=tuple(_compile_context(c, terms) for c in t.exclude),
        negation=t.negation,
        hypothetical=t.hypothetical == "block",
        count_group=t.count.group if t.count else None,
        count_min=t.count.min if t.count else 0,
        source=t,
    )


def _compile(rulebook: Rulebook) -> _Compiled:
    compiled: _Compiled | None = rulebook._compiled
    if compiled is not None:
        return compiled
    terms = rulebook.terms
    rules = tuple(
        _CRule(r, tuple(_compile_trigger(t, terms) for t in r.triggers), r.applies_to)
        for r in rulebook.active_rules
    )
    neg, hyp = rulebook.negation, rulebook.hypothetical
    anchors = {a for cr in rules for t in cr.triggers for p in t.patterns if p.anchors for a in p.anchors}
    anchor_rules: dict[str, set[int]] = {}
    always: set[int] = set()
    for i, cr in enumerate(rules):
        for t in cr.triggers:
            if not t.patterns:
                always.add(i)
            for p in t.patterns:
                if p.anchors is None:
                    always.add(i)
                else:
                    for a in p.anchors:
                        anchor_rules.setdefault(a, set()).add(i)
    compiled = _Compiled(
        rules=rules,
        scanner=_AnchorScanner(anchors),
        anchor_rules={a: frozenset(v) for a, v in anchor_rules.items()},
        always=frozenset(always),
        negation=re.compile("|".join(f"(?:{c})" for c in neg.cues)),
        negation_window=neg.window,
        negation_scope=neg.scope,
        hypothetical=re.compile("|".join(f"(?:{c})" for c in hyp.cues)),
        hypothetical_window=hyp.window,
        hypothetical_scope=hyp.scope,
    )
    rulebook._compiled = compiled
    return compiled


_CLAUSE_RE = re.compile("[" + re.escape(_CLAUSE_BREAKS) + "]")
_SENTENCE_RE = re.compile("[" + re.escape(_SENTENCE_BREAKS) + "]")


class _Field:
    """One field of a letter prepared for matching: normalised, compacted, with its boundaries."""

    __slots__ = ("name", "norm", "comp", "offsets", "present", "_clauses", "_sentences")

    def __init__(self, name: str, raw: str, compiled: _Compiled, norm: str | None = None) -> None:
        self.name = name
        self.norm = normalize(raw) if norm is None else norm
        self.comp, self.offsets = compact(self.norm)
        self.present = compiled.scanner.present(self.comp)
        # Boundaries are only needed once a pattern matched; most fields never need them.
        self._clauses: list[int] | None = None
        self._sentences: list[int] | None = None

    def _breaks(self, scope: str) -> list[int]:
        if scope == "clause":
            if self._clauses is None:
                self._clauses = [m.start() for m in _CLAUSE_RE.finditer(self.comp)]
            return self._clauses
        if self._sentences is None:
            self._sentences = [m.start() for m in _SENTENCE_RE.finditer(self.comp)]
        return self._sentences

    def bounds(self, start: int, end: int, scope: str) -> tuple[int, int]:
        """The [lo, hi) span of the clause/sentence around [start, end) in compact coordinates."""
        if scope == "text":
            return 0, len(self.comp)
        breaks = self._breaks(scope)
        i = bisect.bisect_left(breaks, start)
        lo = breaks[i - 1] + 1 if i > 0 else 0
        j = bisect.bisect_left(breaks, end)
        hi = breaks[j] if j < len(breaks) else len(self.comp)
        return lo, max(hi, end)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span in compact text back to the normalised text."""
        return self.offsets[start], self.offsets[end - 1] + 1


def _context_holds(f: _Field, c: _CContext, start: int, end: int) -> bool:
    lo, hi = f.bounds(start, end, c.scope)
    before_lo = max(lo, start - c.within)
    after_hi = min(hi, end + c.within)
    if c.side in ("before", "both") and c.pattern.search(f.comp, before_lo, start):
        return True
    if c.side in ("after", "both") and c.pattern.search(f.comp, end, after_hi):
        return True
    # A context term overlapping the match itself (e.g. the match is inside a longer phrase).
    return c.side == "both" and c.pattern.search(f.comp, before_lo, after_hi) is not None


def _cue_before(f: _Field, cues: re.Pattern[str], window: int, scope: str, start: int) -> bool:
    lo, _ = f.bounds(start, start, scope)
    return cues.search(f.comp, max(lo, start - window), start) is not None


def _valid(c: _Compiled, t: _CTrigger, f: _Field, m: re.Match[str]) -> bool:
    start, end = m.span()
    if t.count_group is not None:
        n = parse_count(m.group(t.count_group) or "")
        if n is None or n < t.count_min:
            return False
    if t.negation and _cue_before(f, c.negation, c.negation_window, c.negation_scope, start):
        return False
    if t.hypothetical and _cue_before(f, c.hypothetical, c.hypothetical_window, c.hypothetical_scope, start):
        return False
    if not all(_context_holds(f, ctx, start, end) for ctx in t.context):
        return False
    return not any(_context_holds(f, ctx, start, end) for ctx in t.exclude)


def _first_match(c: _Compiled, t: _CTrigger, f: _Field) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    for pattern in t.patterns:
        if pattern.anchors is not None and pattern.anchors.isdisjoint(f.present):
            continue
        for m in pattern.regex.finditer(f.comp):
            if best is not None and m.start() >= best[0]:
                break
            if m.end() > m.start() and _valid(c, t, f, m):
                best = m.span()
                break
    return best


def _hit(
    rule: Rule,
    field: FieldName,
    start: int,
    end: int,
    matched: str,
    facts: tuple[tuple[str, float], ...] = (),
) -> RuleHit:
    return RuleHit(
        facts=facts,
        rule_id=rule.id,
        title=rule.title,
        kind=rule.kind,
        channel=rule.channel,
        disposition=rule.disposition,
        target_body=rule.target_body,
        department=rule.department,
        flags=rule.flags,
        priority=rule.priority,
        legal_basis=rule.legal_basis,
        field=field,
        start=start,
        end=end,
        matched=matched,
    )


#: What the engine reads of the fact layer: tag -> (probability, field, start, end).
FactSpans = Mapping[str, tuple[float, FieldName, int, int]]


def _fact_hit(cr: _CRule, t: _CTrigger, fields: dict[str, _Field], facts: FactSpans) -> RuleHit:
    cond = t.source.facts
    assert cond is not None
    p = {tag: v[0] for tag, v in facts.items()}
    shown = cond.shown_by(p)
    used = tuple((tag, round(p.get(tag, 0.0), 4)) for tag in (*cond.all, *cond.any) if p.get(tag, 0.0) > 0.0)
    if shown not in facts:
        return _hit(cr.rule, "text", 0, 0, "", used)
    _, field, start, end = facts[shown]
    norm = fields[field].norm
    return _hit(cr.rule, field, start, end, norm[start:end], used)


def _around_fact_holds(t: _CTrigger, fields: dict[str, _Field], hit: RuleHit) -> bool:
    """A fact trigger's ``context`` and ``exclude``, read around the sentence that shows the fact.

    The fact says what the sentence states; the words around it may give the statement another
    role (an agency's own enforcement step, the law quoted), which the rule reads as it reads them
    around a pattern's match. A fact with no sentence to show satisfies no context and no exclude.
    """
    if hit.end <= hit.start:
        return not t.context
    f = fields[hit.field]
    # The hit's span is in the normalised text; the contexts read the compacted one.
    start = bisect.bisect_left(f.offsets, hit.start)
    end = max(bisect.bisect_left(f.offsets, hit.end), start + 1)
    # A sentence ends on its stop (。！？); read up to it, so the window stays in the sentence.
    while end - start > 1 and f.comp[end - 1] in _SENTENCE_BREAKS:
        end -= 1
    if not all(_context_holds(f, ctx, start, end) for ctx in t.context):
        return False
    return not any(_context_holds(f, ctx, start, end) for ctx in t.exclude)


def _match_one(
    c: _Compiled, letter: Letter, facts: FactSpans | None = None, normalized: tuple[str, str] | None = None
) -> list[RuleHit]:
    facts = facts or {}
    fact_p = {tag: v[0] for tag, v in facts.items()}
    title, text = normalized if normalized is not None else (None, None)
    fields = {"title": _Field("title", letter.title, c, title), "text": _Field("text", letter.text, c, text)}
    candidates = set(c.always)
    for f in fields.values():
        for a in f.present:
            candidates.update(c.anchor_rules[a])
    hits: list[RuleHit] = []
    for i in sorted(candidates):
        cr = c.rules[i]
        found: RuleHit | None = None
        for t in cr.triggers:
            cond = t.source.letter
            if cond is not None and not cond.holds(letter):
                continue
            if t.source.facts is not None and not t.source.facts.holds(fact_p):
                continue
            if not t.patterns and t.source.facts is not None:
                hit = _fact_hit(cr, t, fields, facts)
                if (t.context or t.exclude) and not _around_fact_holds(t, fields, hit):
                    continue
                found = hit
                break
            if not t.patterns:
                # Metadata-only trigger: nothing in the text to highlight.
                found = _hit(cr.rule, "text", 0, 0, "")
                break
            for name in cr.fields:
                f = fields[name]
                span = _first_match(c, t, f)
                if span is not None:
                    start, end = f.span(*span)
                    found = _hit(cr.rule, name, start, end, f.norm[start:end])
                    break
            if found is not None:
                break
        if found is not None:
            hits.append(found)
    hits.sort(key=lambda h: (-h.priority, h.rule_id))
    return hits


def match_rules(rulebook: Rulebook, letter: Letter, facts: FactSpans | None = None) -> list[RuleHit]:
    """Run every active rule of ``rulebook`` over ``letter``.

    Args:
        rulebook: a loaded rulebook (its patterns are compiled on first use and cached on it).
        letter: the letter; its ``title`` and ``text`` are matched, ``form``/``visitors`` feed
            metadata conditions.
        facts: the fact layer's reading of the letter (tag -> probability and span); rules over
            facts stay silent without it.

    Returns:
        At most one hit per rule, highest priority first (ties by rule id). See the module
        docstring for how kinds, flags and priorities are to be read.
    """
    return _match_one(_compile(rulebook), letter, facts)


def match_rules_many(
    rulebook: Rulebook,
    letters: Sequence[Letter],
    facts: Sequence[FactSpans] | None = None,
    normalized: Sequence[tuple[str, str]] | None = None,
) -> list[list[RuleHit]]:
    """The batched form of :func:`match_rules`: one list of hits per letter, in order.

    ``normalized``: each letter's title and text already through ``normalize`` (the router
    normalises once for the features, the facts and the rules).
    """
    c = _compile(rulebook)
    fact_rows: Sequence[FactSpans | None] = facts if facts is not None else [None] * len(letters)
    norm_rows: Sequence[tuple[str, str] | None] = (
        normalized if normalized is not None else [None] * len(letters)
    )
    return [_match_one(c, letter, f, n) for letter, f, n in zip(letters, fact_rows, norm_rows, strict=True)]


def primary_channel_hit(hits: Sequence[RuleHit]) -> RuleHit | None:
    """The hit that decides the route: the highest-priority hit that sets a channel.

    Exclusion hits that name a channel (不予受理 of a matter already in court → litigation) count,
    and because exclusions carry higher priorities they win over channel rules. Flag hits never
    decide. ``hits`` must be sorted as :func:`match_rules` returns them.
    """
    for h in hits:
        if h.kind != "flag" and h.channel is not None:
            return h
    return None


def primary_exclusion_hit(hits: Sequence[RuleHit]) -> RuleHit | None:
    """The highest-priority exclusion hit (不予受理 / 不再受理), if any."""
    for h in hits:
        if h.kind == "exclusion":
            return h
    return None


def hit_flags(hits: Sequence[RuleHit]) -> frozenset[str]:
    """Every flag carried by any hit (flags add up; they are never overridden)."""
    return frozenset(flag for h in hits for flag in h.flags)
