"""Expert warning rules and enterprise subscriptions: validate, index, match, explain, back-test.

Rule files (``rules/library/*.yaml``) and subscription files are validated with pydantic and
reported as ``FILE:LINE: field.path: message``; the match stage and `ipwarn rules test` share
one matching code path (:mod:`rules.engine`) with an injected clock.
"""
