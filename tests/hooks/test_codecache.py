"""The hook's code cache (`hooks.codecache`): one file serving the record path's modules.

Each test runs a private copy of the code (``hooks/`` and ``journal/`` in the test's tmp
directory) as Claude Code runs the plugin, so that it can edit a source file or damage
the cache, and asks a probe interpreter which loader the cache gives a module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hooks.support import LAUNCHER, PYTHON, HookEnv, fixture_payloads

CODE_ROOT = LAUNCHER.parent.parent
TAG = sys.implementation.cache_tag


def _payload(name: str) -> dict[str, object]:
    return next(p for p in fixture_payloads() if p["hook_event_name"] == name)


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    for package in ("hooks", "journal"):
        shutil.copytree(CODE_ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _fire(hook_env: HookEnv, code: Path, payload: dict[str, object], **env: str) -> None:
    import json

    proc = subprocess.run([PYTHON, "-I", "-S", str(code / "hooks" / "launch.py")],
                          input=json.dumps(payload).encode(), capture_output=True,
                          env=hook_env.env(env), cwd=hook_env.cwd, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")


def _probe(code: Path, module: str, env: dict[str, str] | None = None) -> list[str]:
    """The loader class of *module* and its ``PROBE`` attribute, imported with the cache installed."""
    script = (f"import sys; sys.path.insert(0, {str(code)!r})\n"
              f"from hooks.codecache import install; install({str(code)!r})\n"
              f"import {module} as m\n"
              "print(type(m.__spec__.loader).__name__, m.__file__, getattr(m, 'PROBE', None), getattr(m, '__cached__', None))")
    proc = subprocess.run([PYTHON, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=60,
                          env=env or {"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def _cache(code: Path) -> Path:
    return code / "hooks" / "__pycache__" / f"hookpath.{TAG}.bin"


def test_after_the_first_firing_the_record_path_comes_from_the_cache(hook_env: HookEnv, code: Path) -> None:
    assert not _cache(code).exists()
    _fire(hook_env, code, _payload("PreToolUse"))
    assert _cache(code).exists()
    for module in ("hooks.record", "journal.storage.writer", "journal.privacy.redaction", "zlib"):
        loader, origin, _, cached = _probe(code, module)
        assert loader in ("_Loader", "ExtensionFileLoader"), module
        if module != "zlib":
            assert origin == str(code / (module.replace(".", "/") + ".py"))
            assert cached.startswith(str(code)) and cached.endswith(f".{TAG}.pyc")
    mtime = _cache(code).stat().st_mtime_ns
    _fire(hook_env, code, _payload("PostToolUse"))
    assert _cache(code).stat().st_mtime_ns == mtime  # nothing new: not written again
    assert [e.type for e in hook_env.events()] == ["PreToolUse", "PostToolUse"]


def test_a_changed_source_is_never_served_stale(hook_env: HookEnv, code: Path) -> None:
    _fire(hook_env, code, _payload("PreToolUse"))
    assert _probe(code, "journal.errorlog")[0] == "_Loader"
    source = code / "journal" / "errorlog.py"
    source.write_text(source.read_text(encoding="utf-8") + "\nPROBE = 'edited'\n", encoding="utf-8")
    loader, _, probe, _ = _probe(code, "journal.errorlog")
    assert (loader, probe) == ("SourceFileLoader", "edited")
    _fire(hook_env, code, _payload("PostToolUse"))  # imports it afresh and writes the cache again
    loader, _, probe, _ = _probe(code, "journal.errorlog")
    assert (loader, probe) == ("_Loader", "edited")
    assert len(hook_env.events()) == 2


def test_modules_of_other_hook_types_stay_cached(hook_env: HookEnv, code: Path) -> None:
    _fire(hook_env, code, _payload("PreToolUse"))
    assert _probe(code, "hooks.housekeeping")[0] == "SourceFileLoader"
    _fire(hook_env, code, _payload("SessionEnd"), AGENT_JOURNAL_PYTHON="/bin/true")
    _fire(hook_env, code, _payload("PreToolUse"))
    assert _probe(code, "hooks.housekeeping")[0] == "_Loader"
    assert _probe(code, "hooks.record")[0] == "_Loader"


@pytest.mark.parametrize("damage", [b"", b"garbage" * 100, (1 << 40).to_bytes(8, "little") + b"x"])
def test_a_damaged_cache_is_ignored_and_replaced(hook_env: HookEnv, code: Path, damage: bytes) -> None:
    _fire(hook_env, code, _payload("PreToolUse"))
    _cache(code).write_bytes(damage)
    _fire(hook_env, code, _payload("PostToolUse"))
    assert [e.type for e in hook_env.events()] == ["PreToolUse", "PostToolUse"]
    assert _probe(code, "hooks.record")[0] == "_Loader"  # written again


def test_a_cache_cut_short_fails_no_hook(hook_env: HookEnv, code: Path) -> None:
    _fire(hook_env, code, _payload("PreToolUse"))
    data = _cache(code).read_bytes()
    _cache(code).write_bytes(data[: len(data) // 2])  # the index intact, half the code gone
    _fire(hook_env, code, _payload("PostToolUse"))
    assert [e.type for e in hook_env.events()] == ["PreToolUse", "PostToolUse"]


def test_third_party_packages_are_never_cached(code: Path) -> None:
    import json
    import types
    import zlib

    from hooks import codecache

    roots = codecache._roots(str(code))
    stdlib = os.path.dirname(os.path.dirname(json.__file__))

    def module(origin: str) -> object:
        return types.SimpleNamespace(__spec__=types.SimpleNamespace(origin=origin))

    assert codecache._origin(json, roots) == json.__file__  # the standard library
    assert codecache._origin(zlib, roots) == zlib.__file__
    assert codecache._origin(module(str(code / "journal" / "errors.py")), roots) is not None  # ours
    assert codecache._origin(module(os.path.join(stdlib, "site-packages", "msgspec", "__init__.py")), roots) is None
    assert codecache._origin(module(str(code / "projections" / "base.py")), roots) is None
    finder = codecache.CodeCache(str(code), [str(_cache(code))])
    assert finder.find_spec("json") is None and finder.missed == ["json"]


def test_rendering_hooks_do_not_write_the_cache(hook_env: HookEnv, code: Path) -> None:
    _fire(hook_env, code, _payload("SessionStart"))
    assert not _cache(code).exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_read_only_install_caches_in_the_plugin_data(hook_env: HookEnv, code: Path) -> None:
    data = hook_env.tmp / "plugin-data"
    (code / "hooks" / "__pycache__").mkdir()
    (code / "hooks" / "__pycache__").chmod(0o555)
    try:
        _fire(hook_env, code, _payload("PreToolUse"), CLAUDE_PLUGIN_DATA=str(data))
        assert not _cache(code).exists()
        assert list((data / "pycache").glob(f"*.hookpath.{TAG}.bin"))
        env = {"PATH": "/usr/bin:/bin", "CLAUDE_PLUGIN_DATA": str(data)}
        assert _probe(code, "hooks.record", env)[0] == "_Loader"
    finally:
        (code / "hooks" / "__pycache__").chmod(0o755)


def test_an_unwritable_cache_is_not_built_for_nothing(code: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A read-only install (and no plugin data directory) must not pay for building the
    # file on every firing only to fail writing it.
    from hooks import codecache, codecache_write

    finder = codecache.CodeCache(str(code), codecache.cache_paths(str(code), {}))
    assert finder.stale  # no file yet: it would be written

    built: list[object] = []
    monkeypatch.setattr(codecache_write, "_entry", lambda module, roots: built.append(module))
    monkeypatch.setattr(codecache_write.os, "access", lambda path, mode: False)
    assert codecache_write.write(finder) is False
    assert built == [] and not _cache(code).exists()
