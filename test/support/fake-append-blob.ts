import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { makeSelfSignedCertificate } from './self-signed';

/** One request the fake was sent: the query as sent (it holds the SAS), the headers in lower case. */
export interface BlobRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * A stateful fake of Azure Blob Storage append blobs over HTTPS on 127.0.0.1 (self-signed;
 * trust `ca`): Put Blob (`x-ms-blob-type: AppendBlob`, `If-None-Match: *`), Append Block
 * (`?comp=appendblock`, `x-ms-blob-condition-appendpos`) and Get Blob, each authorised by the
 * SAS signature `sig` in the query and `x-ms-version` present, as the service requires.
 * `failWith` makes every request answer that status (an outage), until set back to null.
 */
export class FakeAppendBlob {
  readonly blobs = new Map<string, Buffer>();
  readonly requests: BlobRequest[] = [];
  failWith: number | null = null;
  private readonly tls = makeSelfSignedCertificate();
  private server: https.Server | null = null;
  private port = 0;

  constructor(readonly sig: string) {}

  get ca(): string {
    return this.tls.cert;
  }
  /** The SAS URL of `blobPath` (e.g. `/anchors/helpdesk.jsonl`). */
  urlOf(blobPath: string): string {
    return `https://127.0.0.1:${this.port}${blobPath}?sv=2021-08-06&sr=b&sp=racw&sig=${encodeURIComponent(this.sig)}`;
  }
  text(blobPath: string): string | null {
    return this.blobs.get(blobPath)?.toString('utf8') ?? null;
  }

  async start(): Promise<this> {
    this.server = https.createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'https://127.0.0.1');
        this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.search, headers: req.headers });
        const answer = (status: number, body = '') => {
          res.writeHead(status, { 'content-type': 'application/octet-stream', 'x-ms-version': '2021-08-06' });
          res.end(body);
        };
        if (this.failWith !== null) return answer(this.failWith, 'ServerBusy');
        if (url.searchParams.get('sig') !== this.sig) return answer(403, 'AuthenticationFailed');
        if (!req.headers['x-ms-version']) return answer(400, 'MissingRequiredHeader');
        const body = Buffer.concat(chunks);
        const blob = this.blobs.get(url.pathname);
        const comp = url.searchParams.get('comp');
        if (req.method === 'GET' && !comp) return blob ? answer(200, blob.toString('utf8')) : answer(404, 'BlobNotFound');
        if (req.method === 'PUT' && !comp) {
          if (req.headers['x-ms-blob-type'] !== 'AppendBlob') return answer(400, 'InvalidHeaderValue');
          if (blob && req.headers['if-none-match'] === '*') return answer(409, 'BlobAlreadyExists');
          this.blobs.set(url.pathname, Buffer.alloc(0));
          return answer(201);
        }
        if (req.method === 'PUT' && comp === 'appendblock') {
          if (!blob) return answer(404, 'BlobNotFound');
          const at = req.headers['x-ms-blob-condition-appendpos'];
          if (at !== undefined && Number(at) !== blob.length) return answer(412, 'AppendPositionConditionNotMet');
          this.blobs.set(url.pathname, Buffer.concat([blob, body]));
          return answer(201);
        }
        return answer(400, 'UnsupportedRequest');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections?.();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
