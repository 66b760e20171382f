import { describe, expect, it } from 'vitest';
import { formChoices } from '../../console/console-forms.js';
import { consoleViews } from '../../console/console-views.js';
import { utcMinute } from '../../console/due-labels.js';
import { completedRows, problemsOf, runningRows } from '../../console/queue-rows.js';
import type { RequestListing } from '../../domain/request-deadline.js';

const subjectKey = 'b'.repeat(64);
const id = (n: number) => `10000000-0000-4000-8000-00000000000${n}`;
const row = (
  n: number,
  kind: RequestListing['kind'],
  state: string,
  completedAt?: string,
): RequestListing => ({
  requestId: id(n),
  kind,
  subjectKey,
  receivedAt: `2026-01-0${n}T10:00:00.000Z`,
  dueAt: `2026-02-0${n}T10:00:00.000Z`,
  extendedMonths: 0,
  ...(completedAt ? { completedAt } : {}),
  state,
  overdue: false,
});

describe('the queues list requests of every kind, not only erasures', () => {
  it('runs every open kind but those needing attention, and adds erasures Temporal knows that the ledger has no deadline for', () => {
    const running = runningRows(
      [
        row(1, 'erasure', 'running'),
        row(2, 'access', 'running'),
        row(3, 'rectification', 'running'),
        row(4, 'consent', 'open'),
        row(5, 'rectification', 'needs_attention'),
        row(6, 'erasure', 'on_hold'),
      ],
      [
        {
          requestId: id(1),
          subjectKey,
          status: 'running',
          attention: [],
          startedAt: '2026-01-01T10:00:00.000Z',
        },
        {
          requestId: id(8),
          subjectKey,
          status: 'on_hold',
          attention: [],
          startedAt: '2025-12-01T10:00:00.000Z',
        },
        {
          requestId: id(9),
          subjectKey,
          status: 'completed',
          attention: [],
          startedAt: '2025-12-02T10:00:00.000Z',
        },
      ],
    );
    expect(running.map((r) => [r.requestId, r.kind, r.state])).toEqual([
      [id(6), 'erasure', 'on_hold'],
      [id(4), 'consent change', 'open'],
      [id(3), 'rectification', 'running'],
      [id(2), 'access', 'running'],
      [id(1), 'erasure', 'running'],
      [id(8), 'erasure', 'on_hold'],
    ]);
  });

  it('shows each completed request with its receipt’s outcome and the systems that failed or were closed', () => {
    const rows = completedRows(
      [
        row(1, 'rectification', 'completed', '2026-01-09T00:00:00.000Z'),
        row(2, 'access', 'completed', '2026-01-08T00:00:00.000Z'),
        row(3, 'consent', 'completed', '2026-01-07T00:00:00.000Z'),
      ],
      {
        [id(1)]: {
          outcome: 'completed_with_failures',
          problems: problemsOf({
            dynamics: { status: 'closed_by_operator', closedReason: 'handled_manually' },
            mailchimp: { status: 'rectified' },
            google: { status: 'failed', failure: { reason: 'quota' } },
          }),
        },
        [id(2)]: { outcome: 'completed', problems: [] },
      },
    );
    expect(rows.map((r) => [r.kind, r.outcome, r.problems])).toEqual([
      [
        'rectification',
        'completed_with_failures',
        'dynamics: closed by operator: handled_manually; google: quota',
      ],
      ['access', 'completed', '—'],
      ['consent change', 'completed', '—'],
    ]);

    const html = consoleViews().render('./queues', {
      title: 'Queues',
      csrf: 't',
      operator: 'console:abc',
      choices: formChoices,
      due: [],
      attention: [],
      running: runningRows([row(2, 'access', 'running')], []),
      completed: rows,
      utcMinute,
    });
    const running = /<section aria-labelledby="running-h">[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';
    expect(running).toMatch(
      /href="\/console\/requests\/[^"]+"><code>10000000<\/code><\/a><\/td>\s*<td>access<\/td>/,
    );
    const done = /<section aria-labelledby="done-h">[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';
    expect(done).toContain('<td>rectification</td>');
    expect(done).toContain('<td>consent change</td>');
    expect(done).toContain('2026-01-09 00:00 UTC');
  });
});
