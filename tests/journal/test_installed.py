"""The tests exercise the installed distribution, not a stray copy of the source tree."""

from __future__ import annotations

import json
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

import journal

REPO = Path(__file__).resolve().parents[2]


def _editable() -> bool:
    """True if pip installed agent-journal editable (its direct_url.json says so).

    Every agent-journal distribution on the path is asked: a build's stray
    ``agent_journal.egg-info`` in the working directory can shadow the installed one.
    """
    for dist in metadata.distributions():
        if dist.metadata["Name"] != "agent-journal":
            continue
        raw = dist.read_text("direct_url.json")
        if raw and json.loads(raw).get("dir_info", {}).get("editable") is True:
            return True
    return False


def test_journal_is_imported_from_the_installed_distribution() -> None:
    if _editable():
        pytest.skip("agent-journal is installed editable (direct_url.json says editable: true), "
                    "so its code is the repository's by design")
    location = Path(journal.__file__).resolve()
    site = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    assert any(location.is_relative_to(s) for s in site), f"journal imported from {location}, not site-packages"
    # The venv may live inside the checkout (.venv/): what matters is that the package
    # is not the checkout's own journal/ directory, and that its siblings came with it.
    installed = location.parent.parent
    assert installed != REPO, f"journal imported from the source tree: {location}"
    for package in ("projections", "hooks", "cli"):
        assert (installed / package).is_dir(), f"{package} is not installed beside journal in {installed}"


def test_the_distribution_is_the_one_that_provides_journal() -> None:
    scripts = metadata.entry_points(group="console_scripts", name="agent-journal")
    assert [ep.value for ep in scripts][:1] == ["cli.main:main"]
