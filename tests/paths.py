"""Where the shared reference material is: ``../shared`` beside the repository (as in CI)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
#: Real hook payloads and transcripts captured from Claude Code 2.1.328.
FIXTURES = SHARED / "fixtures" / "claude-code-2.1.328"
