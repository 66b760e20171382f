import { describe, expect, it } from 'vitest';
import { consoleViews } from '../../console/console-views.js';
import { reconciliationRunView, systemProgressText } from '../../console/reconciliation-rows.js';

const eta = consoleViews();
const render = (view: Record<string, unknown>) =>
  eta.render('./reconciliation', {
    title: 'Reconciliation',
    csrf: 'token',
    operator: 'console:abc',
    view,
    runView: (report: object) => reconciliationRunView(report as Record<string, unknown>),
  });
const text = (html: string) => html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ');

const deltaLink =
  'delta:{"contacts":{"delta":"https://localhost:7301/api/data/v9.2/contacts?$select=contactid&$deltatoken=1012"}}';

describe('the reconciliation page says in words what a run read and found', () => {
  it('shows a run in progress as pages and people read per system, not its JSON', () => {
    const html = render({
      running: [
        {
          workflowId: 'reconciliation-manual',
          progress: {
            startedAt: '2026-11-30T06:29:55.811Z',
            systems: {
              mailchimp: { pages: 1, people: 5, total: 7, done: false, cursor: 'offset:5' },
              dynamics: { pages: 0, people: 0, done: false },
            },
            drift: { opt_out_not_propagated: 2, erased_subject_reappeared: 0 },
            repairsStarted: 2,
            needsAttention: [],
          },
        },
      ],
      lastRuns: [],
    });
    const words = text(html);
    expect(words).toContain('mailchimp 1 page read, 5 of 7 people; still reading');
    expect(words).toContain('dynamics 0 pages read, 0 people; still reading');
    expect(words).toContain('2 opt-outs a system had not applied (written again)');
    expect(words).not.toContain('erased people found again');
    expect(words).toContain('Repairs started: 2; needing a person: 0');
    expect(html).not.toContain('&quot;pages&quot;');
    expect(html).not.toContain('offset:5');
  });

  it('shows a finished run’s report in words, its JSON only folded away for an engineer', () => {
    const summary = {
      startedAt: '2026-11-30T06:29:55.811Z',
      systems: {
        mailchimp: { pages: 2, people: 2, done: true, total: 2 },
        dynamics: { pages: 2, people: 1, done: true, latestChange: deltaLink },
      },
      drift: { opt_out_not_propagated: 3, unexplained_opt_in: 1, some_future_kind: 4 },
      repairsStarted: 3,
      needsAttention: [{ kind: 'unexplained_opt_in', system: 'mailchimp', subjectKey: 'k' }],
      recordErrorCount: 1,
    };
    const html = render({
      running: [],
      lastRuns: [
        { runId: 'manual-1', startedAt: summary.startedAt, finishedAt: '2026-11-30T06:29:58.399Z', summary },
      ],
    });
    const words = text(html);
    expect(words).toContain('mailchimp 2 pages read, 2 of 2 people; finished');
    expect(words).toContain('dynamics 2 pages read, 1 person; finished');
    expect(words).toContain('3 opt-outs a system had not applied (written again)');
    expect(words).toContain(
      '1 opt-ins that contradict a withdrawal not yet applied there (reported, not changed)',
    );
    expect(words).toContain('4 some future kind');
    expect(words).toContain('Repairs started: 3; needing a person: 1; records that could not be read: 1.');
    // The delta link stays in the folded JSON, after the words.
    const folded = html.indexOf('Full report (JSON, for an engineer)');
    expect(folded).toBeGreaterThan(html.indexOf('pages read'));
    expect(html.indexOf('$deltatoken')).toBeGreaterThan(folded);
  });

  it('reads a stored report with missing fields without inventing figures', () => {
    expect(systemProgressText(undefined)).toBe('0 pages read, 0 people; still reading');
    expect(reconciliationRunView({})).toEqual({
      systems: [],
      drift: [],
      repairsStarted: 0,
      needingAPerson: 0,
      recordErrors: 0,
    });
  });
});
