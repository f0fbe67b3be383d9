//! Workflow updates: admitted by UpdateWorkflowExecution, handed to the
//! worker as protocol messages with a workflow task, then accepted (an
//! event), completed (an event with the outcome) or rejected by the
//! workflow's validator (no event at all). A workflow task scheduled only to
//! deliver updates is speculative: if the worker just rejects them, the task
//! leaves nothing in history. Callers wait for the stage they asked for by
//! reading the run's state (see the gateway's update service).

use prost::Message as _;
use temper_proto::api::enums::v1::WorkflowTaskFailedCause;
use temper_proto::api::failure::v1::failure::FailureInfo;
use temper_proto::api::failure::v1::{ApplicationFailureInfo, Failure};
use temper_proto::api::history::v1::history_event::Attributes;
use temper_proto::api::history::v1::{
    WorkflowExecutionUpdateAcceptedEventAttributes, WorkflowExecutionUpdateCompletedEventAttributes,
};
use temper_proto::api::protocol::v1::Message;
use temper_proto::api::protocol::v1::message::SequencingId;
use temper_proto::api::update::v1::{Acceptance, Outcome, Rejection, Request, Response, outcome};
use temper_proto::records::{UpdateInfo, UpdateStage};

use super::history::RunMutation;
use super::workflow_task_commands::WorkflowTaskFailure;

const ACCEPTANCE: &str = "temporal.api.update.v1.Acceptance";
const REJECTION: &str = "temporal.api.update.v1.Rejection";
const RESPONSE: &str = "temporal.api.update.v1.Response";
const REQUEST: &str = "temporal.api.update.v1.Request";

/// What a worker's protocol message says about an update.
pub(super) enum UpdateMessage {
    Accepted(Acceptance),
    Rejected(Rejection),
    Completed(Response),
}

impl UpdateMessage {
    pub fn decode(message: &Message) -> Result<Self, WorkflowTaskFailure> {
        let body = message.body.as_ref().ok_or_else(|| bad_message(format!("message {} has no body", message.id)))?;
        let type_name = body.type_url.rsplit('/').next().unwrap_or_default();
        let undecodable = |error: prost::DecodeError| bad_message(format!("message {}: {error}", message.id));
        match type_name {
            ACCEPTANCE => Acceptance::decode(body.value.as_slice()).map(UpdateMessage::Accepted).map_err(undecodable),
            REJECTION => Rejection::decode(body.value.as_slice()).map(UpdateMessage::Rejected).map_err(undecodable),
            RESPONSE => Response::decode(body.value.as_slice()).map(UpdateMessage::Completed).map_err(undecodable),
            other => Err(bad_message(format!("message {} has an unknown body type {other:?}", message.id))),
        }
    }

    pub fn is_rejection(&self) -> bool {
        matches!(self, UpdateMessage::Rejected(_))
    }
}

fn bad_message(message: String) -> WorkflowTaskFailure {
    WorkflowTaskFailure::new(WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage, message)
}

/// The failure of an accepted update the run closed before completing
/// (Temporal's, word for word).
fn closed_before_completion() -> Failure {
    server_failure(
        "AcceptedUpdateCompletedWorkflow",
        "Workflow Update failed because the Workflow completed before the Update completed.",
    )
}

/// The failure of an update a worker got and neither accepted nor rejected
/// (Temporal's, word for word).
fn unprocessed() -> Failure {
    server_failure(
        "UnprocessedUpdate",
        "Workflow Update is rejected because it wasn't processed by worker. Probably, Workflow Update is not supported by the worker.",
    )
}

fn server_failure(failure_type: &str, message: &str) -> Failure {
    Failure {
        message: message.to_string(),
        source: "Server".to_string(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
            r#type: failure_type.to_string(),
            non_retryable: true,
            ..Default::default()
        })),
        ..Default::default()
    }
}

impl RunMutation<'_> {
    /// Admits an update, unless its id is known already (a retried request);
    /// a workflow task will carry it to the worker.
    pub(super) fn admit_update(&mut self, request: Request) {
        let update_id = request.meta.as_ref().map(|meta| meta.update_id.clone()).unwrap_or_default();
        if self.state.updates.contains_key(&update_id) {
            return;
        }
        self.state.updates.insert(
            update_id,
            UpdateInfo { request: Some(request), stage: UpdateStage::Admitted as i32, ..Default::default() },
        );
        self.touch();
        self.schedule_workflow_task_for_update();
    }

    /// Whether an admitted update still waits to be handed to a worker.
    pub(super) fn has_undelivered_updates(&self) -> bool {
        self.state.updates.values().any(|update| update.stage() == UpdateStage::Admitted && !update.delivered)
    }

    /// Hands every admitted update to the workflow task starting now, as
    /// protocol messages sequenced before its started event.
    pub(super) fn deliver_updates(&mut self) {
        for update in self.state.updates.values_mut().filter(|update| update.stage() == UpdateStage::Admitted) {
            update.delivered = true;
        }
    }

    /// The messages of the updates a started workflow task carries.
    pub(super) fn update_messages(&self, started_event_id: i64) -> Vec<Message> {
        let mut delivered: Vec<(&String, &UpdateInfo)> = self
            .state
            .updates
            .iter()
            .filter(|(_, update)| update.stage() == UpdateStage::Admitted && update.delivered)
            .collect();
        delivered.sort_by(|a, b| a.0.cmp(b.0));
        delivered
            .into_iter()
            .map(|(update_id, update)| Message {
                id: format!("{update_id}/request"),
                protocol_instance_id: update_id.clone(),
                sequencing_id: Some(SequencingId::EventId(started_event_id - 1)),
                body: Some(prost_types::Any {
                    type_url: format!("type.googleapis.com/{REQUEST}"),
                    value: update.request.clone().unwrap_or_default().encode_to_vec(),
                }),
            })
            .collect()
    }

    /// A failed or timed-out workflow task answered nothing: its updates go
    /// with the next one.
    pub(super) fn redeliver_updates(&mut self) {
        for update in self.state.updates.values_mut() {
            update.delivered = false;
        }
    }

    /// Applies what a worker's message says; returns the event written (0 if none).
    pub(super) fn apply_update_message(&mut self, message: &Message, body: UpdateMessage) -> Result<i64, WorkflowTaskFailure> {
        let update_id = message.protocol_instance_id.clone();
        let Some(update) = self.state.updates.get(&update_id).cloned() else {
            return Err(bad_message(format!("message {} is about update {update_id:?}, which the workflow does not have", message.id)));
        };
        match body {
            UpdateMessage::Accepted(acceptance) => {
                if update.stage() != UpdateStage::Admitted {
                    return Err(bad_message(format!("update {update_id:?} was accepted twice")));
                }
                let event_id = self.add_event(Attributes::from(WorkflowExecutionUpdateAcceptedEventAttributes {
                    protocol_instance_id: update_id.clone(),
                    accepted_request_message_id: acceptance.accepted_request_message_id,
                    accepted_request_sequencing_event_id: acceptance.accepted_request_sequencing_event_id,
                    accepted_request: acceptance.accepted_request.or(update.request),
                }));
                let stored = self.state.updates.get_mut(&update_id).expect("found above");
                stored.stage = UpdateStage::Accepted as i32;
                stored.accepted_event_id = event_id;
                Ok(event_id)
            }
            UpdateMessage::Rejected(rejection) => {
                if update.stage() != UpdateStage::Admitted {
                    return Err(bad_message(format!("update {update_id:?} was rejected after it was accepted")));
                }
                let outcome = Outcome { value: Some(outcome::Value::Failure(rejection.failure.unwrap_or_default())) };
                self.finish_update(&update_id, outcome);
                Ok(0)
            }
            UpdateMessage::Completed(response) => {
                if update.stage() != UpdateStage::Accepted {
                    return Err(bad_message(format!("update {update_id:?} was completed before it was accepted")));
                }
                let outcome = response.outcome.unwrap_or_default();
                let event_id = self.add_event(Attributes::from(WorkflowExecutionUpdateCompletedEventAttributes {
                    meta: response.meta,
                    accepted_event_id: update.accepted_event_id,
                    outcome: Some(outcome.clone()),
                }));
                self.finish_update(&update_id, outcome);
                Ok(event_id)
            }
        }
    }

    /// Updates the worker got with this task and neither accepted nor
    /// rejected are rejected, as Temporal does: the worker did not know them.
    pub(super) fn reject_unanswered_updates(&mut self) {
        let unanswered: Vec<String> = self
            .state
            .updates
            .iter()
            .filter(|(_, update)| update.stage() == UpdateStage::Admitted && update.delivered)
            .map(|(update_id, _)| update_id.clone())
            .collect();
        for update_id in unanswered {
            self.finish_update(&update_id, Outcome { value: Some(outcome::Value::Failure(unprocessed())) });
        }
    }

    /// As the run closes, its unfinished updates end as Temporal's do: an
    /// accepted one fails (the workflow closed first); one not accepted yet
    /// is aborted, which its caller gets as an error (and which the gateway
    /// sends to the new run when this one continued as new).
    pub(super) fn end_unfinished_updates(&mut self) {
        let unfinished: Vec<(String, UpdateStage)> = self
            .state
            .updates
            .iter()
            .filter(|(_, update)| !matches!(update.stage(), UpdateStage::Completed | UpdateStage::Aborted))
            .map(|(update_id, update)| (update_id.clone(), update.stage()))
            .collect();
        for (update_id, stage) in unfinished {
            if stage == UpdateStage::Accepted {
                self.finish_update(&update_id, Outcome { value: Some(outcome::Value::Failure(closed_before_completion())) });
            } else if let Some(update) = self.state.updates.get_mut(&update_id) {
                update.stage = UpdateStage::Aborted as i32;
                update.delivered = false;
                self.touch();
            }
        }
    }

    fn finish_update(&mut self, update_id: &str, outcome: Outcome) {
        if let Some(update) = self.state.updates.get_mut(update_id) {
            update.stage = UpdateStage::Completed as i32;
            update.outcome = Some(outcome);
            update.delivered = false;
        }
        self.touch();
    }
}
