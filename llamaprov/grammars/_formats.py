"""GBNF bodies (decoded string content, no quotes) for the string ``format`` values we enforce.

Each is a strict subset of what the format's RFC allows: a grammar may reject an unusual valid
value, never accept an invalid one. All characters are printable ASCII other than ``"`` and
``\\``, so the JSON encoding of these strings is the text itself.
"""

from __future__ import annotations

from ._builder import RuleSet

_HEX = "[0-9a-fA-F]"


def format_rule(name: str, rules: RuleSet) -> str | None:
    """Rule name for a format, or None when the format is not one we enforce."""
    maker = _FORMATS.get(name)
    if maker is None:
        return None
    return maker(rules)


def _date(rules: RuleSet) -> str:
    year = "[0-9] [0-9] [0-9] [0-9]"
    leap = rules.add(
        "leap-year",
        '[0-9] [0-9] ("0" [48] | [2468] [048] | [13579] [26]) | ([02468] [048] | [13579] [26]) "00"',
    )
    d31 = '("0" [1-9] | [12] [0-9] | "3" [01])'
    d30 = '("0" [1-9] | [12] [0-9] | "30")'
    d28 = '("0" [1-9] | "1" [0-9] | "2" [0-8])'
    body = (
        f'{year} "-" ("0" [13578] | "1" [02]) "-" {d31}'
        f' | {year} "-" ("0" [469] | "11") "-" {d30}'
        f' | {year} "-02-" {d28}'
        f' | {leap} "-02-29"'
    )
    return rules.add("date", body)


def _time(rules: RuleSet) -> str:
    hh = '([01] [0-9] | "2" [0-3])'
    mm = "[0-5] [0-9]"
    # no leap second: whether :60 is valid depends on the UTC time of day
    body = f'{hh} ":" {mm} ":" [0-5] [0-9] ("." [0-9]+)? ("Z" | [+-] {hh} ":" {mm})'
    return rules.add("time", body)


def _date_time(rules: RuleSet) -> str:
    return rules.add("date-time", f'{_date(rules)} "T" {_time(rules)}')


def _duration(rules: RuleSet) -> str:
    n = "[0-9]+"

    def chain(units: str) -> str:
        # at least one of the units, in order
        alts = []
        for i, u in enumerate(units):
            rest = " ".join(f'({n} "{v}")?' for v in units[i + 1 :])
            alts.append(f'{n} "{u}" {rest}'.strip())
        return "(" + " | ".join(alts) + ")"

    time = f'"T" {chain("HMS")}'
    body = f'"P" ({chain("YMD")} ({time})? | {time} | {n} "W")'
    return rules.add("duration", body)


def _email(rules: RuleSet) -> str:
    atom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+"
    return rules.add("email", f'{atom} ("." {atom})* "@" {_hostname_dotted(rules)}')


def _label(rules: RuleSet) -> str:
    inner = rules.upto("[a-zA-Z0-9-]", 61, "label-char")
    return rules.add("host-label", f"[a-zA-Z0-9] ({inner} [a-zA-Z0-9])?")


def _hostname(rules: RuleSet) -> str:
    lab = _label(rules)
    return rules.add("hostname", f'{lab} ("." {lab})*')


def _hostname_dotted(rules: RuleSet) -> str:
    lab = _label(rules)
    return rules.add("domain", f'{lab} ("." {lab})* "." [a-zA-Z] [a-zA-Z]+')


def _ipv4(rules: RuleSet) -> str:
    octet = rules.add("ipv4-octet", '"25" [0-5] | "2" [0-4] [0-9] | "1" [0-9] [0-9] | [1-9] [0-9] | [0-9]')
    return rules.add("ipv4", f'{octet} "." {octet} "." {octet} "." {octet}')


def _ipv6(rules: RuleSet) -> str:
    h = rules.add("h16", f"{_HEX} ({_HEX} ({_HEX} {_HEX}?)?)?")
    ls32 = rules.add("ls32", f'{h} ":" {h} | {_ipv4(rules)}')

    def reps(k: int) -> str:  # exactly k "h16:" groups
        return " ".join([f'{h} ":"'] * k)

    pair = rules.add("h16c", f'{h} ":"')

    def upto(k: int) -> str:  # [ *k( h16 ":" ) h16 ]
        return f"({rules.upto(pair, k, 'h16c')} {h})?".replace("( ", "(")

    alts = [
        f"{reps(6)} {ls32}",
        f'"::" {reps(5)} {ls32}',
        f'{upto(0)} "::" {reps(4)} {ls32}',
        f'{upto(1)} "::" {reps(3)} {ls32}',
        f'{upto(2)} "::" {reps(2)} {ls32}',
        f'{upto(3)} "::" {h} ":" {ls32}',
        f'{upto(4)} "::" {ls32}',
        f'{upto(5)} "::" {h}',
        f'{upto(6)} "::"',
    ]
    return rules.add("ipv6", " | ".join(alts))


def _uuid(rules: RuleSet) -> str:
    def hx(n: int) -> str:
        return " ".join([_HEX] * n)

    return rules.add("uuid", f'{hx(8)} "-" {hx(4)} "-" {hx(4)} "-" {hx(4)} "-" {hx(12)}')


def _uri(rules: RuleSet) -> str:
    ch = rules.add("uri-char", f'[a-zA-Z0-9._~:/?#@!$&\'()*+,;=\\x5b\\x5d-] | "%" {_HEX} {_HEX}')
    return rules.add("uri", f'[a-zA-Z] [a-zA-Z0-9+.-]* ":" {ch}*')


_FORMATS = {
    "date": _date,
    "time": _time,
    "date-time": _date_time,
    "duration": _duration,
    "email": _email,
    "hostname": _hostname,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "uuid": _uuid,
    "uri": _uri,
}

#: Shortest and longest (None: unbounded) string each format grammar accepts, for combining a
#: format with minLength/maxLength.
FORMAT_LENGTHS: dict[str, tuple[int, int | None]] = {
    "date": (10, 10),
    "time": (9, None),  # 00:00:00Z
    "date-time": (20, None),
    "duration": (3, None),  # P1D
    "email": (6, None),  # a@b.cd
    "hostname": (1, None),
    "ipv4": (7, 15),
    "ipv6": (2, 45),
    "uuid": (36, 36),
    "uri": (2, None),  # a:
}

_LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_ATOM = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+"
_HH = "(?:[01][0-9]|2[0-3])"
_TIME = f"{_HH}:[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?(?:Z|[+-]{_HH}:[0-5][0-9])"
_LEAP = "(?:[0-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_DATE = (
    "(?:[0-9]{4}-(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|[0-9]{4}-(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|[0-9]{4}-02-(?:0[1-9]|1[0-9]|2[0-8])"
    f"|{_LEAP}-02-29)"
)
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"

#: The same languages as the format grammars above, as anchored ECMA-262 patterns, for formats
#: that must be intersected with a pattern or length bounds (:mod:`._automaton`).
FORMAT_PATTERNS: dict[str, str] = {
    "date": f"^{_DATE}$",
    "time": f"^{_TIME}$",
    "date-time": f"^{_DATE}T{_TIME}$",
    "email": f"^{_ATOM}(?:\\.{_ATOM})*@{_LABEL}(?:\\.{_LABEL})*\\.[a-zA-Z][a-zA-Z]+$",
    "hostname": f"^{_LABEL}(?:\\.{_LABEL})*$",
    "ipv4": f"^{_OCTET}\\.{_OCTET}\\.{_OCTET}\\.{_OCTET}$",
    "uuid": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "uri": "^[a-zA-Z][a-zA-Z0-9+.-]*:(?:[a-zA-Z0-9._~:/?#@!$&'()*+,;=\\[\\]-]|%[0-9a-fA-F]{2})*$",
}
