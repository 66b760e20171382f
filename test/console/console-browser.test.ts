import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import { sessionCookie } from '../../console/console-plugin.js';
import { addCalendarMonths } from '../../domain/request-deadline.js';
import { dynamicsSandboxKit } from '../../sandboxes/dynamics/kit.js';
import { googleSandboxKit } from '../../sandboxes/google/kit.js';
import { mailchimpSandboxKit } from '../../sandboxes/mailchimp/kit.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

/** Debian's chromium (installed by .ci/run); Playwright downloads no browser of its own here. */
const chromiumPath = process.env.CONSENT_HUB_CHROMIUM ?? '/usr/bin/chromium';
// The README's screenshots are refreshed on request only, so a test run leaves the checkout as it was.
const screenshots =
  process.env.CONSENT_HUB_UPDATE_SCREENSHOTS === '1'
    ? join(import.meta.dirname, '..', '..', 'docs', 'console')
    : mkdtempSync(join(tmpdir(), 'consent-hub-console-shots-'));

/**
 * The operator console driven in a real browser against the hub as one process runs it: the three vendor
 * sandboxes seeded with the demo people, the real connectors and a worker on this file's task queue, and the
 * API server (with the console) listening on 127.0.0.1. No `npm start`: the same parts, started in-process,
 * in a few seconds.
 */
const browserAbsent = !existsSync(chromiumPath);
if (browserAbsent) {
  // describe.skipIf alone skips silently: say why in the output and, as a skipped test's name, in the report.
  console.warn(
    `console browser test skipped: no browser at ${chromiumPath} (install Debian's chromium, as .ci/run does, or set CONSENT_HUB_CHROMIUM)`,
  );
  it.skip(`operator console in a real browser: skipped, no chromium at ${chromiumPath}`, () => {});
}

describe.skipIf(browserAbsent)('operator console in a real browser', { timeout: 120_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let app: FastifyInstance;
  let browser: BrowserContext;
  let page: Page;
  let base: string;
  const userDataDir = mkdtempSync(join(tmpdir(), 'consent-hub-chromium-'));
  const key = `chk_${randomBytes(24).toString('base64url')}`;
  const intakeOnlyKey = `chk_${randomBytes(24).toString('base64url')}`;
  const logs = capturingLogger();

  beforeAll(async () => {
    hub = await startHubWithVendors('console', { accessExports: true });
    await Promise.all([
      hub.vendors.dynamics.control.seed(dynamicsSandboxKit.demoSeed()),
      hub.vendors.mailchimp.control.seed(mailchimpSandboxKit.demoSeed()),
      hub.vendors.google.control.seed(googleSandboxKit.demoSeed()),
    ]);
    const timings = {
      attentionAfter: '3 seconds',
      operatorDeadline: '10 minutes',
      heartbeatTimeout: '5 seconds',
    };
    app = await createApiServer({
      hub: {
        client: hub.temporal.client,
        taskQueue: hub.temporal.taskQueue,
        subjectKeySecret: hub.temporal.secrets.subjectKeySecret,
        timings,
        consentTimings: { ...timings, idleAfter: '5 seconds' },
        exportTtl: '1 hour',
      },
      ledger: hub.ledger,
      accessExports: hub.accessExports,
      logger: logs.logger,
      config: {
        CONSENT_HUB_API_KEYS: [hashApiKey(key), `${hashApiKey(intakeOnlyKey)}:intake+status`],
        CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET: undefined,
      },
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(30_000);
    mkdirSync(screenshots, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await hub?.close();
    rmSync(userDataDir, { recursive: true, force: true });
    if (process.env.CONSENT_HUB_UPDATE_SCREENSHOTS !== '1')
      rmSync(screenshots, { recursive: true, force: true });
  });

  const shot = (name: string) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
  /**
   * The text fields of the page the browser would remember (autofill history: a close note naming the person,
   * an address) and offer again in any later form with a field of that name; each should be autocomplete=off.
   */
  const remembered = () =>
    page
      .locator('main input:not([type=hidden]):not([type=radio]):not([type=checkbox]), main textarea')
      .evaluateAll((fields) =>
        fields.filter((f) => f.getAttribute('autocomplete') !== 'off').map((f) => f.getAttribute('name')),
      );
  const ada = 'ada.lovelace@example.com';
  const grace = 'grace.hopper@example.com';

  it('signs in with an API key into an HttpOnly, Secure, SameSite=Strict session that the browser keeps', async () => {
    await page.goto(`${base}/console/`);
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    await shot('sign-in');
    await page.getByLabel('API key').fill('chk_not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('not valid');
    // A real key without the operator scope may not act for operators.
    await page.getByLabel('API key').fill(intakeOnlyKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('lacks the operator scope');
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');

    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Queues' }).waitFor();
    const session = (await browser.cookies()).find((cookie) => cookie.name === sessionCookie);
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/console' });
    expect(session?.value).not.toContain(key);
  });

  it('refuses a form post without its CSRF token, even from a signed-in browser', async () => {
    const answer = await page.request.post(`${base}/console/reconciliation/run`, { form: { x: '1' } });
    expect(answer.status()).toBe(403);
    expect(await answer.text()).toContain('did not come from this console');
  });

  it('finds a demo person by POST: no address in the URL or the log, pages not cached', async () => {
    await page.getByRole('link', { name: 'Find a person' }).click();
    await page.getByLabel('Email address').fill(ada);
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/console/people') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Find' }).click(),
    ]);
    expect(answer.headers()['cache-control']).toBe('no-store');
    await page.getByRole('heading', { name: 'Person' }).waitFor();
    // Whole words only: ids in hex can hold the letters "ada" by chance.
    expect(page.url().toLowerCase()).not.toMatch(/lovelace|example\.com|ada\.|%40/);
    await expect(page.locator('main').textContent()).resolves.toContain('No tombstone');
    await shot('person');
  });

  it('lets every address form send any address the hub accepts, exactly as typed (no browser check, no punycode), and remember none', async () => {
    // Addresses vendors hold that the hub's parser accepts but a browser's type="email" refuses (a UTF-8 local
    // part, a quoted one, an absolute domain), or rewrites (an IDN domain sent as punycode: another subject
    // key, so an erasure would find nobody and complete while the vendor still holds the person).
    const held = ['用户@例子.广告', 'josé@bücher.de', '"john doe"@example.com', 'user@example.com.'];
    for (const path of [
      'people',
      'new/erasure',
      'new/opt-out',
      'new/consent',
      'new/access',
      'new/rectification',
    ]) {
      await page.goto(`${base}/console/${path}`);
      await expect(remembered()).resolves.toEqual([]);
      const inputs = page.locator('input[name="email"], input[name="newEmail"]');
      expect(await inputs.count()).toBeGreaterThan(0);
      for (const input of await inputs.all()) {
        for (const address of held) {
          await input.fill(address);
          const sent = await input.evaluate((el) => {
            const field = el as unknown as { validity: { valid: boolean }; value: string };
            return { valid: field.validity.valid, value: field.value };
          });
          expect({ path, sent }).toEqual({ path, sent: { valid: true, value: address } });
        }
        await input.fill('');
      }
    }
    await page.goto(`${base}/console/people`);
    await page.getByLabel('Email address').fill('idn.user@bücher.de');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('heading', { name: 'Person' }).waitFor();
    await expect(page.locator('main').textContent()).resolves.toContain('idn.user@bücher.de');
  });

  it('erases the person, watches the request complete, and downloads the receipt', async () => {
    // The person page's button brings the erasure form with the person's address filled in, posted: the
    // address is in no URL.
    await page.getByRole('button', { name: 'Erase this person…' }).click();
    await page.getByRole('heading', { name: 'New erasure' }).waitFor();
    await expect(page.getByLabel('Email address').inputValue()).resolves.toBe('idn.user@bücher.de');
    expect(decodeURIComponent(page.url())).not.toMatch(/idn\.user|bücher|xn--/);
    await page.getByLabel('Email address').fill(ada);
    await page
      .getByLabel('Google Analytics client ids (optional; digits.digits, separated by spaces or commas)')
      .fill('not-an-id');
    await page.getByRole('button', { name: 'Erase' }).click();
    // The API's own problem, in the form's words, at the top (linking to the field) and beside the field;
    // what was typed is still there.
    await expect(page.getByRole('alert').textContent()).resolves.toContain(
      'Google Analytics client ids: item 1 is not a Google Analytics client id',
    );
    await page.getByRole('alert').getByRole('link', { name: 'Google Analytics client ids' }).click();
    await expect(page.evaluate('document.activeElement.id')).resolves.toBe('gaClientIds');
    await expect(page.locator('#gaClientIds').getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(page.locator('#gaClientIds-error').textContent()).resolves.toContain('item 1 is not');
    await expect(page.getByLabel('Email address').inputValue()).resolves.toBe(ada);
    await shot('new-erasure-invalid');

    await page
      .getByLabel('Google Analytics client ids (optional; digits.digits, separated by spaces or commas)')
      .fill('1197596843.1673515212');
    await page.getByRole('button', { name: 'Erase' }).click();
    await page.getByRole('heading', { name: /^Request / }).waitFor();
    const requestId = new URL(page.url()).pathname.split('/').at(-1) as string;
    // The page reloads itself while the request runs.
    await page.getByRole('link', { name: 'View receipt' }).waitFor({ timeout: 60_000 });
    await expect(page.locator('main').textContent()).resolves.toMatch(/Statecompleted/);
    await shot('request-completed');

    await page.getByRole('link', { name: 'View receipt' }).click();
    await page.getByRole('heading', { name: 'Erasure receipt' }).waitFor();
    await shot('receipt');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download JSON' }).click(),
    ]);
    const receipt = JSON.parse(readFileSync((await download.path()) as string, 'utf8'));
    expect(receipt).toMatchObject({
      requestId,
      outcome: 'completed',
      requestedBy: expect.stringMatching(/^console:/),
    });
    expect(JSON.stringify(receipt).toLowerCase()).not.toMatch(/lovelace|example\.com|ada\./);
    await page.getByRole('link', { name: 'Printable page' }).click();
    await expect(page.locator('body').getAttribute('class')).resolves.toBe('print');
    await shot('receipt-printable');

    // The person page now shows the tombstone and the receipt.
    await page.goto(`${base}/console/people`);
    await page.getByLabel('Email address').fill(ada);
    await page.getByRole('button', { name: 'Find' }).click();
    await expect(page.locator('main').textContent()).resolves.toContain('Yes: first erased');
    await page.getByRole('link', { name: new RegExp(`Receipt ${requestId.slice(0, 8)}`) }).waitFor();
  });

  it('shows an erasure that Mailchimp keeps failing under needs attention, and retries it once the fault is cleared', async () => {
    await hub.vendors.mailchimp.control.fail({
      path: '/lists/',
      status: 503,
      count: 100_000,
      message: 'Maintenance',
    });
    await page.goto(`${base}/console/new/erasure`);
    await page.getByLabel('Email address').fill(grace);
    await page.getByRole('button', { name: 'Erase' }).click();
    await page.getByRole('heading', { name: /^Request / }).waitFor();
    const requestId = new URL(page.url()).pathname.split('/').at(-1) as string;
    await page.getByRole('button', { name: 'Retry mailchimp' }).waitFor({ timeout: 60_000 });
    await shot('request-needs-attention');

    await page.getByRole('link', { name: 'Queues' }).click();
    const row = page
      .locator('section', { has: page.getByRole('heading', { name: /Needs attention/ }) })
      .getByRole('row', {
        name: new RegExp(requestId.slice(0, 8)),
      });
    await expect(row.textContent()).resolves.toMatch(/mailchimp.*erase.*503/s);
    await shot('queues');

    await hub.vendors.mailchimp.control.clearFaults();
    await row.getByRole('link').click();
    await page.getByRole('button', { name: 'Retry mailchimp' }).click();
    await page.getByRole('status').waitFor();
    await page.getByRole('link', { name: 'View receipt' }).waitFor({ timeout: 60_000 });
    const log = await page.locator('ol.log').textContent();
    expect(log).toMatch(/retry\s+mailchimp by console:[0-9a-f]{12}/);
    expect(await page.locator('main').textContent()).toMatch(/Statecompleted/);
  });

  it('closes a system with a reason code and a note, recorded with the operator and scrubbed of addresses', async () => {
    await hub.vendors.dynamics.control.fail({ path: 'leads|contacts', status: 503, count: 100_000 });
    await page.goto(`${base}/console/new/erasure`);
    await page.getByLabel('Email address').fill('alan.turing@example.com');
    await page.getByRole('button', { name: 'Erase' }).click();
    await page.getByRole('button', { name: 'Close dynamics' }).waitFor({ timeout: 60_000 });
    await page.getByLabel('Close dynamics: reason').selectOption('handled_manually');
    await page.getByLabel(/^Reason \(required/).fill('half typed extension reason');
    const note = page.getByLabel('Note (optional)', { exact: true });
    await note.fill('deleted by hand for alan.turing@example.com');

    // While the request runs its status refreshes in place every 3 s: after several refreshes the status
    // region is newer, and what was typed, what was picked and where the cursor is are all as they were; the
    // page itself was not reloaded (a reload would drop this marker).
    await page.evaluate('window.__notReloaded = true');
    const asOf = async () => Date.parse((await page.locator('#as-of time').getAttribute('datetime')) ?? '');
    const before = await asOf();
    await page.waitForTimeout(10_000);
    expect((await asOf()) - before).toBeGreaterThanOrEqual(6_000);
    await expect(page.evaluate('window.__notReloaded')).resolves.toBe(true);
    await expect(note.inputValue()).resolves.toBe('deleted by hand for alan.turing@example.com');
    await expect(page.evaluate('document.activeElement.id')).resolves.toBe('note-dynamics');
    await expect(page.getByLabel('Close dynamics: reason').inputValue()).resolves.toBe('handled_manually');
    await expect(page.getByLabel(/^Reason \(required/).inputValue()).resolves.toBe(
      'half typed extension reason',
    );
    await shot('request-close-form');
    await expect(remembered()).resolves.toEqual([]);

    await page.getByRole('button', { name: 'Close dynamics' }).click();
    await page.getByRole('link', { name: 'View receipt' }).waitFor({ timeout: 60_000 });
    await hub.vendors.dynamics.control.clearFaults();
    const log = (await page.locator('ol.log').textContent()) ?? '';
    // The erasure completed, so the operator's own words are gone from the log; the reason code stays.
    expect(log).toMatch(
      /close\s+dynamics by console:[0-9a-f]{12} \(handled_manually: \[removed: the subject was erased\]\)/,
    );
    expect(log).not.toContain('alan.turing@example.com');
    expect(await page.locator('main').textContent()).toMatch(/completed with failures/);
  });

  it('records an opt-out with the API validation and starts a reconciliation run', async () => {
    await page.goto(`${base}/console/new/opt-out`);
    await page.getByLabel('Email address').fill('katherine.johnson@example.com');
    await page.getByRole('button', { name: 'Opt out' }).click();
    const noPurpose = (await page.getByRole('alert').textContent()) ?? '';
    expect(noPurpose).toContain('Purposes: tick at least one purpose');
    expect(noPurpose).not.toContain('unknown purpose');
    await page.getByLabel('marketing email').check();
    await page.getByLabel('Channel (web, email, phone, in-person …)').fill('phone');
    await page.getByRole('button', { name: 'Opt out' }).click();
    await page.getByRole('heading', { name: /^Request / }).waitFor();
    await expect(page.locator('main').textContent()).resolves.toContain('consent change');
    await shot('request-consent');

    await page.getByRole('link', { name: 'Reconciliation' }).click();
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('status').waitFor();
    await shot('reconciliation');

    // Readable on a phone: nothing wider than the screen but the tables, which scroll on their own.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/console/queues`);
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('queues-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  // Two erasures received by letter (26 and 40 days ago) and an opt-out, all held open by a Mailchimp outage.
  const dueSoon = 'mary.jackson@example.com';
  const overdue = 'dorothy.vaughan@example.com';
  const consentPerson = 'edsger.dijkstra@example.com';
  const dayMs = 24 * 60 * 60 * 1000;
  const receivedDaysAgo = (days: number) => new Date(Date.now() - days * dayMs).toISOString().slice(0, 16);
  const open = { dueSoon: { id: '', receivedAt: '' }, overdue: { id: '', receivedAt: '' } };

  const startErasure = async (email: string, receivedAt: string) => {
    await page.goto(`${base}/console/new/erasure`);
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel(/^When the request reached you/).fill(receivedAt);
    await page.getByRole('button', { name: 'Erase' }).click();
    await page.getByRole('heading', { name: /^Request / }).waitFor();
    return new URL(page.url()).pathname.split('/').at(-1) as string;
  };
  const dueRows = () =>
    page
      .locator('section', { has: page.getByRole('heading', { name: /Overdue and due within 7 days/ }) })
      .locator('tbody tr');

  it('lists open requests overdue or due within 7 days, soonest due first, with received, due and days', async () => {
    await hub.vendors.mailchimp.control.fail({ path: '/lists/', status: 503, count: 100_000 });
    // A received time in the future is refused on its field, as the API refuses it.
    await page.goto(`${base}/console/new/erasure`);
    await page.getByLabel('Email address').fill(dueSoon);
    await page
      .getByLabel(/^When the request reached you/)
      .fill(new Date(Date.now() + 2 * dayMs).toISOString().slice(0, 16));
    await page.getByRole('button', { name: 'Erase' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(
      /When the request reached you.*must not be in the future/s,
    );
    await expect(page.locator('#receivedAt').getAttribute('aria-invalid')).resolves.toBe('true');

    // Entered in the opposite order of their deadlines: the queue sorts by due date, not by entry.
    open.dueSoon.receivedAt = receivedDaysAgo(26);
    open.dueSoon.id = await startErasure(dueSoon, open.dueSoon.receivedAt);
    open.overdue.receivedAt = receivedDaysAgo(40);
    open.overdue.id = await startErasure(overdue, open.overdue.receivedAt);

    await page.getByRole('link', { name: 'Queues' }).click();
    const rows = dueRows();
    const ours = async () =>
      (await rows.allTextContents())
        .map((text) => text.replace(/\s+/g, ' ').trim())
        .filter(
          (text) => text.includes(open.dueSoon.id.slice(0, 8)) || text.includes(open.overdue.id.slice(0, 8)),
        );
    const listed = await ours();
    expect(listed).toHaveLength(2);
    const dueOf = (receivedAt: string) => addCalendarMonths(new Date(`${receivedAt}:00Z`), 1);
    const overdueDays = Math.floor((Date.now() - dueOf(open.overdue.receivedAt).getTime()) / dayMs);
    const leftDays = Math.floor((dueOf(open.dueSoon.receivedAt).getTime() - Date.now()) / dayMs);
    const minute = (at: Date) => at.toISOString().replace('T', ' ').slice(0, 16);
    // Soonest due first: the overdue one (received 40 days ago), then the one due in a few days.
    expect(listed[0]).toContain(open.overdue.id.slice(0, 8));
    expect(listed[0]).toContain(`${open.overdue.receivedAt.replace('T', ' ')} UTC`);
    expect(listed[0]).toContain(`${minute(dueOf(open.overdue.receivedAt))} UTC`);
    expect(listed[0]).toMatch(new RegExp(`^erasure.*${overdueDays} days overdue`, 's'));
    expect(listed[1]).toContain(open.dueSoon.id.slice(0, 8));
    expect(listed[1]).toMatch(new RegExp(`^erasure.*${leftDays} days left`, 's'));
    expect(listed[1]).toMatch(/running|needs attention/);
    await shot('queues-due');
  });

  it('extends a deadline from the request page: the API errors field by field, then the new due date and the log', async () => {
    await page.goto(`${base}/console/requests/${open.overdue.id}`);
    await expect(page.locator('#due-at').getAttribute('datetime')).resolves.toBe(
      addCalendarMonths(new Date(`${open.overdue.receivedAt}:00Z`), 1).toISOString(),
    );
    await page.getByRole('button', { name: 'Extend deadline' }).click();
    const alert = page.getByRole('alert');
    await expect(alert.textContent()).resolves.toMatch(
      /months.*must be 1 or 2.*reason.*a reason is required/s,
    );

    await page.getByLabel('1 month').check();
    await page.getByLabel(/^Reason \(required/).fill(`many records in three systems, as told to ${overdue}`);
    await page.getByRole('button', { name: 'Extend deadline' }).click();
    await page.getByRole('status').waitFor();
    const newDue = addCalendarMonths(new Date(`${open.overdue.receivedAt}:00Z`), 2).toISOString();
    await expect(page.locator('#due-at').getAttribute('datetime')).resolves.toBe(newDue);
    const log = (await page.locator('ol.log').textContent()) ?? '';
    expect(log).toMatch(
      new RegExp(
        `extend\\s+by console:[0-9a-f]{12} \\(\\+1 month \\(due ${newDue}\\): many records in three systems`,
      ),
    );
    expect(log).not.toContain(overdue);
    expect(log).not.toContain('undefined');
    await shot('request-deadline');

    // A second extension may add one more month, not two: the API's refusal, on the form.
    await page.getByLabel('1 month').waitFor();
    expect(await page.getByLabel('2 months').count()).toBe(0);
    const answer = await page.request.post(`${base}/console/requests/${open.overdue.id}/extension`, {
      form: {
        months: '2',
        reason: 'more',
        _csrf: (await page.locator('input[name=_csrf]').first().inputValue()) as string,
      },
    });
    expect(answer.status()).toBe(409);
    expect(await answer.text()).toContain('already extended by 1 month(s)');

    // Due about three weeks from now: out of the 7-day queue.
    await page.goto(`${base}/console/queues`);
    const texts = await dueRows().allTextContents();
    expect(texts.some((text) => text.includes(open.overdue.id.slice(0, 8)))).toBe(false);
    expect(texts.some((text) => text.includes(open.dueSoon.id.slice(0, 8)))).toBe(true);
  });

  it('shows a consent change that Mailchimp keeps failing under needs attention, and retries it from its page', async () => {
    await page.goto(`${base}/console/new/opt-out`);
    await page.getByLabel('Email address').fill(consentPerson);
    await page.getByLabel('marketing email').check();
    await page.getByRole('button', { name: 'Opt out' }).click();
    await page.getByRole('heading', { name: /^Request / }).waitFor();
    const eventId = new URL(page.url()).pathname.split('/').at(-1) as string;
    await page.getByRole('button', { name: 'Retry mailchimp' }).waitFor({ timeout: 60_000 });

    const attention = page.locator('section', {
      has: page.getByRole('heading', { name: /Needs attention/ }),
    });
    const row = attention.getByRole('row', { name: new RegExp(eventId.slice(0, 8)) });
    // Visibility is eventually consistent: the queue shows the person's workflow a moment after it changed.
    for (let tries = 0; tries < 20; tries++) {
      await page.goto(`${base}/console/queues`);
      if ((await row.count()) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await expect(row.textContent()).resolves.toMatch(/consent change.*mailchimp.*write consent.*503/s);
    await shot('queues-consent-attention');

    await hub.vendors.mailchimp.control.clearFaults();
    await row.getByRole('link').click();
    await page.getByRole('button', { name: 'Retry mailchimp' }).click();
    await page.getByRole('status').waitFor();
    expect(await page.locator('ol.log').textContent()).toMatch(/retry\s+mailchimp by console:[0-9a-f]{12}/);
    // Once carried, the person's workflow no longer needs anyone: it leaves the queue.
    for (let tries = 0; tries < 40; tries++) {
      await page.goto(`${base}/console/queues`);
      if ((await row.count()) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(await row.count()).toBe(0);
  });

  it('starts an access request with the API validation and downloads its JSON export and HTML report', async () => {
    const katherine = 'katherine.johnson@example.com';
    await page.getByRole('link', { name: 'New access request' }).click();
    await page.getByLabel('Email address').fill('not an address');
    // The browser's own check would stop the form before the server: the server's answer is what is tested.
    await page.evaluate(`document.querySelector('main form').setAttribute('novalidate', '')`);
    await page.getByRole('button', { name: 'Start access request' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/email/);

    await page.getByLabel('Email address').fill(katherine);
    await page.getByRole('button', { name: 'Start access request' }).click();
    await page.getByRole('heading', { name: /^Request / }).waitFor();
    const requestId = new URL(page.url()).pathname.split('/').at(-1) as string;
    expect(page.url().toLowerCase()).not.toMatch(/katherine|example\.com|%40/);
    expect(await page.title()).not.toContain('katherine');
    // The page reloads itself while the systems are read; the links appear once the export is written.
    const json = page.getByRole('link', { name: 'Download JSON export' });
    await json.waitFor({ timeout: 90_000 });
    await expect(page.locator('main').textContent()).resolves.toMatch(/Kindaccess.*Stateready/s);
    await shot('request-access');

    const [jsonDownload] = await Promise.all([page.waitForEvent('download'), json.click()]);
    expect(jsonDownload.suggestedFilename()).toBe(`access-${requestId}.json`);
    const document = JSON.parse(readFileSync((await jsonDownload.path()) as string, 'utf8'));
    expect(document).toMatchObject({ requestId, schema: expect.any(String), subject: expect.anything() });
    expect(JSON.stringify(document)).toContain(katherine);

    const [htmlDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download HTML report' }).click(),
    ]);
    expect(htmlDownload.suggestedFilename()).toBe(`access-${requestId}.html`);
    const html = readFileSync((await htmlDownload.path()) as string, 'utf8');
    expect(html).toMatch(/<html/i);
    expect(html).toContain(requestId);

    // The export is personal data: never cached.
    const answer = await page.request.get(`${base}/console/requests/${requestId}/export?format=json`);
    expect(answer.headers()['cache-control']).toBe('no-store');
    // A request that is not an access request has no export to give.
    const other = await page.request.get(`${base}/console/requests/${randomUUID()}/export?format=json`);
    expect(other.status()).toBe(404);
  });

  it('places a legal hold with a reason code on the person page and releases it, the address in no URL', async () => {
    await page.goto(`${base}/console/people`);
    await page.getByLabel('Email address').fill('katherine.johnson@example.com');
    await page.getByRole('button', { name: 'Find' }).click();
    await expect(page.locator('#hold-state').textContent()).resolves.toBe('Not on hold');
    await page.getByLabel('Hold reason').selectOption('legal_claims');
    await page.getByRole('button', { name: 'Place hold' }).click();
    await expect(page.locator('#hold-state').textContent()).resolves.toMatch(
      /^On hold since .*legal claims, by console:[0-9a-f]{12}/,
    );
    expect(page.url()).toBe(`${base}/console/people/hold`);
    await page.getByLabel('Release reason').selectOption('placed_in_error');
    await page.getByRole('button', { name: 'Release hold' }).click();
    await expect(page.locator('#hold-state').textContent()).resolves.toMatch(
      /^Not on hold: released .*placed in error/,
    );

    // Her page lists her requests of every kind with their links (the access export while it may be
    // fetched), the hold placed and released, and the evidence of her opt-out.
    const requests = page.locator('section', { has: page.getByRole('heading', { name: 'Requests' }) });
    const text = ((await requests.textContent()) ?? '').replace(/\s+/g, ' ');
    expect(text).toMatch(/legal hold.*placed by console:[0-9a-f]{12} \(placed in error|hold released/);
    expect(text).toContain('consent change');
    await requests
      .getByRole('row', { name: /access/ })
      .getByRole('link', { name: 'Download JSON' })
      .waitFor();
    const marketing = page.getByRole('row', { name: /^marketing email/ });
    await expect(marketing.textContent()).resolves.toMatch(/channel: phone.*by console:[0-9a-f]{12}/s);
    await shot('person-requests');
  });

  it('shows a refused hold or release on the person page form: the API schema message (400) and why nothing changed (409)', async () => {
    const person = 'katherine.johnson@example.com';
    await page.goto(`${base}/console/people`);
    await page.getByLabel('Email address').fill(person);
    await page.getByRole('button', { name: 'Find' }).click();
    // A code the API does not know (as a stale or altered form would send): refused by the API's schema.
    await page.evaluate(
      `document.querySelector('#hold-reason').insertAdjacentHTML('beforeend', '<option value="because">because</option>')`,
    );
    await page.getByLabel('Hold reason').selectOption('because');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/console/people/hold')),
      page.getByRole('button', { name: 'Place hold' }).click(),
    ]);
    expect(refused.status()).toBe(400);
    const alert = page.locator('section', { has: page.locator('#hold-state') }).getByRole('alert');
    await expect(alert.textContent()).resolves.toMatch(
      /Nothing was sent.*reason.*must be one of legal_claims/s,
    );
    await expect(page.getByLabel('Hold reason').getAttribute('aria-invalid')).resolves.toBe('true');
    await expect(page.locator('#hold-state').textContent()).resolves.toMatch(/^Not on hold/);
    expect(page.url().toLowerCase()).not.toMatch(/katherine|example\.com|%40/);

    // Placed, then placed again from a page that still offered it: the first hold is kept, and the form says so.
    await page.getByLabel('Hold reason').selectOption('legal_obligation');
    await page.getByRole('button', { name: 'Place hold' }).click();
    await expect(page.locator('#hold-state').textContent()).resolves.toMatch(
      /^On hold since .*legal obligation/,
    );
    const csrf = (await page.locator('input[name=_csrf]').first().inputValue()) as string;
    const again = await page.request.post(`${base}/console/people/hold`, {
      form: { email: person, reason: 'authority_order', _csrf: csrf },
    });
    expect(again.status()).toBe(409);
    expect(again.headers()['cache-control']).toBe('no-store');
    expect(await again.text()).toMatch(/role="alert"[\s\S]*already on hold \(legal obligation, since/);

    await page.getByLabel('Release reason').selectOption('resolved');
    await page.getByRole('button', { name: 'Release hold' }).click();
    await expect(page.locator('#hold-state').textContent()).resolves.toMatch(/^Not on hold: released/);
    const twice = await page.request.post(`${base}/console/people/release`, {
      form: { email: person, reason: 'resolved', _csrf: csrf },
    });
    expect(twice.status()).toBe(409);
    expect(await twice.text()).toMatch(/role="alert"[\s\S]*not on hold .*nothing was released/);
  });

  it('starts a rectification with the API validation field by field, then retries it from its request page until it is rectified', async () => {
    const katherine = 'katherine.johnson@example.com';
    await hub.vendors.dynamics.control.fail({ path: 'contacts', status: 503, count: 100_000 });
    try {
      await page.getByRole('link', { name: 'New rectification' }).click();
      await page.getByLabel('Email address the systems hold now').fill(katherine);
      // Nothing to change: the API's own message, next to the changes.
      await page.getByRole('button', { name: 'Start rectification' }).click();
      await expect(page.getByRole('alert').textContent()).resolves.toMatch(
        /Change to.*fill in at least one of: new email address, new first name, new last name/s,
      );
      await expect(page.locator('#changes-error').textContent()).resolves.toContain(
        'fill in at least one of',
      );

      // A new address that is not one (past the browser's own check): refused on its field, the rest kept.
      await page.evaluate(`document.querySelector('main form').setAttribute('novalidate', '')`);
      await page.getByLabel('New email address').fill('katherine at nasa');
      await page.getByLabel('New last name').fill('Goble');
      const [refused] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/console/new/rectification')),
        page.getByRole('button', { name: 'Start rectification' }).click(),
      ]);
      expect(refused.status()).toBe(400);
      expect(refused.headers()['cache-control']).toBe('no-store');
      await expect(page.getByRole('alert').textContent()).resolves.toMatch(
        /New email address: not a valid email/,
      );
      await expect(page.locator('#newEmail-error').textContent()).resolves.toMatch(/not a valid email/);
      await expect(page.getByLabel('New email address').getAttribute('aria-invalid')).resolves.toBe('true');
      await expect(page.getByLabel('New last name').inputValue()).resolves.toBe('Goble');
      await expect(page.getByLabel('Email address the systems hold now').inputValue()).resolves.toBe(
        katherine,
      );
      await shot('new-rectification-invalid');

      await page.getByLabel('New email address').fill('');
      await page.getByRole('button', { name: 'Start rectification' }).click();
      await page.getByRole('heading', { name: /^Request / }).waitFor();
      const requestId = new URL(page.url()).pathname.split('/').at(-1) as string;
      expect(page.url().toLowerCase()).not.toMatch(/katherine|goble|example\.com|%40/);
      await expect(page.locator('main').textContent()).resolves.toMatch(
        /Kindrectification.*Fields changedlastname/s,
      );
      // Its deadline, as every request's: a month from now, not extended.
      await expect(page.locator('#due-at').getAttribute('datetime')).resolves.toMatch(/^\d{4}-/);

      // Dynamics keeps failing: the system needs attention, with the vendor's status, and the page offers
      // retry and close for it.
      await page.getByRole('button', { name: 'Retry dynamics' }).waitFor({ timeout: 60_000 });
      const dynamicsRow = page.getByRole('row', { name: /^dynamics/ });
      await expect(dynamicsRow.textContent()).resolves.toMatch(/needs attention.*503/s);
      await page.getByRole('button', { name: 'Close dynamics' }).waitFor();
      await shot('request-rectification');

      // It is in the needs-attention queue with the system, the operation and the vendor's status.
      await page.getByRole('link', { name: 'Queues' }).click();
      const row = page
        .locator('section', { has: page.getByRole('heading', { name: /Needs attention/ }) })
        .getByRole('row', { name: new RegExp(requestId.slice(0, 8)) });
      await expect(row.textContent()).resolves.toMatch(/rectification.*dynamics.*rectify.*503/s);

      await hub.vendors.dynamics.control.clearFaults();
      await row.getByRole('link').click();
      await page.getByRole('button', { name: 'Retry dynamics' }).click();
      await page.getByRole('status').waitFor();
      await page.locator('dl.facts .badge.s-completed').waitFor({ timeout: 60_000 });
      await expect(dynamicsRow.textContent()).resolves.toMatch(/rectified/);
      const log = (await page.locator('ol.log').textContent()) ?? '';
      expect(log).toMatch(/retry\s+dynamics by console:[0-9a-f]{12}/);
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      // The vendor's own record: Katherine's contact now has the new last name.
      // Its receipt: a page, a JSON download and a printable page, as an erasure's.
      await page.getByRole('link', { name: 'View receipt' }).click();
      await page.getByRole('heading', { name: 'Rectification receipt' }).waitFor();
      await shot('receipt-rectification');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download JSON' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe(`rectification-receipt-${requestId}.json`);
      expect(JSON.parse(readFileSync((await download.path()) as string, 'utf8'))).toMatchObject({
        requestId,
        fields: ['lastname'],
      });
      await page.getByRole('link', { name: 'Printable page' }).click();
      await expect(page.locator('body').getAttribute('class')).resolves.toBe('print');

      // The queues list it as recently completed, with requests of the other kinds.
      await page.goto(`${base}/console/queues`);
      const done = page.locator('section', {
        has: page.getByRole('heading', { name: 'Recently completed' }),
      });
      await expect(
        done.getByRole('row', { name: new RegExp(requestId.slice(0, 8)) }).textContent(),
      ).resolves.toMatch(/rectification.*completed/s);
      const kinds = (await done.locator('tbody tr td:nth-child(2)').allTextContents()).map((k) => k.trim());
      // Katherine's access request was answered when its export was written.
      expect(kinds).toEqual(expect.arrayContaining(['erasure', 'consent change', 'access', 'rectification']));
      await shot('queues-completed');

      const { contacts } = await hub.vendors.dynamics.control.state<{
        contacts: Record<string, unknown>[];
      }>();
      expect(contacts.find((row) => row.emailaddress1 === katherine)).toMatchObject({ lastname: 'Goble' });
    } finally {
      await hub.vendors.dynamics.control.clearFaults();
    }
  });

  it('never writes a looked-up or erased address into the API log', () => {
    const written = JSON.stringify(logs.lines);
    expect(logs.lines.length).toBeGreaterThan(5);
    for (const address of [
      ada,
      grace,
      'alan.turing@example.com',
      'katherine.johnson@example.com',
      dueSoon,
      overdue,
      consentPerson,
    ])
      expect(written).not.toContain(address);
  });
});
