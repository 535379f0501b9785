"""PII scrubber: Presidio analyzer + anonymizer, offline, with clinical recognizers; fails closed.

Entry point: :class:`fical_secure.scrub.scrubber.Scrubber` (``Scrubber.default()``,
``scrub(text)``, ``scrub_batch(texts)``). Importing this package is light; Presidio
loads when a scrubber is built.
"""
