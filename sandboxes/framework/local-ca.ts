import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

export interface LocalTls {
  /** The CA certificate's path: give it to clients through NODE_EXTRA_CA_CERTS. */
  caFile: string;
  cert: string;
  key: string;
}

const serverHostNames = ['localhost'];
const serverIps = ['127.0.0.1', '::1'];

/**
 * A private CA and a server certificate for the sandboxes, made once and kept in `<dataDir>/tls`. Clients
 * trust the CA through NODE_EXTRA_CA_CERTS, so TLS verification stays on everywhere, as it is against the
 * real vendors.
 */
export function ensureLocalTls(dataDir: string): LocalTls {
  const dir = join(dataDir, 'tls');
  const caFile = join(dir, 'ca.pem');
  const certFile = join(dir, 'sandbox.pem');
  const keyFile = join(dir, 'sandbox-key.pem');
  if (!(existsSync(caFile) && existsSync(certFile) && existsSync(keyFile))) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const made = makeCaAndServerCertificate();
    writeFileSync(join(dir, 'ca-key.pem'), made.caKey, { mode: 0o600 });
    writeFileSync(keyFile, made.serverKey, { mode: 0o600 });
    writeFileSync(certFile, made.serverCert);
    // The CA file is written last: its presence marks a complete set.
    writeFileSync(caFile, made.caCert);
  }
  return { caFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

function rsaKeyPair(): {
  publicKey: forge.pki.PublicKey;
  privateKey: forge.pki.PrivateKey;
  privatePem: string;
} {
  // Node's native generator takes milliseconds where forge's pure-JS one takes seconds.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey),
    privateKey: forge.pki.privateKeyFromPem(privateKey),
    privatePem: privateKey,
  };
}

function serialNumber(): string {
  // Positive, as RFC 5280 requires: clear the top bit.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, years: number): void {
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now.getTime() + years * 365 * 24 * 60 * 60 * 1000);
}

function makeCaAndServerCertificate(): {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
} {
  const caKeys = rsaKeyPair();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serialNumber();
  validity(ca, 10);
  const caName = [{ name: 'commonName', value: 'consent-hub local sandbox CA' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());

  const serverKeys = rsaKeyPair();
  const server = forge.pki.createCertificate();
  server.publicKey = serverKeys.publicKey;
  server.serialNumber = serialNumber();
  // Short enough for modern TLS clients' limits on leaf lifetimes.
  validity(server, 1);
  server.setSubject([{ name: 'commonName', value: 'localhost' }]);
  server.setIssuer(caName);
  server.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...serverHostNames.map((value) => ({ type: 2, value })),
        ...serverIps.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  server.sign(caKeys.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());

  return {
    caCert: forge.pki.certificateToPem(ca),
    caKey: caKeys.privatePem,
    serverCert: forge.pki.certificateToPem(server),
    serverKey: serverKeys.privatePem,
  };
}
