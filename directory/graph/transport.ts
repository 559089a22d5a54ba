import https from 'node:https';
import tls from 'node:tls';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';

/** A request to Microsoft Graph or the token authority that got no answer in time. */
export class TransportTimeoutError extends Error {
  constructor(readonly url: string, readonly timeoutMs: number) {
    super(`No answer from ${new URL(url).origin} within ${timeoutMs} ms`);
    this.name = 'TransportTimeoutError';
  }
}

export interface HttpsTransportOptions {
  /**
   * Extra certificate authorities to trust (PEM), on top of Node's bundled ones: a
   * TLS-inspecting proxy's CA in production, a test server's self-signed certificate in tests.
   */
  extraCa?: string | Buffer;
  /** Default per-request timeout. */
  timeoutMs: number;
}

/**
 * HTTPS for everything the Graph directory sends: Microsoft Graph (as the terminal middleware
 * of the Graph SDK) and the token authority (as MSAL's network module). One keep-alive agent,
 * a per-request timeout, and only `https:` URLs: a token never travels in clear text.
 *
 * Why not the global `fetch`: Node's built-in fetch takes no CA option without an extra
 * package, and `NODE_EXTRA_CA_CERTS` is read only when the process starts.
 */
export class HttpsTransport {
  readonly agent: https.Agent;
  readonly timeoutMs: number;

  constructor(options: HttpsTransportOptions) {
    this.timeoutMs = options.timeoutMs;
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: 32,
      ...(options.extraCa ? { ca: [...tls.rootCertificates, String(options.extraCa)] } : {}),
    });
  }

  /** Sends one request and buffers the answer into a WHATWG `Response`. */
  request(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string | Buffer | null },
    timeoutMs: number = this.timeoutMs,
  ): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        reject(new Error(`Not a URL: ${url.slice(0, 100)}`));
        return;
      }
      if (target.protocol !== 'https:') {
        reject(new Error(`Refusing to send to ${target.origin}: only https is allowed`));
        return;
      }
      const req = https.request(target, { method: init.method ?? 'GET', headers: init.headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) for (const x of v) headers.append(k, x);
            else if (v !== undefined) headers.set(k, v);
          }
          const status = res.statusCode ?? 500;
          const body = Buffer.concat(chunks);
          const empty = status === 204 || status === 205 || status === 304 || body.length === 0;
          resolve(new Response(empty ? null : body, { status, statusText: res.statusMessage ?? '', headers }));
        });
      });
      const timer = setTimeout(() => req.destroy(new TransportTimeoutError(url, timeoutMs)), timeoutMs);
      function fail(err: Error): void {
        clearTimeout(timer);
        reject(err);
      }
      req.on('error', fail);
      if (init.body !== undefined && init.body !== null) req.write(init.body);
      req.end();
    });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  /** The Graph SDK's last middleware: sends the request over this transport. */
  graphHandler(): Middleware {
    return new GraphHttpsHandler(this);
  }

  /** MSAL's network module over this transport (token and metadata requests). */
  msalNetwork(): MsalHttpsNetwork {
    return new MsalHttpsNetwork(this);
  }
}

/** Replaces the SDK's `HTTPMessageHandler` (global fetch) with {@link HttpsTransport}. */
class GraphHttpsHandler implements Middleware {
  constructor(private readonly transport: HttpsTransport) {}

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const options = context.options ?? {};
    const body = options.body as unknown;
    context.response = await this.transport.request(url, {
      method: options.method ?? 'GET',
      headers: plainHeaders(options.headers),
      body: typeof body === 'string' || Buffer.isBuffer(body) ? body : body == null ? null : JSON.stringify(body),
    });
  }
}

function plainHeaders(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  if (h instanceof Headers) {
    h.forEach((v, k) => (out[k] = v));
    return out;
  }
  if (Array.isArray(h)) {
    for (const [k, v] of h as [string, string][]) out[k] = v;
    return out;
  }
  for (const [k, v] of Object.entries(h as Record<string, unknown>)) if (v !== undefined && v !== null) out[k] = String(v);
  return out;
}

/**
 * MSAL's `INetworkModule`: JSON in, JSON out, headers lower-cased like MSAL's own client.
 * MSAL reports a failed request only as `network_error`; the cause is kept here.
 */
export class MsalHttpsNetwork implements INetworkModule {
  /** Why the last request failed (e.g. an untrusted certificate), until one succeeds. */
  lastFailure: string | undefined;

  constructor(private readonly transport: HttpsTransport) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>(url, 'GET', options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>(url, 'POST', options);
  }

  private async send<T>(url: string, method: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    let res: Response;
    try {
      res = await this.transport.request(
        url,
        { method, headers: options?.headers ?? {}, body: method === 'POST' ? (options?.body ?? '') : null },
        timeout ?? this.transport.timeoutMs,
      );
    } catch (e) {
      this.lastFailure = `${new URL(url).origin}: ${(e as Error).message}`;
      throw e;
    }
    this.lastFailure = undefined;
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
    const text = await res.text();
    let body: T;
    try {
      body = (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new Error(`The token authority at ${new URL(url).origin} answered ${res.status} with a body that is not JSON`);
    }
    return { headers, body, status: res.status };
  }
}
