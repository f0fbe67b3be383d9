// Namespaces and custom search attributes through the TypeScript SDK: a
// namespace is registered, updated and described; custom search attributes
// are added, used to start and find a workflow, listed and removed; an
// unregistered attribute is refused naming it; a deprecated namespace takes
// no new runs; DeleteNamespace renames the namespace `<name>-deleted-<id
// prefix>`, frees its name and reclaims it in the background.
'use strict';

const { Connection, Client } = require('@temporalio/client');
const { defineSearchAttributeKey, SearchAttributeType } = require('@temporalio/common');
const { temporal } = require('@temporalio/proto');
const { check, checkEq, log, newId, runScenario, withWorker } = require('./_common');

const { IndexedValueType, NamespaceState } = temporal.api.enums.v1;
const { Status } = require('@grpc/grpc-js/build/src/constants');
const CUSTOMER = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);
const AMOUNT = defineSearchAttributeKey('Amount', SearchAttributeType.INT);
const DAY = 24 * 3600;

async function refusal(what, call) {
  try {
    await call;
  } catch (error) {
    log(`${what}: ${error.code} ${error.details || error.message}`);
    return error;
  }
  throw new Error(`${what}: the call succeeded`);
}

async function until(what, condition, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    check(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function main(args) {
  const connection = await Connection.connect({ address: args.address });
  const { workflowService, operatorService } = connection;
  const namespace = newId('ts-ns');
  await workflowService.registerNamespace({
    namespace,
    description: 'first',
    workflowExecutionRetentionPeriod: { seconds: 2 * DAY },
  });
  await workflowService.updateNamespace({ namespace, updateInfo: { description: 'second', data: { team: 'ts' } } });
  const described = await workflowService.describeNamespace({ namespace });
  checkEq(described.namespaceInfo.description, 'second', 'description after the update');
  checkEq(described.namespaceInfo.data, { team: 'ts' }, 'data after the update');
  checkEq(Number(described.config.workflowExecutionRetentionTtl.seconds), 2 * DAY, 'retention');
  const namespaceId = described.namespaceInfo.id;
  log(`${namespace}: registered, updated and described`);

  await operatorService.addSearchAttributes({
    namespace,
    searchAttributes: { CustomerId: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, Amount: IndexedValueType.INDEXED_VALUE_TYPE_INT },
  });
  const listed = await operatorService.listSearchAttributes({ namespace });
  checkEq(
    [listed.customAttributes.CustomerId, listed.customAttributes.Amount],
    [IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, IndexedValueType.INDEXED_VALUE_TYPE_INT],
    'custom search attributes listed with their types',
  );

  await withWorker({ ...args, namespace }, 'namespaces', {}, async (client, taskQueue) => {
    const workflowId = newId('ts-customer');
    const handle = await client.workflow.start('signalQueryWorkflow', {
      taskQueue,
      workflowId,
      typedSearchAttributes: [
        { key: CUSTOMER, value: 'c-42' },
        { key: AMOUNT, value: 250 },
      ],
    });
    const found = [];
    for await (const execution of client.workflow.list({ query: "CustomerId = 'c-42' AND Amount > 100" })) {
      found.push(execution.workflowId);
    }
    checkEq(found, [workflowId], 'found by its custom search attributes');
    const unregistered = await refusal(
      'starting with an unregistered search attribute',
      client.workflow.start('signalQueryWorkflow', {
        taskQueue,
        workflowId: newId('ts-unregistered'),
        typedSearchAttributes: [{ key: defineSearchAttributeKey('NotRegistered', SearchAttributeType.KEYWORD), value: 'x' }],
      }),
    );
    const messages = [];
    for (let error = unregistered; error; error = error.cause) messages.push(String(error.message));
    check(messages.some((message) => message.includes('NotRegistered')), `the refusal names the attribute: ${messages}`);
    await handle.terminate('found it');
  });
  await operatorService.removeSearchAttributes({ namespace, searchAttributes: ['Amount'] });
  const remaining = await operatorService.listSearchAttributes({ namespace });
  checkEq(Object.keys(remaining.customAttributes).sort(), ['CustomerId'], 'custom search attributes after removing one');
  log(`${namespace}: custom search attributes added, used, listed and removed`);

  await workflowService.deprecateNamespace({ namespace });
  const client = new Client({ connection, namespace });
  const deprecated = await refusal(
    'starting in a deprecated namespace',
    client.workflow.start('signalQueryWorkflow', { taskQueue: 'nobody', workflowId: newId('ts-late') }),
  );
  const reasons = [];
  for (let error = deprecated; error; error = error.cause) reasons.push(String(error.message));
  check(reasons.some((message) => message.includes('Deprecated')), `refused naming the state: ${reasons}`);

  const { deletedNamespace } = await operatorService.deleteNamespace({ namespace });
  checkEq(deletedNamespace, `${namespace}-deleted-${namespaceId.slice(0, 5)}`, 'the deleted namespace is renamed');
  const deleted = await workflowService.describeNamespace({ namespace: deletedNamespace });
  checkEq(deleted.namespaceInfo.state, NamespaceState.NAMESPACE_STATE_DELETED, 'state under the new name');
  const gone = await refusal('describing the deleted name', workflowService.describeNamespace({ namespace }));
  checkEq(gone.code, Status.NOT_FOUND, 'status of the deleted name');
  const notFound = async () => {
    try {
      await workflowService.describeNamespace({ namespace: deletedNamespace });
      return false;
    } catch (error) {
      return error.code === Status.NOT_FOUND;
    }
  };
  await until(`${deletedNamespace} to be reclaimed`, notFound);
  log(`${namespace}: deprecated, deleted as ${deletedNamespace} and reclaimed`);
}

runScenario(main, 'namespaces and custom search attributes');
