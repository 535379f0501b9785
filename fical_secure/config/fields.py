"""Field types the configuration models share, and the one loader that reports every problem.

Each validator raises a :class:`~pydantic_core.PydanticCustomError` whose
message says what a valid value is (``must be a number in [0.5, 1]``), so
pydantic collects every problem of a file in one pass; :func:`load_model`
turns them into one :class:`ConfigError`, one ``<yaml path>: <problem>`` line
each. Relative paths resolve against the folder of the file they appear in
(the validation context's ``base``), so a configuration and its keys move
together.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from fical_secure.errors import ConfigError, UntrustedInputError
from fical_secure.untrusted import MAX_CONFIG_BYTES, loads_yaml, read_regular

M = TypeVar("M", bound=BaseModel)


class Section(BaseModel):
    """A YAML mapping: frozen, and every key it does not declare is a problem."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class FileConfig(Section):
    """A whole configuration file; it remembers which file it was read from."""

    _source: Path = PrivateAttr(default=Path())

    def model_post_init(self, context: Any) -> None:
        if isinstance(context, dict) and "source" in context:
            self._source = Path(context["source"]).resolve()

    @property
    def source(self) -> Path:
        """The file this configuration was read from."""
        return self._source


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def problem(message: str) -> PydanticCustomError:
    """A validation problem whose message is ``message`` as written (no template fields)."""
    return PydanticCustomError("config", "{message}", {"message": message})


def version(expected: int) -> BeforeValidator:
    """The schema version a file must declare."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or value != expected:
            raise problem(f"must be {expected}")
        return expected

    return BeforeValidator(check)


def number(low: float, high: float) -> BeforeValidator:
    """A finite int or float in ``[low, high]`` (booleans are not numbers)."""

    def check(value: Any) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or not low <= float(value) <= high:
            raise problem(f"must be a number in [{_fmt(low)}, {_fmt(high)}]")
        return float(value)

    return BeforeValidator(check)


def integer(low: int, high: int) -> BeforeValidator:
    """An int (not a bool) in ``[low, high]``."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise problem(f"must be an integer in [{low}, {high}]")
        return value

    return BeforeValidator(check)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise problem(f"must be true or false, got {_kind(value)}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise problem(f"must be a non-empty string, got {_kind(value)}")
    return value


def choice(allowed: Collection[str] | Mapping[str, object]) -> BeforeValidator:
    """One of ``allowed``; with a mapping, the value it maps the name to."""

    def check(value: Any) -> Any:
        if not isinstance(value, str) or value not in allowed:
            names = ", ".join(sorted(allowed))
            raise problem(f"must be one of {names}; got {value!r}")
        return allowed[value] if isinstance(allowed, Mapping) else value

    return BeforeValidator(check)


def listing(*, non_empty: bool = True) -> BeforeValidator:
    """A YAML list (its items are checked one by one, each at its own index)."""

    def check(value: Any) -> Any:
        if not isinstance(value, list) or (non_empty and not value):
            raise problem("must be a non-empty list" if non_empty else "must be a list")
        return value

    return BeforeValidator(check)


def distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    """``values`` when no item is listed twice."""
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise problem(f"{', '.join(map(repr, twice))} listed twice")
    return values


Distinct = AfterValidator(distinct)
"""No item listed twice (a list of choices)."""
Bool = Annotated[bool, BeforeValidator(_boolean)]
Text = Annotated[str, BeforeValidator(_text)]


def _path(value: Any, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base", Path.cwd())
    return Path(base) / _text(value)


def existing_file(value: Any, info: ValidationInfo) -> Path:
    """A path beside the file; with ``check_files`` in the context, an existing file."""
    path = _path(value, info)
    if (info.context or {}).get("check_files") and not path.is_file():
        raise problem(f"no such file {path}")
    return path


ConfigPath = Annotated[Path, BeforeValidator(_path)]
"""A path, relative to the configuration file's folder; it need not exist yet."""
ExistingFile = Annotated[Path, BeforeValidator(existing_file)]
"""A file that must exist when the loader asks for file checks (``check_files``)."""


def read_config(path: str | Path, what: str, hint: str = "") -> bytes:
    """The bytes of a configuration file (bounded, regular files only).

    Raises:
        ConfigError: missing, unreadable or not a regular file of bounded size.
    """
    try:
        return read_regular(path, max_bytes=MAX_CONFIG_BYTES)
    except (OSError, UntrustedInputError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}{_hint(hint)}") from None


def load_model(
    model: type[M],
    path: str | Path,
    what: str,
    *,
    hint: str = "",
    context: Mapping[str, object] | None = None,
    data: bytes | None = None,
) -> M:
    """Read a YAML file and validate it as ``model``; relative paths resolve beside it.

    ``data`` is the file's bytes when the caller read them already (to hash them).

    Raises:
        ConfigError: unreadable, not YAML, or schema violations (all listed, with paths).
    """
    source = Path(path)
    raw_bytes = read_config(source, what, hint) if data is None else data
    try:
        raw = loads_yaml(raw_bytes)
    except UntrustedInputError as exc:
        raise ConfigError(f"cannot read {what} {source}: {exc}{_hint(hint)}") from None
    full = {"base": source.resolve().parent, "source": source, **(context or {})}
    try:
        return model.model_validate(raw, context=full)
    except ValidationError as exc:
        found = problems(exc, model)
        listing_ = "\n  ".join(found)
        raise ConfigError(
            f"invalid {what} {source} ({len(found)} problems{_hint(hint)}):\n  {listing_}"
        ) from None


def _hint(hint: str) -> str:
    return f"; {hint}" if hint else ""


def problems(error: ValidationError, model: type[BaseModel] | None) -> list[str]:
    """One ``<path>: <problem>`` line per error, in the vocabulary of our own validators."""
    return [f"{yaml_path(e['loc']) or '<root>'}: {_message(e, model)}" for e in error.errors()]


def yaml_path(loc: tuple[int | str, ...]) -> str:
    """``a.b[3].c`` for pydantic's ``('a', 'b', 3, 'c')`` (a mapping key's ``[key]`` dropped)."""
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        out = f"{out}[{part}]" if isinstance(part, int) else (f"{out}.{part}" if out else part)
    return out


def _message(error: ErrorDetails, model: type[BaseModel] | None) -> str:
    kind = error["type"]
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        allowed = [] if model is None else _keys_at(model, error["loc"][:-1])
        return "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping, got {_kind(error['input'])}"
    if kind in ("tuple_type", "list_type"):
        return "must be a list"
    if kind == "value_error":
        return str((error.get("ctx") or {}).get("error", error["msg"]))
    return error["msg"]


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model at ``loc`` declares (empty when ``loc`` is not a model)."""
    node: type[BaseModel] | None = model
    for part in loc:
        if node is None:
            return []
        if isinstance(part, str):
            field = node.model_fields.get(part)
            node = None if field is None else _model_in(field.annotation)
    return sorted(node.model_fields) if node is not None else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model an annotation holds (``X``, ``X | None``, ``tuple[X, ...]``, ``Annotated``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
