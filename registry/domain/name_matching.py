"""How a party's name is compared with a list's names: normalisation tables, the score, the matcher.

Pure code (rapidfuzz for the Levenshtein ratio). The steps are documented below and in
docs/compliance.md ("How names are compared"); the screening evaluation
(tests/unit/test_screening_evaluation.py) measures them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from registry.domain.screening_lists import ListEntry

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
