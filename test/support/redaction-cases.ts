import { expect, it } from 'vitest';

/**
 * One test per `[case, text, expected]` of `cases`, named by `title` (its `%s` is the case): `redact(text)`
 * answers `expected`, the whole text as it should be kept.
 */
export function itRedactsEach(
  title: string,
  redact: (text: string) => string,
  cases: readonly (readonly [string, string, string])[],
): void {
  it.each(cases)(title, (_case, text, expected) => {
    expect(redact(text)).toBe(expected);
  });
}

/** One test per `[case, text]` of `cases`, named by `title` (its `%s` is the case): `redact` keeps `text` whole. */
export function itKeepsEach(
  title: string,
  redact: (text: string) => string,
  cases: readonly (readonly [string, string])[],
): void {
  it.each(cases)(title, (_case, text) => {
    expect(redact(text)).toBe(text);
  });
}
