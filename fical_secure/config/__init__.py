"""Every YAML the toolkit reads, as frozen pydantic models: one module per file kind.

- :mod:`~fical_secure.config.client`: a hospital's client configuration
  (``hospital.yaml``; the audit reads the same file);
- :mod:`~fical_secure.config.server`: the operator's ``server.yaml``;
- :mod:`~fical_secure.config.profile`: release / audit profiles
  (``compliance/profiles/*.yaml``);
- :mod:`~fical_secure.config.scrub`: the scrubber's recognizer profile.

:mod:`~fical_secure.config.fields` holds the field types they share and the one
loader, which lists every problem of a file at once, each with its YAML path,
in one :class:`~fical_secure.errors.ConfigError`.
"""
