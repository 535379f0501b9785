"""Clinical recognizers Presidio lacks, keyed by the names used in ``recognizers.yaml``.

Importing this package imports Presidio (seconds); the light configuration
loader (:mod:`fical_secure.config.scrub`) does not.
"""

from __future__ import annotations

from collections.abc import Callable

from presidio_analyzer import EntityRecognizer

from fical_secure.scrub.recognizers.canary import CanaryRecognizer
from fical_secure.scrub.recognizers.dates import (
    AgeOver89Recognizer,
    ClinicalDateRecognizer,
    DateOfBirthRecognizer,
)
from fical_secure.scrub.recognizers.identifiers import (
    AccountNumberRecognizer,
    DeviceIdRecognizer,
    FaxNumberRecognizer,
    InsuranceIdRecognizer,
    LicenseNumberRecognizer,
    MedicalRecordNumberRecognizer,
    NpiRecognizer,
    OtherCodeRecognizer,
    PhoneExtensionRecognizer,
    PhoneShapeRecognizer,
    ReferenceIdRecognizer,
    VehicleIdRecognizer,
)
from fical_secure.scrub.recognizers.location import (
    FacilityNameRecognizer,
    StreetAddressRecognizer,
    ZipCodeRecognizer,
)
from fical_secure.scrub.recognizers.name_shapes import NameShapeRecognizer
from fical_secure.scrub.recognizers.names import PersonNameHeuristicRecognizer

# Each class is built as cls(context=..., supported_language=...).
CLINICAL_RECOGNIZERS: dict[str, Callable[..., EntityRecognizer]] = {
    cls.__name__: cls
    for cls in (
        MedicalRecordNumberRecognizer,
        NpiRecognizer,
        InsuranceIdRecognizer,
        AccountNumberRecognizer,
        LicenseNumberRecognizer,
        VehicleIdRecognizer,
        DeviceIdRecognizer,
        FaxNumberRecognizer,
        PhoneShapeRecognizer,
        ReferenceIdRecognizer,
        PersonNameHeuristicRecognizer,
        NameShapeRecognizer,
        PhoneExtensionRecognizer,
        OtherCodeRecognizer,
        FacilityNameRecognizer,
        StreetAddressRecognizer,
        ZipCodeRecognizer,
        ClinicalDateRecognizer,
        DateOfBirthRecognizer,
        AgeOver89Recognizer,
        CanaryRecognizer,
    )
}

__all__ = ["CLINICAL_RECOGNIZERS"]
