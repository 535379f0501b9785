"""NER output that is not an identifier: frequencies and durations tagged DATE_TIME.

spaCy tags "twice daily", "today" and "within 30 days" as dates. Safe Harbor
asks for the elements of a date (day, month) to go, not for durations, and
masking them corrupts dosing advice in compendiums. A DATE_TIME span from NER
is kept when it holds a digit, a month, a weekday or a holiday, unless it is
a plain duration ("30 days", "for 2 weeks"); ages ("45 years old") are kept.
"""

from __future__ import annotations

import re

_CALENDAR_WORD = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday"
    r"|thursday|friday|saturday|sunday|christmas|thanksgiving|easter|hanukkah|ramadan"
    r"|new\s+year'?s?|halloween|independence\s+day|memorial\s+day|labor\s+day)\b",
    re.IGNORECASE,
)
_DURATION = re.compile(
    r"^(?:(?:for|within|every|each|over|about|around|after|the\s+(?:past|last|next)|past|last"
    r"|next|another|a\s+further)\s+)?(?:\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven"
    r"|eight|nine|ten|twelve|several|few|couple\s+of)[\s-]*(?:to[\s-]*\d+[\s-]*)?"
    r"(?:hours?|hrs?|minutes?|mins?|days?|weeks?|wks?|months?|mos?|years?|yrs?)"
    r"(?:\s+(?:ago|later|earlier|prior|before|after|supply))?$",
    re.IGNORECASE,
)


def vague_time(value: str) -> bool:
    """True for a DATE_TIME value that names no calendar date: "twice daily", "30 days"."""
    text = value.strip(" .,;:()")
    if re.search(r"\bold\b", text, re.IGNORECASE):  # "45 years old" is an age
        return False
    if _DURATION.match(text):
        return True
    return not (any(ch.isdigit() for ch in text) or _CALENDAR_WORD.search(text))
