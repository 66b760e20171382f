import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/create-activities.js';
import type { Ledger } from '../../ledger/ledger.js';
import { silentLogger } from '../support/temporal.js';

const subject = { email: 'fiona.fitzgerald@example.com', gaClientIds: [], gaUserIds: [] };

/**
 * Issue 16: with no CRM on the worker there are no CRM names. Answering that with a failure withheld every
 * operator text of every request for good (the text "can be given again once the CRM answers", which it
 * never will); the bulk path already read it as no names.
 */
describe('findCrmNames: the names an operator text is redacted of', () => {
  const activities = (connectors: Parameters<typeof createActivities>[0]['connectors']) =>
    createActivities({
      connectors,
      ledger: {} as Ledger,
      logger: silentLogger,
      subjectKeySecret: 'k'.repeat(32),
      starter: {} as Parameters<typeof createActivities>[0]['starter'],
    });

  it('answers no names, not a failure, when Dynamics is not configured on the worker', async () => {
    await expect(
      activities({}).findCrmNames({ system: 'dynamics', subjectKey: 'a'.repeat(64), subject }),
    ).resolves.toEqual({ subjectKey: 'a'.repeat(64), names: [] });
  });

  it('still fails when Dynamics is configured and refuses, so the text is withheld', async () => {
    const refusing = {
      find: async () => {
        throw new Error('connection reset');
      },
    } as unknown as NonNullable<Parameters<typeof createActivities>[0]['connectors']['dynamics']>;
    const { findCrmNames } = activities({ dynamics: refusing });
    await expect(
      new MockActivityEnvironment().run(findCrmNames, {
        system: 'dynamics' as const,
        subjectKey: 'b'.repeat(64),
        subject,
      }),
    ).rejects.toThrow(/connection reset/);
  });
});
