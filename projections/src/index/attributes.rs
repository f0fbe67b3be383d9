//! The search attributes a query may name, and where the index keeps each:
//! Temporal's system attributes are columns of `executions`; predefined
//! ones (`TemporalChangeVersion`, `BuildIds`, …) and the namespace's custom
//! ones are rows of `search_attributes`. Names and types follow Temporal's
//! `common/searchattribute/sadefs/constants.go`.

use temper_engine::search_attributes::PREDEFINED;
use temper_proto::api::enums::v1::IndexedValueType;

use super::SearchAttributeTypes;

/// What a value of the attribute needs before it is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Special {
    None,
    /// Stored as the WorkflowExecutionStatus number; literals are status names.
    Status,
    /// Nanoseconds; literals may be durations (`1h30m`).
    Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Place {
    /// A column of `executions` (aliased `e`), as fixed SQL text.
    Column { sql: &'static str, nullable: bool, special: Special },
    /// Rows of `search_attributes` under this name.
    Rows { name: String },
}

/// A search attribute a query names, resolved.
#[derive(Clone, Debug)]
pub(super) struct Resolved {
    /// The name the query wrote.
    pub alias: String,
    pub value_type: IndexedValueType,
    pub place: Place,
}

impl Resolved {
    /// The attribute's field name, as stored.
    pub(super) fn field(&self) -> &str {
        match &self.place {
            Place::Rows { name } => name,
            Place::Column { sql, .. } => sql,
        }
    }
}

use IndexedValueType::{Datetime, Int, Keyword};

/// System attributes: (name, type, column, nullable, special).
const SYSTEM: &[(&str, IndexedValueType, &str, bool, Special)] = &[
    ("WorkflowId", Keyword, "e.workflow_id", false, Special::None),
    ("RunId", Keyword, "e.run_id", false, Special::None),
    ("WorkflowType", Keyword, "e.workflow_type", false, Special::None),
    ("StartTime", Datetime, "e.start_time", true, Special::None),
    ("ExecutionTime", Datetime, "e.execution_time", true, Special::None),
    ("CloseTime", Datetime, "e.close_time", true, Special::None),
    ("ExecutionStatus", Keyword, "e.status", false, Special::Status),
    ("TaskQueue", Keyword, "e.task_queue", false, Special::None),
    ("HistoryLength", Int, "e.history_length", false, Special::None),
    ("ExecutionDuration", Int, "e.execution_duration", true, Special::Duration),
    ("StateTransitionCount", Int, "e.state_transition_count", false, Special::None),
    ("HistorySizeBytes", Int, "e.history_size_bytes", false, Special::None),
    ("ParentWorkflowId", Keyword, "e.parent_workflow_id", true, Special::None),
    ("ParentRunId", Keyword, "e.parent_run_id", true, Special::None),
    ("RootWorkflowId", Keyword, "e.root_workflow_id", false, Special::None),
    ("RootRunId", Keyword, "e.root_run_id", false, Special::None),
    // Predefined, but every query filters on it (see `NAMESPACE_DIVISION`),
    // so it has a column.
    (NAMESPACE_DIVISION, Keyword, "e.namespace_division", true, Special::None),
];

/// Set on executions that are not workflows of the namespace proper
/// (Temporal's scheduler workflows); a query that does not name it lists
/// only executions without it.
pub(super) const NAMESPACE_DIVISION: &str = "TemporalNamespaceDivision";

const RESERVED_PREFIX: &str = "Temporal";

/// Whether a search attribute of the run's payloads is kept in a column
/// rather than in `search_attributes`.
pub(super) fn is_column(name: &str) -> bool {
    name == NAMESPACE_DIVISION
}

fn builtin(name: &str) -> Option<Resolved> {
    if let Some((_, value_type, sql, nullable, special)) = SYSTEM.iter().find(|(n, ..)| *n == name) {
        return Some(Resolved {
            alias: name.to_owned(),
            value_type: *value_type,
            place: Place::Column { sql, nullable: *nullable, special: *special },
        });
    }
    // Predefined attributes, kept in the run's search attributes (those
    // with a column were found above).
    PREDEFINED.iter().find(|(n, _)| *n == name).map(|(name, value_type)| Resolved {
        alias: (*name).to_owned(),
        value_type: *value_type,
        place: Place::Rows { name: (*name).to_owned() },
    })
}

/// Resolves a name as Temporal's `resolveSearchAttributeAlias` does: a
/// custom attribute first (unless the name is a system or predefined one),
/// then a system or predefined one, then the same with the `Temporal`
/// prefix added or removed (`ChangeVersion` is `TemporalChangeVersion`).
pub(super) fn resolve(alias: &str, custom: &SearchAttributeTypes) -> Option<Resolved> {
    let with_alias = |mut resolved: Resolved| {
        resolved.alias = alias.to_owned();
        resolved
    };
    if builtin(alias).is_none()
        && let Some(value_type) = custom.get(alias)
    {
        return Some(Resolved {
            alias: alias.to_owned(),
            value_type: *value_type,
            place: Place::Rows { name: alias.to_owned() },
        });
    }
    if let Some(resolved) = builtin(alias) {
        return Some(resolved);
    }
    let toggled = match alias.strip_prefix(RESERVED_PREFIX) {
        Some(rest) => rest.to_owned(),
        None => format!("{RESERVED_PREFIX}{alias}"),
    };
    builtin(&toggled).map(with_alias)
}

/// The statuses a query may name, as Temporal spells them.
pub(super) const STATUS_NAMES: &[(&str, i32)] = &[
    ("Running", 1),
    ("Completed", 2),
    ("Failed", 3),
    ("Canceled", 4),
    ("Terminated", 5),
    ("ContinuedAsNew", 6),
    ("TimedOut", 7),
    ("Paused", 8),
];

/// A status literal as Temporal's `WorkflowExecutionStatusFromString` reads
/// it: `Running` or `WORKFLOW_EXECUTION_STATUS_RUNNING` (and `Unspecified`).
pub(super) fn status_from_name(name: &str) -> Option<i32> {
    use temper_proto::api::enums::v1::WorkflowExecutionStatus;
    if name == "Unspecified" {
        return Some(0);
    }
    STATUS_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, status)| *status)
        .or_else(|| WorkflowExecutionStatus::from_str_name(name).map(|status| status as i32))
}

/// A status's name as queries spell it and count groups report it:
/// `Running`, `ContinuedAsNew`, ...
pub fn status_name(status: i32) -> &'static str {
    STATUS_NAMES.iter().find(|(_, number)| *number == status).map_or("Unspecified", |(name, _)| name)
}

pub(super) fn status_is_valid(number: i64) -> bool {
    (0..=STATUS_NAMES.len() as i64).contains(&number)
}
