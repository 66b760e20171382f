import { describe, expect, it } from 'vitest';
import { redactGaClientIds, redactText } from '../../domain/text-redaction.js';
import { itKeepsEach, itRedactsEach } from '../support/redaction-cases.js';

describe('redactGaClientIds: client ids by their shape, decided by their context', () => {
  itRedactsEach('redacts %s', redactGaClientIds, [
    [
      'a random part of fewer than 5 digits in a cookie',
      'cookie GA1.2.42.1700000000',
      'cookie GA1.2.[identifier]',
    ],
    ['a one-digit random part, bare', 'visitor 7.1700000000 left', 'visitor [identifier] left'],
    ['the dot percent-encoded', 'uid 12345%2E1700000000', 'uid [identifier]'],
    ['the dot JSON-escaped', '{"v":"12345\\u002e1700000000"}', '{"v":"[identifier]"}'],
    [
      'a whole cookie percent-encoded',
      'Cookie: x=1%3B%20_ga%3DGA1%2E2%2E42%2E1700000000',
      'Cookie: x=1%3B%20_ga%3DGA1%2E2%2E[identifier]',
    ],
    [
      'a cookie twice percent-encoded',
      'next=%2Fa%3Fga%3DGA1%252E2%252E42%252E1700000000',
      'next=%2Fa%3Fga%3DGA1%252E2%252E[identifier]',
    ],
    ['a whole cookie JSON-quoted', '{"_ga":"GA1.2.42.1700000000"}', '{"_ga":"GA1.2.[identifier]"}'],
    [
      'a JSON-quoted cookie inside a JSON string',
      '"{\\"_ga\\":\\"GA1.1.42.1700000000\\"}"',
      '"{\\"_ga\\":\\"GA1.1.[identifier]\\"}"',
    ],
    ['a cookie with a path depth', '_ga=GA1.3-2.987654321.1700000000', '_ga=GA1.3-2.[identifier]'],
    ['the oldest cookie format', '_ga=1.2.286403989.1366364567', '_ga=1.2.[identifier]'],
    ['a client_id key with any time', '"client_id":"7.1122334455"', '"client_id":"[identifier]"'],
    ['a clientId key with a time out of range', 'clientId: 99.2468024680', 'clientId: [identifier]'],
    [
      'a cid query parameter',
      '/collect?v=1&cid=12.1700000000&tid=UA-1',
      '/collect?v=1&cid=[identifier]&tid=UA-1',
    ],
    [
      'a CRM column naming a client id',
      "new_gaclientid eq '5.1700000000'",
      "new_gaclientid eq '[identifier]'",
    ],
    [
      "a CRM column's value in a Dataverse error whose apostrophes are JSON-escaped",
      '{"message":"new_gaclientid \\u0027123456789.1700000000\\u0027 not found"}',
      '{"message":"new_gaclientid \\u0027[identifier]\\u0027 not found"}',
    ],
    [
      'a short id after a JSON-escaped apostrophe',
      'new_gaclientid eq \\u00275.12\\u0027',
      'new_gaclientid eq \\u0027[identifier]\\u0027',
    ],
    [
      'an OData filter echoed percent-encoded',
      'new_gaclientid%20eq%20%27123456789.1700000000%27',
      'new_gaclientid%20eq%20%27[identifier]%27',
    ],
    [
      'an OData filter echoed percent-encoded twice',
      'new_gaclientid%2520eq%2520%25275.12%2527',
      'new_gaclientid%2520eq%2520%2527[identifier]%2527',
    ],
    [
      'an XML element naming a client id',
      '<new_gaclientid>999.12</new_gaclientid>',
      '<new_gaclientid>[identifier]</new_gaclientid>',
    ],
    [
      'HTML-quoted JSON',
      'new_gaclientid&quot;:&quot;999.12&quot;',
      'new_gaclientid&quot;:&quot;[identifier]&quot;',
    ],
    ['a client id named in prose', 'client id 77.1700000000 is unknown', 'client id [identifier] is unknown'],
  ]);

  itKeepsEach('leaves %s', redactGaClientIds, [
    ['a ticket number in an operator note', 'see ticket 12345.1700000000 for the call'],
    [
      'a labelled ticket number with no. and #',
      'ticket no. 12345.1700000000, case #12345.1700000000, ref: 1.1700000000',
    ],
    [
      'a US phone number written with a dot (its ten digits read after 2033)',
      'call 1.2125551234 or 1.4155552671',
    ],
    ['a UK phone number written with a dot', 'tel 44.2079460958'],
    ['a phone number after a +', 'reach them at +44.1632960123'],
    [
      'a version in vendor error text',
      'SDK version 12345.1700000000 rejected; build 3.1600000000; googleapis 144.0.0',
    ],
    ['a dotted version with a client-id-like tail', 'agent 1.12345.1700000000 and 12345.1700000000.2'],
    ['a time before Google Analytics existed', 'legacy 12345.1000000000'],
    ['a time far in the future', 'row 12345.2468024680'],
    ['a shorter or longer time', 'took 1234.5 ms, then 12345.170000000 and 12345.17000000000'],
    ['a long digit run', 'row 12345678901234'],
    ['a random part with a leading zero (a uint32 has none)', 'rate 0012.1700000000'],
    ['a fraction of one', 'score 0.1734567890'],
  ]);

  it('redacts a bare id whose time is a plausible GA time, and only then', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(redactGaClientIds(`id 12345.${now - 86_400}`)).toBe('id [identifier]');
    expect(redactGaClientIds('id 12345.1131926400')).toBe('id [identifier]');
    expect(redactGaClientIds('id 12345.1131926399')).toBe('id 12345.1131926399');
    expect(redactGaClientIds(`id 12345.${now + 2 * 366 * 86_400}`)).toBe(
      `id 12345.${now + 2 * 366 * 86_400}`,
    );
  });

  it("redacts the subject's own ids in any encoding, even where the shape alone would not", () => {
    const subject = { identifiers: ['1357913579.2468024680', '3.1000000001'] };
    expect(
      redactText(
        'a 1357913579.2468024680 b 1357913579%2E2468024680 c 1357913579\\u002e2468024680 d 3%2e1000000001',
        subject,
      ),
    ).toBe('a [identifier] b [identifier] c [identifier] d [identifier]');
  });
});
