import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { durationMs, hubConfigSchema } from '../../config/hub-config.js';
import { ConfigError, parseEnv } from '../../config/parse-env.js';
import { clientContextFor } from '../../hub-client/client-context.js';

describe('hub configuration from the environment', () => {
  it('reports every missing variable on its own line, by name', () => {
    let error: unknown;
    try {
      parseEnv(hubConfigSchema, {});
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'CONSENT_HUB_SUBJECT_KEY_SECRET: is required (the HMAC secret behind subject keys)',
      'CONSENT_HUB_ENCRYPTION_KEYS: is required (comma-separated id:base64 AES-256 keys)',
    ]);
  });

  it('never echoes a secret value it rejects', () => {
    const tooShort = 'hunter2-secret';
    const badLevel = 'loud';
    let message = '';
    try {
      parseEnv(hubConfigSchema, {
        CONSENT_HUB_SUBJECT_KEY_SECRET: tooShort,
        CONSENT_HUB_ENCRYPTION_KEYS: 'k:notbase64!!',
        LOG_LEVEL: badLevel,
      });
    } catch (caught) {
      message = (caught as Error).message;
    }
    expect(message).toContain('CONSENT_HUB_SUBJECT_KEY_SECRET: must be at least 32 characters');
    expect(message).toContain('CONSENT_HUB_ENCRYPTION_KEYS:');
    expect(message).toContain('LOG_LEVEL:');
    expect(message).not.toContain(tooShort);
    expect(message).not.toContain('notbase64');
  });

  it('fills defaults for the data directory and task queue', () => {
    const config = parseEnv(hubConfigSchema, {
      CONSENT_HUB_SUBJECT_KEY_SECRET: 'x'.repeat(40),
      CONSENT_HUB_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    });
    expect(config.CONSENT_HUB_DATA_DIR).toBe('.consent-hub');
    expect(config.CONSENT_HUB_TASK_QUEUE).toBe('consent-hub');
    expect(config.CONSENT_HUB_ENCRYPTION_KEYS[0]?.id).toBe('k1');
  });

  it('lets a person’s consent workflow end as soon as it is idle (0), or after a duration, but not after a negative or unreadable one', () => {
    const base = {
      CONSENT_HUB_SUBJECT_KEY_SECRET: 'x'.repeat(40),
      CONSENT_HUB_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    };
    expect(parseEnv(hubConfigSchema, base).CONSENT_HUB_SUBJECT_IDLE_AFTER).toBe('0');
    for (const idle of ['0', '0s', '10 minutes', '90000']) {
      expect(
        parseEnv(hubConfigSchema, { ...base, CONSENT_HUB_SUBJECT_IDLE_AFTER: idle })
          .CONSENT_HUB_SUBJECT_IDLE_AFTER,
      ).toBe(idle);
    }
    for (const idle of ['-5s', 'soon']) {
      expect(() => parseEnv(hubConfigSchema, { ...base, CONSENT_HUB_SUBJECT_IDLE_AFTER: idle })).toThrow(
        'CONSENT_HUB_SUBJECT_IDLE_AFTER: is not a duration',
      );
    }
  });

  it('reads the intake buffer window and the bulk thresholds, keeping 2 s, 5 and 10 by default, and names a bad one', () => {
    const base = {
      CONSENT_HUB_SUBJECT_KEY_SECRET: 'x'.repeat(40),
      CONSENT_HUB_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    };
    const defaults = parseEnv(hubConfigSchema, base);
    expect(defaults.CONSENT_HUB_INTAKE_BUFFER_WINDOW).toBe('2 seconds');
    expect(durationMs(defaults.CONSENT_HUB_INTAKE_BUFFER_WINDOW)).toBe(2000);
    expect(defaults.CONSENT_HUB_WEBHOOK_BULK_FROM).toBe(5);
    expect(defaults.CONSENT_HUB_RECONCILE_BULK_FROM).toBe(10);
    const set = parseEnv(hubConfigSchema, {
      ...base,
      CONSENT_HUB_INTAKE_BUFFER_WINDOW: '500',
      CONSENT_HUB_WEBHOOK_BULK_FROM: '3',
      CONSENT_HUB_RECONCILE_BULK_FROM: '50',
    });
    expect(durationMs(set.CONSENT_HUB_INTAKE_BUFFER_WINDOW)).toBe(500);
    expect(set.CONSENT_HUB_WEBHOOK_BULK_FROM).toBe(3);
    expect(set.CONSENT_HUB_RECONCILE_BULK_FROM).toBe(50);
    const refused: [string, string, string][] = [
      ['CONSENT_HUB_INTAKE_BUFFER_WINDOW', 'soon', 'is not a duration'],
      ['CONSENT_HUB_INTAKE_BUFFER_WINDOW', '0', 'is not a duration'],
      ['CONSENT_HUB_INTAKE_BUFFER_WINDOW', '5 minutes', 'must be at most 1 minute'],
      ['CONSENT_HUB_WEBHOOK_BULK_FROM', '0', 'must be at least 1'],
      ['CONSENT_HUB_WEBHOOK_BULK_FROM', '2.5', 'must be a whole number'],
      ['CONSENT_HUB_RECONCILE_BULK_FROM', 'many', 'must be a whole number'],
    ];
    for (const [name, value, problem] of refused) {
      expect(() => parseEnv(hubConfigSchema, { ...base, [name]: value })).toThrow(`${name}: ${problem}`);
    }
  });

  it('gives the client context the buffer settings the webhook route hands its changes to', () => {
    const config = parseEnv(hubConfigSchema, {
      CONSENT_HUB_SUBJECT_KEY_SECRET: 'x'.repeat(40),
      CONSENT_HUB_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      CONSENT_HUB_INTAKE_BUFFER_WINDOW: '750ms',
      CONSENT_HUB_WEBHOOK_BULK_FROM: '7',
    });
    expect(clientContextFor({} as Client, config).intakeBuffer).toEqual({ windowMs: 750, bulkFrom: 7 });
  });
});
