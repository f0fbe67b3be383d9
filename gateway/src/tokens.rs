//! Task tokens: what a worker gets with a task and hands back with its answer.
//! A token comes back from outside, so it is checked as carefully as any
//! other request field before its ids address a run or become store keys.

use prost::Message;
use temper_proto::records::{TaskKind, TaskToken};

use crate::errors::{ApiError, ApiResult};
use crate::gateway::Limits;

pub fn encode(token: &TaskToken) -> Vec<u8> {
    token.encode_to_vec()
}

/// Decodes a token and checks it is a well-formed token of the kind the RPC
/// expects. Which namespace it belongs to is checked by the caller
/// (`Gateway::task_token`).
pub fn decode(bytes: &[u8], expected: TaskKind, limits: &Limits) -> ApiResult<TaskToken> {
    if bytes.is_empty() {
        return Err(ApiError::invalid("Task token not set on request."));
    }
    let token = TaskToken::decode(bytes).map_err(|_| ApiError::invalid("Error deserializing task token."))?;
    if token.kind != expected as i32 {
        return Err(invalid(format!("this is not a {} task token", kind_name(expected))));
    }
    check_ids(&token, limits)?;
    check_numbers(&token)?;
    Ok(token)
}

fn invalid(reason: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("Invalid TaskToken: {reason}."))
}

fn check_ids(token: &TaskToken, limits: &Limits) -> ApiResult<()> {
    let kind = token.kind();
    let ids = [
        ("NamespaceId", &token.namespace_id, true),
        ("WorkflowId", &token.workflow_id, true),
        ("ActivityId", &token.activity_id, kind == TaskKind::Activity),
        ("QueryId", &token.query_id, kind == TaskKind::Query),
    ];
    for (name, id, required) in ids {
        if required && id.is_empty() {
            return Err(invalid(format!("{name} is not set")));
        }
        limits.id(id, name).map_err(|_| invalid(format!("{name} length exceeds limit")))?;
    }
    if uuid::Uuid::parse_str(&token.run_id).is_err() {
        return Err(invalid("RunId is not a UUID"));
    }
    Ok(())
}

/// Event ids and attempts the server handed out are positive; anything else
/// was not made by this server.
fn check_numbers(token: &TaskToken) -> ApiResult<()> {
    if token.started_event_id < 0 || token.started_time_nanos < 0 || token.scheduled_event_id < 0 || token.attempt < 0 {
        return Err(invalid("negative event id, attempt or time"));
    }
    let addresses_an_event = matches!(token.kind(), TaskKind::Workflow | TaskKind::Activity);
    if addresses_an_event && (token.scheduled_event_id == 0 || token.attempt == 0) {
        return Err(invalid("ScheduledEventId and Attempt must be positive"));
    }
    if token.kind() == TaskKind::Workflow && token.started_event_id <= token.scheduled_event_id {
        return Err(invalid("StartedEventId must follow ScheduledEventId"));
    }
    Ok(())
}

fn kind_name(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Workflow => "workflow",
        TaskKind::Activity => "activity",
        TaskKind::Query => "query",
        TaskKind::Unspecified => "known",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity_token() -> TaskToken {
        TaskToken {
            namespace_id: uuid::Uuid::new_v4().to_string(),
            workflow_id: "wf".into(),
            run_id: uuid::Uuid::new_v4().to_string(),
            scheduled_event_id: 5,
            attempt: 1,
            activity_id: "1".into(),
            kind: TaskKind::Activity as i32,
            started_time_nanos: 1,
            ..Default::default()
        }
    }

    fn decoded(token: &TaskToken, kind: TaskKind) -> ApiResult<TaskToken> {
        decode(&encode(token), kind, &Limits::default())
    }

    fn refusal(result: ApiResult<TaskToken>) -> String {
        match result {
            Err(ApiError::InvalidArgument(message)) => message,
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    #[test]
    fn a_genuine_token_decodes() {
        let token = activity_token();
        assert_eq!(decoded(&token, TaskKind::Activity).unwrap(), token);
    }

    #[test]
    fn empty_garbage_and_wrong_kind_are_refused() {
        assert_eq!(refusal(decode(&[], TaskKind::Activity, &Limits::default())), "Task token not set on request.");
        assert_eq!(refusal(decode(b"\xff\xff garbage", TaskKind::Activity, &Limits::default())), "Error deserializing task token.");
        assert!(refusal(decoded(&activity_token(), TaskKind::Workflow)).contains("not a workflow task token"));
    }

    #[test]
    fn a_forged_oversized_id_is_refused_before_it_can_become_a_key() {
        let forged = TaskToken { workflow_id: "w".repeat(70_000), ..activity_token() };
        assert!(refusal(decoded(&forged, TaskKind::Activity)).contains("WorkflowId length exceeds limit"));
        let forged = TaskToken { namespace_id: "n".repeat(1001), ..activity_token() };
        assert!(refusal(decoded(&forged, TaskKind::Activity)).contains("NamespaceId length exceeds limit"));
        let forged = TaskToken { activity_id: "a".repeat(1001), ..activity_token() };
        assert!(refusal(decoded(&forged, TaskKind::Activity)).contains("ActivityId length exceeds limit"));
    }

    #[test]
    fn missing_ids_a_malformed_run_id_and_bad_numbers_are_refused() {
        let cases = [
            ("NamespaceId is not set", TaskToken { namespace_id: String::new(), ..activity_token() }),
            ("WorkflowId is not set", TaskToken { workflow_id: String::new(), ..activity_token() }),
            ("ActivityId is not set", TaskToken { activity_id: String::new(), ..activity_token() }),
            ("RunId is not a UUID", TaskToken { run_id: "run-1".into(), ..activity_token() }),
            ("negative", TaskToken { attempt: -1, ..activity_token() }),
            ("negative", TaskToken { started_time_nanos: -1, ..activity_token() }),
            ("must be positive", TaskToken { scheduled_event_id: 0, ..activity_token() }),
        ];
        for (expected, token) in cases {
            let message = refusal(decoded(&token, TaskKind::Activity));
            assert!(message.starts_with("Invalid TaskToken") && message.contains(expected), "{expected}: {message}");
        }
        let workflow = TaskToken { kind: TaskKind::Workflow as i32, activity_id: String::new(), scheduled_event_id: 2, started_event_id: 3, ..activity_token() };
        assert!(decoded(&workflow, TaskKind::Workflow).is_ok());
        let unstarted = TaskToken { started_event_id: 0, ..workflow };
        assert!(refusal(decoded(&unstarted, TaskKind::Workflow)).contains("StartedEventId"));
    }

    #[test]
    fn a_query_token_needs_its_query_id() {
        let query = TaskToken { kind: TaskKind::Query as i32, query_id: "q".into(), scheduled_event_id: 0, attempt: 0, activity_id: String::new(), ..activity_token() };
        assert!(decoded(&query, TaskKind::Query).is_ok());
        assert!(refusal(decoded(&TaskToken { query_id: String::new(), ..query }, TaskKind::Query)).contains("QueryId is not set"));
    }
}
