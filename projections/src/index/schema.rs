//! The index's SQLite schema.

/// `PRAGMA user_version` of the schema below; a file with another one is refused.
pub(super) const VERSION: i64 = 1;

pub(super) const SCHEMA: &str = "
-- One row per run. Times and durations are nanoseconds since the Unix epoch
-- (UTC); `record` is the run's latest VisibilityRecord (protobuf), returned
-- by listings as is.
CREATE TABLE executions (
    id                     INTEGER PRIMARY KEY,
    namespace_id           TEXT    NOT NULL,
    run_id                 TEXT    NOT NULL,
    workflow_id            TEXT    NOT NULL,
    workflow_type          TEXT    NOT NULL,
    task_queue             TEXT    NOT NULL,
    status                 INTEGER NOT NULL, -- temporal.api.enums.v1.WorkflowExecutionStatus
    start_time             INTEGER,
    execution_time         INTEGER,          -- the start time when the record has none
    close_time             INTEGER,          -- null while running
    close_order            INTEGER NOT NULL, -- close_time, or the greatest i64 while running
    execution_duration     INTEGER,          -- null while running
    history_length         INTEGER NOT NULL,
    history_size_bytes     INTEGER NOT NULL,
    state_transition_count INTEGER NOT NULL,
    parent_workflow_id     TEXT,             -- null without a parent
    parent_run_id          TEXT,
    root_workflow_id       TEXT    NOT NULL, -- the run's own ids without a parent
    root_run_id            TEXT    NOT NULL,
    namespace_division     TEXT,             -- the TemporalNamespaceDivision search attribute
    version                INTEGER NOT NULL,
    record                 BLOB    NOT NULL,
    UNIQUE (namespace_id, run_id)
);
-- The default order: running first, then by close time, latest first.
CREATE INDEX executions_by_close ON executions (namespace_id, close_order DESC, start_time DESC, run_id);
CREATE INDEX executions_by_status ON executions (namespace_id, status, close_order DESC, start_time DESC, run_id);
CREATE INDEX executions_by_type ON executions (namespace_id, workflow_type, close_order DESC, start_time DESC, run_id);
CREATE INDEX executions_by_workflow_id ON executions (namespace_id, workflow_id);

-- The run's search attributes but TemporalNamespaceDivision: one row per
-- value (per element of a KeywordList). `kind` says how `value` compares
-- (1 string, 2 number, 3 bool, 4 datetime); `value` has no type affinity,
-- so it keeps the type it was written with.
CREATE TABLE search_attributes (
    execution INTEGER NOT NULL, -- executions.id
    name      TEXT    NOT NULL,
    kind      INTEGER NOT NULL,
    value     BLOB    NOT NULL,
    PRIMARY KEY (execution, name, kind, value)
) WITHOUT ROWID;

-- Per visibility log partition: the offset of the next record to apply.
CREATE TABLE applied_offsets (
    partition   INTEGER PRIMARY KEY,
    next_offset INTEGER NOT NULL
);
";
