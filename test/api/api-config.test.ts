import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { devApiSettings } from '../../api/dev-api-credentials.js';
import { runApiServer } from '../../api/run-api-server.js';
import { hubConfigSchema } from '../../config/hub-config.js';
import { ConfigError, parseEnv } from '../../config/parse-env.js';
import { silentLogger } from '../support/temporal.js';

const base = {
  CONSENT_HUB_SUBJECT_KEY_SECRET: randomBytes(32).toString('hex'),
  CONSENT_HUB_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

describe('API configuration', () => {
  it('reads key hashes, port and webhook secret; defaults leave the API keyless and the webhook absent', () => {
    const defaults = parseEnv(hubConfigSchema, base);
    expect(defaults.CONSENT_HUB_API_KEYS).toEqual([]);
    expect(defaults.CONSENT_HUB_API_PORT).toBe(8080);
    expect(defaults.CONSENT_HUB_API_HOST).toBe('127.0.0.1');
    expect(defaults.CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET).toBeUndefined();
    const hash = 'AB'.repeat(32);
    const configured = parseEnv(hubConfigSchema, {
      ...base,
      CONSENT_HUB_API_KEYS: ` ${hash} , ${'c'.repeat(64)},`,
      CONSENT_HUB_API_PORT: '9090',
      CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET: 'w'.repeat(40),
    });
    expect(configured.CONSENT_HUB_API_KEYS).toEqual([hash.toLowerCase(), 'c'.repeat(64)]);
    expect(configured.CONSENT_HUB_API_PORT).toBe(9090);
  });

  it('names a key given in plain text instead of its hash, without echoing it', () => {
    let message = '';
    try {
      parseEnv(hubConfigSchema, { ...base, CONSENT_HUB_API_KEYS: 'plain-text-key-oops' });
    } catch (caught) {
      message = (caught as Error).message;
    }
    expect(message).toContain('CONSENT_HUB_API_KEYS');
    expect(message).not.toContain('plain-text-key-oops');
  });

  it('serve refuses to start with no API key configured, before connecting to anything', async () => {
    await expect(runApiServer(parseEnv(hubConfigSchema, base), silentLogger)).rejects.toBeInstanceOf(
      ConfigError,
    );
  });

  it('gives dev the hash of its key, never the key, in the environment', () => {
    const settings = devApiSettings(
      { key: `chk_dev_${'k'.repeat(32)}`, webhookSecret: 's'.repeat(32) },
      8080,
    );
    expect(settings.env.CONSENT_HUB_API_KEYS).toBe(hashApiKey(`chk_dev_${'k'.repeat(32)}`));
    expect(JSON.stringify(settings.env)).not.toContain('chk_dev_');
    expect(settings.devJson).toEqual({
      url: 'http://127.0.0.1:8080',
      key: `chk_dev_${'k'.repeat(32)}`,
      mailchimpWebhookUrl: `http://127.0.0.1:8080/webhooks/mailchimp/${'s'.repeat(32)}`,
    });
    expect(() => parseEnv(hubConfigSchema, { ...base, ...settings.env })).not.toThrow();
  });
});
