"""Restricted-party screening: list snapshots, a fuzzy name matcher, and per-party cases.

* :class:`ScreeningList` is one imported snapshot of a list (e.g. the US Consolidated Screening
  List): its source name, the SHA-256 of the file as received, and every entry. The CSL publishes
  no deltas, so each import is a whole snapshot; :class:`ScreeningLists` remembers the latest
  snapshot per source.
* :class:`Matcher` compares a party's name with every entry name and alias after normalising both
  (case, accents, punctuation and corporate suffixes such as Co., Ltd., Inc., GmbH) with a
  token-sort ratio (rapidfuzz), 0..100. A score at or above the threshold is a hit.
* :class:`ScreeningCase` (one per party) keeps each hit, the snapshot it came from, and how a
  compliance officer resolved it (false positive or confirmed, with a note, by whom). A hit that
  is open or confirmed and still on the current list blocks clearance, shipment and assignment.
  A hit's id is derived from the party, its normalised name and the entry's content, so a new
  snapshot with the same entry finds the same hit and its resolution carries over; a changed
  entry or a renamed party is a new hit that needs its own resolution.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from rapidfuzz import fuzz, process

from registry.domain.base import Context, RegistryAggregate
from registry.domain.errors import IllegalTransition, InvalidField

_CASE_NS = uuid5(NAMESPACE_URL, "urn:gpureg:screening-case")
_HIT_NS = uuid5(NAMESPACE_URL, "urn:gpureg:screening-hit")
_LISTS_ID = uuid5(NAMESPACE_URL, "urn:gpureg:screening-lists")

DEFAULT_THRESHOLD = 85.0
NEAR_MISS_FLOOR = 60.0  # near misses below the threshold shown to an officer (never blocking)
NEAR_MISS_LIMIT = 3

# ----------------------------------------------------------------------------- normalising
CORPORATE_SUFFIXES = frozenset(
    {
        "co", "company", "corp", "corporation", "inc", "incorporated", "ltd", "limited", "llc",
        "llp", "lp", "plc", "gmbh", "mbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv",
        "nv", "kk", "pte", "pty", "jsc", "pjsc", "ojsc", "cjsc", "ooo", "oao", "zao", "ltda",
        "the",
        # more legal forms (matching only; ``normalise_name``, which hit ids use, keeps the list above)
        "ao", "pao", "fgup", "fsue", "lda", "pvt", "bhd", "fze", "fzco", "fzc", "fzllc",
        "ab", "oy", "oyj", "as", "asa", "kft", "sro", "doo", "ad", "eood", "sl", "sae", "sal",
        "cokg", "gmbhcokg", "tbk", "pt", "jv", "corpn", "incorp", "coltd",
    }
)
_ID_SUFFIXES = frozenset(
    {
        "co", "company", "corp", "corporation", "inc", "incorporated", "ltd", "limited", "llc",
        "llp", "lp", "plc", "gmbh", "mbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv",
        "nv", "kk", "pte", "pty", "jsc", "pjsc", "ojsc", "cjsc", "ooo", "oao", "zao", "ltda",
        "the",
    }
)
_JOINERS = re.compile(r"[.'\u2019`]")
_SEPARATORS = re.compile(r"[^\w\s]|_")


def name_tokens(name: str) -> list[str]:
    """Words of a name: accents dropped, case folded, punctuation gone, corporate suffixes gone."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    plain = _SEPARATORS.sub(" ", _JOINERS.sub("", plain))
    return [t for t in plain.split() if t not in _ID_SUFFIXES]


def normalise_name(name: str) -> str:
    """'Huawei Technologies Co., Ltd.' -> 'huawei technologies' (token order kept). The basis of
    a hit's id (kept stable so resolutions carry over); matching uses :func:`match_tokens`."""
    return " ".join(name_tokens(name))


# The matching key (docs/compliance.md, "Screening: how names are compared"). Both the party's
# name and every list name and alternate name go through the same steps:
#  1. transliteration: Cyrillic and Greek letters to Latin (table below), accents dropped (NFKD);
#  2. case folded; "&" read as "and"; apostrophes and dots inside words joined ("Int'l" -> "intl");
#     every other punctuation mark is a space; words written apart joined (COMPOUNDS: "Air Lines"
#     -> "airlines", "Micro Electronics" -> "microelectronics");
#  3. legal forms dropped: multi-word forms first (LEGAL_FORM_PHRASES: "joint stock company",
#     "youxian gongsi", ...), then single ones (CORPORATE_SUFFIXES: Co., Ltd., Inc., GmbH, OOO, ...);
#     stop words ("and", "of", "the") dropped;
#  4. abbreviations and truncations expanded to one word (ABBREVIATIONS: Tech./Technologies ->
#     technology, Intl/International -> international, Corp/Corporation is a legal form, ...); a
#     word cut short with a dot ("Technol.") becomes the one table word it starts;
#  5. spelling folded (SPELLING_FOLDS: x -> ks, kh -> h, ph -> f, w -> v, y -> i, doubled letters
#     once), so transliteration variants (Rosoboronexport / Rosoboroneksport, Yevgeny / Evgeniy)
#     meet;
#  6. compared with the Levenshtein ratio (rapidfuzz ``fuzz.ratio``), 0..100, twice: the words
#     sorted (word order does not count) and the words in their order written together (spacing
#     does not count: "Hik-Vision" / "Hikvision", "Rosoboron Export" / "Rosoboronexport"); the
#     better score counts.
_TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",  # noqa: RUF001
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",  # noqa: RUF001
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",  # noqa: RUF001
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "yi",  # noqa: RUF001
    "є": "ye", "ґ": "g",
    "α": "a", "β": "b", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i",  # noqa: RUF001
    "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s",  # noqa: RUF001
    "ς": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",  # noqa: RUF001
})
LEGAL_FORM_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split()) for p in (
        "public joint stock company", "closed joint stock company", "open joint stock company",
        "joint stock company", "limited liability company", "limited liability partnership",
        "public limited company", "private limited company", "company limited", "limited company",
        "co ltd", "pte ltd", "pvt ltd", "pty ltd", "sdn bhd", "free zone establishment",
        "free zone company", "gesellschaft mit beschrankter haftung", "societe anonyme",
        "sociedad anonima", "societa per azioni", "kabushiki kaisha", "yugen kaisha",
        "gufen youxian gongsi", "youxian zeren gongsi", "youxian gongsi", "aktsionernoe obshchestvo",
        "publichnoe aktsionernoe obshchestvo", "obshchestvo s ogranichennoi otvetstvennostiu",
        "obshchestvo s ogranichennoy otvetstvennostyu", "federal state unitary enterprise",
    )
)
STOP_WORDS = frozenset({"and", "of", "the", "for", "a"})
_ABBREVIATION_GROUPS: dict[str, tuple[str, ...]] = {
    "technology": ("tech", "techs", "techn", "technol", "technolog", "technologies", "technologie", "technologys",
                   "keji"),
    "international": ("intl", "intnl", "internat", "internatl", "inter'l"),
    "manufacturing": ("mfg", "manuf", "manufacture", "manufacturer", "manufacturers"),
    "electronics": ("elec", "electr", "electron", "electronic", "elektronik", "elektronika"),
    "microelectronics": ("microelec", "microelectronic", "mikroelektronika", "mikroelektronik"),
    "group": ("grp", "jituan", "gruppa"),
    "holding": ("hldg", "hldgs", "holdings"),
    "service": ("svc", "svcs", "serv", "services"),
    "system": ("sys", "syst", "systems"),
    "industry": ("ind", "inds", "indus", "industries", "industrial"),
    "science": ("sci", "sciences", "scientific"),
    "development": ("dev", "devel", "develop"),
    "engineering": ("eng", "engg", "engr"),
    "institute": ("inst", "instit"),
    "university": ("univ", "uni"),
    "national": ("natl", "nat"),
    "association": ("assn", "assoc"),
    "center": ("ctr", "cntr", "centre", "centr", "tsentr"),
    "laboratory": ("lab", "labs", "laboratories", "lab's"),
    "semiconductor": ("semicond", "semiconductors", "semi"),
    "communication": ("comm", "comms", "communications"),
    "telecommunication": ("telecom", "telecomm", "telecoms", "telecommunications"),
    "equipment": ("equip", "eqpt"),
    "machinery": ("mach", "mashinostroenie"),
    "chemical": ("chem", "chemicals"),
    "pharmaceutical": ("pharm", "pharma", "pharmaceuticals"),
    "aerospace": ("aero",),
    "trading": ("trdg", "trade"),
    "management": ("mgmt", "mgt"),
    "investment": ("invest", "investments", "inv"),
    "research": ("res", "rsch"),
    "information": ("info",),
    "enterprise": ("ent", "enterprises", "entp"),
    "brothers": ("bros",),
    "shipping": ("shpg",),
    "logistics": ("logistic", "logist"),
    "import": ("imp",),
    "export": ("exp",),
    "company": ("comp", "cmpy", "gongsi"),
    "air": ("airlines", "airline", "airways"),
}
# Words a name may write apart or together (spacing): joined before the tables apply.
COMPOUNDS: dict[tuple[str, str], str] = {
    ("air", "lines"): "airlines", ("air", "ways"): "airways", ("micro", "electronics"): "microelectronics",
    ("micro", "electronic"): "microelectronics", ("tele", "communications"): "telecommunications",
    ("semi", "conductor"): "semiconductor", ("semi", "conductors"): "semiconductors",
}
ABBREVIATIONS: dict[str, str] = {
    form: word for word, forms in _ABBREVIATION_GROUPS.items() for form in (word, *forms)
}
_VOCABULARY = tuple(sorted(_ABBREVIATION_GROUPS))
SPELLING_FOLDS: tuple[tuple[str, str], ...] = (
    ("shch", "sh"), ("kh", "h"), ("ph", "f"), ("ck", "k"), ("x", "ks"), ("w", "v"), ("q", "k"),
    ("tz", "ts"), ("j", "i"), ("y", "i"),
)
_DOUBLED = re.compile(r"(.)\1+")
_WORDS = re.compile(r"\S+")


def _fold(token: str) -> str:
    for old, new in SPELLING_FOLDS:
        token = token.replace(old, new)
    return _DOUBLED.sub(r"\1", token)


def _expand(token: str, cut: bool) -> str:
    word = ABBREVIATIONS.get(token)
    if word is not None:
        return word
    if cut and len(token) >= 3:  # "Technol." -> the one table word it starts
        starts = [w for w in _VOCABULARY if w.startswith(token)]
        if len(starts) == 1:
            return starts[0]
    return token


def match_tokens(name: str) -> list[str]:
    """The words a name is matched by (steps 1-5 above), in their original order."""
    text = unicodedata.normalize("NFKC", name).casefold().translate(_TRANSLIT)
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("&", " and ")
    raw: list[tuple[str, bool]] = []
    for chunk in _WORDS.findall(plain):
        cut = chunk.endswith(".") and chunk.count(".") == 1
        cleaned = _SEPARATORS.sub(" ", _JOINERS.sub("", chunk))
        parts = cleaned.split()
        raw.extend((p, cut and i == len(parts) - 1) for i, p in enumerate(parts))
    expanded = [_expand(word, cut) for word, cut in raw]
    words: list[str] = []
    for word in expanded:
        if words and (words[-1], word) in COMPOUNDS:
            words[-1] = COMPOUNDS[(words[-1], word)]
        else:
            words.append(word)
    words = [ABBREVIATIONS.get(w, w) for w in words]
    keep = [True] * len(words)
    for phrase in LEGAL_FORM_PHRASES:
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if all(keep[i:i + n]) and tuple(words[i:i + n]) == phrase:
                keep[i:i + n] = [False] * n
    return [
        _fold(word) for word, kept in zip(words, keep, strict=True)
        if kept and word not in CORPORATE_SUFFIXES and word not in STOP_WORDS
    ]


def name_score(a: str, b: str) -> float:
    """The matcher's score of two names (steps 1-6), 0..100 (100 = same words)."""
    ta, tb = match_tokens(a), match_tokens(b)
    if not ta or not tb:
        return 0.0
    return float(max(fuzz.ratio(" ".join(sorted(ta)), " ".join(sorted(tb))), fuzz.ratio("".join(ta), "".join(tb))))


# -------------------------------------------------------------------------- list entries
@dataclass(frozen=True)
class ListEntry:
    """One entry of a restricted-party list snapshot."""

    entry_id: str
    source_list: str  # the list inside the consolidated list, e.g. "Entity List (EL) - BIS"
    name: str
    alt_names: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Content hash: the same entry in a later snapshot has the same key."""
        canonical = json.dumps(
            [self.source_list, self.name, list(self.alt_names), list(self.addresses), list(self.countries)],
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "entry_id": self.entry_id,
            "source_list": self.source_list,
            "name": self.name,
            "alt_names": list(self.alt_names),
            "addresses": list(self.addresses),
            "countries": list(self.countries),
        }
        if self.extra:
            data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListEntry:
        return cls(
            entry_id=str(data["entry_id"]),
            source_list=str(data["source_list"]),
            name=str(data["name"]),
            alt_names=tuple(data.get("alt_names", ())),
            addresses=tuple(data.get("addresses", ())),
            countries=tuple(data.get("countries", ())),
            extra=dict(data.get("extra", {})),
        )


# Column names accepted for each field (compared case-insensitively, spaces as underscores).
# The US Consolidated Screening List CSV header is:
#   _id,source,entity_number,type,programs,name,title,addresses,federal_register_notice,
#   start_date,end_date,standard_order,license_requirement,license_policy,call_sign,vessel_type,
#   gross_tonnage,gross_registered_tonnage,vessel_flag,vessel_owner,remarks,source_list_url,
#   alt_names,citizenships,dates_of_birth,nationalities,places_of_birth,source_information_url,ids
# It has no countries column: countries come from the last part of each address ("..., CN").
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "entry_id": ("_id", "id", "entry_id", "entity_number"),
    "source_list": ("source", "source_list", "list"),
    "name": ("name",),
    "alt_names": ("alt_names", "alternate_names", "aliases"),
    "addresses": ("addresses", "address"),
    "countries": ("countries", "country"),
}
EXTRA_COLUMNS = (
    "entity_number", "type", "programs", "federal_register_notice", "start_date", "end_date",
    "license_requirement", "license_policy", "source_list_url", "remarks",
)
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class ParsedList:
    sha256: str
    columns: tuple[str, ...]
    entries: tuple[ListEntry, ...]
    skipped_rows: int


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


def parse_screening_csv(content: bytes, default_source: str) -> ParsedList:
    """Parse a list snapshot in the CSL CSV layout (or any CSV with at least a ``name`` column).

    Multi-valued cells (alt_names, addresses, countries) are separated by ``;``. A row without a
    name is skipped and counted. Raises :class:`InvalidField` (field ``content``) when the file
    is not UTF-8 or has no ``name`` column; nothing is written then.
    """
    digest = hashlib.sha256(content).hexdigest()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidField.one(
            "content", f"must be UTF-8 encoded CSV ({e.reason} at byte {e.start})"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise InvalidField.one("content", "empty file: a CSV header with a 'name' column is required")
    columns = tuple(h.strip().lower().replace(" ", "_") for h in header)
    index: dict[str, int] = {}
    for target, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in columns:
                index[target] = columns.index(alias)
                break
    if "name" not in index:
        raise InvalidField.one(
            "content", f"the CSV header needs a 'name' column (CSL layout); found {list(columns)[:12]}"
        )
    extras = [(c, columns.index(c)) for c in EXTRA_COLUMNS if c in columns]
    entries: list[ListEntry] = []
    skipped = 0
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(target: str, row: list[str] = row) -> str:
            i = index.get(target)
            return row[i].strip() if i is not None and i < len(row) else ""

        name = cell("name")
        if not name:
            skipped += 1
            continue
        addresses = _split(cell("addresses"))
        countries = [c.upper() for c in _split(cell("countries"))]
        for address in addresses:
            last = address.rsplit(",", 1)[-1].strip()
            if _COUNTRY_CODE.match(last) and last not in countries:
                countries.append(last)
        entries.append(
            ListEntry(
                entry_id=cell("entry_id") or f"row-{row_number}",
                source_list=cell("source_list") or default_source,
                name=name,
                alt_names=_split(cell("alt_names")),
                addresses=addresses,
                countries=tuple(countries),
                extra={c: row[i].strip() for c, i in extras if i < len(row) and row[i].strip()},
            )
        )
    return ParsedList(sha256=digest, columns=columns, entries=tuple(entries), skipped_rows=skipped)


# ------------------------------------------------------------------------------ matching
@dataclass(frozen=True)
class Match:
    entry: ListEntry
    matched_name: str  # the entry name or alias that scored best
    score: float


class Matcher:
    """Scores a name against every name and alias of a snapshot; built once per snapshot."""

    def __init__(self, entries: Sequence[ListEntry]) -> None:
        self._entries = tuple(entries)
        self._keys: list[str] = []
        self._joined: list[str] = []  # the words in their order, without spaces (spacing variants)
        self._owners: list[tuple[int, str]] = []  # (entry index, original name)
        for i, entry in enumerate(self._entries):
            for name in (entry.name, *entry.alt_names):
                tokens = match_tokens(name)
                if tokens:
                    self._keys.append(" ".join(sorted(tokens)))
                    self._joined.append("".join(tokens))
                    self._owners.append((i, name))

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, name: str, threshold: float = DEFAULT_THRESHOLD) -> list[Match]:
        """Entries whose best name scores >= ``threshold``, best first (one match per entry)."""
        return self.screen(name, threshold)[0]

    def screen(
        self, name: str, threshold: float = DEFAULT_THRESHOLD, near_floor: float = NEAR_MISS_FLOOR,
        near_limit: int = NEAR_MISS_LIMIT,
    ) -> tuple[list[Match], list[Match]]:
        """(hits: every entry scoring >= ``threshold``; near misses: the ``near_limit`` best entries
        scoring in [``near_floor``, ``threshold``)), each best first, one per entry."""
        tokens = match_tokens(name)
        if not tokens or not self._keys:
            return [], []
        floor = min(near_floor, threshold)
        found = [
            *process.extract(" ".join(sorted(tokens)), self._keys, scorer=fuzz.ratio, score_cutoff=floor, limit=None),
            *process.extract("".join(tokens), self._joined, scorer=fuzz.ratio, score_cutoff=floor, limit=None),
        ]
        best: dict[int, Match] = {}
        for _key, score, position in found:
            entry_index, original = self._owners[position]
            prior = best.get(entry_index)
            if prior is None or score > prior.score:
                best[entry_index] = Match(self._entries[entry_index], original, float(score))
        ranked = sorted(best.values(), key=lambda m: (-m.score, m.entry.name, m.entry.entry_id))
        hits = [m for m in ranked if m.score >= threshold]
        near = [m for m in ranked if m.score < threshold][:near_limit]
        return hits, near


# --------------------------------------------------------------------------- aggregates
@dataclass(frozen=True)
class SnapshotRef:
    """Which snapshot a screening ran against (without its entries)."""

    snapshot_id: UUID
    source: str
    sha256: str


class ScreeningList(RegistryAggregate):
    """One imported snapshot of a restricted-party list. Immutable once imported."""

    class Imported(RegistryAggregate.Created):
        source: str
        sha256: str
        columns: list[str]
        entry_count: int
        skipped_rows: int
        entries: list[dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            aggregate.source = self.source
            aggregate.sha256 = self.sha256
            aggregate.columns = list(self.columns)
            aggregate.entry_count = self.entry_count
            aggregate.skipped_rows = self.skipped_rows
            aggregate.entries = list(self.entries)
            aggregate.imported_at = self.occurred_at

    if TYPE_CHECKING:
        source: str
        sha256: str
        columns: list[str]
        entry_count: int
        skipped_rows: int
        entries: list[dict[str, Any]]
        imported_at: datetime

    @classmethod
    def import_snapshot(
        cls, ctx: Context, snapshot_id: UUID, source: str, parsed: ParsedList
    ) -> ScreeningList:
        if not source.strip():
            raise InvalidField.one("source", "name the list, e.g. 'US CSL'")
        return cls._create(
            cls.Imported,
            id=snapshot_id,
            source=source.strip(),
            sha256=parsed.sha256,
            columns=list(parsed.columns),
            entry_count=len(parsed.entries),
            skipped_rows=parsed.skipped_rows,
            entries=[e.to_dict() for e in parsed.entries],
            **ctx.event_kwargs(),
        )

    def list_entries(self) -> list[ListEntry]:
        return [ListEntry.from_dict(d) for d in self.entries]

    @property
    def ref(self) -> SnapshotRef:
        return SnapshotRef(self.id, self.source, self.sha256)


class ScreeningLists(RegistryAggregate):
    """The registry-wide index: the latest snapshot of each source list (one aggregate)."""

    class Started(RegistryAggregate.Created):
        def apply(self, aggregate: Any) -> None:
            aggregate.latest = {}

    class Adopted(RegistryAggregate.Event):
        source: str
        snapshot_id: UUID
        sha256: str
        entry_count: int

        def apply(self, aggregate: Any) -> None:
            aggregate.latest[self.source] = {
                "snapshot_id": self.snapshot_id,
                "sha256": self.sha256,
                "entry_count": self.entry_count,
                "adopted_at": self.occurred_at,
            }

    if TYPE_CHECKING:
        latest: dict[str, dict[str, Any]]

    @staticmethod
    def id_for() -> UUID:
        return _LISTS_ID

    @classmethod
    def start(cls, ctx: Context) -> ScreeningLists:
        return cls._create(cls.Started, id=_LISTS_ID, **ctx.event_kwargs())

    def adopt(self, ctx: Context, snapshot: ScreeningList) -> None:
        self.trigger_event(
            self.Adopted,
            source=snapshot.source,
            snapshot_id=snapshot.id,
            sha256=snapshot.sha256,
            entry_count=snapshot.entry_count,
            **ctx.event_kwargs(),
        )


class Resolution(StrEnum):
    OPEN = "open"
    FALSE_POSITIVE = "false_positive"
    CONFIRMED = "confirmed"


BLOCKING = frozenset({Resolution.OPEN, Resolution.CONFIRMED})


def hit_id_for(party_id: UUID, party_name: str, entry: ListEntry) -> str:
    return str(uuid5(_HIT_NS, f"{party_id.hex}|{normalise_name(party_name)}|{entry.key}"))


class ScreeningCase(RegistryAggregate):
    """A party's screening record: every screening run, every hit and its resolution trail.

    ``hits`` maps a hit id to a dict: ``source`` (the snapshot's list name), ``snapshot_id``,
    ``sha256``, ``entry`` (the list entry), ``matched_name``, ``score``, ``party_name``,
    ``first_seen_at``, ``current`` (still matched by the latest snapshot of its source),
    ``resolution`` (open, false_positive, confirmed) and ``trail`` (each resolution with note,
    actor and time).
    """

    class Opened(RegistryAggregate.Created):
        party_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.party_id = self.party_id
            aggregate.hits = {}
            aggregate.screenings = {}

    class Screened(RegistryAggregate.Event):
        """The party was screened against one snapshot. ``hits`` are all its matches there;
        ``new_hit_ids`` are the ones not seen before; ``lapsed_hit_ids`` are earlier hits of the
        same source that the snapshot no longer produces."""

        party_name: str
        source: str
        snapshot_id: UUID
        sha256: str
        threshold: float
        hits: list[dict[str, Any]]
        new_hit_ids: list[str]
        lapsed_hit_ids: list[str]
        near_misses: list[dict[str, Any]]  # best entries below the threshold: shown, never blocking
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["near_misses"] = []

        def apply(self, aggregate: Any) -> None:
            aggregate.screenings[self.source] = {
                "snapshot_id": self.snapshot_id,
                "sha256": self.sha256,
                "party_name": self.party_name,
                "threshold": self.threshold,
                "screened_at": self.occurred_at,
                "hit_count": len(self.hits),
                "near_misses": list(self.near_misses),
            }
            for hit in self.hits:
                prior = aggregate.hits.get(hit["hit_id"])
                base = prior if prior is not None else {
                    "resolution": Resolution.OPEN.value,
                    "trail": [],
                    "first_seen_at": self.occurred_at,
                }
                aggregate.hits[hit["hit_id"]] = {
                    **base,
                    **hit,
                    "source": self.source,
                    "snapshot_id": self.snapshot_id,
                    "sha256": self.sha256,
                    "party_name": self.party_name,
                    "current": True,
                }
            for hit_id in self.lapsed_hit_ids:
                aggregate.hits[hit_id] = {**aggregate.hits[hit_id], "current": False}

    class HitResolved(RegistryAggregate.Event):
        hit_id: str
        resolution: str
        note: str

        def apply(self, aggregate: Any) -> None:
            hit = aggregate.hits[self.hit_id]
            entry = {
                "resolution": self.resolution,
                "note": self.note,
                "by": self.actor,
                "at": self.occurred_at,
            }
            aggregate.hits[self.hit_id] = {
                **hit,
                "resolution": self.resolution,
                "trail": [*hit["trail"], entry],
            }

    if TYPE_CHECKING:
        party_id: UUID
        hits: dict[str, dict[str, Any]]
        screenings: dict[str, dict[str, Any]]

    @staticmethod
    def id_for(party_id: UUID) -> UUID:
        return uuid5(_CASE_NS, party_id.hex)

    @classmethod
    def open(cls, ctx: Context, party_id: UUID) -> ScreeningCase:
        return cls._create(cls.Opened, id=cls.id_for(party_id), party_id=party_id, **ctx.event_kwargs())

    def record_screening(
        self,
        ctx: Context,
        party_name: str,
        snapshot: SnapshotRef,
        matches: Iterable[Match],
        threshold: float,
        near_misses: Iterable[Match] = (),
    ) -> None:
        """Record one screening run of this party against ``snapshot``: its hits, and its best near
        misses (scores below the threshold, for an officer to see; they never block)."""
        hits = [
            {
                "hit_id": hit_id_for(self.party_id, party_name, m.entry),
                "entry": m.entry.to_dict(),
                "entry_key": m.entry.key,
                "matched_name": m.matched_name,
                "score": round(m.score, 2),
            }
            for m in matches
        ]
        found = {h["hit_id"] for h in hits}
        new = [h["hit_id"] for h in hits if h["hit_id"] not in self.hits]
        lapsed = sorted(
            hit_id for hit_id, hit in self.hits.items()
            if hit["source"] == snapshot.source and hit["current"] and hit_id not in found
        )
        self.trigger_event(
            self.Screened,
            party_name=party_name,
            source=snapshot.source,
            snapshot_id=snapshot.snapshot_id,
            sha256=snapshot.sha256,
            threshold=float(threshold),
            hits=hits,
            new_hit_ids=new,
            lapsed_hit_ids=lapsed,
            near_misses=[
                {"entry_id": m.entry.entry_id, "source_list": m.entry.source_list, "name": m.entry.name,
                 "matched_name": m.matched_name, "score": round(m.score, 2)}
                for m in near_misses
            ],
            **ctx.event_kwargs(),
        )

    def resolve(self, ctx: Context, hit_id: str, resolution: str, note: str) -> None:
        """A compliance officer's decision on a hit; the actor on the event is who decided."""
        hit = self.hits.get(hit_id)
        if hit is None:
            raise InvalidField.one("hit_id", f"no hit {hit_id} on this party's screening case")
        if resolution not in (Resolution.FALSE_POSITIVE, Resolution.CONFIRMED):
            raise InvalidField.one("resolution", "must be 'false_positive' or 'confirmed'")
        if not note.strip():
            raise InvalidField.one("note", "a resolution states its reason")
        if hit["resolution"] == resolution:
            raise IllegalTransition(
                "resolve_screening_hit", f"hit {resolution}", ["resolve with the other outcome"],
                "the hit already has this resolution",
            )
        self.trigger_event(
            self.HitResolved, hit_id=hit_id, resolution=resolution, note=note.strip(), **ctx.event_kwargs()
        )

    # ------------------------------------------------------------------------ queries
    def blocking_hits(self) -> list[dict[str, Any]]:
        """Hits still on the current list that are open or confirmed."""
        return [
            {"hit_id": hit_id, **hit}
            for hit_id, hit in sorted(self.hits.items())
            if hit["current"] and hit["resolution"] in BLOCKING
        ]

    def is_current(self, latest: Mapping[str, Mapping[str, Any]], party_name: str) -> bool:
        """True when the party was screened, under its current name, against every latest snapshot."""
        for source, info in latest.items():
            done = self.screenings.get(source)
            if done is None or done["snapshot_id"] != info["snapshot_id"] or done["party_name"] != party_name:
                return False
        return True
