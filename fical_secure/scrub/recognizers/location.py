"""Recognizers of street addresses and ZIP codes (geographic units below a state).

The street suffixes are the USPS Publication 28 standard suffixes and their
common abbreviations; state codes are the USPS two-letter codes.
"""

from __future__ import annotations

from fical_secure.scrub.recognizers.base import ClinicalPatternRecognizer, after_label

STREET_SUFFIXES: tuple[str, ...] = tuple(
    """
    alley aly annex arcade avenue ave av bayou beach bend bluff bluffs bottom boulevard blvd
    branch bridge brook brooks burg burgs bypass camp canyon cape causeway center centers
    circle cir circles cliff cliffs club common commons corner corners course court ct
    courts cove coves creek crescent crest crossing crossroad curve dale dam divide drive dr
    drives estate estates expressway expy extension extensions fall falls ferry field fields
    flat flats ford fords forest forge forges fork forks fort freeway fwy garden gardens
    gateway glen glens green greens grove groves harbor harbors haven heights hts highway
    hwy hill hills hollow inlet island islands isle junction junctions key keys knoll knolls
    lake lakes land landing lane ln light lights loaf lock locks lodge loop mall manor
    manors meadow meadows mews mill mills mission motorway mount mountain mountains neck
    orchard oval overpass park parks parkway pkwy parkways pass passage path pike pine pines
    place pl plain plains plaza point points port ports prairie radial ramp ranch rapid
    rapids rest ridge ridges river road rd roads route rte row rue run shoal shoals shore
    shores skyway spring springs spur spurs square sq squares station stravenue stream
    street st streets summit terrace ter throughway trace track trafficway trail trl tunnel
    turnpike underpass union unions valley valleys via viaduct view views village villages
    ville vista walk walks wall way ways well wells
    """.split()
)
US_STATES: tuple[str, ...] = tuple(
    """
    AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME
    MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI
    SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP FM MH PW AA
    AE AP
    """.split()
)

_SUFFIX = "(?:" + "|".join(sorted(STREET_SUFFIXES, key=len, reverse=True)) + r")\b\.?"
_STATE = "(?-i:" + "|".join(US_STATES) + ")"
# A street-name word: capitalised ("Main", "O'Hara") or an ordinal ("5th").
_WORD = r"(?:(?-i:[A-Z])[\w'.-]*|\d{1,3}(?:st|nd|rd|th))"
_UNIT = (
    r"(?:,?\s*(?:apt\.?|apartment|suite|ste\.?|unit|room|rm\.?|floor|fl\.?|bldg\.?|building|#)"
    r"\s*#?\s*[A-Z0-9-]{1,6}\b)"
)
_ZIP = r"\d{5}(?:-\d{4})?"
# Optional ", City, ST 12345" tail of a full one-line address.
_CITY_TAIL = rf"(?:,?\s+(?:[^\W\d_][\w'.-]*\s+){{0,3}}?[^\W\d_][\w'.-]*,\s*{_STATE}\.?\s+{_ZIP}\b)"
_STREET = (
    rf"\b\d{{1,6}}[A-Z]?\s+(?:(?:[NSEW]|north|south|east|west)\.?\s+)?(?:{_WORD}\s+){{0,4}}"
    rf"{_SUFFIX}{_UNIT}?{_CITY_TAIL}?"
)


class StreetAddressRecognizer(ClinicalPatternRecognizer):
    """Street addresses: number + street name + suffix, with unit and city line if present."""

    ENTITY = "STREET_ADDRESS"
    PATTERNS = (
        ("number street suffix", _STREET, 0.7),
        ("PO box", r"\bP\.?\s*O\.?\s*Box\s+\d{1,6}\b", 0.7),
    )
    CONTEXT = ("address", "lives", "resides", "street", "home")


class ZipCodeRecognizer(ClinicalPatternRecognizer):
    """ZIP codes: strong after a state code or a "zip" label, ZIP+4 alone, weak otherwise."""

    ENTITY = "ZIP_CODE"
    PATTERNS = (
        ("ZIP after state", rf"(?<=\b{_STATE}\.?,?\s+){_ZIP}\b", 0.7),
        (
            "ZIP after label",
            after_label(r"zip|zip\s*code|zipcode|postal\s*code|postcode", _ZIP + r"\b"),
            0.85,
        ),
        ("ZIP+4", r"\b\d{5}-\d{4}\b", 0.5),
        ("ZIP 5 digits (weak)", r"\b\d{5}\b", 0.05),
    )
    CONTEXT = ("zip", "zipcode", "postal")


_FACILITY_KINDS = (
    r"Hospital|Medical\s+Cent(?:er|re)|Health\s+Cent(?:er|re)|Clinic|Infirmary|Nursing\s+Home"
    r"|Rehabilitation\s+Cent(?:er|re)|Rehab\s+Cent(?:er|re)|Health\s+System|Healthcare"
    r"|Medical\s+Group|Hospice|Sanatorium|Care\s+Cent(?:er|re)"
)


class FacilityNameRecognizer(ClinicalPatternRecognizer):
    """Named facilities: "Saint Mary's Hospital", "Boston Medical Center", "Hillcrest Clinic"."""

    ENTITY = "HOSPITAL"
    PATTERNS = (
        (
            "capitalised words + facility kind",
            rf"\b(?-i:(?:\p{{Lu}}[\p{{L}}'’.&-]*[ \t]+(?:of[ \t]+|the[ \t]+)?){{1,4}})"
            rf"(?-i:{_FACILITY_KINDS})\b",
            0.6,
        ),
    )
    CONTEXT = ("hospital", "transferred", "admitted", "clinic", "center")
