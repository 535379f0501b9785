"""``ClientId``: a client (hospital) or federation id, validated by the one rule."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from fical_secure.config.fields import problem
from fical_secure.data.schema import CLIENT_ID_RULE, is_client_id


def _client_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        kind = "nothing" if value is None else type(value).__name__
        raise problem(f"must be a non-empty string, got {kind}")
    if not is_client_id(value):
        raise problem(f"must be {CLIENT_ID_RULE}")
    return value


ClientId = Annotated[str, BeforeValidator(_client_id)]
"""A string that :func:`~fical_secure.data.schema.is_client_id` accepts (checked in models)."""
