import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';

/**
 * A second place every audit anchor is appended to, so that whoever can rewrite one disk (the
 * database and the anchor file beside it) cannot rewrite both: another folder (another
 * volume, a mounted write-once share), or an HTTPS append-style endpoint such as an Azure
 * append blob behind a SAS URL (ideally in a container with an immutability policy that
 * allows appends only). `verify --anchors` and the scheduled anchor compare the two.
 */
export interface AnchorMirror {
  /** Where it is, fit for logs, the trail and tickets: a URL without its query (a SAS signature lives there). */
  readonly where: string;
  /** The mirror's text and its length in bytes, or null when it does not exist yet. */
  read(): Promise<{ text: string; bytes: number } | null>;
  /**
   * Appends `text` (whole anchor lines) at byte `at`, the length the mirror had when it was
   * read: an append never lands after content nobody compared.
   */
  append(text: string, at: number): Promise<void>;
}

/** What `AUDIT_ANCHOR_MIRROR` can name: a folder, or an https:// URL. */
export type AnchorMirrorConfig = { kind: 'folder'; file: string } | { kind: 'https'; url: string; caFile: string | null };

export class AnchorMirrorError extends Error {}

/**
 * Reads `AUDIT_ANCHOR_MIRROR`: an https:// URL, or a folder that will hold a file of the anchor
 * file's name. Throws (with a message for the configuration error) when it cannot be a second
 * place: http://, a URL with credentials or a fragment, or the anchor file's own folder.
 */
export function anchorMirrorConfig(location: string, anchorFile: string, caFile: string | null = null): AnchorMirrorConfig {
  const value = location.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    if (!URL.canParse(value)) throw new Error('is not a URL');
    const url = new URL(value);
    if (url.protocol !== 'https:') throw new Error('must be an https:// URL (or a folder)');
    if (url.username || url.password || url.hash) throw new Error('must not carry a user, password or #fragment (put a SAS token in the query)');
    return { kind: 'https', url: value, caFile };
  }
  const file = path.join(path.resolve(value), path.basename(anchorFile));
  if (path.resolve(file) === path.resolve(anchorFile)) throw new Error('must be another folder than the anchor file’s (a second place, ideally other storage)');
  return { kind: 'folder', file };
}

/** The mirror a configuration names. */
export function openAnchorMirror(config: AnchorMirrorConfig): AnchorMirror {
  return config.kind === 'folder' ? folderMirror(config.file) : httpsMirror(config.url, config.caFile ? fs.readFileSync(config.caFile, 'utf8') : null);
}

function folderMirror(file: string): AnchorMirror {
  return {
    where: file,
    read: async () => {
      let buf: Buffer;
      try {
        buf = fs.readFileSync(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new AnchorMirrorError(`cannot read the anchor mirror ${file}: ${(e as Error).message}`);
      }
      return { text: buf.toString('utf8'), bytes: buf.length };
    },
    append: async (text, at) => {
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const fd = fs.openSync(file, 'a', 0o640);
        try {
          const size = fs.fstatSync(fd).size;
          if (size !== at) throw new Error(`it holds ${size} bytes, not the ${at} just read`);
          fs.writeSync(fd, text);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      } catch (e) {
        throw new AnchorMirrorError(`cannot append to the anchor mirror ${file}: ${(e as Error).message}`);
      }
    },
  };
}

/** The Blob service version the requests speak (Append Block needs 2015-02-21 or later). */
const BLOB_API_VERSION = '2021-08-06';
const TIMEOUT_MS = 10_000;

/**
 * An Azure append blob (or any endpoint that speaks the same three requests): `GET` reads it,
 * `PUT` with `x-ms-blob-type: AppendBlob` and `If-None-Match: *` creates it empty, `PUT
 * ?comp=appendblock` with `x-ms-blob-condition-appendpos` appends. The SAS token in the URL's
 * query authorises them; it never leaves this function (errors name `where`).
 */
function httpsMirror(url: string, extraCa: string | null): AnchorMirror {
  const parsed = new URL(url);
  const where = `${parsed.origin}${parsed.pathname}`;
  const ca = extraCa ? [...tls.rootCertificates, extraCa] : undefined;
  const withComp = (comp: string) => `${url}${parsed.search ? '&' : '?'}comp=${comp}`;
  const send = (method: string, target: string, headers: Record<string, string>, body = ''): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        target,
        { method, headers: { 'x-ms-version': BLOB_API_VERSION, 'content-length': String(Buffer.byteLength(body)), ...headers }, ...(ca ? { ca } : {}), timeout: TIMEOUT_MS },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
      // The message of a connection error never holds the URL's query.
      req.on('error', (e) => reject(new AnchorMirrorError(`the anchor mirror ${where} cannot be reached: ${e.message}`)));
      req.end(body);
    });
  return {
    where,
    read: async () => {
      const res = await send('GET', url, {});
      if (res.status === 404) return null;
      if (res.status !== 200) throw new AnchorMirrorError(`the anchor mirror ${where} answered HTTP ${res.status} to a read`);
      return { text: res.text, bytes: Buffer.byteLength(res.text) };
    },
    append: async (text, at) => {
      if (at === 0) {
        // Created empty when it is not there; one that is (409) is appended to at 0, which fails if it holds anything.
        const created = await send('PUT', url, { 'x-ms-blob-type': 'AppendBlob', 'if-none-match': '*' });
        if (created.status !== 201 && created.status !== 409 && created.status !== 412) throw new AnchorMirrorError(`the anchor mirror ${where} answered HTTP ${created.status} when created`);
      }
      const res = await send('PUT', withComp('appendblock'), { 'content-type': 'application/x-ndjson', 'x-ms-blob-condition-appendpos': String(at) }, text);
      if (res.status !== 201) throw new AnchorMirrorError(`the anchor mirror ${where} answered HTTP ${res.status} to an append${res.status === 412 ? ' (it changed since it was read)' : ''}`);
    },
  };
}
