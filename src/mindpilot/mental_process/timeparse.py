"""Times in text, as day ranges: "8 May 2023", "May 2023", "last week", "3 days ago".

Stdlib only (no date-parser dependency): the forms that conversations and documents use, each
resolved to an inclusive range of days (`Span`). Relative forms ("yesterday", "last May",
"two weeks ago") need an anchor, the date the text was written or said: a record's own date,
or today for a question. What is not understood is not a time; nothing here raises on text.

A record keeps the times it refers to in its `when` field as canonical text, `;`-separated:
"2023", "2023-05", "2023-05-08" or a range "2023-05-01..2023-05-07". Text that is not a date
stays as written in `when` (kept, never matched).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
NUMBERS |= {"seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a few": 3}
_MON = r"(?P<mon>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:1[6-9]|20)\d\d)"
_NUM = r"(?P<n>\d+|" + "|".join(sorted(NUMBERS, key=len, reverse=True)) + ")"
_UNIT = r"(?P<unit>day|week|month|year)s?"
_WHICH = r"(?P<which>this|last|past|previous|next)"
_WD = r"(?P<wd>" + "|".join(WEEKDAYS) + ")"


@dataclass(frozen=True, order=True)
class Span:
    """An inclusive range of days."""

    start: date
    end: date

    def overlaps(self, other: Span) -> bool:
        return self.start <= other.end and other.start <= self.end

    def canonical(self) -> str:
        """The shortest text that names the range (see the module docstring)."""
        s, e = self.start, self.end
        if s == e:
            return s.isoformat()
        if s == date(s.year, 1, 1) and e == date(s.year, 12, 31):
            return str(s.year)
        if s.day == 1 and e == _month_end(s.year, s.month):
            return f"{s.year:04d}-{s.month:02d}"
        return f"{s.isoformat()}..{e.isoformat()}"


@dataclass(frozen=True)
class Found:
    """A time expression found in text: where it is and the days it means."""

    span: Span
    start: int  # character offsets of the expression
    end: int


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _month(year: int, month: int) -> Span:
    return Span(date(year, month, 1), _month_end(year, month))


def _year(year: int) -> Span:
    return Span(date(year, 1, 1), date(year, 12, 31))


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _count(text: str) -> int:
    return int(text) if text.isdigit() else NUMBERS[text.lower()]


# ---- absolute forms -------------------------------------------------------------------------
def _day_span(year: str, month: int, day: str) -> Span | None:
    try:
        d = date(int(year), month, int(day))
    except ValueError:  # 31 February: not a date
        return None
    return Span(d, d)


def _iso(m: re.Match[str], anchor: date | None) -> Span | None:
    return _day_span(m["year"], int(m["m"]), m["day"])


def _day_month_year(m: re.Match[str], anchor: date | None) -> Span | None:
    return _day_span(m["year"], MONTHS[m["mon"].lower()], m["day"])


def _month_year(m: re.Match[str], anchor: date | None) -> Span | None:
    return _month(int(m["year"]), MONTHS[m["mon"].lower()])


def _year_only(m: re.Match[str], anchor: date | None) -> Span | None:
    return _year(int(m["year"]))


def _month_only(m: re.Match[str], anchor: date | None) -> Span | None:
    """ "in May": the anchor's year; "last May": the latest May before the anchor's month."""
    if anchor is None or m["mon"].islower():  # "this may be", "in march order": not months
        return None
    month = MONTHS[m["mon"].lower()]
    which = (m["which"] or "").lower()
    if which == "last":
        year = anchor.year if month < anchor.month else anchor.year - 1
    elif which == "next":
        year = anchor.year if month > anchor.month else anchor.year + 1
    else:
        year = anchor.year
    return _month(year, month)


# ---- relative forms -------------------------------------------------------------------------
def _named_day(m: re.Match[str], anchor: date | None) -> Span | None:
    if anchor is None:
        return None
    offset = {"today": 0, "tonight": 0, "yesterday": -1, "tomorrow": 1}[m["word"].lower()]
    d = anchor + timedelta(days=offset)
    return Span(d, d)


def _ago(m: re.Match[str], anchor: date | None) -> Span | None:
    """ "3 days ago" is that day; "2 weeks ago" that week; "a month ago" that month."""
    if anchor is None:
        return None
    n, unit = _count(m["n"]), m["unit"].lower()
    if unit == "day":
        d = anchor - timedelta(days=n)
        return Span(d, d)
    if unit == "week":
        monday = anchor - timedelta(days=anchor.weekday() + 7 * n)
        return Span(monday, monday + timedelta(days=6))
    if unit == "month":
        d = _shift_months(anchor, -n)
        return _month(d.year, d.month)
    return _year(anchor.year - n)


def _this_last_next(m: re.Match[str], anchor: date | None) -> Span | None:
    if anchor is None:
        return None
    step = {"this": 0, "last": -1, "past": -1, "previous": -1, "next": 1}[m["which"].lower()]
    unit = m["unit"].lower()
    if unit == "week":
        monday = anchor - timedelta(days=anchor.weekday()) + timedelta(weeks=step)
        return Span(monday, monday + timedelta(days=6))
    if unit == "weekend":
        saturday = anchor - timedelta(days=anchor.weekday()) + timedelta(weeks=step, days=5)
        return Span(saturday, saturday + timedelta(days=1))
    if unit == "month":
        d = _shift_months(anchor, step)
        return _month(d.year, d.month)
    return _year(anchor.year + step)


def _weekday(m: re.Match[str], anchor: date | None) -> Span | None:
    """ "last Friday" / "on Friday": the latest such day before the anchor."""
    if anchor is None:
        return None
    target = WEEKDAYS[m["wd"].lower()]
    if (m["which"] or "").lower() == "next":
        d = anchor + timedelta(days=(target - anchor.weekday()) % 7 or 7)
    else:
        d = anchor - timedelta(days=(anchor.weekday() - target) % 7 or 7)
    return Span(d, d)


_PATTERNS: list[tuple[re.Pattern[str], object]] = [
    (re.compile(rf"\b{_YEAR}-(?P<m>[01]\d)-{_DAY}\b"), _iso),
    (re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MON},?\s+{_YEAR}\b", re.I), _day_month_year),
    (re.compile(rf"\b{_MON}\s+{_DAY},?\s+{_YEAR}\b", re.I), _day_month_year),
    (re.compile(rf"\b{_MON},?\s+(?:of\s+)?{_YEAR}\b", re.I), _month_year),
    (re.compile(r"\b(?P<word>today|tonight|yesterday|tomorrow)\b", re.I), _named_day),
    (re.compile(rf"\b{_NUM}\s+{_UNIT}\s+ago\b", re.I), _ago),
    (
        re.compile(rf"\b{_WHICH}\s+(?P<unit>weekend|week|month|year)\b", re.I),
        _this_last_next,
    ),
    (
        re.compile(rf"\b(?P<which>last|next|this|on)\s+{_WD}\b", re.I),
        _weekday,
    ),
    (re.compile(rf"\b(?:(?P<which>last|next|this|in)\s+){_MON}(?!\s*\d)\b", re.I), _month_only),
    (re.compile(rf"(?<![\d-]){_YEAR}(?![\d-])"), _year_only),
]  # fmt: skip


def find_times(text: str, anchor: date | None = None) -> list[Found]:
    """Time expressions in `text`, in order, none overlapping (earlier patterns, the more
    specific ones, win). Relative ones need `anchor` and are skipped without it."""
    found: list[Found] = []
    taken: list[tuple[int, int]] = []
    for pattern, resolve in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < b and a < m.end() for a, b in taken):
                continue
            span = resolve(m, anchor)  # type: ignore[operator]
            if span is not None:
                found.append(Found(span, m.start(), m.end()))
                taken.append((m.start(), m.end()))
    return sorted(found, key=lambda f: f.start)


# "1:56 pm on 8 May, 2023" (a conversation turn's time), or an ISO date and time
_CLOCK = re.compile(r"^\s*\d{1,2}:\d\d\s*(?:[ap]\.?m\.?)?\s*(?:on\s+)?", re.I)


def parse_date(text: str) -> date | None:
    """One date given as a value (a turn's or a document's time): ISO ("2023-05-08",
    "2023-05-08T14:03:00"), "8 May 2023", "May 8, 2023", "1:56 pm on 8 May, 2023". None
    when it is not one (the caller keeps the text)."""
    value = text.strip()
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    value = _CLOCK.sub("", value)
    for found in find_times(value):
        if found.span.start == found.span.end and not value[: found.start].strip():
            return found.span.start
    return None


def parse_when(when: str) -> list[Span]:
    """The day ranges of a record's `when` field; parts that are not canonical are skipped."""
    spans = []
    for part in when.split(";"):
        span = _canonical_span(part.strip())
        if span is not None:
            spans.append(span)
    return spans


def _canonical_span(part: str) -> Span | None:
    lo, sep, hi = part.partition("..")
    first, last = _bounds(lo), _bounds(hi) if sep else _bounds(lo)
    if first is None or last is None or first[0] > last[1]:
        return None
    return Span(first[0], last[1])


def _bounds(text: str) -> tuple[date, date] | None:
    try:
        if re.fullmatch(r"\d{4}", text):
            return date(int(text), 1, 1), date(int(text), 12, 31)
        if re.fullmatch(r"\d{4}-\d\d", text):
            span = _month(int(text[:4]), int(text[5:]))
            return span.start, span.end
        if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
            d = date.fromisoformat(text)
            return d, d
    except ValueError:
        return None
    return None


def when_of(text: str, anchor: date | None, *, limit: int = 4) -> str:
    """The canonical `when` of a text said or written on `anchor`: the anchor's day, then
    the times the text mentions (relative ones resolved against the anchor), at most
    `limit` distinct."""
    spans: list[Span] = [Span(anchor, anchor)] if anchor else []
    for found in find_times(text, anchor):
        if found.span not in spans:
            spans.append(found.span)
    return "; ".join(s.canonical() for s in spans[:limit])
