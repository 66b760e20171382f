import { randomUUID } from 'node:crypto';
import { type WorkflowHandle, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { AccessStatusView } from '../domain/access.js';
import {
  type OperatorClose,
  type OperatorLogEntry,
  type OperatorRetry,
  operatorCloseSchema,
  operatorRetrySchema,
} from '../domain/operator.js';
import type { RectificationLookup } from '../domain/rectification.js';
import type { RequestListing } from '../domain/request-deadline.js';
import type { SystemName } from '../domain/systems.js';
import type { Ledger } from '../ledger/ledger.js';
import { accessWorkflowId } from '../workflows/access-definitions.js';
import { consentWorkflowId } from '../workflows/consent-definitions.js';
import { rectificationWorkflowId } from '../workflows/rectification-definitions.js';
import { lookupAccess } from './access.js';
import { type ConsentStatusResult, consentStatusOfSubject } from './consent.js';
import { type ErasureLookup, type HubClientContext, lookupErasure } from './erasures.js';
import { findWorkflowByRequestId, requestIdSchema } from './find-by-request-id.js';
import { readsCrmNames, redactOperatorText } from './operator-text.js';
import { findRectification, lookupRectification } from './rectifications.js';
import { requestDeadlineOf } from './request-deadlines.js';
import { OperatorActionRefused, RequestNotFound } from './request-errors.js';

/**
 * The kinds of request an operator can act on. Each kind's workflow answers the same two updates,
 * `retrySystem` and `closeSystem` (workflows/operator-gate.ts), so adding a kind is one more entry in `requestKinds`: how to find its workflow from a request id.
 */
export type RequestKind = 'erasure' | 'consent' | 'access' | 'rectification';

export interface FoundRequest {
  kind: RequestKind;
  requestId: string;
  workflowId: string;
  /** Absent when the request is served by the latest run of its workflow (consent). */
  runId?: string;
  running: boolean;
}

interface RequestKindDefinition {
  kind: RequestKind;
  /** Finds the workflow that carries `requestId`, or undefined when the id is not of this kind. */
  find(context: HubClientContext, ledger: Ledger, requestId: string): Promise<FoundRequest | undefined>;
}

const consentKind: RequestKindDefinition = {
  kind: 'consent',
  // A consent change's id is its event id; the ledger knows whose it is, and one workflow per person
  // carries all of that person's changes.
  async find(context, ledger, requestId) {
    const event = await ledger.getConsentEvent(requestId);
    if (event) {
      const workflowId = consentWorkflowId(event.subjectKey);
      return { kind: 'consent', requestId, workflowId, running: await isRunning(context, workflowId) };
    }
    // A consent workflow's own run id is accepted too.
    const execution = await findWorkflowByRequestId(context.client, 'consentWorkflow', requestId, 0);
    if (!execution) return undefined;
    return {
      kind: 'consent',
      requestId,
      workflowId: execution.workflowId,
      running: await isRunning(context, execution.workflowId),
    };
  },
};

const erasureKind: RequestKindDefinition = {
  kind: 'erasure',
  async find(context, ledger, requestId) {
    const execution = await findWorkflowByRequestId(context.client, 'erasureWorkflow', requestId);
    if (execution) {
      return {
        kind: 'erasure',
        requestId,
        workflowId: execution.workflowId,
        runId: requestId,
        running: execution.status.name === 'RUNNING',
      };
    }
    // Temporal may have forgotten it (retention); the ledger still has the receipt.
    const receipt = await ledger.getReceipt(requestId);
    return receipt
      ? { kind: 'erasure', requestId, workflowId: `erasure-${receipt.subjectKey}`, running: false }
      : undefined;
  },
};

const accessKind: RequestKindDefinition = {
  kind: 'access',
  // An access request's workflow id follows from its request id: one describe, no visibility wait.
  async find(context, ledger, requestId) {
    const workflowId = accessWorkflowId(requestId);
    try {
      const description = await context.client.workflow.getHandle(workflowId).describe();
      return { kind: 'access', requestId, workflowId, running: description.status.name === 'RUNNING' };
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      // Temporal may have forgotten it (retention); the ledger still has the receipt.
      return (await ledger.getAccessReceipt(requestId))
        ? { kind: 'access', requestId, workflowId, running: false }
        : undefined;
    }
  },
};

const rectificationKind: RequestKindDefinition = {
  kind: 'rectification',
  // Its workflow id follows from the request id (one describe); an older one is found by its first run id,
  // and one Temporal has forgotten (retention) by its receipt in the ledger.
  async find(context, ledger, requestId) {
    const found = await findRectification(context, requestId);
    if (found) return { kind: 'rectification', requestId, ...found };
    const receipt = await ledger.getRectification(requestId);
    return receipt
      ? { kind: 'rectification', requestId, workflowId: rectificationWorkflowId(requestId), running: false }
      : undefined;
  },
};

/** Cheapest lookup first: the ledger answers for consent ids at once; erasures may wait on visibility. */
const requestKinds: readonly RequestKindDefinition[] = [
  consentKind,
  accessKind,
  rectificationKind,
  erasureKind,
];

async function isRunning(context: HubClientContext, workflowId: string): Promise<boolean> {
  try {
    return (await context.client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/** Finds a request of any kind by its id; RequestNotFound names the id when nothing has it. */
export async function findRequest(
  context: HubClientContext,
  ledger: Ledger,
  requestId: string,
): Promise<FoundRequest> {
  const parsed = requestIdSchema.safeParse(requestId);
  if (!parsed.success) throw new RequestNotFound(requestId);
  for (const kind of requestKinds) {
    const found = await kind.find(context, ledger, parsed.data);
    if (found) return found;
  }
  throw new RequestNotFound(requestId);
}

export type OperatorCommand =
  | ({ action: 'retry' } & OperatorRetry & { operator: string })
  | ({ action: 'close' } & OperatorClose & { operator: string });

export interface OperatorActionResult {
  kind: RequestKind;
  requestId: string;
  /** The entry the workflow recorded (with its time), also appended to the request's log in the ledger. */
  recorded: OperatorLogEntry;
  /** The request's status right after the action (an ErasureStatusView or a ConsentStatusView). */
  status: unknown;
}

/**
 * Retries or closes one system of any request that needs attention, then appends the action to the request's
 * log in the ledger. The command is validated whole before anything is sent. Refusals (the system does not
 * need attention, the request has finished) are OperatorActionRefused with the reason.
 */
export async function actOnRequest(
  context: HubClientContext,
  ledger: Ledger,
  requestId: string,
  command: OperatorCommand,
): Promise<OperatorActionResult> {
  const parsed =
    command.action === 'retry'
      ? { retry: operatorRetrySchema.parse({ system: command.system, operator: command.operator }) }
      : {
          close: operatorCloseSchema.parse({
            system: command.system,
            reason: command.reason,
            operator: command.operator,
          }),
        };
  const found = await findRequest(context, ledger, requestId);
  if (!found.running) {
    throw new OperatorActionRefused(
      `The ${found.kind} ${requestId} has finished; there is nothing to ${command.action}.`,
    );
  }
  const handle: WorkflowHandle = context.client.workflow.getHandle(found.workflowId, found.runId);
  // An operator's words go into the receipt and the ledger: the workflow knows the person (address, the
  // CRM's names) and redacts them before they are sent.
  const args: OperatorRetry | OperatorClose = parsed.close
    ? {
        ...parsed.close,
        reason: await redactOperatorText(handle, parsed.close.reason, {
          readCrmNames: readsCrmNames(found.kind),
        }),
      }
    : parsed.retry;
  let status: { operatorActions?: OperatorLogEntry[] };
  try {
    status = await handle.executeUpdate<{ operatorActions?: OperatorLogEntry[] }, [typeof args]>(
      command.action === 'retry' ? 'retrySystem' : 'closeSystem',
      { args: [args] },
    );
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      const cause = error.cause instanceof Error ? error.cause.message : error.message;
      throw new OperatorActionRefused(
        `Cannot ${command.action} ${command.system} of ${requestId}: ${cause}.`,
      );
    }
    if (error instanceof WorkflowNotFoundError) {
      throw new OperatorActionRefused(`The ${found.kind} ${requestId} has finished; there is nothing to do.`);
    }
    throw error;
  }
  const recorded = [...(status.operatorActions ?? [])]
    .reverse()
    .find((entry) => entry.system === command.system && entry.action === command.action) ?? {
    action: command.action,
    system: command.system as SystemName,
    operator: command.operator,
    at: new Date().toISOString(),
    ...('reason' in args ? { reason: String(args.reason) } : {}),
  };
  await ledger.recordOperatorAction({
    ...recorded,
    id: randomUUID(),
    requestId,
    requestKind: found.kind,
  });
  return { kind: found.kind, requestId, recorded, status };
}

export type RequestStatus = (
  | { kind: 'erasure'; requestId: string; lookup: ErasureLookup }
  | { kind: 'access'; requestId: string; access: AccessStatusView }
  | { kind: 'consent'; requestId: string; subject: ConsentStatusResult }
  | { kind: 'rectification'; requestId: string; rectification: RectificationLookup }
) & {
  /** When it was received and is due (absent for a request from before deadlines were kept). */
  deadline?: RequestListing;
};

/**
 * Any request's state by its id: an erasure's or a rectification's receipt or live status (per system: state,
 * attempts, last failure, next retry); an access request's status; for a consent change, its subject's
 * consent status (the decision in force, what each system answered, what is being retried).
 */
export async function requestStatus(
  context: HubClientContext,
  ledger: Ledger,
  requestId: string,
): Promise<RequestStatus> {
  const found = await findRequest(context, ledger, requestId);
  const deadline = await requestDeadlineOf(context, ledger, requestId);
  const withDeadline = deadline ? { deadline } : {};
  if (found.kind === 'consent') {
    const subjectKey = found.workflowId.replace(/^consent-/, '');
    return {
      kind: 'consent',
      requestId,
      subject: await consentStatusOfSubject(context, ledger, subjectKey),
      ...withDeadline,
    };
  }
  if (found.kind === 'access') {
    return {
      kind: 'access',
      requestId,
      access: await lookupAccess(context, requestId, ledger),
      ...withDeadline,
    };
  }
  if (found.kind === 'rectification') {
    return {
      kind: 'rectification',
      requestId,
      rectification: await lookupRectification(context, ledger, requestId),
      ...withDeadline,
    };
  }
  const stored = await ledger.getReceipt(requestId);
  return {
    kind: 'erasure',
    requestId,
    lookup: stored ? { state: 'completed', receipt: stored } : await lookupErasure(context, requestId),
    ...withDeadline,
  };
}
