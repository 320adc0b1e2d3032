#!/usr/bin/env python3
"""CPU cost of one hook firing against the interpreter's floor, per hook type.

The hook runs as ``python3 -I -S hooks/launch.py`` (through ``hooks/launch``, the POSIX
launcher of the plugin); the honest floor is the same interpreter's ``python3 -I -S -c
pass``. Every case runs in one interleaved loop (floor, then each hook type in turn), so
machine noise hits them alike, and each child's CPU time (user + system, from
``os.wait4``) is taken, not wall time: the machine is shared. Payloads are Claude Code
2.1.328's own (``../shared/fixtures/claude-code-2.1.328``); Stop digests a transcript
that gains a turn before every run.

Goals (issue 14), each printed with PASS/FAIL:

* every hook type <= 2.0x the floor (CPU medians);
* no shim tax: with an interpreter shim first on ``PATH`` (a shell script that execs
  python3, like pyenv's), the launcher goes through it at most once, then execs the
  interpreter it cached; its cost stays <= 2.0x the floor;
* SessionStart <= 2.5x PreToolUse on a journal of 10k events, and its cost at 1M events
  <= 1.2x its cost at 10k (``--sizes``; journals from ``bench/_gen.py``, cached): the
  goal is judged on the common case, a start after a SessionEnd whose detached job
  stored the context (a hit); the miss (after a crash: rendered in the hook) is printed
  beside it.

    python bench/hook_latency.py [--runs 25] [--python PATH] [--sizes 10000,1000000] [--no-sessionstart]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures" / "claude-code-2.1.328"
LAUNCH_PY = REPO / "hooks" / "launch.py"
LAUNCHER = REPO / "hooks" / "launch"
HOOK_TYPES = ("PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop", "SessionEnd")
GOAL_HOOK, GOAL_START, GOAL_GROWTH = 2.0, 2.5, 1.2


def payloads() -> dict[str, bytes]:
    """The first fixture payload of each hook type (SessionStart included)."""
    out: dict[str, bytes] = {}
    for line in (FIXTURES / "hook-payloads.jsonl").read_bytes().splitlines():
        name = json.loads(line).get("hook_event_name")
        out.setdefault(name, line)
    return out


def cpu_ms(cmd: list[str], stdin: bytes, env: dict[str, str], check: bool = True) -> float:
    """Run *cmd* with *stdin*; the child's user + system CPU time in ms (from ``wait4``)."""
    r, w = os.pipe()
    out = tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.dup2(r, 0)
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            os.close(w)
            os.execve(cmd[0], cmd, env)
        finally:
            os._exit(127)
    os.close(r)
    os.write(w, stdin)  # payloads are far smaller than a pipe buffer
    os.close(w)
    _, status, usage = os.wait4(pid, 0)
    out.seek(0)
    printed = out.read()
    code = os.waitstatus_to_exitcode(status)
    if check and (code != 0 or (printed and b"hookSpecificOutput" not in printed)):
        raise SystemExit(f"{cmd} misbehaved: exit {code}, output {printed[:300]!r}")
    return (usage.ru_utime + usage.ru_stime) * 1000


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def hook_env(journal: Path, data: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_JOURNAL_", "CLAUDE_"))}
    # SessionEnd starts its detached search-index job as in a ready install: with /bin/true
    # as the interpreter, so the hook pays the start and the machine no indexing.
    env.update(AGENT_JOURNAL_DIR=str(journal), CLAUDE_PLUGIN_ROOT=str(REPO), CLAUDE_PLUGIN_DATA=str(data),
               AGENT_JOURNAL_PYTHON="/bin/true", AGENT_JOURNAL_NO_BOOTSTRAP="1")
    env.update(extra or {})
    return env


def stop_transcript(tmp: Path, payload: bytes) -> tuple[bytes, Path]:
    """The Stop payload pointed at a copy of a fixture transcript (one turn appended per run)."""
    doc = json.loads(payload)
    source = FIXTURES / "transcripts" / f"{doc['session_id']}.jsonl"
    transcript = tmp / "transcript.jsonl"
    shutil.copyfile(source if source.exists() else next((FIXTURES / "transcripts").glob("*.jsonl")), transcript)
    doc["transcript_path"] = str(transcript)
    return json.dumps(doc).encode(), transcript


_TURN = json.dumps({"type": "assistant", "message": {"role": "assistant", "content": [
    {"type": "text", "text": "Decided to keep greet.py minimal: the tests pass and the docs say why."}]}}) + "\n"


def hooks_vs_floor(python: str, runs: int, tmp: Path) -> tuple[bool, float]:
    """Each hook type against the floor; True if all pass, and the PreToolUse median."""
    by_type = payloads()
    data = tmp / "plugin-data"
    env = hook_env(tmp / "journal", data)
    stop_payload, transcript = stop_transcript(tmp, by_type["Stop"])
    cases: dict[str, tuple[list[str], bytes]] = {"floor": ([python, "-I", "-S", "-c", "pass"], b"")}
    for name in HOOK_TYPES:
        cases[name] = ([python, "-I", "-S", str(LAUNCH_PY)], stop_payload if name == "Stop" else by_type[name])
    times: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(runs + 3):
        for name, (cmd, stdin) in cases.items():
            if name == "Stop":
                with transcript.open("a") as f:
                    f.write(_TURN)
            took = cpu_ms(cmd, stdin, env)
            if i >= 3:  # the first rounds warm the page cache, create the journal and the code cache
                times[name].append(took)
    floor = median(times["floor"])
    print(f"interpreter        {python}")
    print(f"runs               {runs} of each, interleaved; CPU time (user + system) per process")
    print(f"floor              {python} -I -S -c pass: median {floor:.1f} ms (runs {min(times['floor']):.1f}-"
          f"{max(times['floor']):.1f})")
    ok = True
    for name in HOOK_TYPES:
        m = median(times[name])
        ratios = sorted(t / floor for t in times[name])
        good = m / floor <= GOAL_HOOK
        ok &= good
        print(f"{name:18s} median {m:5.1f} ms  {m / floor:4.2f}x the floor (runs {ratios[0]:.2f}-{ratios[-1]:.2f}x)"
              f"  goal <= {GOAL_HOOK}x  {verdict(good)}")
    events = sum(1 for p in (tmp / "journal" / "segments").iterdir() for _ in p.open("rb"))
    print(f"events recorded    {events}")
    return ok, median(times["PreToolUse"])


def shim_tax(python: str, runs: int, tmp: Path) -> bool:
    """The launcher with a pyenv-like shim first on PATH: the shim runs once, then never."""
    if not LAUNCHER.exists():
        print("shim               hooks/launch missing: FAIL")
        return False
    bindir = tmp / "shim-bin"
    bindir.mkdir()
    calls = tmp / "shim-calls"
    shim = bindir / "python3"
    shim.write_text(f'#!/bin/sh\necho x >> "{calls}"\nexec "{python}" "$@"\n')
    shim.chmod(0o755)
    data = tmp / "shim-data"
    env = hook_env(tmp / "shim-journal", data, {"PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"})
    payload = payloads()["PreToolUse"]
    cases = {
        "floor": ([python, "-I", "-S", "-c", "pass"], b""),
        "via shim": ([str(shim), "-I", "-S", str(LAUNCH_PY)], payload),  # the old hooks.json command
        "launcher": (["/bin/sh", str(LAUNCHER)], payload),  # hooks.json's command now
    }
    real_shim = shutil.which("python3")  # pyenv's, asdf's, mise's: a script in front of python3
    if real_shim and Path(real_shim).read_bytes()[:2] == b"#!":
        cases["via real shim"] = ([real_shim, "-I", "-S", str(LAUNCH_PY)], payload)
    cpu_ms(*cases["launcher"][:2], env)  # the first firing: resolves (through the shim) and caches
    first = calls.read_text().count("x") if calls.exists() else 0
    times: dict[str, list[float]] = {name: [] for name in cases}
    launcher_calls = 0
    for _ in range(runs):
        for name, (cmd, stdin) in cases.items():
            before = calls.read_text().count("x") if calls.exists() else 0
            times[name].append(cpu_ms(cmd, stdin, env))
            if name == "launcher":
                launcher_calls += (calls.read_text().count("x") if calls.exists() else 0) - before
    floor = median(times["floor"])
    shimmed, launched = median(times["via shim"]), median(times["launcher"])
    good = launcher_calls == 0 and launched / floor <= GOAL_HOOK
    print(f"shim: first firing went through the shim {first}x; the next {runs} launcher firings {launcher_calls}x")
    if "via real shim" in times:
        real = median(times["via real shim"])
        print(f"shim: PreToolUse through {cases['via real shim'][0][0]} (the old command, this machine's shim): "
              f"{real:.1f} ms ({real / floor:.2f}x the floor)")
    print(f"shim: PreToolUse via shim {shimmed:.1f} ms ({shimmed / floor:.2f}x); via hooks/launch {launched:.1f} ms "
          f"({launched / floor:.2f}x the floor {floor:.1f} ms)  goal: no shim, <= {GOAL_HOOK}x  {verdict(good)}")
    return good


def _journal_copy(source: Path, dest: Path) -> None:
    """A copy of a generated journal the hook may append to: sealed (read-only) segments are
    hard links, everything writable is copied."""
    for dirpath, _, filenames in os.walk(source):
        rel = Path(dirpath).relative_to(source)
        (dest / rel).mkdir(mode=0o700, exist_ok=True)
        for name in filenames:
            src, dst = Path(dirpath) / name, dest / rel / name
            if os.stat(src).st_mode & 0o222:
                shutil.copy2(src, dst)
            else:
                os.link(src, dst)


def _with_session(payload: bytes, sid: str) -> bytes:
    doc = json.loads(payload)
    doc["session_id"] = sid
    return json.dumps(doc).encode()


def _dead_pid() -> str:
    """The pid of a process that has exited: a Claude Code that crashed."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(0)
    os.waitpid(pid, 0)
    return str(pid)


def _stored(journal: Path) -> tuple[int, int] | None:
    """The stored context's identity (inode, mtime): a full render replaces it, a hit does not."""
    try:
        st = os.stat(journal / "cache" / "context.json")
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def _session_end(cmd: list[str], payload: bytes, journal: Path, env: dict[str, str]) -> None:
    """SessionEnd, then the wait for its detached job to store the next session's context."""
    (journal / "cache" / "context.json").unlink(missing_ok=True)
    cpu_ms(cmd, payload, env)
    for _ in range(1200):
        if _stored(journal) is not None:
            time.sleep(0.05)  # let it exit: its CPU is not the next hook's
            return
        time.sleep(0.05)
    raise SystemExit("SessionEnd's detached job stored no context within 60 s")


def session_start(python: str, runs: int, tmp: Path, sizes: list[int], pre_ms: float) -> bool:
    """SessionStart (record + recovery context) on generated journals of each size, both ways:

    * hit: the previous session ended (SessionEnd's detached job, run for real with this
      interpreter, stored the next session's context, `hooks/context_cache.py`): daily use;
    * miss: the previous session crashed (its process gone, no SessionEnd, an event since
      the context was stored): the hook renders in its own process, as before.

    Each on its own copy of the journal, interleaved. The jobs skip the search-index update
    (``AGENT_JOURNAL_NO_INDEX_JOB``): indexing a generated 1M-event journal is not what
    is measured, and a SessionStart of a new session does not read the index; automatic
    compaction is off (``retention.auto``) for the same reason."""
    sys.path.insert(0, str(REPO / "bench"))
    from journal_replay import build  # the shared, cached journal builder (needs msgspec)

    by_type = payloads()
    start, end, pre = by_type["SessionStart"], by_type["SessionEnd"], by_type["PreToolUse"]
    floor_cmd = [python, "-I", "-S", "-c", "pass"]
    cmd = [python, "-I", "-S", str(LAUNCH_PY)]
    hits: dict[int, float] = {}
    misses: dict[int, float] = {}
    for n in sizes:
        root, info, how = build(Path("/tmp/agent-journal-bench"), n, 1, 64)
        journals = {"hit": tmp / f"journal-{n}-hit", "miss": tmp / f"journal-{n}-miss"}
        envs = {}
        for kind, journal in journals.items():
            _journal_copy(root, journal)
            # No automatic compaction: the first SessionEnd would start one (the generated
            # sessions are old), and it would run beside the measurements.
            (journal / "config.json").write_text('{"retention": {"auto": false}}')
            env = hook_env(journal, tmp / "plugin-data")
            # The rendering environment is known; the detached jobs run for real.
            env.update(AGENT_JOURNAL_PYTHON=sys.executable, AGENT_JOURNAL_NO_INDEX_JOB="1")
            envs[kind] = env
        crashed = dict(envs["miss"], CLAUDE_PID=_dead_pid())
        times: dict[str, list[float]] = {"floor": [], "hit": [], "miss": []}
        used = 0
        previous = {"hit": str(uuid.uuid4()), "miss": str(uuid.uuid4())}
        for kind in ("hit", "miss"):  # the previous sessions: warm page cache and projection caches
            cpu_ms(cmd, _with_session(start, previous[kind]), envs[kind])
        for i in range(runs + 2):
            sid = str(uuid.uuid4())
            _session_end(cmd, _with_session(end, previous["hit"]), journals["hit"], envs["hit"])
            before = _stored(journals["hit"])
            took_hit = cpu_ms(cmd, _with_session(start, sid), envs["hit"])
            hit = before is not None and _stored(journals["hit"]) == before
            previous["hit"] = sid
            cpu_ms(cmd, _with_session(pre, previous["miss"]), envs["miss"])  # work, then the crash
            sid = str(uuid.uuid4())
            took_miss = cpu_ms(cmd, _with_session(start, sid), crashed)
            previous["miss"] = sid
            took_floor = cpu_ms(floor_cmd, b"", envs["hit"])
            if i >= 2:  # the first rounds warm the caches
                times["hit"].append(took_hit)
                times["miss"].append(took_miss)
                times["floor"].append(took_floor)
                used += hit
        hits[n], misses[n] = median(times["hit"]), median(times["miss"])
        floor = median(times["floor"])
        print(f"SessionStart at {n:>9,} events ({how}): hit median {hits[n]:.1f} ms CPU ({hits[n] / floor:.2f}x the "
              f"floor; stored context used {used}/{runs}), miss median {misses[n]:.1f} ms "
              f"({misses[n] / floor:.2f}x)")
        for journal in journals.values():
            shutil.rmtree(journal)
    small, big = hits[sizes[0]], hits[sizes[-1]]
    good_ratio = small / pre_ms <= GOAL_START
    good_flat = big / small <= GOAL_GROWTH
    print(f"SessionStart / PreToolUse at {sizes[0]:,}: hit {small / pre_ms:.2f}x  goal <= {GOAL_START}x  "
          f"{verdict(good_ratio)}  (miss, a crash: {misses[sizes[0]] / pre_ms:.2f}x)")
    print(f"SessionStart {sizes[-1]:,} / {sizes[0]:,} events: hit {big / small:.2f}x  goal <= {GOAL_GROWTH}x  "
          f"{verdict(good_flat)}  (miss: {misses[sizes[-1]] / misses[sizes[0]]:.2f}x)")
    return good_ratio and good_flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--python", default=os.path.realpath(sys.executable),
                        help="interpreter to measure (default: the real binary behind this one)")
    parser.add_argument("--sizes", default="10000,1000000", help="journal sizes for SessionStart")
    parser.add_argument("--no-sessionstart", action="store_true", help="skip the SessionStart part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        hooks_ok, pre_ms = hooks_vs_floor(args.python, args.runs, tmp)
        shim_ok = shim_tax(args.python, args.runs, tmp)
        start_ok = True
        if not args.no_sessionstart:
            start_ok = session_start(args.python, args.runs, tmp, [int(s) for s in args.sizes.split(",")], pre_ms)
    print(f"RESULT hooks={verdict(hooks_ok)} shim={verdict(shim_ok)} "
          f"sessionstart={verdict(start_ok) if not args.no_sessionstart else 'skipped'}")


if __name__ == "__main__":
    main()
