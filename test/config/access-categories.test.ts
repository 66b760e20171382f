import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  accessCategoriesSchema,
  categoryOf,
  defaultAccessCategories,
  loadAccessCategories,
} from '../../config/access-categories.js';
import { ConfigError } from '../../config/parse-env.js';

describe('access report categories (CONSENT_HUB_ACCESS_CATEGORIES)', () => {
  it('ships an example file equal to the defaults from the privacy notice, valid against the schema', () => {
    const example = JSON.parse(readFileSync('config/access-categories.example.json', 'utf8'));
    expect(accessCategoriesSchema.parse(example)).toEqual(defaultAccessCategories);
    expect(loadAccessCategories({})).toEqual(defaultAccessCategories);
  });

  it('puts every record kind a connector or the ledger produces in a category', () => {
    const kinds = {
      dynamics: ['contact', 'lead', 'email', 'phonecall', 'appointment', 'task'],
      mailchimp: ['member', 'note', 'activity'],
      google: ['gaClientId', 'gaUserId', 'dataRetention'],
      ledger: [
        'consentEvent',
        'receipt',
        'tombstone',
        'legalHold',
        'restriction',
        'rectification',
        'rectificationMove',
        'accessReceipt',
      ],
    };
    for (const [system, list] of Object.entries(kinds))
      for (const kind of list)
        expect(categoryOf(defaultAccessCategories, system, kind), `${system} ${kind}`).toBeDefined();
  });

  it('reads a file of its own, and names each problem of a bad one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-categories-'));
    const own = { ...defaultAccessCategories, controller: 'Example AB' };
    writeFileSync(join(dir, 'ok.json'), JSON.stringify(own));
    expect(loadAccessCategories({ CONSENT_HUB_ACCESS_CATEGORIES: join(dir, 'ok.json') }).controller).toBe(
      'Example AB',
    );
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...own, categories: [{ id: 'Bad Id' }] }));
    expect(() => loadAccessCategories({ CONSENT_HUB_ACCESS_CATEGORIES: join(dir, 'bad.json') })).toThrow(
      ConfigError,
    );
    try {
      loadAccessCategories({ CONSENT_HUB_ACCESS_CATEGORIES: join(dir, 'bad.json') });
    } catch (error) {
      expect((error as ConfigError).problems.join('\n')).toMatch(
        /CONSENT_HUB_ACCESS_CATEGORIES: categories\.0\.id/,
      );
    }
  });
});
