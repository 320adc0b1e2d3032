"""Tests of the Claude Code adapter: the hook launcher, recording, digests, settings."""
