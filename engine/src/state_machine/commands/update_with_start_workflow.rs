//! Update-with-start (ExecuteMultiOperation): starts the workflow, or keeps
//! the running run its conflict policy names, and admits the update to it
//! in the same command, so the update reaches the run's first workflow task.

use temper_proto::records::{UpdateWithStartWorkflow, WorkflowMutableState};

use super::start_workflow::{self, StartOutcome};
use super::update_workflow::admit;
use super::Reply;
use crate::state_machine::{Clock, CommandError, Transition};

pub fn apply(
    namespace_id: &str,
    mut current: Option<&mut WorkflowMutableState>,
    command: &UpdateWithStartWorkflow,
    clock: Clock<'_>,
) -> Result<StartOutcome, CommandError> {
    super::refuse_schedule_run(current.as_deref(), "UpdateWithStartWorkflow")?;
    let start = command.start.clone().unwrap_or_default();
    let update = command.update.clone().unwrap_or_default().request.unwrap_or_default();
    let mut outcome = start_workflow::apply(namespace_id, current.as_deref_mut(), &start, clock)?;
    let Reply::Started { run_id, started } = outcome.reply.clone() else {
        return Err(CommandError::Internal("a start answers with its run".into()));
    };
    match (outcome.new_run.as_mut(), current) {
        (Some(new_run), _) => {
            let admitted = admit(&mut new_run.state, update, clock)?;
            new_run.transition = std::mem::take(&mut new_run.transition).then(admitted);
        }
        (None, Some(existing)) => {
            let admitted = admit(existing, update, clock)?;
            outcome.previous_run = Some(outcome.previous_run.take().unwrap_or_default().then(admitted));
        }
        (None, None) => return Err(CommandError::Internal("a start kept no run".into())),
    }
    outcome.reply = Reply::UpdateAdmitted { run_id, started };
    Ok(outcome)
}

impl Transition {
    /// This transition followed by `next`, of the same run.
    pub fn then(mut self, next: Transition) -> Transition {
        self.events.extend(next.events);
        self.effects.extend(next.effects);
        self.successor = self.successor.or(next.successor);
        self
    }
}
