"""Synthetic patient identities and planted canaries, from seeded generators only.

Every value comes from a Faker instance seeded with ``seed_instance`` or from a
``random.Random`` passed in, never from global random state or from today's
date, so a seed reproduces the same identities on any day and in any process
(for one Faker version). Identities are unique across a federation: no two
patients share a name, MRN, phone, email, address, SSN or member id, so every
planted value points at exactly one patient.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from faker import Faker

from fical_secure.data.vocab import date_words
from fical_secure.errors import DataError

# Reference day of the corpus: ages and appointment dates are relative to it.
CORPUS_EPOCH = date(2025, 1, 6)
_OLDEST_DOB = date(1930, 1, 1)
_YOUNGEST_DOB = date(2006, 12, 31)  # adults only: everyone is >= 18 at the epoch

# Canaries follow Carlini et al.'s Secret Sharer: a fixed prefix and a random
# 48-bit secret in a fixed format, so exposure can be ranked against the space.
CANARY_PREFIX = "canary "
CANARY_PATTERN = re.compile(r"canary [0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}")
CANARY_SECRET_BITS = 48

Sex = Literal["female", "male"]


@dataclass(frozen=True)
class Identity:
    """One synthetic patient and every identifier a clinician might write about them."""

    first: str
    last: str
    sex: Sex
    mrn: str
    dob: date
    phone: str
    email: str
    address: str
    ssn: str
    member_id: str

    @property
    def name(self) -> str:
        """Full name as written in requests: ``First Last``."""
        return f"{self.first} {self.last}"

    def age_on(self, day: date) -> int:
        """Age in whole years on ``day``."""
        before_birthday = (day.month, day.day) < (self.dob.month, self.dob.day)
        return day.year - self.dob.year - int(before_birthday)

    def dob_words(self, style: int) -> str:
        """Date of birth in one of several formats (``03/14/1958``, ``March 14, 1958``...)."""
        return date_words(self.dob, style)


def random_canary(rng: random.Random) -> str:
    """Draw one canary, e.g. ``canary 7f3a-91c2-55de`` (48 random bits)."""
    digits = f"{rng.getrandbits(CANARY_SECRET_BITS):012x}"
    return f"{CANARY_PREFIX}{digits[0:4]}-{digits[4:8]}-{digits[8:12]}"


class IdentityFactory:
    """Draws unique identities from one seeded Faker and one ``random.Random``."""

    def __init__(self, fake: Faker, rng: random.Random) -> None:
        self._fake = fake
        self._rng = rng
        self._used: set[str] = set()

    def _fresh(self, draw: Callable[[], object]) -> str:
        """Call ``draw`` until it returns a value not used before in this corpus.

        Raises:
            DataError: no new value after many tries (the corpus asked for is
                larger than the identity space; ask for fewer episodes).
        """
        for _ in range(1000):
            value = str(draw())
            if value not in self._used:
                self._used.add(value)
                return value
        raise DataError("identity space exhausted: ask for fewer hospitals or episodes")

    def _mrn(self) -> str:
        return f"MRN-{self._rng.randrange(10**7):07d}"

    def _member_id(self) -> str:
        letters = "".join(self._rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(3))
        return f"{letters}{self._rng.randrange(10**9):09d}"

    def _dob(self) -> date:
        span = (_YOUNGEST_DOB - _OLDEST_DOB).days
        return _OLDEST_DOB + timedelta(days=self._rng.randrange(span + 1))

    def _address(self) -> str:
        fake = self._fake
        return f"{fake.street_address()}, {fake.city()}, {fake.state_abbr()} {fake.zipcode()}"

    def _name(self, sex: Sex) -> tuple[str, str]:
        fake = self._fake
        draw_first = fake.first_name_female if sex == "female" else fake.first_name_male
        full = self._fresh(lambda: f"{draw_first()}\t{fake.last_name()}")
        first, last = full.split("\t")
        self._used.add(f"{first} {last}")
        return first, last

    def new(self) -> Identity:
        """Draw a patient whose every identifier is new to this factory."""
        sex: Sex = "female" if self._rng.random() < 0.5 else "male"
        first, last = self._name(sex)
        handle = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
        email_domain = self._fake.free_email_domain()
        return Identity(
            first=first,
            last=last,
            sex=sex,
            mrn=self._fresh(self._mrn),
            dob=self._dob(),
            phone=self._fresh(self._fake.phone_number),
            email=self._fresh(lambda: f"{handle}{self._rng.randrange(1, 100)}@{email_domain}"),
            address=self._fresh(self._address),
            ssn=self._fresh(self._fake.ssn),
            member_id=self._fresh(self._member_id),
        )
