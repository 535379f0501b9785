"""Labelled corpora for ``benchmarks/scrub.py``: gold spans ``(start, end, type)`` per document.

* ``seed``: the project's generator with a held-out seed; every planted value's
  occurrences are gold spans of its kind.
* ``presidio_templates``: Microsoft presidio-evaluator's sentence templates
  (``raw_data/templates.txt`` of the PyPI package, read as data: the package
  hard-codes ``spacy.load("en_core_web_sm")``, so it is not imported), filled
  by a seeded Faker and typed with presidio-evaluator's own entity mapping.
* ``<corpus>_lower`` / ``<corpus>_title``: a corpus with every document
  lower-cased or Title-Cased (staff who type in lower case, or a form that
  capitalises every word); gold spans keep their offsets (documents whose
  length the recasing would change keep their original text).
* ``i2b2_philter``: the five i2b2-2014-format discharge notes (surrogate PHI)
  with their XML annotations that ship inside the PyPI package ``philter-lite``
  (BSD-3-Clause, a fork of philter-ucsf); the type is the XML tag (NAME, DATE,
  LOCATION, ID, CONTACT, AGE, PROFESSION).
"""

from __future__ import annotations

import importlib.util
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faker import Faker

from fical_secure.data.generator import generate_federation


@dataclass(frozen=True)
class Doc:
    doc_id: str
    text: str
    gold: tuple[tuple[int, int, str], ...]


def package_dir(name: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"package {name} is not installed: pip install --no-deps {name.replace('_', '-')}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def seed_corpus(seed: int, hospitals: int, episodes: int) -> list[Doc]:
    fed = generate_federation(
        hospitals, seed=seed, episodes_per_hospital=episodes, nonmembers_per_hospital=episodes
    )
    owners: dict[str, list[tuple[str, str]]] = {}
    for value in fed.manifest:
        owners.setdefault(value.episode_id, []).append((value.kind, value.value))
    texts = [(e.episode_id, e.text()) for h in fed.hospitals for e in h.members + h.nonmembers]
    texts += [(r.request_id, r.request) for r in fed.eval_requests]
    docs = []
    for doc_id, text in texts:
        gold = {
            (m.start(), m.end(), kind)
            for kind, value in owners.get(doc_id, [])
            for m in re.finditer(re.escape(value), text)
        }
        docs.append(Doc(doc_id, text, tuple(sorted(gold))))
    return docs


# presidio-evaluator's PresidioSentenceFaker.ENTITY_TYPE_MAPPING (v0.3.2), for the
# placeholders its templates use.
TEMPLATE_TYPES = {
    "person": "PERSON", "name": "PERSON", "first_name": "PERSON", "last_name": "PERSON",
    "name_female": "PERSON", "name_male": "PERSON", "first_name_male": "PERSON",
    "first_name_female": "PERSON", "first_name_nonbinary": "PERSON",
    "last_name_male": "PERSON", "last_name_female": "PERSON",
    "ip_address": "IP_ADDRESS", "us_driver_license": "US_DRIVER_LICENSE",
    "organization": "ORGANIZATION", "address": "STREET_ADDRESS", "street_name": "STREET_ADDRESS",
    "building_number": "STREET_ADDRESS", "secondary_address": "STREET_ADDRESS",
    "postcode": "STREET_ADDRESS", "country": "GPE", "city": "GPE", "state_abbr": "GPE",
    "credit_card_number": "CREDIT_CARD", "iban": "IBAN_CODE", "phone_number": "PHONE_NUMBER",
    "url": "DOMAIN_NAME", "ssn": "US_SSN", "email": "EMAIL_ADDRESS",
    "date_time": "DATE_TIME", "date_of_birth": "DATE_TIME", "day_of_week": "DATE_TIME",
    "year": "DATE_TIME", "prefix_male": "TITLE", "prefix_female": "TITLE", "prefix": "TITLE",
    "job": "TITLE", "nationality": "NRP", "nation_woman": "NRP", "nation_man": "NRP",
    "nation_plural": "NRP", "zipcode": "ZIP_CODE", "age": "AGE",
}  # fmt: skip
_NATIONS = ("American", "Mexican", "French", "German", "Chinese", "Indian", "Brazilian", "Irish")
_DATE_FORMATS = ("%m/%d/%Y", "%B %d, %Y", "%Y-%m-%d", "%d %b %Y", "%b %d %Y", "%m-%d-%Y")


def _fill(fake: Faker, rng: random.Random, field: str) -> str:
    simple = {
        "person": fake.name, "name": fake.name, "first_name": fake.first_name,
        "last_name": fake.last_name, "name_female": fake.name_female, "name_male": fake.name_male,
        "first_name_male": fake.first_name_male, "first_name_female": fake.first_name_female,
        "first_name_nonbinary": fake.first_name_nonbinary, "last_name_male": fake.last_name_male,
        "last_name_female": fake.last_name_female, "ip_address": fake.ipv4,
        "organization": fake.company, "street_name": fake.street_name,
        "building_number": fake.building_number, "secondary_address": fake.secondary_address,
        "postcode": fake.postcode, "zipcode": fake.zipcode, "country": fake.country,
        "city": fake.city, "state_abbr": fake.state_abbr,
        "credit_card_number": fake.credit_card_number,
        "iban": fake.iban, "phone_number": fake.phone_number, "url": fake.url, "ssn": fake.ssn,
        "email": fake.email, "day_of_week": fake.day_of_week, "year": fake.year,
        "prefix_male": fake.prefix_male, "prefix_female": fake.prefix_female, "prefix": fake.prefix,
        "job": fake.job,
    }  # fmt: skip
    if field in simple:
        return str(simple[field]())
    if field == "address":
        return str(fake.address()).replace("\n", ", ")
    if field in ("date_time", "date_of_birth"):
        return fake.date_of_birth(minimum_age=1, maximum_age=90).strftime(rng.choice(_DATE_FORMATS))
    if field == "us_driver_license":
        return rng.choice("ABCDEFGHJKLMNPRSTW") + "".join(
            rng.choice("0123456789") for _ in range(7)
        )
    if field == "age":
        return str(rng.randrange(1, 100))
    if field.startswith("nation"):
        return rng.choice(_NATIONS)
    raise KeyError(field)


def template_corpus(n: int, seed: int) -> list[Doc]:
    path = package_dir("presidio_evaluator") / "data_generator" / "raw_data" / "templates.txt"
    templates = [
        line.strip()
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if "{{" in line
    ]
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    docs = []
    for k in range(n):
        template = rng.choice(templates)
        text, gold, cursor = "", [], 0
        for m in re.finditer(r"\{\{(\w+)\}\}", template):
            text += template[cursor : m.start()]
            field = m.group(1)
            value = _fill(fake, rng, field)
            gold.append((len(text), len(text) + len(value), TEMPLATE_TYPES[field]))
            text += value
            cursor = m.end()
        text += template[cursor:]
        docs.append(Doc(f"tpl-{k}", text, tuple(gold)))
    return docs


def i2b2_corpus() -> list[Doc]:
    folder = package_dir("philter_lite") / "data" / "i2b2_xml"
    docs = []
    for path in sorted(folder.glob("*.xml")):
        root = ET.fromstring(path.read_text(encoding="utf-8"))  # noqa: S314 (packaged file)
        text = root.findtext("TEXT") or ""
        gold = []
        for tag in root.find("TAGS") or []:
            start, end = int(tag.attrib["start"]), int(tag.attrib["end"])
            if text[start:end] != tag.attrib["text"]:
                raise SystemExit(f"{path.name}: annotation offsets do not match its text")
            gold.append((start, end, tag.tag))
        docs.append(Doc(path.stem, text, tuple(gold)))
    return docs


def recased_corpus(docs: list[Doc], recase: Callable[[str], str], suffix: str) -> list[Doc]:
    """The same documents and gold spans, each text recased where that keeps its length."""
    out = []
    for doc in docs:
        text = recase(doc.text)
        kept = text if len(text) == len(doc.text) else doc.text
        out.append(Doc(f"{doc.doc_id}-{suffix}", kept, doc.gold))
    return out
