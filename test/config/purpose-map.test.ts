import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPurposeMap } from '../../config/purpose-map.js';
import { defaultDynamicsPurposeColumns } from '../../connectors/dynamics/config.js';
import { defaultMailchimpPurposeMap } from '../../connectors/mailchimp/config.js';

const dir = mkdtempSync(join(tmpdir(), 'purpose-map-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('the purpose map file', () => {
  it('is optional: without CONSENT_HUB_PURPOSE_MAP each connector keeps its defaults', () => {
    expect(loadPurposeMap({})).toEqual({});
  });

  it('ships an example that states exactly the connectors’ default mapping', () => {
    const example = loadPurposeMap({
      CONSENT_HUB_PURPOSE_MAP: join(import.meta.dirname, '../../config/purpose-map.example.json'),
    });
    expect(example.dynamics).toEqual(defaultDynamicsPurposeColumns);
    expect(example.mailchimp).toEqual(defaultMailchimpPurposeMap);
  });

  it('names an unknown purpose with the list of known ones, and the file variable', () => {
    const path = file(
      'unknown.json',
      JSON.stringify({ dynamics: { telepathy: { column: 'donotfax', inverted: false } } }),
    );
    expect(() => loadPurposeMap({ CONSENT_HUB_PURPOSE_MAP: path })).toThrow(
      /CONSENT_HUB_PURPOSE_MAP: dynamics: .*telepathy.*; known purposes: product_information/s,
    );
  });

  it('refuses a file that is not JSON or names an unknown tool', () => {
    expect(() => loadPurposeMap({ CONSENT_HUB_PURPOSE_MAP: file('bad.json', '{ nope') })).toThrow(
      /cannot read .* as JSON/,
    );
    expect(() =>
      loadPurposeMap({ CONSENT_HUB_PURPOSE_MAP: file('tool.json', '{"salesforce": {}}') }),
    ).toThrow(/CONSENT_HUB_PURPOSE_MAP: .*salesforce/);
    expect(readFileSync(join(dir, 'tool.json'), 'utf8')).toContain('salesforce');
  });
});
