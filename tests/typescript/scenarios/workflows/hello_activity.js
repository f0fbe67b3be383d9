// Workflow code of hello_activity.js, bundled by the worker.
'use strict';

const { proxyActivities } = require('@temporalio/workflow');

// Only start-to-close is set: the server fills in the other timeouts.
const { composeGreeting } = proxyActivities({ startToCloseTimeout: '10 seconds' });

async function greetingWorkflow(name) {
  return await composeGreeting(name);
}

module.exports = { greetingWorkflow };
