"""Person names by their written shape, where statistical NER is weakest.

Clinical notes write names as "Lopez, Maria", "LOPEZ,MARIA", "PATIENT NAME:
TOBIAS SCHMIDT", "X. G. Tavares", "Zoë van der Berg", and sign with initials
and a lowercase surname ("XGT:holmes"). ``en_core_web_sm`` misses most of
these. Each shape is one pattern (Presidio matches case-insensitively, so
case-sensitive parts are scoped with ``(?-i:...)``); words of the clinical and
catalogue vocabulary are dropped later by the scrubber's allow-list.
"""

from __future__ import annotations

from fical_secure.scrub.recognizers.base import ClinicalPatternRecognizer

# One name word in any script: a capital then letters, with inner ' or - ("O'Neil", "Núñez").
_CAP = r"(?-i:\p{Lu}(?:[\p{Ll}\p{Lu}]+(?:['’-]\p{Lu}?\p{Ll}+)*|['’]\p{Lu}\p{Ll}+))"
_TITLE = r"(?-i:\p{Lu}\p{Ll}+(?:['’-]\p{Lu}?\p{Ll}+)*)"
_UPPER = r"(?-i:\p{Lu}{2,}(?:['’-]\p{Lu}+)*)"
_ANY = r"(?:\p{L}+(?:['’-]\p{L}+)*)"
_PARTICLE = r"(?:(?-i:van|von|de|del|della|der|den|di|da|du|dos|la|le|ter|ten|bin|al|el|st\.?)\s+)"
_INITIAL = r"(?-i:\p{Lu})\."
# A capitalised full name: 1-4 words, particles and middle initials allowed.
_CAP_NAME = rf"{_CAP}(?:\s+(?:{_PARTICLE}*{_CAP}|{_INITIAL}))*"
# A name after a label, in any case: "Name: zoë müller", "PATIENT NAME: TOBIAS SCHMIDT".
# Words that end a name written after a label ("Name: zoë müller is here").
_STOP = (
    r"(?!(?:is|was|has|had|and|or|the|a|an|to|of|in|on|at|for|with|who|came|presented|seen"
    r"|reports|states|called|age|aged|dob|mrn|sex)\b)"
)
_LABELLED_NAME = rf"{_ANY}(?:[ \t]+{_STOP}(?:{_PARTICLE}*{_ANY}|\p{{L}}\.)){{0,2}}(?![\w-])"
_NAME_LABELS = (
    r"patient\s+name|pt\s+name|name|patient|attending|attending\s+physician|physician|provider"
    r"|pcp|surgeon|resident|intern|fellow|nurse|rn|np|dictated\s+by|signed\s+by|transcribed\s+by"
    r"|electronically\s+signed\s+by|referring(?:\s+physician)?|cc|contact|emergency\s+contact"
    r"|next\s+of\s+kin|nok|guardian|mother|father|wife|husband|son|daughter|spouse"
)
_CREDENTIALS = r"(?:m\.?d\.?|d\.?o\.?|r\.?n\.?|n\.?p\.?|p\.?a\.?(?:-c)?|ph\.?d\.?|mbbs|facp|dds)"


class NameShapeRecognizer(ClinicalPatternRecognizer):
    """PERSON from shapes: labelled, "Last, First", LAST,FIRST, initials, signatures."""

    ENTITY = "PERSON"
    PATTERNS = (
        (
            "name after a label",
            rf"(?<=\b(?:{_NAME_LABELS})[ \t]*[:#][ \t]*){_LABELLED_NAME}",
            0.75,
        ),
        # "LOPEZ,MARIA" / "LOPEZ, MARIA A" (i2b2 headers): all caps around a comma.
        ("LAST,FIRST caps", rf"\b{_UPPER},[ \t]?{_UPPER}(?:[ \t](?-i:\p{{Lu}})\b\.?)?", 0.7),
        # "Lopez, Maria": title case around a comma, not inside a list ("A, B, C").
        (
            "Last, First",
            rf"(?<!{_CAP},[ \t]*)\b{_TITLE},[ \t]{_TITLE}(?:[ \t](?-i:\p{{Lu}})\.)?"
            rf"(?=[\s.;:)]|$)(?![ \t]*,?[ \t]*(?:and[ \t]+)?{_CAP})",
            0.45,
        ),
        # "X. G. Tavares", "J.R. Smith": initials then a capitalised surname.
        ("initials surname", rf"(?<![\p{{L}}.])(?:{_INITIAL}[ \t]?){{1,3}}{_CAP}\b", 0.6),
        # Honorifics: "Dr. Zoë van der Berg", "Mrs O'Neil".
        (
            "honorific name",
            rf"(?<=\b(?-i:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|MR|MRS|MS|DR)\.?[ \t]+){_CAP_NAME}",
            0.7,
        ),
        ("honorific caps", rf"(?<=\b(?:Mr|Mrs|Ms|Dr)\.?[ \t]+){_UPPER}(?:[ \t]+{_UPPER})?", 0.7),
        # Signature with credentials: "Xzavian G. Tavares, M.D.", "john smith md" on its line.
        (
            "name before credentials",
            rf"\b{_CAP}(?:[ \t]+(?:{_PARTICLE}*{_CAP}|{_INITIAL})){{1,3}}"
            rf"(?=,?[ \t]+{_CREDENTIALS}(?!\w))",
            0.55,
        ),
        (
            "signature line before credentials",
            rf"(?<=^[ \t]{{0,8}}(?:-{{1,4}}|signed:?)?[ \t]{{0,3}})"
            rf"{_ANY}(?:[ \t]+(?:{_ANY}|\p{{L}}\.)){{1,3}}"
            rf"(?=,?[ \t]+{_CREDENTIALS}[ \t]*$)",
            0.55,
        ),
        # Typist line "XGT:holmes": initials, a colon, a lowercase surname.
        ("initials:surname", r"(?<=\b(?-i:[A-Z]{2,4}):)(?-i:[a-z][a-z'-]+)\b", 0.65),
        ("signing initials", r"\b(?-i:[A-Z]{2,4})(?=:(?-i:[a-z][a-z'-]+)\b)", 0.5),
    )
    CONTEXT = ("name", "patient", "dr", "doctor", "signed", "attending", "md")
