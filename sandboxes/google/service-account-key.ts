import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { googleTokenUrl } from './google-facts.js';

/**
 * A new service account's key file, in the shape Google's console downloads
 * (https://cloud.google.com/iam/docs/keys-create-delete), with a fresh RSA key whose public half the
 * sandbox trusts.
 */
export function makeServiceAccountKeyFile(projectId: string, accountName: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const clientEmail = `${accountName}@${projectId}.iam.gserviceaccount.com`;
  const keyFile = {
    type: 'service_account',
    project_id: projectId,
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey,
    client_email: clientEmail,
    client_id: String(randomInt(1e9, 1e10 - 1)) + String(randomInt(1e9, 1e10 - 1)) + String(randomInt(1, 9)),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: googleTokenUrl,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
    universe_domain: 'googleapis.com',
  };
  return { keyFile, publicKeyPem: publicKey };
}
