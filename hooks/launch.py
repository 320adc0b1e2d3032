"""Claude Code hook entry point: ``python3 -I -S hooks/launch.py`` with the payload on stdin.

Kept tiny on purpose: a script is compiled on every run, a module's bytecode is cached.
It puts the directory holding ``journal/`` and ``hooks/`` first on ``sys.path``, serves
the hook's modules from one file (`hooks.codecache`) and runs `hooks.main` (the contract
with Claude Code is described there).
"""

import gc
import os
import sys

if __name__ == "__main__":
    # No cycle collection in a process this short: the collections that importing ~30
    # modules triggers cost ~0.6 ms, and the memory comes back at exit anyway (rendering,
    # which may allocate far more, turns it back on: `hooks.main`).
    gc.disable()
_root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
if _root not in sys.path:
    sys.path.insert(0, _root)
if __name__ == "__main__":
    try:  # only a cache: the hook runs without it
        from hooks.codecache import install

        install(_root)
    except Exception:  # noqa: BLE001
        pass

from hooks.main import main  # noqa: E402

__all__ = ["main"]

if __name__ == "__main__":
    code = main()
    try:
        sys.stdout.flush()
    finally:
        os._exit(code)  # skip interpreter teardown: it is pure latency for a hook
