"""Column profiling: decide what each column holds so any table works without configuration.

A column is profiled on a sample of its values as one of the `ColumnKind`s; the kind chooses how the
column is normalised (SQL), compared (features) and used as a blocking key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

import numpy as np

from findmatches.engine.backend import Backend, quote_ident, sample_hash
from findmatches.engine.unioned import TEXT_FAMILY, exclusive_groups, joined_name, joined_values, paired

SAMPLE_ROWS = 5000
MISSING_TOKENS = ("", "na", "n/a", "null", "none", "nan", "-", "?", "unknown", "nil")


class ColumnKind(StrEnum):
    NAME = "name"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CODE = "code"
    EMAIL = "email"
    PHONE = "phone"
    CATEGORY = "category"
    EMPTY = "empty"


@dataclass(frozen=True)
class ColumnProfile:
    """What one source column holds, measured on a sample."""

    name: str
    index: int
    kind: ColumnKind
    null_rate: float
    distinct_ratio: float
    avg_tokens: float
    avg_length: float
    # For whole-number columns of a few digits: the width to zero-pad values to, so that string comparisons
    # line up digit by digit ("03" vs "08" differ in one digit, as "1952" vs "1958" do); 0 when not padded.
    digits: int = 0
    # For dates: the strptime format (date part only) that reads most sample values, so that "4/1/1980" and
    # "04/01/1980" normalise alike (to YYYYMMDD); "" when none fits and values are compared as their digits.
    date_format: str = ""
    # The share of the values holding a digit: free text with numbers in it (model codes, street numbers).
    digit_share: float = 0.0
    # The share of the values made of at least three parts between separators (`SEGMENT_SEPARATORS`): lists
    # (track titles, authors) and multi-part text (an affiliation's department, institution, city, country).
    segment_share: float = 0.0
    # The share of the values holding a code (`CODE_PATTERN`): letters and digits in one token ("DSC-W830").
    code_share: float = 0.0
    # For numbers: a value that stands for "unknown" (`placeholder`), read as missing; None when there is none.
    placeholder: float | None = None
    # For a column the engine joins from columns whose presence excludes each other (`unioned`): their names,
    # in input order; empty for the input's own columns.
    joins: tuple[str, ...] = ()

    @property
    def source_columns(self) -> tuple[str, ...]:
        """The input's columns this column's values come from: the ones it joins, else itself."""
        return self.joins or (self.name,)

    @property
    def alias(self) -> str:
        """The column's name in the engine's normalised table (``c0``, ``c1`` …)."""
        return f"c{self.index}"

    @property
    def counts_values(self) -> bool:
        """Whether agreeing on a rare value says more than agreeing on a common one (names, codes …)."""
        return self.kind in (
            ColumnKind.NAME,
            ColumnKind.TEXT,
            ColumnKind.CODE,
            ColumnKind.EMAIL,
            ColumnKind.PHONE,
        )

    @property
    def compares_numbers(self) -> bool:
        """Whether the numbers inside the values are compared on their own (`features`): in free text they
        tell apart what the words do not, as model numbers in product titles do."""
        return self.kind in (ColumnKind.NAME, ColumnKind.TEXT) and self.digit_share >= MIN_DIGIT_SHARE

    @property
    def compares_codes(self) -> bool:
        """Whether the codes inside the values (`codes_sql`) are compared on their own (`features`): a model
        code is written "ET-3340" by one shop and "et3340" by another, which no word of either shares."""
        return self.kind in (ColumnKind.NAME, ColumnKind.TEXT) and self.code_share >= MIN_CODE_SHARE

    @property
    def compares_segments(self) -> bool:
        """Whether the values are compared part by part as well as whole (`features`): where most values are
        made of several parts, two records of one thing often differ in a whole part (another department,
        a track missing) that whole-value measures count against them. Only where parts are the column's
        structure: a comma now and then (a company's ", Inc.") makes parts that do not line up."""
        return (
            self.kind in (ColumnKind.NAME, ColumnKind.TEXT)
            and self.segment_share >= MIN_SEGMENT_SHARE
            and self.avg_tokens >= WEIGHTED_MIN_WORDS
        )

    @property
    def information(self) -> float:
        """A rough measure of how much a value of this column tells apart records (0..1)."""
        if self.kind == ColumnKind.EMPTY:
            return 0.0
        return (1.0 - self.null_rate) * min(1.0, math.log1p(self.distinct_ratio * 1000) / math.log1p(1000))


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_PHONE_CHARS = re.compile(r"^[0-9\s\-\.\(\)\+/x]+$", re.IGNORECASE)
_DATE = re.compile(
    r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01]))"
    r"([ T]\d{1,2}:\d{2}(:\d{2})?)?$"
)
_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$")
# An amount of money: a currency sign or code before or after, thousands grouped ("$1,299.00", "USD 282.96",
# "1.299,00 €").
_CURRENCY = r"([$€£¥₹]|(usd|eur|gbp|jpy|cad|aud|chf|cny|inr|sek|nok|dkk|pln)\b|[a-z]{0,2}\$)"
_MONEY = re.compile(
    rf"^{_CURRENCY}?\s*[-+]?(\d{{1,3}}(,\d{{3}})+(\.\d*)?|\d{{1,3}}(\.\d{{3}})+(,\d*)?|\d+([.,]\d*)?|[.,]\d+)"
    rf"\s*{_CURRENCY}?$",
    re.IGNORECASE,
)
_WHOLE = re.compile(r"^\d+$")
_ASCII_DIGIT = re.compile(r"[0-9]")
MAX_PAD_DIGITS = 9
MIN_DIGIT_SHARE = 0.3
# Values of at least this many words on average are phrases, compared by weighted word overlap (`features`).
WEIGHTED_MIN_WORDS = 3.2
# What separates a value's parts, in Python and in SQL (`segments_sql`): punctuation, brackets, a dash between
# spaces, and what exports put between a list's items ("**" in patent registers, a line break, a tab).
SEGMENT_SEPARATORS = re.compile(r"[,;|/()\[\]*\n\t]| - ")
MIN_SEGMENTS = 3
MIN_SEGMENT_SHARE = 0.5
# A code: a run of letters and digits, with "-", "." or "/" inside ("dsc-w830", "e5.556"), that holds both and at
# least CODE_MIN_LENGTH of them once its separators go. In Python and in SQL (`codes_sql`).
CODE_PATTERN = re.compile(r"[a-z0-9]+(?:[-./][a-z0-9]+)*")
CODE_MIN_LENGTH = 4
MIN_CODE_SHARE = 0.2
# Distinct codes per code held, in the profiled sample, below which codes are classes, not identifiers. On the
# bench's columns: two shops' titles 0.35 and descriptions 0.11, a catalogue's titles 0.79, restaurant
# addresses ("58th") 0.28; PatentsView's classes 0.035-0.045, compared as codes they cost its seed-0 teach
# loop 0.0034 F1 (recall 0.9964 -> 0.9896).
MIN_CODE_DISTINCT = 0.1
_ALPHA = re.compile(r"^[^\W\d_]+([ '\-.][^\W\d_]+)*\.?$")


def is_missing(value: str | None) -> bool:
    """True for empty values and the usual placeholders for "no value"."""
    return value is None or value.strip().lower() in MISSING_TOKENS


def _mostly(hits: Iterable[bool], n: int, need: float) -> bool:
    """Whether at least the share ``need`` of the ``n`` outcomes are true; reads only as many as it takes to
    know (a column that is plainly not dates stops after a tenth or so of the sample)."""
    want = need * n
    yes = no = 0
    for hit in hits:
        if hit:
            yes += 1
            if yes >= want:
                return True
        else:
            no += 1
            if n - no < want:
                return False
    return yes >= want


def segment_share(values: list[str]) -> float:
    """The share of the values with at least `MIN_SEGMENTS` parts that hold a letter or digit."""
    if not values:
        return 0.0
    # A value without a separator is one part: only the others are split.
    parts = (SEGMENT_SEPARATORS.split(v) for v in values if SEGMENT_SEPARATORS.search(v))
    many = sum(1 for p in parts if sum(1 for x in p if any(c.isalnum() for c in x)) >= MIN_SEGMENTS)
    return many / len(values)


def _codes(value: str) -> list[str]:
    """The codes of a value (`CODE_PATTERN`), as `codes_sql` finds them."""
    if not _ASCII_DIGIT.search(value):  # a code holds a digit of CODE_PATTERN's: most values have none
        return []
    found = (re.sub(r"[-./]", "", m) for m in CODE_PATTERN.findall(value.lower()))
    return [
        c
        for c in found
        if len(c) >= CODE_MIN_LENGTH and any(ch.isdigit() for ch in c) and any(ch.isalpha() for ch in c)
    ]


def code_share(values: list[str]) -> float:
    """The share of the values that hold a code, where codes mostly tell records apart (0 where not): model
    codes are nearly one per product, while a patent's classes ("G06F", "H04L") are shared by thousands."""
    codes = [set(_codes(v)) for v in values]
    held = sum(len(c) for c in codes)
    if not held or len(set().union(*codes)) < MIN_CODE_DISTINCT * held:
        return 0.0
    return sum(1 for c in codes if c) / len(values)


# What a value may end with and still be read as a number, date or address ("282-293.", "1997,", "$610;"):
# fields cut from running text keep the punctuation that followed them.
TRAILING_PUNCTUATION = ".,;:"


def _unpunctuated(value: str) -> str:
    return value.strip().rstrip(TRAILING_PUNCTUATION)


def _has_digit(value: str) -> bool:
    """Whether any character of ``value`` is a digit (`str.isdigit`); a regular expression where it is ASCII."""
    if value.isascii():
        return _ASCII_DIGIT.search(value) is not None
    return any(c.isdigit() for c in value)


def _forms(values: list[str], more_than: float) -> int:
    """The number of distinct `_plain` forms of ``values``, counted only until it exceeds ``more_than``."""
    seen: set[str] = set()
    for v in values:
        seen.add(_plain(v))
        if len(seen) > more_than:
            break
    return len(seen)


def _plain(value: str) -> str:
    """A value as its normalised form compares it: lower case, letters and digits, one space between words."""
    return " ".join(w for w in re.split(r"[\W_]+", value.lower()) if w)


# A number is a placeholder for "unknown" where at least this share of a column's values hold it and it lies
# outside the range of the rest (`placeholder`).
PLACEHOLDER_MIN_SHARE = 0.05


def placeholder(values: list[str]) -> float | None:
    """The number that stands for "unknown" in a column of numbers, if one does: a value held by at least
    `PLACEHOLDER_MIN_SHARE` of the values and as far outside the others' middle 98 % as that range is wide (a
    latitude of 0.0 among Dutch addresses, a year of 9999). Records that both hold it agree on nothing; read as
    a number, it would look like the closest agreement there is. Not a common value at the edge of the rest
    (December among birth months, no children among counts)."""
    x = np.asarray([n for n in map(_number, values) if n is not None and math.isfinite(n)])
    if len(x) < 20:
        return None
    found, counts = np.unique(x, return_counts=True)
    for i in np.argsort(-counts, kind="stable"):
        if counts[i] < PLACEHOLDER_MIN_SHARE * len(values):
            break
        rest = x[x != found[i]]
        if len(rest) < 10:
            continue
        low, high = np.percentile(rest, [1, 99])
        width = high - low
        if width > 0 and (found[i] < low - width or found[i] > high + width):
            return float(found[i])
    return None


def classify(values: list[str], total: int) -> tuple[ColumnKind, float, float, float, float]:
    """Classify a column from its non-missing sample values; returns kind, distinct ratio, tokens, length and
    the share of the values that hold a digit."""
    if not values:
        return ColumnKind.EMPTY, 0.0, 0.0, 0.0, 0.0
    n = len(values)
    distinct_ratio = len(set(values)) / n
    avg_tokens = sum(len(v.split()) for v in values) / n
    avg_length = sum(len(v) for v in values) / n
    digit_share = sum(1 for v in values if _has_digit(v)) / n

    def share(pattern: re.Pattern[str], need: float) -> bool:
        return _mostly((pattern.match(_unpunctuated(v)) is not None for v in values), n, need)

    def is_phone(v: str) -> bool:
        if not _PHONE_CHARS.match(v.strip()):
            return False
        return 7 <= sum(c.isdigit() for c in v) <= 15 and any(c in v for c in "-./() +")

    if share(_EMAIL, 0.8):
        kind = ColumnKind.EMAIL
    elif share(_DATE, 0.8):
        kind = ColumnKind.DATE
    elif _mostly(map(is_phone, values), n, 0.8):
        kind = ColumnKind.PHONE
    elif share(_NUMBER, 0.9) or share(_MONEY, 0.9):
        kind = ColumnKind.NUMBER
    elif (
        avg_tokens <= 3
        and (forms := _forms(values, most := max(12, int(0.02 * total)))) <= most
        and forms < 0.2 * n
    ):
        kind = ColumnKind.CATEGORY
    elif avg_tokens <= 1.3 and digit_share >= 0.5:
        kind = ColumnKind.CODE
    elif avg_tokens <= 4 and avg_length <= 40 and share(_ALPHA, 0.8):
        kind = ColumnKind.NAME
    else:
        kind = ColumnKind.TEXT
    return kind, distinct_ratio, avg_tokens, avg_length, digit_share


DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%y",
)
MIN_DATE_SHARE = 0.9


def _date_part(value: str) -> str:
    return value.strip().replace("T", " ").split(" ", 1)[0]


def date_format(values: list[str]) -> str:
    """The format (of those in ``DATE_FORMATS``) that parses the largest share of the values, if ≥ 90 %."""
    parts = [_date_part(v) for v in values]
    n = len(parts)
    best, best_hits = "", 0
    for fmt in DATE_FORMATS:
        # A format stops being tried once it can no longer reach the share needed nor beat the best so far.
        bar = max(best_hits + 1, MIN_DATE_SHARE * n)
        hits = misses = 0
        for v in parts:
            try:
                datetime.strptime(v, fmt)
            except ValueError:
                misses += 1
                if n - misses < bar:
                    break
                continue
            hits += 1
        if hits > best_hits:
            best, best_hits = fmt, hits
    return best if n and best_hits >= MIN_DATE_SHARE * n else ""


def pad_width(values: list[str]) -> int:
    """The zero-padding width for a column of non-negative whole numbers of varying length (else 0)."""
    stripped = [v.strip() for v in values]
    if not stripped or not all(_WHOLE.match(v) for v in stripped):
        return 0
    lengths = {len(v) for v in stripped}
    width = max(lengths)
    return width if len(lengths) > 1 and width <= MAX_PAD_DIGITS else 0


def profile_columns(
    backend: Backend, table: str, columns: list[str], exclude: set[str], seed: int = 0
) -> list[ColumnProfile]:
    """Profile every column of ``table`` (with its ``_rid``) except ``exclude`` on a sample of
    ``SAMPLE_ROWS`` rows, the same on every backend and for every ``seed``. Columns whose presence excludes
    each other (`unioned.exclusive_groups`) are replaced by their joined text (`ColumnProfile.joins`), numbered
    after the input's columns: within one schema the joined text holds what its columns do, and across the
    two it is the only comparison. Kept beside it, the columns cost RLdata10000 unioned from two name schemas
    (`bench/engine_quality.py`, ``rldata_unioned``, seeds 0-5) mean F1 0.955 -> 0.902."""
    selected = [c for c in columns if c not in exclude]
    if not selected:
        return []
    cols = ", ".join(quote_ident(c) for c in selected)
    sample = backend.query(
        f"SELECT {cols} FROM {quote_ident(table)} ORDER BY {sample_hash('_rid', seed=seed)}, _rid LIMIT {SAMPLE_ROWS}"
    )
    total = sample.num_rows
    present: dict[str, list[str | None]] = {}
    for name in selected:
        present[name] = [None if is_missing(v) else str(v).strip() for v in sample.column(name).to_pylist()]
    profiles = [profile_values(name, columns.index(name), present[name], total) for name in selected]
    kinds = {p.name: p.kind for p in profiles if p.kind != ColumnKind.EMPTY}
    masks = {n: np.array([v is not None for v in present[n]], dtype=bool) for n in kinds}
    groups = [
        pair
        for group in exclusive_groups(masks, {n: _family(k) for n, k in kinds.items()})
        for pair in paired(group, masks, present)
    ]
    taken = set(columns)
    for k, group in enumerate(groups):
        name = joined_name(group, taken)
        taken.add(name)
        joined = profile_values(name, len(columns) + k, joined_values([present[c] for c in group]), total)
        profiles.append(replace(joined, joins=group))
    joined_from = {c for group in groups for c in group}
    return [p for p in profiles if p.name not in joined_from]


def _family(kind: ColumnKind) -> str:
    """The family of kinds one attribute may be profiled as in different sources (`unioned`)."""
    return TEXT_FAMILY if kind in (ColumnKind.NAME, ColumnKind.TEXT, ColumnKind.CODE) else kind.value


def profile_values(name: str, index: int, raw: list[str | None], total: int) -> ColumnProfile:
    """The profile of one column from its sampled values (None where missing) of ``total`` sampled records."""
    values = [v for v in raw if v is not None]
    kind, distinct, tokens, length, digit_share = classify(values, total)
    unknown = placeholder(values) if kind == ColumnKind.NUMBER else None
    if unknown is not None:
        values = [v for v in values if _number(v) != unknown]
    return ColumnProfile(
        name=name,
        index=index,
        kind=kind,
        null_rate=1.0 - (len(values) / total) if total else 1.0,
        distinct_ratio=distinct,
        avg_tokens=tokens,
        avg_length=length,
        digits=pad_width(values) if kind == ColumnKind.NUMBER else 0,
        date_format=date_format(values) if kind == ColumnKind.DATE else "",
        digit_share=digit_share,
        segment_share=segment_share(values) if kind in (ColumnKind.NAME, ColumnKind.TEXT) else 0.0,
        code_share=code_share(values) if kind in (ColumnKind.NAME, ColumnKind.TEXT) else 0.0,
        placeholder=unknown,
    )


def present_sql(col: str) -> str:
    """SQL: the trimmed value of column ``col``, NULL where `is_missing`."""
    missing = ", ".join(f"'{t}'" for t in MISSING_TOKENS)
    # The length test first: DuckDB plans the IN list as a join, which then sees only short values (half the
    # cost on a million phones).
    short = max(len(t) for t in MISSING_TOKENS)
    return (
        f"(CASE WHEN length(trim({col})) <= {short} AND lower(trim({col})) IN ({missing}) THEN NULL "
        f"ELSE trim({col}) END)"
    )


def records_relation(profiles: list[ColumnProfile], table: str) -> str:
    """The relation to normalise ``profiles`` from: ``table``, with the joined columns (`ColumnProfile.joins`)
    added where there are any."""
    joined = [p for p in profiles if p.joins]
    if not joined:
        return table
    cols = ", ".join(
        f"nullif(concat_ws(' ', {', '.join(present_sql(quote_ident(c)) for c in p.joins)}), '') AS "
        f"{quote_ident(p.name)}"
        for p in joined
    )
    return f"(SELECT *, {cols} FROM {table}) AS fm_joined"


def _number(value: str) -> float | None:
    try:
        return float(_unpunctuated(value))
    except ValueError:
        return None


def _cleaned(profile: ColumnProfile) -> str:
    """Stage 1: the trimmed value (NULL for missing placeholders), lower-cased for text-like kinds."""
    value = present_sql(quote_ident(profile.name))
    if profile.kind == ColumnKind.PHONE:
        # The usual separators go by plain replaces, so that most phones need no regular expression (`_reduced`).
        for sep in (" ", "-", "(", ")", ".", "+"):
            value = f"replace({value}, '{sep}', '')"
        return value
    if profile.kind == ColumnKind.NUMBER and profile.placeholder is not None:
        # TRY_CAST reads the placeholder however it is written ("0", "0.0", "0.00"); other values as they are.
        return f"(CASE WHEN TRY_CAST({value} AS DOUBLE) = {profile.placeholder!r} THEN NULL ELSE {value} END)"
    if profile.kind in (ColumnKind.DATE, ColumnKind.NUMBER):
        return value
    if profile.kind == ColumnKind.EMAIL:
        return f"lower({value})"
    folded = _fold(f"lower(strip_accents({value}))")
    return unnumbered_sql(folded) if profile.kind in (ColumnKind.NAME, ColumnKind.TEXT) else folded


# A list whose items are numbered ("01. highway song | 02. goodbye life", "1 - let it dance | 2 - ..."): its first
# item starts with 1 and its second with 2. The numbers are the items' places, not their content: two
# submissions of one disc, one numbered and one not, share every track but not the words "01", "02", ... nor
# the first characters that prefix blocking keys on. Only lists: an address's "128 mill lane" stays.
LIST_ITEM_SEPARATORS = r"|;\n\t"
# What follows an item's number: a point, bracket, colon or dash, or a space.
_AFTER_NUMBER = r"(\s*[.):-]\s*|\s+)"
_ITEM_NUMBER = rf"\s*[0-9]{{1,3}}{_AFTER_NUMBER}"
NUMBERED_LIST = re.compile(
    rf"^\s*0*1{_AFTER_NUMBER}[^{LIST_ITEM_SEPARATORS}]*[{LIST_ITEM_SEPARATORS}]\s*0*2{_AFTER_NUMBER}"
)


def unnumbered_sql(v: str) -> str:
    """SQL for the lower-cased value ``v`` without its items' numbers where it is a `NUMBERED_LIST`; each
    item separator then becomes " | "."""
    return (
        f"(CASE WHEN regexp_matches({v}, '{NUMBERED_LIST.pattern}') "
        f"THEN regexp_replace(regexp_replace({v}, '^{_ITEM_NUMBER}', ''), "
        f"'[{LIST_ITEM_SEPARATORS}]{_ITEM_NUMBER}', ' | ', 'g') ELSE {v} END)"
    )


# Latin letters that strip_accents leaves alone (they have no combining-mark decomposition), spelled out.
_FOLD_REPLACE = (("ß", "ss"), ("æ", "ae"), ("œ", "oe"), ("þ", "th"))
_FOLD_TRANSLATE = ("øłđħıŀ", "oldhil")


def _fold(expr: str) -> str:
    """``expr`` (lower case, accents stripped) with the remaining special Latin letters spelled in ASCII:
    'straße' and 'strasse', 'søren' and 'soren' then compare equal."""
    for old, new in _FOLD_REPLACE:
        expr = f"replace({expr}, '{old}', '{new}')"
    return f"translate({expr}, '{_FOLD_TRANSLATE[0]}', '{_FOLD_TRANSLATE[1]}')"


def _reduced(profile: ColumnProfile, v: str) -> str:
    """Stage 2, from the cleaned value ``v``: the characters that count (digits, letters and digits …)."""
    kind = profile.kind
    if kind in (ColumnKind.PHONE, ColumnKind.DATE):
        # A GLOB (no regular expression engine) finds the values that hold anything but digits.
        return f"CASE WHEN {v} GLOB '*[!0-9]*' THEN regexp_replace({v}, '[^0-9]+', '', 'g') ELSE {v} END"
    if kind == ColumnKind.NUMBER:
        # Words (a currency's code) and signs go, an exponent's single "e" stays; a grouping separator goes
        # ("1,299.00", "1.299,00"), a lone comma is a decimal one ("1,5").
        # A trailing point or comma is the sentence's ("1513.10.", `TRAILING_PUNCTUATION`), not the number's.
        x = f"regexp_replace(lower({v}), '[a-z][a-z]+|[^0-9a-z.,+\\-]+|[.,]+$', '', 'g')"
        return (
            f"(CASE WHEN regexp_full_match({x}, '[-+]?[0-9]{{1,3}}(,[0-9]{{3}})+([.][0-9]*)?') "
            f"THEN replace({x}, ',', '') "
            f"WHEN regexp_full_match({x}, '[-+]?[0-9]{{1,3}}([.][0-9]{{3}})+,[0-9]*') "
            f"THEN replace(replace({x}, '.', ''), ',', '.') "
            f"ELSE replace({x}, ',', '.') END)"
        )
    if kind == ColumnKind.CODE:
        return f"regexp_replace({v}, '[^\\p{{L}}\\p{{N}}]+', '', 'g')"
    if kind == ColumnKind.EMAIL:
        return v
    # Letters and digits of every script count (a Greek or Japanese name is not punctuation). Most values are
    # already clean: a cheap match skips the costlier replace for them.
    return (
        f"trim(CASE WHEN regexp_matches({v}, '[^a-z0-9 ]|  ') "
        f"THEN regexp_replace({v}, '[^\\p{{L}}\\p{{N}}]+', ' ', 'g') ELSE {v} END)"
    )


def _finished(profile: ColumnProfile, v: str, d: str) -> str:
    """Stage 3, from the cleaned value ``v`` and the reduced one ``d``: the normalised value."""
    kind = profile.kind
    expr = d
    if kind == ColumnKind.PHONE:
        expr = f"right({d}, 10)"
    elif kind == ColumnKind.DATE and profile.date_format:
        # Values the column's format reads become YYYYMMDD; the rest (typos, odd formats) keep their digits.
        fmt = profile.date_format.replace("'", "")
        part = f"split_part(replace({v}, 'T', ' '), ' ', 1)"
        expr = f"coalesce(strftime(try_strptime({part}, '{fmt}'), '%Y%m%d'), {d})"
    elif kind == ColumnKind.NUMBER and profile.digits:
        # Only values that are whole numbers shorter than the width get padded (lpad would cut longer ones).
        width = int(profile.digits)
        expr = (
            f"(CASE WHEN regexp_full_match({d}, '[0-9]+') AND length({d}) < {width} "
            f"THEN lpad({d}, {width}, '0') ELSE {d} END)"
        )
    return f"nullif({expr}, '')"


def normalized_sql(profile: ColumnProfile) -> str:
    """SQL expression for the column's normalised value (NULL when missing), in one piece."""
    v = _cleaned(profile)
    return _finished(profile, v, _reduced(profile, v))


def normalized_select(profiles: list[ColumnProfile], table: str, keep: list[tuple[str, str]]) -> str:
    """SELECT of ``keep`` (expression, name), every profile's normalised value as its alias and, where it
    `compares_segments`, its parts (``s_<alias>``, `segments_sql`), where it `compares_codes`, its codes
    (``k_<alias>``, `codes_sql`), in three nested stages: DuckDB evaluates a repeated sub-expression once per
    use, so each stage's result is a column of the next (three times faster on a million names than the
    expression in one piece)."""
    names = [name for _, name in keep]
    first = [f"{expr} AS {name}" for expr, name in keep] + [f"{_cleaned(p)} AS v_{p.alias}" for p in profiles]
    d = names + [f"v_{p.alias}, {_reduced(p, f'v_{p.alias}')} AS d_{p.alias}" for p in profiles]
    out = names + [f"{_finished(p, f'v_{p.alias}', f'd_{p.alias}')} AS {p.alias}" for p in profiles]
    out += [f"{sql} AS {name}" for p in profiles for sql, name in _from_cleaned(p, f"v_{p.alias}")]
    return (
        f"SELECT {', '.join(out)} FROM (SELECT {', '.join(d)} FROM (SELECT {', '.join(first)} FROM {table}))"
    )


def _from_cleaned(profile: ColumnProfile, v: str) -> list[tuple[str, str]]:
    """The SQL and name of each column the normalised table derives from the cleaned value ``v`` beside the
    normalised value: the parts where the column `compares_segments`, the codes where it `compares_codes`."""
    out = [(segments_sql(v), f"s_{profile.alias}")] if profile.compares_segments else []
    return out + ([(codes_sql(v), f"k_{profile.alias}")] if profile.compares_codes else [])


def from_cleaned(profile: ColumnProfile) -> list[str]:
    """The names of the columns `normalized_select` derives for ``profile`` beside its normalised value."""
    return [name for _, name in _from_cleaned(profile, "v")]


def _soundex(expr: str) -> str:
    first = f"split_part({expr}, ' ', 1)"
    body = (
        f"translate(regexp_replace(substr({first}, 2), '[^a-z]|[aeiouyhw]', '', 'g'), "
        f"'bfpvcgjkqsxzdtlmnr', '111122222222334556')"
    )
    for digit in "123456":
        body = f"regexp_replace({body}, '{digit}+', '{digit}', 'g')"
    return f"left({first}, 1) || left({body}, 3)"


def coarse_code(profile: ColumnProfile) -> tuple[str, str] | None:
    """The column's coarser code that combined blocking keys use (name → soundex of its first word, date →
    year), as (label, column name in the normalised table); None for other kinds."""
    if profile.kind == ColumnKind.NAME:
        return "soundex", f"sx_{profile.alias}"
    if profile.kind == ColumnKind.DATE:
        return "year", f"yr_{profile.alias}"
    return None


def segments_sql(v: str) -> str:
    """SQL for the cleaned value ``v`` (lower case, accents folded) as its normalised words with ``|`` between
    its parts (`SEGMENT_SEPARATORS`), NULL if empty: the parts `features` compares one by one."""
    parts = f"regexp_replace({v}, '{SEGMENT_SEPARATORS.pattern}', '|', 'g')"
    # One "|" for a run of separators and the spaces and punctuation around them.
    parts = f"regexp_replace({parts}, '[^\\p{{L}}\\p{{N}}]*[|][^\\p{{L}}\\p{{N}}]*', '|', 'g')"
    return f"nullif(trim(regexp_replace({parts}, '[^\\p{{L}}\\p{{N}}|]+', ' ', 'g')), '')"


def codes_sql(v: str) -> str:
    """SQL for the codes (`CODE_PATTERN`) of the cleaned value ``v`` (lower case, accents folded), their
    separators gone, distinct, sorted and space-separated; NULL if none."""
    runs = f"regexp_extract_all({v}, '{CODE_PATTERN.pattern}', 0)"
    bare = f"list_transform({runs}, lambda x: replace(replace(replace(x, '-', ''), '.', ''), '/', ''))"
    codes = (
        f"list_filter({bare}, lambda x: length(x) >= {CODE_MIN_LENGTH} AND regexp_matches(x, '[0-9]') "
        "AND regexp_matches(x, '[a-z]'))"
    )
    return f"nullif(array_to_string(list_sort(list_distinct({codes})), ' '), '')"


def digit_runs_sql(v: str) -> str:
    """SQL for the digit runs of the normalised value ``v``, in order and space-separated (NULL if none).

    The normalised table holds them where `features` compares them (DuckDB evaluates an expression once per
    use: per pair it cost 3 s of CPU at 1M records), and the word blocking key splits them. A string, not a
    list of runs: half the cost to compute, and most pairs compare them by plain equality."""
    return f"nullif(trim(regexp_replace({v}, '[^0-9]+', ' ', 'g')), '')"


def coarse_sql(profile: ColumnProfile, v: str) -> str:
    """SQL for `coarse_code` from the normalised value ``v`` (NULL for kinds without one)."""
    if profile.kind == ColumnKind.NAME:
        return f"CASE WHEN {v} IS NOT NULL THEN {_soundex(v)} END"
    if profile.kind == ColumnKind.DATE:
        return f"CASE WHEN length({v}) = 8 THEN left({v}, 4) END"
    return "CAST(NULL AS VARCHAR)"
