import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ZodError } from 'zod';
import { defaultMailchimpPurposeMap } from '../../connectors/mailchimp/config.js';
import { purposesUnsubscribedIn } from '../../connectors/mailchimp/consent.js';
import type { AddressChangeRefusalReason } from '../../domain/address-change-refusal.js';
import { consentChangeRequestSchema } from '../../domain/consent.js';
import type { Purpose } from '../../domain/purposes.js';
import { mailchimpAddressChangeActor } from '../../domain/rectification.js';
import { defaultReceivedAtFloorDays } from '../../domain/request-deadline.js';
import { bufferConsentChanges } from '../../hub-client/consent-batch.js';
import { tellRunningErasureOfAddressChange } from '../../hub-client/erasure-address-change.js';
import { requestRectification } from '../../hub-client/rectifications.js';
import { RectificationRefused } from '../../hub-client/request-errors.js';
import { stableUuid } from '../../privacy/stable-id.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import type { ApiDependencies } from '../api-dependencies.js';
import { secretsEqual } from '../api-keys.js';
import { ttlMs } from '../idempotency.js';
import {
  type FiredAtReading,
  type FiredAtSkew,
  firedAtSkewNote,
  type MailchimpWebhookEvent,
  mailchimpWebhookSchema,
  readFiredAt,
  webhookEventId,
} from '../mailchimp-webhook-event.js';
import { ApiProblem, invalidBody, notFoundProblem, sendProblem } from '../problem.js';

/**
 * `GET|POST /webhooks/mailchimp/<secret>`. Mailchimp signs nothing, so the secret in the path is the whole
 * authentication: compared in constant time, and a wrong one looks exactly like any other unknown path.
 */
export function mailchimpWebhookRoutes(deps: ApiDependencies, secret: string) {
  const { logger } = deps;
  const authentic = (presented: string) => secretsEqual(presented, secret);
  const purposeMap = deps.mailchimpPurposeMap ?? defaultMailchimpPurposeMap;

  return async (hooks: FastifyInstance) => {
    // Form bodies are accepted here only; the /v1 routes keep refusing them.
    await hooks.register(formbody);

    // Mailchimp checks the URL with a GET when the webhook is saved.
    hooks.get<{ Params: { secret: string } }>('/:secret', async (request, reply) => {
      if (!authentic(request.params.secret)) return sendProblem(reply, notFoundProblem());
      return reply.code(200).send({ ok: true });
    });

    hooks.post<{ Params: { secret: string } }>('/:secret', async (request, reply) => {
      if (!authentic(request.params.secret)) return sendProblem(reply, notFoundProblem());
      const parsed = mailchimpWebhookSchema.safeParse(request.body ?? {});
      if (!parsed.success) throw invalidBody(parsed.error);
      const event = parsed.data;

      if (event.type === 'unsubscribe') {
        // An unsubscribe whose action is `delete` (the member was deleted in Mailchimp) is an opt-out, not an
        // erasure: a delete on the Mailchimp side is not a verified request from the person, and erasing on
        // a webhook would let anyone who can delete a list member erase CRM records.
        // The same rule as reconciliation's: exactly the purposes the purpose map maps to membership in the
        // audience the person left.
        const listId = event['data[list_id]'];
        return withdraw(reply, event, purposesUnsubscribedIn(purposeMap, listId, []));
      }
      // A cleaned address bounced: Mailchimp stopped sending to it, but the person decided nothing, so no
      // consent is withdrawn (reconciliation reads a cleaned member the same way); acknowledged below.
      if (event.type === 'upemail' && event['data[old_email]'] && event['data[new_email]']) {
        return changeAddress(reply, event, event['data[old_email]'], event['data[new_email]']);
      }

      // profile, upemail, subscribe, cleaned and campaign change no consent; acknowledged so Mailchimp stops
      // retrying.
      const email = event['data[email]'] ?? event['data[new_email]'];
      logger.info(
        {
          type: event.type,
          listId: event['data[list_id]'],
          subjectKey: email === undefined ? undefined : subjectKeyFor(email, deps.hub.subjectKeySecret),
        },
        'mailchimp webhook acknowledged; no consent change',
      );
      return reply.code(200).send({ acknowledged: true });
    });
  };

  /**
   * upemail: the person changed their address in Mailchimp. The hub rectifies them everywhere else (the
   * Dynamics rows holding the old address) and re-keys them in the ledger, through the rectification
   * workflow: Mailchimp's own step finds the member already moved. Once per delivery (retries replay).
   */
  async function changeAddress(reply: FastifyReply, event: MailchimpWebhookEvent, from: string, to: string) {
    const subjectKey = subjectKeyFor(from, deps.hub.subjectKeySecret);
    const eventId = webhookEventId(event, subjectKey, subjectKeyFor(to, deps.hub.subjectKeySecret));
    const storeKey = `mailchimp-webhook:${eventId}`;
    const seen = await deps.ledger.getIdempotentResponse(storeKey);
    if (seen) return reply.code(seen.status).header('idempotent-replayed', 'true').send(seen.body);
    const now = new Date();
    const firedAt = deliveryTime(event, subjectKey, now);
    const changedAt = (firedAt.skew ? undefined : firedAt.at) ?? now.toISOString();
    // The person's erasure runs (restricting under a legal hold, or deleting): it is told of the move and
    // erases the member at the new address too. A rectification now would move records away from it.
    const erasure = await tellRunningErasureOfAddressChange(deps.hub, {
      email: from,
      newEmail: to,
      source: mailchimpAddressChangeActor,
      changedAt,
    });
    if (erasure) {
      const saved = await deps.ledger.saveIdempotentResponse({
        key: storeKey,
        requestHash: eventId,
        subjectKey,
        status: 200,
        body: {
          subjectKey,
          newSubjectKey: erasure.newSubjectKey,
          recordedIn: erasure.workflowId,
        },
        createdAt: new Date().toISOString(),
      });
      logger.info(
        { type: event.type, subjectKey, eventId, workflowId: erasure.workflowId },
        'mailchimp address change recorded by the running erasure, which erases the new address too',
      );
      return reply.code(200).send(saved.record.body);
    }
    let started: Awaited<ReturnType<typeof requestRectification>>;
    try {
      started = await requestRectification(
        deps.hub,
        {
          email: from,
          set: { email: to },
          requestedBy: mailchimpAddressChangeActor,
          requestedAt: now.toISOString(),
          // A fired_at the hub cannot take (ahead of its clock, older than the floor) leaves the receive time.
          ...(firedAt.skew ? {} : { receivedAt: firedAt.at }),
        },
        { ledger: deps.ledger },
      );
    } catch (error) {
      // Mailchimp already holds the new address, so a refusal leaves the vendors disagreeing: it is kept in the
      // ledger (subject keys and a code) for an operator to acknowledge, not only logged.
      const reason: AddressChangeRefusalReason =
        error instanceof RectificationRefused
          ? error.code
          : error instanceof ZodError
            ? 'invalid_request'
            : 'intake_error';
      const refusal = {
        id: storeKey,
        subjectKey,
        newSubjectKey: subjectKeyFor(to, deps.hub.subjectKeySecret),
        source: mailchimpAddressChangeActor,
        reason,
        recordedAt: now.toISOString(),
      };
      // An intake error (Temporal or the ledger down) is answered 5xx, so Mailchimp retries; it is kept too,
      // in case no retry ever gets through. A ledger that cannot take it either leaves the retry to tell.
      await deps.ledger.recordAddressChangeRefusal(refusal).catch((recordError: unknown) => {
        if (reason !== 'intake_error') throw recordError;
      });
      logger.warn(
        { type: event.type, subjectKey, newSubjectKey: refusal.newSubjectKey, eventId, reason },
        'mailchimp address change refused; kept for an operator',
      );
      if (reason === 'intake_error') throw error;
      // Mailchimp retries anything but a 2xx, and a retry would be refused the same way.
      return reply.code(200).send({
        acknowledged: true,
        refused: error instanceof RectificationRefused ? error.message : 'the addresses are not valid',
        reason,
        refusalId: storeKey,
      });
    }
    // A delivery an intake error refused before that a retry now took: the vendors will agree after all.
    const earlier = await deps.ledger.getAddressChangeRefusal(storeKey);
    if (earlier?.reason === 'intake_error' && !earlier.resolvedAt)
      await deps.ledger.resolveAddressChangeRefusal({
        id: storeKey,
        resolvedAt: new Date().toISOString(),
        resolvedBy: 'hub',
        resolution: 'intake_retry_succeeded',
      });
    const saved = await deps.ledger.saveIdempotentResponse({
      key: storeKey,
      requestHash: eventId,
      subjectKey,
      status: 200,
      body: { subjectKey, rectificationRequestId: started.requestId, ...skewOf(firedAt) },
      createdAt: new Date().toISOString(),
    });
    logger.info(
      { type: event.type, subjectKey, eventId, requestId: started.requestId },
      'mailchimp address change started a rectification',
    );
    return reply.code(200).send(saved.record.body);
  }

  /** The delivery's fired_at read against the receive time; a skewed one is logged (subject key only). */
  function deliveryTime(event: MailchimpWebhookEvent, subjectKey: string, now: Date): FiredAtReading {
    const reading = readFiredAt(
      event.fired_at,
      now,
      deps.hub.receivedAtFloorDays ?? defaultReceivedAtFloorDays,
    );
    if (reading.skew)
      logger.warn(
        { type: event.type, subjectKey, firedAt: reading.raw, clockSkew: reading.skew, receivedAt: now },
        "mailchimp webhook's fired_at not taken (clock skew); the hub's receive time stands",
      );
    return reading;
  }

  async function withdraw(reply: FastifyReply, event: MailchimpWebhookEvent, purposes: readonly Purpose[]) {
    const email = event['data[email]'];
    if (email === undefined) {
      throw new ApiProblem(400, 'Invalid request', 'The request body is not valid: data[email].', [
        { field: 'data[email]', message: 'email is required' },
      ]);
    }
    const subjectKey = subjectKeyFor(email, deps.hub.subjectKeySecret);
    const eventId = webhookEventId(event, subjectKey);
    const storeKey = `mailchimp-webhook:${eventId}`;
    // Mailchimp retries a delivery it thinks failed for about 75 minutes, and sends copies concurrently. The
    // consent event ids derive from the delivery's content, so every copy carries the same ids and the
    // ledger's primary key writes each once, however the copies interleave; this lookup only saves work.
    await deps.ledger.deleteIdempotentResponses({
      createdBefore: new Date(Date.now() - ttlMs(deps.config.CONSENT_HUB_IDEMPOTENCY_TTL)).toISOString(),
    });
    const seen = await deps.ledger.getIdempotentResponse(storeKey);
    if (seen) {
      logger.info({ type: event.type, subjectKey, eventId }, 'mailchimp webhook replayed; ignored');
      return reply.code(seen.status).header('idempotent-replayed', 'true').send(seen.body);
    }
    const now = new Date();
    const firedAt = deliveryTime(event, subjectKey, now);
    // An old fired_at still orders the decision (it loses to anything later); one ahead of the hub's clock, or
    // none, would win over every later decision, so the receive time stands for it.
    const occurredAt = firedAt.at && firedAt.skew !== 'ahead_of_hub_clock' ? firedAt.at : now.toISOString();
    const recordedAt = now.toISOString();
    const changes = purposes.map((purpose) =>
      consentChangeRequestSchema.parse({
        email,
        purpose,
        decision: 'withdrawn',
        occurredAt,
        source: 'mailchimp',
        evidence: {
          channel: 'mailchimp-webhook',
          requestRef: `mailchimp:${eventId}`,
          ...(firedAt.skew ? { note: firedAtSkewNote(firedAt, occurredAt) } : {}),
        },
      }),
    );
    const eventIds = purposes.map((purpose) => stableUuid('mailchimp-webhook', eventId, purpose));
    // A burst of unsubscribes (a list cleaned, a campaign's complaints) meets in one buffer for a short
    // window and goes out through the bulk path; a lone delivery still goes to the person's own workflow.
    await bufferConsentChanges(
      deps.hub,
      'mailchimp',
      changes.map((change, index) => ({
        subjectKey: subjectKeyFor(change.email, deps.hub.subjectKeySecret),
        email: change.email,
        change: {
          eventId: eventIds[index] as string,
          purpose: change.purpose,
          decision: change.decision,
          occurredAt: new Date(change.occurredAt).toISOString(),
          recordedAt,
          source: change.source,
          evidence: change.evidence,
        },
      })),
    );
    const saved = await deps.ledger.saveIdempotentResponse({
      key: storeKey,
      requestHash: eventId,
      subjectKey,
      status: 200,
      body: { subjectKey, eventIds, ...skewOf(firedAt) },
      createdAt: new Date().toISOString(),
    });
    logger.info(
      { type: event.type, action: event['data[action]'], subjectKey, eventId, purposes: purposes.length },
      'mailchimp webhook recorded as a withdrawal',
    );
    return reply.code(200).send(saved.record.body);
  }
}

/** What a webhook's answer says of a skewed fired_at: the value and why it was not taken. */
function skewOf(reading: FiredAtReading): { firedAt?: string; clockSkew?: FiredAtSkew } {
  return reading.skew ? { firedAt: reading.raw, clockSkew: reading.skew } : {};
}
