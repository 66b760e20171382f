import { SandboxClient } from '../../sandboxes/framework/sandbox-client.js';
import { mailchimpSandbox } from '../../sandboxes/mailchimp/sandbox.js';
import { raw, testApiKey } from '../connectors/mailchimp/mailchimp-test-kit.js';
import { startTestSandbox } from './sandboxes.js';

/**
 * A Mailchimp sandbox (data centre us21, the test API key) for tests that judge it by Mailchimp's
 * documentation through plain HTTPS requests: `call` sends one with the key, as `curl -u anyuser:<key>`
 * would, and answers its status, content type and JSON body (typed `Json`). `control` is the sandbox's
 * control API (reset it between tests); close `sandbox` in afterAll.
 */
export async function startMailchimpSandboxOverHttp<Json = Record<string, unknown>>() {
  const sandbox = await startTestSandbox(mailchimpSandbox, { apiKeys: [testApiKey], dc: 'us21' });
  return {
    sandbox,
    control: new SandboxClient(sandbox.url),
    async call(method: string, path: string, body?: unknown) {
      const answer = await raw(sandbox.url, method, path, body);
      return { ...answer, json: answer.json as Json };
    },
  };
}
