import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyedVendorId, protectRecordIds } from '../../privacy/keyed-id.js';

const secret = 'a'.repeat(40);
const subscriberHash = createHash('md5').update('ada@example.com').digest('hex');

describe('keyed vendor ids', () => {
  it('turns a subscriber hash into a stable HMAC that neither is nor contains the MD5', () => {
    const keyed = keyedVendorId(secret, 'mailchimp', subscriberHash);
    expect(keyed).toMatch(/^hmac:[0-9a-f]{32}$/);
    expect(keyed).not.toContain(subscriberHash.slice(0, 12));
    expect(keyedVendorId(secret, 'mailchimp', subscriberHash)).toBe(keyed);
    expect(keyedVendorId('b'.repeat(40), 'mailchimp', subscriberHash)).not.toBe(keyed);
    expect(keyedVendorId(secret, 'google', subscriberHash)).not.toBe(keyed);
  });

  it('keys Mailchimp and Google record ids and leaves Dataverse GUIDs as they are', () => {
    const records = [{ kind: 'member', id: subscriberHash, container: 'list-a' }];
    expect(protectRecordIds(secret, 'mailchimp', records)[0]).toEqual({
      kind: 'member',
      id: keyedVendorId(secret, 'mailchimp', subscriberHash),
      container: 'list-a',
    });
    expect(protectRecordIds(secret, 'google', [{ id: '123.456' }])[0]?.id).toBe(
      keyedVendorId(secret, 'google', '123.456'),
    );
    const guid = [{ kind: 'contact', id: '6f1c8a52-0b1d-4a0e-9e5c-3f0e2b9d1a77' }];
    expect(protectRecordIds(secret, 'dynamics', guid)).toEqual(guid);
  });
});
