import type { WorkflowHandle } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { redactText } from '../../domain/text-redaction.js';
import { redactOperatorText } from '../../hub-client/operator-text.js';

const email = 'uma.undead@example.com';
const names = ['Uma', 'Undead'];

describe("redactText: an operator's note, redacted by the workflow that knows the CRM's names", () => {
  it('removes the name the CRM holds and the address from a close note', () => {
    expect(redactText(`row locked; Uma Undead ${email}`, { email, names })).toBe(
      'row locked; [name] [name] [email]',
    );
  });

  it.each([
    ['upper case', 'UMA UNDEAD'],
    ['percent-encoded', 'Uma%20Undead'],
    ['one name alone', 'Undead'],
    ['in a quoted reply', '"Uma Undead" <x>'],
  ])('removes the name written %s', (_form, written) => {
    const redacted = redactText(`note: ${written}`, { email: 'someone@example.org', names: ['Uma Undead'] });
    expect(redacted.toLowerCase()).not.toContain('uma');
    expect(redacted.toLowerCase()).not.toContain('undead');
  });

  it("removes a rectification's old and new names only as whole words", () => {
    const redacted = redactText('Zed renamed to Ann; Annex untouched', { names: ['Zed', 'Ann'] });
    expect(redacted).toBe('[name] renamed to [name]; Annex untouched');
  });

  it('scrubs any other address, without a subject', () => {
    expect(redactText('ask other.person+x@example.net', {})).toBe('ask [email]');
  });

  it("redacts another address of the person whole before their names, so it never becomes '[name].[name]@…'", () => {
    const redacted = redactText('reply to alonzo.church@example.org, Alonzo', {
      email: 'a.c@example.com',
      names: ['Alonzo', 'Church'],
    });
    expect(redacted).toBe('reply to [email], [name]');
  });

  it.each([
    ['an internal domain', 'ops.lead@corp.local'],
    ['a private one', "mary.o'brien@acme.lan"],
    ['a top-level domain no list knows', 'x_y@shop.zzqq'],
    ['an address literal', 'root@[127.0.0.1]'],
  ])('redacts an address on %s by its shape', (_kind, address) => {
    const redacted = redactText(`cc ${address} please`, {});
    expect(redacted).toBe('cc [email] please');
  });

  it('leaves text without an address as it was', () => {
    const text = 'version 1.2.3 at 10:00; see ticket #42 (no @ here) or @team';
    expect(redactText(text, {})).toBe(text);
  });
});

describe("redactOperatorText: the client asks the request's workflow", () => {
  const handle = (answer: (text: string) => Promise<string>) =>
    ({ query: (_query: unknown, text: string) => answer(text) }) as unknown as WorkflowHandle;

  it("keeps the workflow's redaction (which knows the names) and scrubs addresses again", async () => {
    const asked: string[] = [];
    const redacted = await redactOperatorText(
      handle(async (text) => {
        asked.push(text);
        return text.replace('Uma Undead', '[name] [name]');
      }),
      `Uma Undead ${email}`,
    );
    expect(asked).toEqual([`Uma Undead ${email}`]);
    expect(redacted).toBe('[name] [name] [email]');
  });

  it('scrubs addresses when the workflow cannot answer (finished, or older than the query)', async () => {
    const redacted = await redactOperatorText(
      handle(() => Promise.reject(new Error('query not registered'))),
      `Uma ${email}`,
    );
    expect(redacted).toBe('Uma [email]');
    expect(await redactOperatorText(undefined, `x ${email}`)).toBe('x [email]');
  });

  it("withholds a text to be stored when the names cannot be read, keeping only a close's reason code", async () => {
    const gone = handle(() => Promise.reject(new Error('workflow not found')));
    const stored = { readCrmNames: true };
    expect(await redactOperatorText(undefined, 'Uma asked by phone', stored)).toBe(
      "[withheld: the CRM's names for the person could not be checked]",
    );
    expect(await redactOperatorText(gone, 'handled_manually: deleted Uma by hand', stored)).toBe(
      "handled_manually: [withheld: the CRM's names for the person could not be checked]",
    );
    expect(await redactOperatorText(undefined, 'not_held_by_vendor', stored)).toBe('not_held_by_vendor');
    // A word that only looks like a code is the operator's own text, and goes.
    expect(await redactOperatorText(undefined, 'handled_by_Uma: done', stored)).toBe(
      "[withheld: the CRM's names for the person could not be checked]",
    );
  });
});
