"""Names that audit profiles and client configurations may use, kept in one place.

Profiles are schema-checked without importing Presidio or ``cryptography``, so
the vocabularies are listed here; tests tie them to the real components (the
default scrubber's supported entities, the envelope's algorithms).
"""

from __future__ import annotations

from typing import Final

from fical_secure.data.schema import PII_KINDS

# Entity types the scrubber can emit: clinical recognizers, Presidio built-ins, spaCy NER.
CLINICAL_ENTITIES: Final = frozenset(
    {
        "MRN",
        "NPI",
        "INSURANCE_ID",
        "ACCOUNT_NUMBER",
        "LICENSE_NUMBER",
        "VEHICLE_ID",
        "DEVICE_ID",
        "FAX_NUMBER",
        "STREET_ADDRESS",
        "ZIP_CODE",
        "DATE",
        "DATE_OF_BIRTH",
        "AGE_OVER_89",
        "CANARY",
        "OTHER_ID",
        "HOSPITAL",
    }
)
PRESIDIO_ENTITIES: Final = frozenset(
    {
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "US_SSN",
        "URL",
        "IP_ADDRESS",
        "CREDIT_CARD",
        "IBAN_CODE",
        "US_BANK_NUMBER",
        "MEDICAL_LICENSE",
        "US_PASSPORT",
        "US_MBI",
        "MAC_ADDRESS",
        "US_DRIVER_LICENSE",
        "US_ITIN",
        "UUID",
        "CRYPTO",
        "ABA_ROUTING_NUMBER",
        "UK_NHS",
    }
)
NER_ENTITIES: Final = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})
KNOWN_ENTITIES: Final = CLINICAL_ENTITIES | PRESIDIO_ENTITIES | NER_ENTITIES

# Kinds whose scrubber recall the audit can measure: what the data generator plants.
MEASURABLE_KINDS: Final = frozenset(PII_KINDS)

# Algorithm names a client configuration may declare (weak ones included, so that a
# configuration naming them fails the audit with evidence instead of failing to load).
AEADS: Final = frozenset({"chacha20-poly1305", "aes-gcm", "aes-cbc-hmac-sha256", "aes-ctr"})
SIGNATURES: Final = frozenset({"ed25519", "ecdsa-p256", "rsa-pss-2048", "none"})
KEY_EXCHANGES: Final = frozenset({"x25519", "ecdh-p256", "rsa-oaep-2048", "static-psk"})
KDFS: Final = frozenset({"hkdf-sha256", "sha256", "none"})

# What this build's envelope (fical_secure.crypto.envelope, format v1) implements.
ENVELOPE_SUITE: Final = {
    "aead": "chacha20-poly1305",
    "signature": "ed25519",
    "key_exchange": "x25519",
    "kdf": "hkdf-sha256",
}

TRANSPORT_MODES: Final = frozenset({"sealed", "secagg", "plain"})
SHARE_MODES: Final = frozenset({"compendium", "raw_samples"})

# Strictest to loosest permission modes a profile may demand of private key files.
PRIVATE_KEY_MODES: Final = {"0400": 0o400, "0600": 0o600}
