import { X509Certificate, createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * Self-signed X.509 certificates made at test time with node:crypto alone (no openssl, no
 * fixtures on disk): a DER encoder for the few ASN.1 types a certificate needs.
 *
 * - `ec` (P-256, fast to generate) for TLS servers on 127.0.0.1: the certificate names
 *   127.0.0.1 and localhost and is its own CA, so a client trusts it with `ca: cert`.
 * - `rsa` (2048) for application credentials: Entra ID signs-in apps with RSA certificates.
 */
export interface SelfSignedCertificate {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SHA-256 of the DER certificate, lowercase hex (what Entra ID calls the thumbprint). */
  thumbprintSha256: string;
  /** SHA-1 of the DER certificate, lowercase hex. */
  thumbprintSha1: string;
  x509: X509Certificate;
}

export interface SelfSignedOptions {
  commonName?: string;
  keyType?: 'ec' | 'rsa';
  /** Subject alternative names; default 127.0.0.1 and localhost. */
  ipAddresses?: string[];
  dnsNames?: string[];
  /** Validity from now; default one day. */
  validForMs?: number;
}

export function makeSelfSignedCertificate(options: SelfSignedOptions = {}): SelfSignedCertificate {
  const keyType = options.keyType ?? 'ec';
  const { privateKey, publicKey } =
    keyType === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const sigAlg = keyType === 'ec' ? seq(oid('1.2.840.10045.4.3.2')) : seq(oid('1.2.840.113549.1.1.11'), nul());
  const name = seq(set(seq(oid('2.5.4.3'), utf8(options.commonName ?? '127.0.0.1'))));
  const now = Date.now();
  const serial = randomBytes(16);
  // Positive and minimal (DER): the first byte is neither 0 nor above 0x7f.
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  const san = [
    ...(options.ipAddresses ?? ['127.0.0.1']).map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))),
    ...(options.dnsNames ?? ['localhost']).map((dns) => tlv(0x82, Buffer.from(dns, 'ascii'))),
  ];
  const extensions = seq(
    seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), octets(seq(tlv(0x01, Buffer.from([0xff]))))),
    seq(oid('2.5.29.17'), octets(seq(...san))),
  );
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    sigAlg,
    name,
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + (options.validForMs ?? 86_400_000)))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, sigAlg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const cert = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').trim()}\n-----END CERTIFICATE-----\n`;
  return {
    cert,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    privateKey,
    publicKey,
    thumbprintSha256: createHash('sha256').update(der).digest('hex'),
    thumbprintSha1: createHash('sha1').update(der).digest('hex'),
    x509: new X509Certificate(cert),
  };
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octets = (content: Buffer): Buffer => tlv(0x04, content);
const nul = (): Buffer => Buffer.from([0x05, 0x00]);
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));

function integer(bytes: Buffer): Buffer {
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk: number[] = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}
