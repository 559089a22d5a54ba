import {
  AuthenticationHandler,
  Client,
  RetryHandler,
  RetryHandlerOptions,
  TelemetryHandler,
  type AuthenticationProvider,
  type GraphRequest,
} from '@microsoft/microsoft-graph-client';
import { DirectoryError } from '../directory';
import { retryAfterSeconds } from './errors';
import type { HttpsTransport } from './transport';

export interface GraphClientOptions {
  /** Graph's root, e.g. https://graph.microsoft.com (national clouds and tests differ). */
  baseUrl: string;
  auth: AuthenticationProvider;
  transport: HttpsTransport;
  /** The most one call may take, retries and their waits included. */
  retryBudgetMs: number;
  /** Backoff base in seconds when Graph gives no Retry-After. Default 2. */
  retryDelaySeconds?: number;
  /** Retries per call (the SDK allows at most 10). Default 5. */
  maxRetries?: number;
}

/** A page of a Graph collection. */
export interface GraphPage<T> {
  value: T[];
  '@odata.nextLink'?: string;
}

/**
 * The Graph SDK client with the middleware chain the directory relies on:
 *
 * 1. `AuthenticationHandler`: the app's token, attached only to https URLs of Graph's own
 *    hosts or of the configured base URL (`customHosts`).
 * 2. `RetryHandler`: 429, 503 and 504 retried after `Retry-After` (or exponential backoff),
 *    and only while the wait still fits in the call's time budget.
 * 3. `TelemetryHandler`: `client-request-id` on every request, for support cases.
 * 4. {@link HttpsTransport}: https only, a timeout per attempt.
 */
export class GraphClient {
  readonly origin: string;
  readonly sdk: Client;
  /** The most one call may take, retries included. */
  readonly retryBudgetMs: number;
  private readonly delaySeconds: number;
  private readonly maxRetries: number;

  constructor(options: GraphClientOptions) {
    const base = new URL(options.baseUrl);
    if (base.protocol !== 'https:') throw new Error(`The Graph base URL must use https, got ${base.origin}`);
    this.origin = base.origin;
    this.retryBudgetMs = options.retryBudgetMs;
    this.delaySeconds = options.retryDelaySeconds ?? 2;
    this.maxRetries = Math.min(options.maxRetries ?? 5, 10);
    this.sdk = Client.initWithMiddleware({
      baseUrl: this.origin,
      defaultVersion: 'v1.0',
      customHosts: new Set([base.hostname]),
      middleware: [
        new AuthenticationHandler(options.auth),
        new RetryHandler(new RetryHandlerOptions(this.delaySeconds, this.maxRetries)),
        new TelemetryHandler(),
        options.transport.graphHandler(),
      ],
    });
  }

  /**
   * A request for `path` (relative to `/v1.0`, query included and already encoded, or a
   * full URL on this origin) with its own retry budget, starting now.
   */
  api(path: string): GraphRequest {
    if (/^https:\/\//i.test(path) && new URL(path).origin !== this.origin) {
      throw new DirectoryError(`Refusing to follow a Microsoft Graph link to another host: ${new URL(path).origin}`);
    }
    return this.sdk.api(path).middlewareOptions([this.retryOptions()]);
  }

  /**
   * Every item of a collection: the first page and each `@odata.nextLink` after it (same
   * origin only, with the same headers), up to `maxItems`.
   */
  async listAll<T>(path: string, headers: Record<string, string> = {}, maxItems = Number.POSITIVE_INFINITY): Promise<T[]> {
    const items: T[] = [];
    let page = (await this.api(path).headers(headers).get()) as GraphPage<T>;
    for (;;) {
      items.push(...(page.value ?? []));
      const next = page['@odata.nextLink'];
      if (!next || items.length >= maxItems) break;
      page = (await this.api(next).headers(headers).get()) as GraphPage<T>;
    }
    return items.slice(0, maxItems);
  }

  /**
   * Retry options for one call: retry only while the wait Graph asks for (or the backoff)
   * still ends within the budget, so a throttled call fails in bounded time instead of
   * holding a chat turn for minutes.
   */
  private retryOptions(): RetryHandlerOptions {
    const started = Date.now();
    return new RetryHandlerOptions(this.delaySeconds, this.maxRetries, (delay, attempt, _request, _options, response) => {
      const after = retryAfterSeconds(response.headers?.get('Retry-After'));
      const next = attempt + 1;
      const wait = after ?? (next >= 2 ? 0.5 * (2 ** next - 1) : 0) + delay + 1;
      return Date.now() - started + wait * 1000 <= this.retryBudgetMs;
    });
  }
}
