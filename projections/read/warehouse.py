"""SQL views over shipped events: the team questions, answered in PostgreSQL.

`journal.shipping.replicate` copies events into ``agent_journal.events`` knowing nothing of
Claude Code; this module adds what does (`VIEWS_MIGRATION`, applied by ``ship``):

* an index on the file path of tool calls (``tool_input.file_path`` or ``notebook_path``);
* ``agent_journal.sessions``: one row per session with first/last seq and time, event,
  prompt and failure counts, project, branch, model, when it started and ended, and its
  status as last known (``ended``, or ``open``: no SessionEnd after its last start; a
  crash looks like ``open`` with an old ``last_ts``);
* ``agent_journal.agents``: one row per subagent: parent session, type, folded status
  (``running`` after SubagentStart, ``completed`` after SubagentStop, else the last
  status a ``journal.agent_update`` declared), start and stop, tool failures;
* ``agent_journal.files``: who edited which file when (session, agent, edits, first and
  last time), from successful Write/Edit/MultiEdit/NotebookEdit calls;
* ``agent_journal.failures``: every failed tool call (tool, target, first error line);
* ``agent_journal.restored``: the state ``journal.snapshot`` records carry, for ranges
  compacted before they shipped.

Each view answers like the local projection (`projections.folds.sessions`,
`projections.folds.agents`) for the same events: a fold of raw events, on top of the record
a snapshot restored when the session or agent was compacted before shipping (the
record's fields are read by position, generated here from the projection's own Struct,
so a field added later cannot shift them). Every view joins ``journals`` for host,
user and project.
"""

from __future__ import annotations

from typing import Any

import msgspec

from journal.shipping.replicate import SCHEMA, Migration
from projections.folds.agents import AgentRecord
from projections.snapshot import SNAPSHOT_TYPE
from projections.folds.sessions import Failure, SessionRecord
from projections.text import EDIT_TOOLS

__all__ = ["VIEWS_MIGRATION", "VIEW_NAMES", "LATE_TYPES"]

#: Records compaction puts in place of removed events (shipped late when put below the mark).
LATE_TYPES = (SNAPSHOT_TYPE,)

VIEW_NAMES = ("restored", "sessions", "agents", "files", "failures")


def _pos(struct: type[msgspec.Struct], name: str) -> int:
    return struct.__struct_fields__.index(name)


def _text(struct: type[msgspec.Struct], name: str, rec: str = "b.r") -> str:
    return f"coalesce({rec}->>{_pos(struct, name)}, '')"


def _int(struct: type[msgspec.Struct], name: str, rec: str = "b.r") -> str:
    return f"coalesce(({rec}->>{_pos(struct, name)})::bigint, 0)"


def _ts(struct: type[msgspec.Struct], name: str, rec: str = "b.r") -> str:
    return f"nullif({rec}->>{_pos(struct, name)}, '')::timestamptz"


_S, _A = SessionRecord, AgentRecord
_PATH = "coalesce(data->'tool_input'->>'file_path', data->'tool_input'->>'notebook_path')"
_EDIT_TOOLS = ", ".join(f"'{t}'" for t in sorted(EDIT_TOOLS))
_REAL_START = "type = 'SessionStart' AND coalesce(data->>'source', '') <> 'compact'"

_RESTORED = f"""
CREATE OR REPLACE VIEW {SCHEMA}.restored AS
WITH snaps AS (
    SELECT journal_id, seq, session, agent, data FROM {SCHEMA}.events WHERE type = '{SNAPSHOT_TYPE}'
    UNION ALL
    SELECT journal_id, seq, session, agent, data FROM {SCHEMA}.late_records WHERE type = '{SNAPSHOT_TYPE}'
), groups AS (
    SELECT journal_id, coalesce(session, agent) AS owner, max(seq) AS group_end FROM snaps GROUP BY 1, 2
)
SELECT DISTINCT ON (s.journal_id, p.projection, o.op->>1)
       s.journal_id, p.projection, o.op->>1 AS key, s.seq, g.group_end, o.op->>0 AS op, o.op->2 AS record
FROM snaps s
JOIN groups g ON g.journal_id = s.journal_id AND g.owner IS NOT DISTINCT FROM coalesce(s.session, s.agent)
CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(s.data->'ops') = 'object' THEN s.data->'ops'
                                   ELSE '{{}}'::jsonb END) AS p(projection, ops)
CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(p.ops) = 'array' THEN p.ops
                                             ELSE '[]'::jsonb END) AS o(op)
ORDER BY s.journal_id, p.projection, o.op->>1, s.seq DESC
"""

_SESSIONS = f"""
CREATE OR REPLACE VIEW {SCHEMA}.sessions AS
WITH base AS (
    SELECT journal_id, key AS session, group_end AS base_seq, record AS r FROM {SCHEMA}.restored
    WHERE projection = 'sessions' AND op IN ('put', 'set') AND jsonb_typeof(record) = 'array'
), raw AS (
    SELECT e.journal_id, e.session,
           min(e.seq) AS first_seq, max(e.seq) AS last_seq,
           (array_agg(e.ts ORDER BY e.seq))[1] AS first_ts, (array_agg(e.ts ORDER BY e.seq DESC))[1] AS last_ts,
           count(*) AS events,
           count(*) FILTER (WHERE e.type = 'UserPromptSubmit') AS prompts,
           count(*) FILTER (WHERE e.type = 'PostToolUseFailure') AS failed,
           (array_agg(e.ts ORDER BY e.seq) FILTER (WHERE e.{_REAL_START}))[1] AS started,
           max(e.seq) FILTER (WHERE e.{_REAL_START}) AS start_seq,
           max(e.seq) FILTER (WHERE e.type = 'SessionEnd') AS end_seq,
           (array_agg(e.ts ORDER BY e.seq DESC) FILTER (WHERE e.type = 'SessionEnd'))[1] AS end_ts,
           (array_agg(coalesce(nullif(e.data->>'reason', ''), 'other') ORDER BY e.seq DESC)
                FILTER (WHERE e.type = 'SessionEnd'))[1] AS end_reason,
           (array_agg(e.data->'_journal'->>'project_dir' ORDER BY e.seq DESC)
                FILTER (WHERE e.type = 'SessionStart' AND coalesce(e.data->'_journal'->>'project_dir', '') <> ''))[1]
                AS noted_project,
           (array_agg(e.data->>'cwd' ORDER BY e.seq)
                FILTER (WHERE e.type = 'SessionStart' AND coalesce(e.data->>'cwd', '') <> ''))[1] AS first_cwd,
           (array_agg(e.data->'_journal'->>'git_branch' ORDER BY e.seq DESC)
                FILTER (WHERE e.type = 'SessionStart' AND coalesce(e.data->'_journal'->>'git_branch', '') <> ''))[1]
                AS branch,
           (array_agg(e.data->>'model' ORDER BY e.seq DESC)
                FILTER (WHERE e.type = 'SessionStart' AND coalesce(e.data->>'model', '') <> ''))[1] AS model
    FROM {SCHEMA}.events e
    LEFT JOIN base b ON b.journal_id = e.journal_id AND b.session = e.session
    WHERE e.session IS NOT NULL AND e.type <> '{SNAPSHOT_TYPE}' AND e.seq > coalesce(b.base_seq, 0)
    GROUP BY e.journal_id, e.session
), folded AS (
    SELECT coalesce(raw.journal_id, b.journal_id) AS journal_id, coalesce(raw.session, b.session) AS session,
           coalesce((b.r->>{_pos(_S, 'first_seq')})::bigint, raw.first_seq) AS first_seq,
           coalesce(raw.last_seq, (b.r->>{_pos(_S, 'last_seq')})::bigint) AS last_seq,
           coalesce({_ts(_S, 'first_ts')}, raw.first_ts) AS first_ts,
           coalesce(raw.last_ts, {_ts(_S, 'last_ts')}) AS last_ts,
           coalesce({_int(_S, 'events')}, 0) + coalesce(raw.events, 0) AS events,
           coalesce({_ts(_S, 'started')}, raw.started) AS started,
           CASE WHEN raw.start_seq IS NOT NULL AND (raw.end_seq IS NULL OR raw.end_seq < raw.start_seq) THEN NULL
                WHEN raw.end_seq IS NOT NULL THEN raw.end_ts
                ELSE {_ts(_S, 'ended')} END AS ended,
           CASE WHEN raw.start_seq IS NOT NULL AND (raw.end_seq IS NULL OR raw.end_seq < raw.start_seq) THEN NULL
                WHEN raw.end_seq IS NOT NULL THEN raw.end_reason
                ELSE nullif({_text(_S, 'end_reason')}, '') END AS end_reason,
           coalesce({_int(_S, 'prompts')}, 0) + coalesce(raw.prompts, 0) AS prompts,
           coalesce({_int(_S, 'failed')}, 0) + coalesce(raw.failed, 0) AS failed,
           coalesce(raw.noted_project, nullif({_text(_S, 'project_dir')}, ''), raw.first_cwd, '') AS project_dir,
           coalesce(raw.branch, {_text(_S, 'branch')}) AS branch,
           coalesce(raw.model, {_text(_S, 'model')}) AS model,
           b.base_seq AS restored_at
    FROM raw FULL JOIN base b ON b.journal_id = raw.journal_id AND b.session = raw.session
)
SELECT f.journal_id, j.host, j.user_name, j.project, f.session,
       CASE WHEN f.ended IS NOT NULL THEN 'ended' ELSE 'open' END AS status,
       f.first_seq, f.last_seq, f.first_ts, f.last_ts, f.events, f.started, f.ended, f.end_reason,
       f.prompts, f.failed, f.project_dir, f.branch, f.model, f.restored_at
FROM folded f JOIN {SCHEMA}.journals j USING (journal_id)
"""

_AGENT_OF = "coalesce(e.agent, nullif(e.data->>'agent_id', ''))"

_AGENTS = f"""
CREATE OR REPLACE VIEW {SCHEMA}.agents AS
WITH base AS (
    SELECT journal_id, key AS agent, group_end AS base_seq, record AS r FROM {SCHEMA}.restored
    WHERE projection = 'agents' AND op IN ('put', 'set') AND jsonb_typeof(record) = 'array'
), raw AS (
    SELECT e.journal_id, {_AGENT_OF} AS agent,
           min(e.seq) AS first_seq, max(e.seq) AS last_seq,
           (array_agg(e.session ORDER BY e.seq) FILTER (WHERE e.session IS NOT NULL))[1] AS parent,
           (array_agg(e.data->>'agent_type' ORDER BY e.seq DESC)
                FILTER (WHERE e.type = 'SubagentStart' AND coalesce(e.data->>'agent_type', '') <> ''))[1] AS type,
           (array_agg(e.ts ORDER BY e.seq DESC) FILTER (WHERE e.type = 'SubagentStart'))[1] AS started,
           (array_agg(e.ts ORDER BY e.seq DESC) FILTER (WHERE e.type = 'SubagentStop'))[1] AS stopped,
           (array_agg(CASE e.type WHEN 'SubagentStart' THEN 'running' WHEN 'SubagentStop' THEN 'completed'
                                  ELSE left(e.data->>'status', 40) END ORDER BY e.seq DESC)
                FILTER (WHERE e.type IN ('SubagentStart', 'SubagentStop')
                           OR (e.type = 'journal.agent_update' AND e.agent IS NOT NULL
                               AND coalesce(e.data->>'status', '') <> '')))[1] AS status,
           count(*) FILTER (WHERE e.type = 'PostToolUseFailure' AND e.agent IS NOT NULL) AS failed
    FROM {SCHEMA}.events e
    LEFT JOIN base b ON b.journal_id = e.journal_id AND b.agent = {_AGENT_OF}
    WHERE {_AGENT_OF} IS NOT NULL AND e.type <> '{SNAPSHOT_TYPE}' AND e.seq > coalesce(b.base_seq, 0)
    GROUP BY e.journal_id, {_AGENT_OF}
), folded AS (
    SELECT coalesce(raw.journal_id, b.journal_id) AS journal_id, coalesce(raw.agent, b.agent) AS agent,
           coalesce(nullif({_text(_A, 'parent')}, ''), raw.parent) AS parent,
           coalesce(raw.type, nullif({_text(_A, 'type')}, '')) AS type,
           coalesce(raw.status, nullif({_text(_A, 'status')}, ''), 'running') AS status,
           coalesce(raw.started, {_ts(_A, 'started')}) AS started,
           coalesce(raw.stopped, {_ts(_A, 'stopped')}) AS stopped,
           coalesce((b.r->>{_pos(_A, 'first_seq')})::bigint, raw.first_seq) AS first_seq,
           coalesce(raw.last_seq, (b.r->>{_pos(_A, 'last_seq')})::bigint) AS last_seq,
           coalesce({_int(_A, 'failed')}, 0) + coalesce(raw.failed, 0) AS failed,
           b.base_seq AS restored_at
    FROM raw FULL JOIN base b ON b.journal_id = raw.journal_id AND b.agent = raw.agent
)
SELECT f.journal_id, j.host, j.user_name, j.project, f.agent, f.parent, f.type, f.status, f.started, f.stopped,
       f.first_seq, f.last_seq, f.failed, f.restored_at
FROM folded f JOIN {SCHEMA}.journals j USING (journal_id)
"""

_FILES = f"""
CREATE OR REPLACE VIEW {SCHEMA}.files AS
WITH base AS (
    SELECT journal_id, key AS session, group_end AS base_seq, record AS r FROM {SCHEMA}.restored
    WHERE projection = 'sessions' AND op IN ('put', 'set') AND jsonb_typeof(record) = 'array'
), edits AS (
    SELECT e.journal_id, e.session, e.agent, {_PATH} AS path,
           count(*) AS edits, min(e.ts) AS first_ts, max(e.ts) AS last_ts, max(e.seq) AS last_seq,
           (array_agg(e.data->>'tool_name' ORDER BY e.seq DESC))[1] AS tool
    FROM {SCHEMA}.events e
    LEFT JOIN base b ON b.journal_id = e.journal_id AND b.session = e.session
    WHERE e.type = 'PostToolUse' AND e.data->>'tool_name' IN ({_EDIT_TOOLS}) AND coalesce({_PATH}, '') <> ''
      AND e.seq > coalesce(b.base_seq, 0)
    GROUP BY e.journal_id, e.session, e.agent, {_PATH}
), restored AS (
    SELECT b.journal_id, b.session, NULL::text AS agent, f.key AS path, f.value::bigint AS edits,
           NULL::timestamptz AS first_ts, {_ts(_S, 'last_ts')} AS last_ts, b.base_seq AS last_seq, NULL::text AS tool
    FROM base b
    CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(b.r->{_pos(_S, 'files')}) = 'object'
                                            THEN b.r->{_pos(_S, 'files')} ELSE '{{}}'::jsonb END) AS f(key, value)
)
SELECT x.journal_id, j.host, j.user_name, j.project, x.session, x.agent, x.path, x.edits, x.first_ts, x.last_ts,
       x.last_seq, x.tool
FROM (SELECT * FROM edits UNION ALL SELECT * FROM restored) x JOIN {SCHEMA}.journals j USING (journal_id)
"""

_FAILURE_FIELDS = ("tool", "target", "error", "seq", "ts", "agent")  # projections.folds.sessions.Failure, array_like

_FAILURES = f"""
CREATE OR REPLACE VIEW {SCHEMA}.failures AS
WITH base AS (
    SELECT journal_id, key AS session, group_end AS base_seq, record AS r FROM {SCHEMA}.restored
    WHERE projection = 'sessions' AND op IN ('put', 'set') AND jsonb_typeof(record) = 'array'
), raw AS (
    SELECT e.journal_id, e.session, e.agent, e.seq, e.ts, e.data->>'tool_name' AS tool,
           coalesce({_PATH}, e.data->'tool_input'->>'command', e.data->'tool_input'->>'pattern',
                    e.data->'tool_input'->>'description', '') AS target,
           coalesce(nullif(btrim(substring(e.data->>'error' FROM '^\\s*([^\\n]*)')), ''),
                    CASE WHEN (e.data->>'is_interrupt')::boolean THEN 'interrupted' ELSE 'failed' END) AS error
    FROM {SCHEMA}.events e
    WHERE e.type = 'PostToolUseFailure'
), restored AS (
    SELECT b.journal_id, b.session, nullif(f.value->>5, '') AS agent, (f.value->>3)::bigint AS seq,
           (f.value->>4)::timestamptz AS ts, f.value->>0 AS tool, f.value->>1 AS target, f.value->>2 AS error
    FROM base b
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(b.r->{_pos(_S, 'failures')}) = 'array'
                                                 THEN b.r->{_pos(_S, 'failures')} ELSE '[]'::jsonb END) AS f(value)
)
SELECT x.journal_id, j.host, j.user_name, j.project, x.session, x.agent, x.seq, x.ts, x.tool, x.target, x.error
FROM (SELECT * FROM raw
      UNION ALL
      SELECT * FROM restored r
      WHERE NOT EXISTS (SELECT 1 FROM raw WHERE raw.journal_id = r.journal_id AND raw.seq = r.seq)) x
JOIN {SCHEMA}.journals j USING (journal_id)
"""

assert _FAILURE_FIELDS == Failure.__struct_fields__, "the failures view reads Failure's fields by position"


def _statements() -> tuple[str, ...]:
    drops = tuple(f"DROP VIEW IF EXISTS {SCHEMA}.{name} CASCADE" for name in reversed(VIEW_NAMES))
    index = (
        f"CREATE INDEX IF NOT EXISTS events_file_path ON {SCHEMA}.events (({_PATH})) "
        f"WHERE type = 'PostToolUse' AND data->>'tool_name' IN ({_EDIT_TOOLS})",
    )
    return drops + index + (_RESTORED, _SESSIONS, _AGENTS, _FILES, _FAILURES)


#: Applied by ``agent-journal ship`` (bump the version whenever a view changes).
VIEWS_MIGRATION = Migration("views", 1, _statements())


def view_sql(name: str) -> Any:
    """The CREATE statement of one view (for documentation and tests)."""
    return {"restored": _RESTORED, "sessions": _SESSIONS, "agents": _AGENTS, "files": _FILES,
            "failures": _FAILURES}[name]
