import { writeFileSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { googleConfigSchema, isGoogleConfigured } from '../../../connectors/google/config.js';
import { createGoogleConnector } from '../../../connectors/google/connector.js';
import { writeServiceAccount } from './google-fixtures.js';

describe('google config', () => {
  it('normalises property ids and applies the documented defaults', () => {
    expect(
      googleConfigSchema.parse({
        GOOGLE_APPLICATION_CREDENTIALS: '/k.json',
        GA4_PROPERTY_IDS: 'properties/1, 2,1',
      }),
    ).toEqual({
      credentialsFile: '/k.json',
      propertyIds: ['1', '2'],
      apiRootUrl: undefined,
      tokenUrl: 'https://oauth2.googleapis.com/token',
      submitUserProvidedData: false,
      requestsPerSecond: 1.5,
      timeoutMs: 30_000,
    });
  });

  it('names each bad variable in its error', () => {
    const result = googleConfigSchema.safeParse({
      GA4_PROPERTY_IDS: 'UA-123',
      GOOGLE_TOKEN_URL: 'http://plain.example/token',
      GA_SUBMIT_USER_PROVIDED_DATA: 'sometimes',
    });
    expect(result.success).toBe(false);
    const messages = result.error?.issues.map((issue) => issue.message).join('\n') ?? '';
    for (const name of [
      'GOOGLE_APPLICATION_CREDENTIALS',
      'GA4_PROPERTY_IDS',
      'GOOGLE_TOKEN_URL',
      'GA_SUBMIT_USER_PROVIDED_DATA',
    ]) {
      expect(messages).toContain(name);
    }
    expect(messages).not.toContain('UA-123');
  });

  it('counts as configured when GOOGLE_APPLICATION_CREDENTIALS is set', () => {
    expect(isGoogleConfigured({ GOOGLE_APPLICATION_CREDENTIALS: '/k.json' })).toBe(true);
    expect(isGoogleConfigured({ GA4_PROPERTY_IDS: '1' })).toBe(false);
  });

  it('refuses a broken key file naming the variable and never quoting the private key', () => {
    const account = writeServiceAccount('config-test', 'broken');
    writeFileSync(account.path, JSON.stringify({ ...account.keyFile, client_email: undefined }));
    const config = googleConfigSchema.parse({
      GOOGLE_APPLICATION_CREDENTIALS: account.path,
      GA4_PROPERTY_IDS: '1',
    });
    let message = '';
    try {
      createGoogleConnector(config, { logger: pino({ level: 'silent' }) });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    expect(message).toContain('client_email');
    expect(message).not.toContain('PRIVATE KEY');
  });
});
