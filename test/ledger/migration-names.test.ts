import { describe, expect, it } from 'vitest';
import { ledgerMigrations } from '../../ledger/migrations.js';

describe('ledger migration names', () => {
  it('give each migration its own number, in the order they were added, so every ledger applies them alike', async () => {
    const names = Object.keys(await ledgerMigrations.getMigrations());
    const numbers = names.map((name) => name.slice(0, 4));
    expect(names.every((name) => /^\d{4}_[a-z0-9_]+$/.test(name))).toBe(true);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(numbers).toEqual([...numbers].sort());
  });
});
