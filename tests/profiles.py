"""Hypothesis profiles, chosen by ``HYPOTHESIS_PROFILE``: "dev" (the default: a quick local
run) and "ci" (thorough; `.ci/run` selects it).

A test that sets its own example count passes it through `examples`, which scales it by
the active profile (its ``max_examples`` over Hypothesis's default of 100), so a per-test
``@settings`` never overrides the profile's budget.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: The example count of a test that sets none is this profile's ``max_examples``.
settings.register_profile("dev", max_examples=50, deadline=None, print_blob=True)
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,  # a shared CI machine makes any per-example deadline flaky
    print_blob=True,  # a failure prints the line that reproduces it
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def load() -> str:
    """Load the profile named by ``HYPOTHESIS_PROFILE`` (default "dev") and return its name."""
    name = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    settings.load_profile(name)
    return name


def examples(n: int) -> int:
    """The example count for a test whose ordinary run (Hypothesis's default profile) is *n*."""
    return max(1, round(n * settings.default.max_examples / 100))
