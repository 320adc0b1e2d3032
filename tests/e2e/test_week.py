"""A week of work: many real Claude Code sessions over one project, judged by the next one.

Issue 11 found the recovery context wrong in daily use although every simple scenario
passed. These scenarios replay that daily use with the real binary and the real plugin
(``--plugin-dir``) against the fake Messages API: clean sessions whose last reply is
"Done.", a checkpoint saved by the model through the Bash tool, a background subagent
reporting back with a ``<task-notification>``, denied tool calls (one of the session, one
of a subagent), a slash command whose ``!`` shell step fails, two windows at once, crashes
(``kill -9`` mid-tool) handed over by ``claude --resume``, ``agent-journal resume`` and
``agent-journal dismiss``, ``/compact`` and ``agent-journal compact``, and the plugin
together with ``agent-journal install``.

After each step the next session's SessionStart context (as Claude Code sent it to the
model) is checked for what it must say and what it must not say, and the journal for an
empty errors.log and a clean ``verify``. Checks are soft (see ``week_helpers.Week``): each
scenario runs to its end and then lists every broken expectation.

Three scenarios, about 20-40 ``claude`` runs each (1-3 s per run).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.claude import init_project, wait_until
from tests.e2e.fake_api import FakeMessagesAPI, agent, bash, text, tool_use, write
from tests.e2e.scenario_helpers import (
    LONG_COMMAND,
    Scenario,
    agent_journal,
    cmdline,
    contexts_in,
    find_records,
    kill_when_running,
    unique,
)
from tests.e2e.week_helpers import (
    Week,
    hook_turn,
    offered_as_unfinished,
    section_of,
    sections,
    working_on,
    write_config,
)


@pytest.fixture
def week(claude_bin: Path, tmp_path: Path) -> Iterator[Week]:
    """One project and HOME with the real plugin, and a fake API that answers "Done." by default."""
    with FakeMessagesAPI() as api:
        home = tmp_path / "home"
        home.mkdir()
        sc = Scenario(claude_bin, api, home, init_project(tmp_path / "project"))
        yield Week(sc)
    assert not api.errors, f"fake Messages API errors: {api.errors}"


def _session_record(week: Week, session: str) -> dict | None:
    listing = week.cli_json("sessions", "--all")
    found = [r for r in find_records(listing, session) if r.get("id") == session] if listing is not None else []
    week.expect(bool(found), f"`sessions --all --json` does not list {session[:8]}", json.dumps(listing)[:2000])
    return found[0] if found else None


def _agent_record(week: Week, agent_id: str) -> dict | None:
    listing = week.cli_json("agents", "--all")
    found = [r for r in find_records(listing, agent_id) if r.get("id") == agent_id] if listing is not None else []
    week.expect(bool(found), f"`agents --all --json` does not list {agent_id[:8]}", json.dumps(listing)[:2000])
    return found[0] if found else None


def _in_flight(tree: object) -> list[object]:
    """Every non-empty ``in_flight`` value in a command's JSON output."""
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found += [v for k, v in node.items() if k == "in_flight" and v]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


# --------------------------------------------------------------------------- 1. ordinary days


def test_ordinary_days_leave_no_false_alarms(week: Week) -> None:
    """Clean sessions, a model-saved checkpoint, a background agent, denied tools and a failing
    slash command: none of them is later offered as unfinished work or misquoted."""
    sc = week.sc

    week.day("monday: a clean session ends with \"Done.\"")
    build = unique("MON-BUILD")
    app = sc.project / "app.py"
    week.rule(build, [[write(str(app), "print('app v1')\n")], [bash("python3 app.py", "run the app")]])
    s_build, result = week.run(f"{build} write app.py and run it")
    assert s_build and result.stdout.strip() == "Done.", result.describe()
    week.expect(week.hooks_of(s_build) == hook_turn("Write", "Bash"), "hooks of the clean session",
                str(week.hooks_of(s_build)))
    ctx = week.look().context
    section = section_of(ctx, s_build)
    week.expect(bool(section), "the next context has no block for the previous session", ctx)
    week.says(section, build, "the previous session's block names its prompt")
    week.says(section, "app.py", "the previous session's block names its file")
    week.not_unfinished(ctx, s_build, "it ended cleanly")
    week.says_not(ctx, "Interrupted", "only clean sessions so far")
    week.says_not(ctx, "rash", "only clean sessions so far")
    week.no_call_in_flight(ctx, s_build, "every call got its PostToolUse")
    week.not_working_on_reply(ctx, s_build, ["Done."])
    intro = sections(ctx)[0][1]
    week.expect(not any(re.search(r"\bunfinished work\b", line, re.I) for line in intro),
                "the header claims unfinished work when there is none", "\n".join(intro))
    week.says_not(ctx, "journal event", "no journal-event noise")
    week.sound()

    week.day("monday: the model saves a checkpoint through the Bash tool")
    save, objective, nxt = unique("MON-SAVE"), unique("OBJ ship the app"), unique("NEXT add a --name flag")
    week.rule(save, [[bash(f'agent-journal save --objective "{objective}" --next "{nxt}" --progress 40',
                           "save a checkpoint")], [text("Checkpoint saved.")]])
    s_save, result = week.run(f"{save} save where we are")
    week.expect(any(e["type"] == "journal.checkpoint" and e.get("session") == s_save for e in week.events()),
                "`agent-journal save` run by Claude's Bash tool recorded no checkpoint of its session",
                "\n".join(r for r in (sc.api.requests_for(save)[-1].text[-1500:],) if r))
    ctx = week.look().context
    section = section_of(ctx, s_save)
    week.says(section, objective, "the checkpoint's objective is in the next context")
    value = working_on(ctx, s_save)
    week.expect(value is None or objective in value or save in value,
                f"\"Working on\" is neither the checkpoint nor the prompt: {value!r}", section)
    week.not_working_on_reply(ctx, s_save, ["Checkpoint saved."])
    week.says(section, "Checkpoint saved.", "the previous session's last assistant message")
    week.not_unfinished(ctx, s_save, "it ended cleanly")
    week.sound()

    week.day("tuesday: a background agent reports back")
    parent, sub = unique("TUE-BG"), unique("TUE-BGSUB")
    notes = sc.project / "notes.md"
    week.rule(parent, [[agent(f"{sub} write notes.md", "write the notes", run_in_background=True)],
                       [text("Started a background agent for the notes.")],
                       [text("The background agent wrote notes.md.")]])
    week.rule(sub, [[write(str(notes), "# notes\n")], [text("notes.md written")]])
    s_bg, result = week.run(f"{parent} have a background agent write the notes")
    assert notes.is_file(), result.describe()
    events = week.events(s_bg)
    notifications = [e for e in events if e["type"] == "UserPromptSubmit"
                     and str(e["data"].get("prompt", "")).lstrip().startswith("<task-notification>")]
    # The scenario only means something if Claude Code really sent the notification turn.
    assert notifications, f"no <task-notification> turn was recorded: {week.hooks_of(s_bg)}"
    launched = next(e for e in events if e["type"] == "PostToolUse" and e["data"].get("tool_name") == "Agent")
    assert launched["data"]["tool_response"].get("status") == "async_launched", launched
    bg_agent = str(next(e for e in events if e["type"] == "SubagentStart")["agent"])
    ctx = week.look().context
    week.says_not(ctx, "task-notification", "a background agent's report is not a prompt")
    week.says_not(ctx, "<task-id>", "a background agent's report is not a prompt")
    week.not_unfinished(ctx, s_bg, "it ended cleanly")
    week.no_call_in_flight(ctx, s_bg, "the Agent call returned at launch")
    week.not_working_on_reply(ctx, s_bg, ["The background agent wrote notes.md."])
    record = _session_record(week, s_bg)
    if record is not None:
        week.expect(record.get("prompts") == 1, f"the notification counts as a prompt: prompts={record.get('prompts')}",
                    json.dumps(record))
        week.expect("task-notification" not in str(record.get("last_prompt")),
                    "`sessions` shows the notification as the last prompt", json.dumps(record))
    agent_rec = _agent_record(week, bg_agent)
    if agent_rec is not None:
        week.expect(agent_rec.get("status") == "completed", f"background agent status {agent_rec.get('status')!r}",
                    json.dumps(agent_rec))
    timeline = week.cli("timeline", s_bg).stdout
    week.says_not(timeline, "<task-notification>", "the timeline shows the notification as what it is")
    finished = [line for line in timeline.splitlines() if bg_agent[:4] in line and "finished" in line]
    week.expect(bool(finished), f"the timeline does not say agent {bg_agent[:4]}… finished", timeline)
    launch_line = next((line for line in timeline.splitlines() if line.split()[:1] == [str(launched["seq"])]), "")
    week.expect(bool(launch_line) and not re.search(r"\b(done|completed|finished)\b", launch_line),
                "the timeline calls the agent done when it was only launched in the background",
                launch_line or timeline)
    week.sound()

    week.day("tuesday: denied tool calls, one of a subagent")
    denied, denied_sub = unique("TUE-DENY"), unique("TUE-DENYSUB")
    week.rule(denied, [[tool_use("WebFetch", {"url": "http://127.0.0.1:9/docs", "prompt": "summarise"})],
                       [agent(f"{denied_sub} run the tests", "run the tests")],
                       [text("Neither the fetch nor the tests were allowed; nothing changed.")]])
    week.rule(denied_sub, [[bash("python3 -c \"print('tests')\"", "run the tests")],
                           [text("Bash was denied.")]])
    # Bash and WebFetch are not allowed: in -p mode Claude Code denies both.
    s_deny, result = week.run(f"{denied} fetch the docs and run the tests", allowed_tools="Write Agent Read")
    seq = week.hooks_of(s_deny)
    assert "PermissionRequest:WebFetch" in seq and "PermissionRequest:Bash" in seq, seq
    assert "PostToolUse:Bash" not in seq and "PostToolUse:WebFetch" not in seq, seq
    deny_agent = str(next(e for e in week.events(s_deny) if e["type"] == "SubagentStart")["agent"])
    ctx = week.look().context
    week.not_unfinished(ctx, s_deny, "it ended cleanly; its calls were denied")
    week.no_call_in_flight(ctx, s_deny, "denied calls are not in flight")
    week.says_not(ctx, "Interrupted", "no session was interrupted")
    record = _session_record(week, s_deny)
    if record is not None:
        week.expect(record.get("status") == "ended" and not record.get("interrupted"),
                    f"the session with denied calls is {record.get('status')!r}, interrupted={record.get('interrupted')}",
                    json.dumps(record))
    agent_rec = _agent_record(week, deny_agent)
    if agent_rec is not None:
        week.expect(agent_rec.get("status") == "completed",
                    f"the subagent whose Bash was denied is {agent_rec.get('status')!r}", json.dumps(agent_rec))
    for what, args in (("the subagent", ("agent", "show", deny_agent)), ("the session", ("show", s_deny))):
        shown = week.cli_json(*args)
        calls = _in_flight(shown)
        week.expect(not calls, f"{what}'s denied call is still in flight in `{' '.join(args[:-1])}`: {calls}")
    week.sound()

    week.day("tuesday: the subagent whose Bash was denied is declared blocked")
    blocker, step = unique("BLOCKER Bash is not allowed"), unique("NEXT ask for Bash")
    week.cli("agent", "update", deny_agent[:8], "--status", "blocked", "--progress", "30",
             "--blocker", blocker, "--next", step)
    ctx = week.look().context
    item = section_of(ctx, deny_agent)
    week.expect(bool(item), "the blocked agent is not in the next context", ctx)
    for needle, what in ((blocker, "its blocker"), (step, "its next step"), ("30%", "its progress")):
        week.says(item, needle, f"the blocked agent's line names {what}")
    week.cli("dismiss", deny_agent[:8])
    ctx = week.look().context
    week.says_not(ctx, deny_agent[:8], "a dismissed agent")
    week.says_not(ctx, blocker, "a dismissed agent")
    week.sound()

    week.day("wednesday: a slash command whose shell step fails")
    commands = sc.project / ".claude" / "commands"
    commands.mkdir(parents=True)
    (commands / "release.md").write_text(
        "---\ndescription: cut a release\nallowed-tools: Bash(python3:*)\n---\n"
        "Release check: !`python3 -c \"import sys; sys.exit('release check failed')\"`\n")
    s_slash, result = week.run("/release")
    assert "failed" in result.stdout, result.describe()
    week.expect(week.hooks_of(s_slash)[-1] == "SessionEnd", "the failed slash command's session ended",
                str(week.hooks_of(s_slash)))
    ctx = week.look().context
    week.not_unfinished(ctx, s_slash, "it ended with SessionEnd; its prompt failed before running")
    week.says_not(section_of(ctx, s_slash), "before answering its last prompt", "a prompt that never ran")
    week.says_not(ctx, "Interrupted", "no session was interrupted")
    for s in (s_build, s_save, s_bg, s_deny):
        week.not_unfinished(ctx, s, "ended cleanly earlier this week")
    week.sound()

    week.day("wednesday: /agent-journal:timeline with no argument")
    before = len(sc.api.model_requests)
    s_tl, result = week.run("/agent-journal:timeline")
    requests = sc.requests_since(before)
    week.expect(bool(requests) and "Shell command failed" not in result.stdout,
                "`/agent-journal:timeline` with no argument failed", result.stdout)
    expansion = requests[0].first_user_text if requests else ""
    for needle in ("Usage:", "Missing argument"):
        week.says_not(expansion, needle, "a slash command given no argument answers helpfully")
    week.sound()
    week.finish()


# --------------------------------------------------------------------------- 2. windows and crashes


_WAIT_FOR_GO = (
    "import pathlib, time\n"
    "flag = pathlib.Path(__file__).with_name('go.flag')\n"
    "deadline = time.monotonic() + 60\n"
    "while not flag.exists() and time.monotonic() < deadline:\n"
    "    time.sleep(0.1)\n"
    "print('go' if flag.exists() else 'gave up')\n"
)


def _crash(week: Week, marker: str, file_name: str) -> str:
    """A session that writes ``file_name`` and is killed (-9) while its Bash call runs."""
    week.rule(marker, [[write(str(week.sc.project / file_name), f"# {marker}\n")], [bash(LONG_COMMAND, "a long job")]])
    known = set(week.sc.session_ids())
    with week.sc.start(f"{marker} write {file_name} then run the long job") as proc:
        pre = kill_when_running(proc, week.sc.journal,
                                lambda e: e["type"] == "PreToolUse" and e["data"].get("tool_name") == "Bash"
                                and e.get("session") not in known)
    return str(pre["session"])


def test_two_windows_and_crashes_handed_over(week: Week) -> None:
    """A session running in another window is not offered for takeover; a crash is reported
    until `claude --resume`, `agent-journal resume` or `dismiss` hands it over, then never again."""
    sc = week.sc

    week.day("monday: two windows at once")
    w1 = unique("WIN-ONE")
    script = sc.project / "wait_for_go.py"
    week.rule(w1, [[write(str(script), _WAIT_FOR_GO)], [bash("python3 wait_for_go.py", "wait for the go flag")],
                   [text("Window one finished its job.")]])
    with sc.start(f"{w1} write wait_for_go.py and run it") as proc:
        pre = wait_until(lambda: next((e for e in week.events() if e["type"] == "PreToolUse"
                                       and e["data"].get("tool_name") == "Bash"), None),
                         timeout=60, message="window one's Bash call")
        wait_until(lambda: any("wait_for_go.py" in cmdline(p) for p in proc.descendants()), timeout=15,
                   message="window one's wait_for_go.py")
        s_w1 = str(pre["session"])
        look = week.look()  # the second window
        (sc.project / "go.flag").write_text("go\n")
        assert proc.wait(60) == 0, proc.stderr()
        assert proc.stdout().strip() == "Window one finished its job.", proc.stdout()
    ctx = look.context
    section = section_of(ctx, s_w1)
    if week.expect(bool(section), "the second window's context has no block for the running session", ctx):
        week.expect(bool(re.search(r"another window", section, re.I)),
                    "the running session is not said to be running in another window", section)
        week.says(section, str(proc.pid), "the running session's pid")
        week.says(section, w1, "the running session's prompt")
        week.says(section, "wait_for_go.py", "the file the running session is editing")
        week.expect("coordinat" in section.lower(), "no word about coordinating before editing its files", section)
        week.says_not(section, "Continue it", "a running session is not someone else's unfinished work")
        week.says_not(section, "when it stopped", "a running session has not stopped")
    week.not_unfinished(ctx, s_w1, "it is running")
    week.expect(not re.search(r"crash", section, re.I), "the running session is called crashed", section)
    week.sound()
    ctx = week.look().context
    week.not_unfinished(ctx, s_w1, "it has ended cleanly since")
    week.no_call_in_flight(ctx, s_w1, "its Bash call finished")
    week.says_not(ctx, "another window", "nothing runs in another window any more")
    week.sound()

    week.day("tuesday: kill -9 mid-tool, then `claude --resume` of it")
    c1 = unique("CRASH-ONE")
    s_c1 = _crash(week, c1, "one.py")
    ctx = week.look().context
    section = section_of(ctx, s_c1)
    week.expect(bool(offered_as_unfinished(ctx, s_c1)) and "Crashed" in section.splitlines()[0] if section else False,
                "the crash is not reported as a crashed session", ctx)
    week.says(section, "time.sleep(30)", "the call in flight when it crashed")
    week.says(section, c1, "the crashed session's prompt")
    week.says(section, "one.py", "the crashed session's file")
    resumed = unique("RESUME-ONE")
    week.rule(resumed, [[text("Picked up where the crashed run stopped.")]], match="latest")
    before = len(sc.api.model_requests)
    _, result = week.run(f"{resumed} finish the long job", resume=s_c1)
    assert result.stdout.strip() == "Picked up where the crashed run stopped.", result.describe()
    own = "\n\n".join(c for c in contexts_in(sc.requests_since(before)[0]) if c)
    week.says(own, "time.sleep(30)", "the resumed session is told what its previous run was doing")
    ctx = week.look().context
    week.not_unfinished(ctx, s_c1, "handed over by `claude --resume`")
    week.no_call_in_flight(ctx, s_c1, "its run after the crash ended cleanly")
    week.sound()

    week.day("wednesday: a crash, then `agent-journal resume` of it")
    c2 = unique("CRASH-TWO")
    s_c2 = _crash(week, c2, "two.py")
    week.cli("resume", s_c2[:8])
    ctx = week.look().context
    section = section_of(ctx, s_c2)
    week.expect("Resume requested" in section.split("\n", 1)[0], "the requested resume is not injected", ctx)
    week.says(section, c2, "the resumed session's prompt")
    week.says(section, "time.sleep(30)", "the resumed session's call in flight")
    ctx = week.look().context
    week.not_unfinished(ctx, s_c2, "handed over by `agent-journal resume`")
    week.not_unfinished(ctx, s_c1, "handed over by `claude --resume`")
    record = _session_record(week, s_c2)
    if record is not None:
        week.expect(record.get("status") == "crashed", f"`sessions` no longer shows the crash: {record.get('status')}",
                    json.dumps(record))
    listed = [line for line in week.cli("sessions", "--all").stdout.splitlines() if s_c2[:8] in line]
    week.expect(any("picked up" in line for line in listed), "`sessions` does not mark the crash picked up",
                "\n".join(listed))
    week.sound()

    week.day("thursday: a crash, then `agent-journal dismiss`")
    c3 = unique("CRASH-THREE")
    s_c3 = _crash(week, c3, "three.py")
    if week.expect(week.has_command("dismiss"), "`agent-journal dismiss` does not exist"):
        died = (_session_record(week, s_c3) or {}).get("last_event")
        objective = unique("OBJ finish three.py")
        week.cli("save", "-s", s_c3[:8], "--objective", objective, "--next", "rerun the long job")
        week.expect((_session_record(week, s_c3) or {}).get("last_event") == died,
                    "`save -s` of a crashed session moved the time it died")
        ctx = week.cli("context").stdout
        week.expect(bool(offered_as_unfinished(ctx, s_c3)), "the new crash is not reported before dismiss", ctx)
        week.says(section_of(ctx, s_c3), objective, "the checkpoint saved for the crashed session")
        week.cli("dismiss", s_c3[:8])
        ctx = week.look().context
        week.not_unfinished(ctx, s_c3, "dismissed")
        for s, how in ((s_c1, "claude --resume"), (s_c2, "agent-journal resume")):
            week.not_unfinished(ctx, s, f"handed over by {how}")
        record = _session_record(week, s_c3)
        if record is not None:
            week.expect(record.get("status") == "crashed", "`sessions` no longer shows the dismissed crash",
                        json.dumps(record))
            week.expect("dismiss" in json.dumps(record).lower(), "`sessions` does not mark the crash dismissed",
                        json.dumps(record))
        listed = [line for line in week.cli("sessions", "--all").stdout.splitlines() if s_c3[:8] in line]
        week.expect(any("dismissed" in line for line in listed), "`sessions` does not mark the crash dismissed",
                    "\n".join(listed))
        week.expect(any("dismiss" in e["type"] for e in week.events()), "no event records the dismissal",
                    str(Counter(e["type"] for e in week.events())))
        week.cli("dismiss", "--undo", s_c3[:8])
        ctx = week.cli("context").stdout
        week.expect(bool(offered_as_unfinished(ctx, s_c3)), "`dismiss --undo` did not bring the crash back", ctx)
        week.cli("dismiss", s_c3[:8])
        ctx = week.look().context
        week.not_unfinished(ctx, s_c3, "dismissed again")
    week.sound()

    week.day("friday: an old crash gets one line")
    c4 = unique("CRASH-FOUR")
    s_c4 = _crash(week, c4, "four.py")
    # Every crash is "old" with a threshold of 0 s.
    ctx = week.look(extra_env={"AGENT_JOURNAL_OLD_CRASH_AFTER": "0"}).context
    week.expect(bool(offered_as_unfinished(ctx, s_c4)) and not any(s_c4[:8] in h for h, _ in sections(ctx)),
                "an old crash is not reported in one line", ctx)
    ctx = week.cli("context").stdout
    week.expect(section_of(ctx, s_c4).startswith("## Crashed session"), "a recent crash is not reported in full", ctx)
    week.sound()

    week.day("friday: /agent-journal:resume of the crash, from inside Claude")
    before = len(sc.api.model_requests)
    s_pick, result = week.run(f"/agent-journal:resume {s_c4[:8]}")
    requests = sc.requests_since(before)
    expansion = requests[0].first_user_text if requests else ""
    week.expect(bool(requests), "`/agent-journal:resume` did not reach the model", result.stdout)
    week.says(expansion, c4, "/agent-journal:resume gives Claude the crashed session's prompt")
    week.says(expansion, "time.sleep(30)", "/agent-journal:resume gives Claude the call in flight")
    # What follows Claude Code's <command-name>/agent-journal:resume</command-name> tags.
    week.says_not(expansion.rpartition("</command-args>")[2], "/agent-journal:resume",
                  "/agent-journal:resume does not tell Claude to run /agent-journal:resume")
    ctx = week.look().context
    week.not_unfinished(ctx, s_c4, "handed over by /agent-journal:resume")
    week.sound()

    week.day("saturday: /agent-journal:sessions from inside Claude")
    before = len(sc.api.model_requests)
    s_list, result = week.run("/agent-journal:sessions")
    assert s_list, result.describe()
    requests = sc.requests_since(before)
    listing = requests[0].first_user_text if requests else ""
    week.expect(bool(requests), "`/agent-journal:sessions` did not reach the model", result.stdout)
    for s, mark in ((s_c2, "picked up"), (s_c3, "dismissed"), (s_c4, "picked up")):
        lines = [line for line in listing.splitlines() if s[:8] in line]
        week.expect(any(mark in line for line in lines), f"/agent-journal:sessions does not list {s[:8]} as {mark}",
                    listing)
    week.sound()

    week.day("saturday: nothing unfinished is left")
    look = week.look()
    ctx, look_id = look.context, look.session
    for s in (s_w1, s_c1, s_c2, s_c3, s_c4, s_pick or "", s_list):
        week.not_unfinished(ctx, s, "ended or handed over")
    week.says_not(ctx, "another window", "nothing runs in another window")
    listing = week.cli_json("sessions", "--all") or []
    ids = [r["id"] for r in find_records(listing, "ended") + find_records(listing, "crashed") if "id" in r]
    unmentioned = [i[:8] for i in ids if i[:8] not in ctx and i != look_id]
    last_line = [line for line in ctx.splitlines() if line.strip()][-1:]
    if unmentioned:
        week.expect(bool(last_line) and bool(re.search(r"\d", last_line[0])) and "agent-journal" in last_line[0],
                    f"{len(unmentioned)} sessions are left out and the last line does not say so", ctx)
    week.sound()
    week.finish()


# --------------------------------------------------------------------------- 3. compaction and install


def test_compactions_and_a_second_install_change_nothing(week: Week) -> None:
    """`/compact` and `agent-journal compact` keep what the next session is told; the plugin
    together with `agent-journal install` records each hook firing once."""
    sc = week.sc
    # Small segments, so `agent-journal compact` has sealed segments to work on.
    write_config(sc.journal, {"segment_bytes": 16384})

    week.day("monday: three sessions of work")
    markers = [unique(f"WORK{n}") for n in range(3)]
    sessions = []
    for n, marker in enumerate(markers):
        week.rule(marker, [[write(str(sc.project / f"part{n}.py"), f"PART = {n}\n")],
                           [bash(f"python3 part{n}.py", "check it")], [text(f"part{n}.py is written.")]])
        s, _ = week.run(f"{marker} write part{n}.py")
        sessions.append(s)
    week.sound()

    week.day("tuesday: /compact of the last session, then it goes on")
    s_last = sessions[-1]
    before = len(sc.api.model_requests)
    week.run("/compact", resume=s_last)
    seq = week.hooks_of(s_last)
    week.expect(seq[-4:] == ["SubagentStop", "SessionStart", "PostCompact", "SessionEnd"] and "PreCompact" in seq,
                "the /compact run's hooks", str(seq))
    after = unique("AFTER-COMPACT")
    week.rule(after, [[text("Carrying on after the compaction.")]], match="latest")
    before = len(sc.api.model_requests)
    _, result = week.run(f"{after} carry on", resume=s_last)
    assert result.stdout.strip() == "Carrying on after the compaction.", result.describe()
    texts = "\n".join(c for r in sc.requests_since(before) for c in contexts_in(r))
    week.says(texts, markers[-1], "after /compact the session is told its own earlier prompt")
    ctx = week.look().context
    week.not_unfinished(ctx, s_last, "compacted, then ended cleanly")
    week.no_call_in_flight(ctx, s_last, "compaction ended cleanly")
    week.says_not(ctx, "Interrupted", "nothing was interrupted")
    week.sound()

    week.day("wednesday: `agent-journal compact`")
    before_ctx = week.cli("context").stdout
    before_sessions = week.cli_json("sessions", "--all")
    out = week.cli_json("compact", "--older-than", "0s")
    week.expect(bool(out) and bool(list((sc.journal / "archive").glob("*"))), "`compact` archived nothing",
                json.dumps(out))
    week.expect(week.cli("context").stdout == before_ctx, "`agent-journal context` changed with compaction",
                before_ctx + "\n---- after ----\n" + week.cli("context").stdout)
    week.expect(week.cli_json("sessions", "--all") == before_sessions, "`sessions` changed with compaction")
    last = str(json.loads(week.cli("verify", "--json").stdout)["last_seq"])
    for args in (("context",), ("sessions", "--all", "--json")):
        week.expect(week.cli(*args, "--at", last).stdout == week.cli(*args).stdout,
                    f"`{' '.join(args)} --at {last}` (the last seq) differs from the live view after compaction")
    timeline = week.cli("timeline", sessions[0]).stdout
    week.says(timeline, "part0.py", "the timeline of a compacted session (from the archive)")
    ctx = week.look().context
    for s in sessions:
        week.not_unfinished(ctx, s, "ended cleanly before compaction")
    week.sound()

    week.day("thursday: `agent-journal install` on top of the plugin")
    proc = agent_journal(None, "install", "--json", cwd=sc.project, check=False)
    week.expect(proc.returncode == 0, "`agent-journal install` failed", proc.stderr)
    installed = json.loads(proc.stdout) if proc.returncode == 0 else {}
    settings = Path(installed.get("settings", sc.project / ".claude" / "settings.json"))
    week.expect(settings.name == "settings.local.json",
                f"`install` wrote {settings.name}, not the personal settings.local.json", proc.stdout)
    week.expect("plugin" in (proc.stdout + proc.stderr).lower(), "`install` does not say the plugin is also active",
                proc.stdout + proc.stderr)
    both = unique("BOTH")
    week.rule(both, [[write(str(sc.project / "both.py"), "BOTH = 1\n")], [text("both.py is written.")]])
    before = len(sc.api.model_requests)
    s_both, _ = week.run(f"{both} write both.py")
    seq = week.hooks_of(s_both)
    week.expect(seq == hook_turn("Write"), "with the plugin and `install`, each hook firing is recorded once",
                str(seq))
    contexts = [c for c in contexts_in(sc.requests_since(before)[0]) if c]
    week.expect(len(contexts) == 1, f"{len(contexts)} journal contexts were injected, not one", "\n---\n".join(contexts))
    look = week.look()
    week.says(section_of(look.context, s_both), "both.py", "the session with both installs, in the next context")
    week.expect(week.hooks_of(look.session).count("SessionStart") == 1, "the next session's start is recorded twice",
                str(week.hooks_of(look.session)))
    week.sound()
    uninstall = agent_journal(None, "install", "--uninstall", "--json", cwd=sc.project, check=False)
    week.expect(uninstall.returncode == 0, "`install --uninstall` failed", uninstall.stderr)
    week.finish()

