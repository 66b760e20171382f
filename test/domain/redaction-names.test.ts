import { describe, expect, it } from 'vitest';
import { maxRedactionNames, mostFrequentNames } from '../../domain/redaction-names.js';

describe('mostFrequentNames', () => {
  it('keeps every name of a person with a contact and a lead, trimmed and distinct', () => {
    expect(mostFrequentNames(['Ada', 'Lovelace', ' Ada ', 'Lovelace', '', '  '])).toEqual([
      'Ada',
      'Lovelace',
    ]);
  });

  it('keeps at most the cap of names from thousands of rows, the most frequent first', () => {
    const occurrences = [
      ...Array.from({ length: 5_000 }, (_, i) => `Name${i}`),
      ...Array.from({ length: 3 }, () => 'Info'),
      ...Array.from({ length: 2 }, () => 'Team'),
    ];
    const kept = mostFrequentNames(occurrences);
    expect(kept).toHaveLength(maxRedactionNames);
    expect(kept.slice(0, 2)).toEqual(['Info', 'Team']);
  });

  it('gives the same names whatever the order of the rows (a retried harvest, a replay)', () => {
    const occurrences = Array.from({ length: 100 }, (_, i) => `N${i % 37}`);
    expect(mostFrequentNames([...occurrences].reverse())).toEqual(mostFrequentNames(occurrences));
    expect(mostFrequentNames(['b', 'a', 'c'], 2)).toEqual(['a', 'b']);
  });
});
