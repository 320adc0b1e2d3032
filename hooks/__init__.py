"""The Claude Code adapter: hook payload on stdin -> journal event(s) -> append.

`hooks.launch` is the entry point Claude Code runs and `hooks.main` its work (stdlib
only, so recording an event needs nothing but ``python3``); `hooks.record` turns a
payload into an event;
`hooks.render` (msgspec, projections) builds the SessionStart recovery context and
the PreCompact capture. This package also holds ``hooks.json``, which Claude Code
reads when the repository is loaded as a plugin. Importing it imports nothing.
"""
