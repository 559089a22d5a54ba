import type tls from 'node:tls';
import { Client } from 'ldapts';
import { AdConnectionError, bindFailureReason, connectionError, describeBindFailure, isConnectionFailure } from './errors';

/** How the service account proves who it is. Neither value is ever logged or put in a message. */
export type AdCredential =
  | {
      kind: 'password';
      /** The account's DN, UPN (svc-helpdesk@corp.example) or DOMAIN\name. */
      bindDn: string;
      password: string;
    }
  | {
      /** A TLS client certificate mapped to the account, then SASL EXTERNAL. */
      kind: 'certificate';
      /** PEM certificate (chain). */
      certificate: string;
      /** PEM private key. */
      privateKey: string;
    };

export interface LdapPoolOptions {
  /**
   * Domain controllers to try in order: `ldaps://host[:636]`, or `ldap://host[:389]` which is
   * upgraded with StartTLS before anything else is sent. Never a plain bind.
   */
  urls: readonly string[];
  credential: AdCredential;
  /** Extra trusted CA certificates (PEM), e.g. the enterprise CA that issued the DCs' certificates. */
  ca?: string | Buffer;
  /** The name to check the DC's certificate against, when it differs from the URL's host. */
  tlsServerName?: string;
  /** Most connections open at once. Default 4. */
  size?: number;
  /** Per LDAP operation, and the longest wait for a free connection. Default 10 s. */
  timeoutMs?: number;
  /** To open a connection: TCP, TLS and bind. Default 5 s. */
  connectTimeoutMs?: number;
  /** Builds the client (tests wrap it to count operations). */
  createClient?: (options: ConstructorParameters<typeof Client>[0]) => Client;
}

interface Waiter {
  resolve: (c: Client) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A small pool of TLS connections to Active Directory, each bound as the service account.
 *
 * - A connection is opened on demand (LDAPS, or StartTLS on `ldap://`), bound, used by one
 *   operation at a time and kept for the next; at most `size` are open.
 * - A connection that failed (socket closed, timed out, or found unbound after the library
 *   silently reconnected) is thrown away, and the operation is sent once more on a new one.
 *   Every write this directory makes is idempotent (replace, or an add/remove it verifies),
 *   so sending it again is safe.
 * - Domain controllers are tried in the configured order when one cannot be reached.
 */
export class LdapPool {
  private readonly idle: Client[] = [];
  private readonly waiters: Waiter[] = [];
  private open = 0;
  private closed = false;
  readonly size: number;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  /** The URL the last connection was opened to (for diagnostics). */
  lastUrl: string | null = null;

  constructor(private readonly options: LdapPoolOptions) {
    if (options.urls.length === 0) throw new Error('At least one domain controller URL is needed');
    for (const u of options.urls) {
      const url = new URL(u);
      if (url.protocol !== 'ldaps:' && url.protocol !== 'ldap:') throw new Error(`Not an LDAP URL: ${u}`);
      if (url.pathname !== '/' && url.pathname !== '') throw new Error(`An LDAP URL here is the server only, got ${u}`);
    }
    this.size = Math.max(1, Math.min(options.size ?? 4, 32));
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  }

  /** Connections open now (idle or in use). */
  get openConnections(): number {
    return this.open;
  }

  /**
   * Runs `fn` on a bound connection. A connection failure is retried once on a new
   * connection; any other failure is passed on as it came.
   */
  async run<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.acquire();
      try {
        const result = await fn(client);
        this.release(client);
        return result;
      } catch (e) {
        if (isConnectionFailure(e) || !client.isBound) {
          this.discard(client);
          if (attempt === 0 && isConnectionFailure(e)) continue;
        } else {
          this.release(client);
        }
        throw e;
      }
    }
  }

  /** Closes every connection; later calls fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new AdConnectionError('The Active Directory connection pool is closed', 'unreachable'));
    }
    const idle = this.idle.splice(0);
    this.open -= idle.length;
    await Promise.all(idle.map((c) => c.unbind().catch(() => undefined)));
  }

  private async acquire(): Promise<Client> {
    if (this.closed) throw new AdConnectionError('The Active Directory connection pool is closed', 'unreachable');
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (c.isBound) return c;
      this.discard(c);
    }
    if (this.open < this.size) {
      this.open++;
      try {
        return await this.connect();
      } catch (e) {
        this.open--;
        this.wakeOne();
        throw e;
      }
    }
    return new Promise<Client>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.findIndex((w) => w.timer === timer);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new AdConnectionError(`All ${this.size} connections to Active Directory stayed busy for ${this.timeoutMs} ms`, 'busy'));
      }, this.timeoutMs);
      this.waiters.push({ resolve, reject, timer });
    });
  }

  private release(client: Client): void {
    if (this.closed) {
      this.discard(client);
      return;
    }
    const w = this.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(client);
    } else {
      this.idle.push(client);
    }
  }

  private discard(client: Client): void {
    this.open--;
    client.unbind().catch(() => undefined);
    this.wakeOne();
  }

  /** A waiter gets a new connection when one was given up. */
  private wakeOne(): void {
    if (this.closed || this.waiters.length === 0 || this.open >= this.size) return;
    const w = this.waiters.shift()!;
    clearTimeout(w.timer);
    this.open++;
    this.connect().then(w.resolve, (e: Error) => {
      this.open--;
      w.reject(e);
    });
  }

  /** Opens, secures and binds one connection, trying each URL in turn while they are unreachable. */
  private async connect(): Promise<Client> {
    let last: AdConnectionError | undefined;
    for (const url of this.options.urls) {
      try {
        const client = await this.withConnectTimeout(url, (track) => this.open1(url, track));
        this.lastUrl = url;
        return client;
      } catch (e) {
        last = e instanceof AdConnectionError ? e : connectionError(e, url);
        // A wrong password or an untrusted certificate will not be better on the next DC.
        if (last.reason === 'bind' || last.reason === 'tls') throw last;
      }
    }
    throw last!;
  }

  private async open1(url: string, track: (c: Client) => void): Promise<Client> {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const tlsOptions: tls.ConnectionOptions = {
      ...(this.options.ca ? { ca: this.options.ca } : {}),
      ...(this.options.tlsServerName ? { servername: this.options.tlsServerName } : {}),
      ...(this.options.credential.kind === 'certificate'
        ? { cert: this.options.credential.certificate, key: this.options.credential.privateKey }
        : {}),
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
    };
    const make = this.options.createClient ?? ((o) => new Client(o));
    const secure = u.protocol === 'ldaps:';
    const client = make({
      url,
      timeout: this.timeoutMs,
      connectTimeout: this.connectTimeoutMs,
      // ldaps: TLS from the first byte. ldap: plain TCP, upgraded below before the bind.
      ...(secure ? { tlsOptions } : {}),
    });
    track(client);
    try {
      if (!secure) {
        // Without `host`, Node would check the certificate against "localhost".
        await client.startTLS({ ...tlsOptions, host, servername: this.options.tlsServerName ?? (isIp(host) ? undefined : host) });
      }
    } catch (e) {
      throw connectionError(e, url);
    }
    try {
      const c = this.options.credential;
      if (c.kind === 'password') await client.bind(c.bindDn, c.password);
      else await client.bind('EXTERNAL');
    } catch (e) {
      const reason = bindFailureReason(e);
      if (reason) {
        throw new AdConnectionError(
          `The service account could not sign in to Active Directory at ${url}: ${describeBindFailure(reason)}`,
          'bind',
        );
      }
      if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'number') {
        throw new AdConnectionError(
          `The service account could not sign in to Active Directory at ${url}: ${e.message.split('\n')[0]}`,
          'bind',
        );
      }
      throw connectionError(e, url);
    }
    return client;
  }

  /** Bounds the whole opening (TCP, TLS handshake, bind) by the connect timeout. */
  private withConnectTimeout(url: string, fn: (track: (c: Client) => void) => Promise<Client>): Promise<Client> {
    let client: Client | undefined;
    let timedOut = false;
    return new Promise<Client>((resolve, reject) => {
      const timer = setTimeout(() => {
        timedOut = true;
        client?.unbind().catch(() => undefined);
        reject(new AdConnectionError(`Active Directory at ${url} did not answer in time`, 'timeout'));
      }, this.connectTimeoutMs);
      fn((c) => (client = c)).then(
        (c) => {
          clearTimeout(timer);
          // Opened after the caller gave up: nobody will use it.
          if (timedOut) c.unbind().catch(() => undefined);
          else resolve(c);
        },
        (e) => {
          clearTimeout(timer);
          client?.unbind().catch(() => undefined);
          reject(e);
        },
      );
    });
  }
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}
