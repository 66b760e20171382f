import { describe, expect, it } from 'vitest';
import {
  consentChangesFromForm,
  erasureFromForm,
  formChoices,
  receivedAtClockProblems,
} from '../../console/console-forms.js';
import { consoleViews } from '../../console/console-views.js';
import { formInputs, placeProblems } from '../../console/form-problems.js';
import { useInputMessages } from '../../domain/input-messages.js';

useInputMessages();
const eta = consoleViews();
const render = (view: string, data: Record<string, unknown>) =>
  eta.render(`./${view}`, {
    title: 'x',
    csrf: 'token',
    operator: 'console:abc',
    choices: formChoices,
    ...data,
  });

/** The element with this id, as written (its opening tag). */
const tagOf = (html: string, id: string) =>
  new RegExp(`<[a-z]+[^>]*\\bid="${id}"[^>]*>`).exec(html)?.[0] ?? '';

describe('new-request forms show each problem beside its field, in the form’s words', () => {
  it('puts an erasure’s problems on their fields with aria-invalid and aria-describedby, and links them from the summary', () => {
    const form = {
      email: 'nope',
      gaClientIds: '1197596843.1673515212 not-an-id',
      reasonNote: 'x'.repeat(1001),
    };
    const parsed = erasureFromForm(form, 'console:abc');
    expect(parsed.ok).toBe(false);
    const problems = placeProblems(parsed.ok ? [] : parsed.errors, formInputs.erasure);
    const html = render('new-erasure', { values: form, problems });

    for (const input of ['email', 'gaClientIds', 'reasonNote']) {
      const tag = tagOf(html, input);
      expect(tag).toContain('aria-invalid="true"');
      expect(tag).toMatch(new RegExp(`aria-describedby="[^"]*\\b${input}-error\\b`));
      expect(html).toContain(`id="${input}-error"`);
      expect(html).toContain(`<a href="#${input}">`);
    }
    // The client ids' problem names the item, in words, not the API path `gaClientIds.1`.
    expect(html).toContain('item 2 is not a Google Analytics client id');
    expect(html).not.toContain('gaClientIds.1');
    expect(html).toMatch(/id="reasonNote-error"><span>must be at most 1000 characters/);
    // Fields without a problem are not marked.
    expect(tagOf(html, 'gaUserIds')).not.toContain('aria-invalid');
    expect(tagOf(html, 'receivedAt')).not.toContain('aria-invalid');
    // What was typed is kept.
    expect(tagOf(html, 'email')).toContain('value="nope"');
  });

  it('renders every new-request form without problems: no alert, no field marked invalid', () => {
    for (const [view, kind] of [
      ['new-erasure', 'erasure'],
      ['new-opt-out', 'opt-out'],
      ['new-consent', 'consent'],
      ['new-access', 'access'],
      ['new-rectification', 'rectification'],
    ] as const) {
      const html = render(view, { values: {}, problems: placeProblems([], formInputs[kind]) });
      expect({ view, alert: html.includes('role="alert"'), invalid: html.includes('aria-invalid') }).toEqual({
        view,
        alert: false,
        invalid: false,
      });
    }
  });

  it('names a consent grant’s missing evidence in the form’s words, on the evidence fieldset', () => {
    const form = { email: 'ada@example.com', decision: 'granted', purpose: ['marketing_email'] };
    const parsed = consentChangesFromForm(form, 'console:abc');
    const problems = placeProblems(parsed.ok ? [] : parsed.errors, formInputs.consent);
    const html = render('new-consent', { values: form, problems });
    expect(tagOf(html, 'evidence')).toContain('aria-invalid="true"');
    expect(html).toContain(
      'a grant needs evidence: at least one of policy version, form id or request reference',
    );
    expect(html).not.toMatch(/policyVersion, formId/);
  });

  it('reports a received time in the future together with the other problems, not after them', () => {
    const now = new Date('2026-03-01T12:00:00Z');
    const form = { email: 'not an address', receivedAt: '2026-03-05T09:00' };
    const parsed = erasureFromForm(form, 'console:abc');
    const clock = receivedAtClockProblems(form, {}, now);
    expect(clock).toEqual([{ field: 'receivedAt', message: expect.stringContaining('future') }]);
    const problems = placeProblems([...(parsed.ok ? [] : parsed.errors), ...clock], formInputs.erasure);
    expect(problems.errors.map((p) => p.input)).toEqual(['email', 'receivedAt']);
    const html = render('new-erasure', { values: form, problems });
    expect(tagOf(html, 'receivedAt')).toContain('aria-invalid="true"');
    expect(tagOf(html, 'email')).toContain('aria-invalid="true"');
    // Empty, or not a date at all (the schema's own message says so): no clock problem of its own.
    expect(receivedAtClockProblems({}, {}, now)).toEqual([]);
    expect(receivedAtClockProblems({ receivedAt: '2026-02-28T09:00' }, {}, now)).toEqual([]);
  });

  it('says exactly what a note loses before it is kept: never that phone numbers or postal addresses go', () => {
    for (const view of ['new-erasure', 'new-opt-out', 'new-consent'] as const) {
      const kind = view.slice(4) as 'erasure' | 'opt-out' | 'consent';
      const html = render(view, { values: {}, problems: placeProblems([], formInputs[kind]) });
      const hint = /<p class="hint" id="(reasonNote|note)-hint">([^<]*)<\/p>/.exec(html)?.[2] ?? '';
      expect(hint).toContain('email address');
      expect(hint).toContain('Phone numbers, postal addresses and anything else are kept exactly as typed');
      expect(hint).not.toMatch(/personal data|person’s data are removed/);
      expect(tagOf(html, view === 'new-erasure' ? 'reasonNote' : 'note')).toMatch(
        /aria-describedby="[^"]*-hint/,
      );
    }
  });
});
