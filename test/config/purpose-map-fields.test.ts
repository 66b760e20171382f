import { describe, expect, it } from 'vitest';
import { describePurposeMap, purposeMapFields } from '../../config/purpose-map.js';

/** What `consent-hub config check` and the worker print: how each vendor field is derived from purposes. */
describe('the purpose map derivation', () => {
  it('shows the default overlaps: donotbulkemail and Mailchimp membership are shared', () => {
    const fields = purposeMapFields({});
    expect(fields).toContainEqual(
      expect.objectContaining({
        system: 'dynamics',
        field: 'donotbulkemail',
        purposes: ['marketing_email', 'event_invitations'],
      }),
    );
    expect(fields).toContainEqual(
      expect.objectContaining({
        system: 'mailchimp',
        field: 'membership (every configured audience)',
        purposes: ['marketing_email', 'event_invitations', 'product_information'],
      }),
    );
    const lines = describePurposeMap({});
    expect(lines.find((l) => l.includes('donotbulkemail'))).toContain('[shared by 2 purposes');
    expect(lines.find((l) => l.includes('donotphone'))).not.toContain('shared');
  });

  it('names each audience and marketing permission a map configures, with the purposes sharing it', () => {
    const fields = purposeMapFields({
      mailchimp: {
        marketing_email: { membership: true, audienceIds: ['news'], marketingPermissions: { news: ['p1'] } },
        event_invitations: { membership: false, marketingPermissions: { news: ['p1', 'p2'] } },
      },
    });
    expect(fields.filter((f) => f.system === 'mailchimp').map((f) => [f.field, f.purposes])).toEqual([
      ['membership:news', ['marketing_email']],
      ['permission:news:p1', ['marketing_email', 'event_invitations']],
      ['permission:news:p2', ['event_invitations']],
    ]);
  });
});
