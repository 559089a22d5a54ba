import restify from 'restify';
import type { TeamsAdapter } from '@microsoft/teams-ai';
import { AuthenticationConstants, GovernmentConstants } from 'botframework-connector';
import type { BotDeps, HelpdeskApp } from './deps';
import { acceptJsonOnly, capAuthorization, channelTokenGate, CHANNEL_TOKEN_ISSUERS, loopbackCallersOnly, MAX_HEADER_BYTES, requestSource } from './edge';

export interface HelpdeskServer {
  server: restify.Server;
  /** Stops taking new turns and waits up to `graceMs` for the ones in flight. */
  drain(graceMs: number): Promise<{ unfinished: number }>;
}

/**
 * The HTTP surface: `POST /api/messages` (Bot Framework activities: JSON only, checked at
 * the edge (see `edge.ts`), authenticated by the adapter in production mode, pinned to
 * Teams in the bot's tenant) and `GET /healthz`; capabilities with routes of their own
 * (the HR feed's signed webhook) add them through `mounts`.
 */
export function createServer(deps: BotDeps, app: HelpdeskApp, adapter: TeamsAdapter, version: string, mounts: ReadonlyArray<(server: restify.Server) => void> = []): HelpdeskServer {
  const server = restify.createServer({ name: 'iam-helpdesk', handleUncaughtExceptions: false });
  // restify builds its http.Server without options; Node reads the limit per connection (431 above it).
  (server.server as unknown as { maxHeaderSize: number }).maxHeaderSize = MAX_HEADER_BYTES;
  // Node waits 60 s for headers and 5 minutes for a body, checked every 30 s: a caller sending
  // a byte now and then would hold a connection (and its socket) that long. Teams sends at once.
  server.server.requestTimeout = deps.config.requestTimeoutMs;
  server.server.headersTimeout = Math.min(deps.config.requestTimeoutMs, MAX_HEADERS_WAIT_MS);
  // Read when the server starts listening (so before listen); how late a timeout may be noticed.
  (server.server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(1_000, server.server.headersTimeout);
  // Each route reads its own body: the activities' JSON here, the HR webhook its raw bytes
  // (its signature covers them). No body is read for a path that has no route.
  for (const mount of mounts) mount(server);
  // JSON only: restify's full bodyParser would also write multipart uploads to the temporary
  // folder and parse forms, before any token is checked (acceptJsonOnly refuses them first anyway).
  // (The typings omit maxBodySize, which jsonBodyParser hands to its bodyReader.)
  const readActivity = restify.plugins.jsonBodyParser({ maxBodySize: MAX_ACTIVITY_BYTES, mapParams: false } as restify.plugins.JsonBodyParserOptions);
  // Before any body is read: callers of this machine only (local mode), Teams' content type,
  // bounded headers, and (production) only the configured cloud's channel tokens reach the SDK.
  const edge: restify.RequestHandler[] = [acceptJsonOnly, refuseEncodedBody, capAuthorization];
  if (deps.config.mode === 'local') edge.unshift(loopbackCallersOnly);
  if (deps.config.mode === 'production') {
    const government = deps.config.bot.cloud === 'government';
    const check = {
      issuer: CHANNEL_TOKEN_ISSUERS[government ? 'government' : 'public'],
      appId: deps.config.bot.appId,
      metadataUrl: deps.config.bot.openIdMetadataUrl ?? (government ? GovernmentConstants.ToBotFromChannelOpenIdMetadataUrl : AuthenticationConstants.ToBotFromChannelOpenIdMetadataUrl),
    };
    edge.push(channelTokenGate(check, deps.logger.child({ component: 'edge' }), deps.clock));
  }

  let inFlight = 0;
  let draining = false;
  let idle: (() => void) | null = null;

  server.post('/api/messages', ...edge, readActivity, async (req, res) => {
    if (draining) {
      res.header('Retry-After', '5');
      res.send(503, { error: 'shutting down' });
      return;
    }
    const notActivity = notAnActivity(req.body);
    if (notActivity) {
      // The adapter would throw on it (a 500); it is the caller's mistake, and no turn.
      deps.logger.warn({ reason: notActivity, contentType: String(req.headers['content-type'] ?? '').slice(0, 60) }, 'request on /api/messages is not an activity');
      res.send(400, { error: `Not an activity: ${notActivity}.` });
      return;
    }
    inFlight += 1;
    try {
      await requestSource.run({ remoteAddress: req.socket?.remoteAddress ?? 'unknown' }, () =>
        adapter.process(req, res, async (context) => {
          await app.run(context);
        }),
      );
    } catch (err) {
      deps.logger.error({ err }, 'activity processing failed');
      if (!res.headersSent) res.send(500);
    } finally {
      inFlight -= 1;
      if (inFlight === 0 && idle) idle();
    }
  });

  const directoryHealth = rateLimited(HEALTH_CHECKS_PER_WINDOW, HEALTH_WINDOW_MS, async () => {
    try {
      return await withTimeout(deps.directory.health(), 5_000);
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  });
  server.get('/healthz', async (_req, res) => {
    const store = deps.store.health();
    const directory = await directoryHealth();
    const ok = store.ok && directory.ok && !draining;
    res.send(ok ? 200 : 503, {
      status: ok ? 'ok' : draining ? 'shutting-down' : 'degraded',
      version,
      mode: deps.config.mode,
      store: { reachable: store.ok, ...(store.detail ? { detail: store.detail } : {}) },
      directory: { kind: deps.directory.kind, reachable: directory.ok, ...(directory.detail ? { detail: directory.detail } : {}) },
    });
  });

  return {
    server,
    drain: (graceMs) => {
      draining = true;
      if (inFlight === 0) return Promise.resolve({ unfinished: 0 });
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ unfinished: inFlight }), graceMs);
        idle = () => {
          clearTimeout(timer);
          resolve({ unfinished: 0 });
        };
      });
    },
  };
}

/**
 * Why a request body is not a Bot Framework activity, or null when it is one: a JSON object
 * with a non-empty string `type`, the `from`, `conversation` and `recipient` ids and the
 * http(s) `serviceUrl` every Teams activity carries (a turn cannot be answered, nor its state
 * kept, without them), and, when present, fields of the types Teams sends (`text` a string,
 * `entities` and `attachments` lists of objects, `channelData` an object, `action` (of an
 * installationUpdate) a string, a card action an object). Anything else would fail inside
 * the turn, after the bot had started acting on it.
 */
export function notAnActivity(body: unknown): string | null {
  if (body === undefined || body === null || body === '') return 'the body is empty or null';
  if (!isObject(body)) return 'the body must be a JSON object';
  const a = body;
  if (typeof a.type !== 'string' || a.type === '') return 'the activity has no type';
  for (const field of ['from', 'conversation', 'recipient'] as const) {
    const v = a[field];
    if (!isObject(v) || typeof v.id !== 'string' || v.id.trim() === '') return `the activity has no ${field}.id`;
  }
  if (!isAbsent((a.from as Record<string, unknown>).aadObjectId) && typeof (a.from as Record<string, unknown>).aadObjectId !== 'string') {
    return 'from.aadObjectId must be a string';
  }
  if (typeof a.serviceUrl !== 'string' || !isHttpUrl(a.serviceUrl)) return 'the activity has no serviceUrl (an http or https URL)';
  if (!isAbsent(a.text) && typeof a.text !== 'string') return 'text must be a string';
  for (const field of ['entities', 'attachments'] as const) {
    const v = a[field];
    if (v !== undefined && (!Array.isArray(v) || !v.every(isObject))) return `${field} must be a list of objects`;
  }
  if (!isAbsent(a.channelData) && !isObject(a.channelData)) return 'channelData must be an object';
  if (!isAbsent(a.action) && typeof a.action !== 'string') return 'action must be a string';
  if (a.type === 'invoke' && a.name === 'adaptiveCard/action') {
    const action = isObject(a.value) ? a.value.action : undefined;
    if (!isObject(action)) return 'a card action needs value.action';
    if (!isAbsent(action.verb) && typeof action.verb !== 'string') return 'value.action.verb must be a string';
    if (!isAbsent(action.data) && !isObject(action.data)) return 'value.action.data must be an object';
  }
  return null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isAbsent(v: unknown): boolean {
  return v === undefined || v === null;
}

function isHttpUrl(v: string): boolean {
  if (!URL.canParse(v)) return false;
  const protocol = new URL(v).protocol;
  return protocol === 'https:' || protocol === 'http:';
}

/** The longest the server waits for a request's headers. */
const MAX_HEADERS_WAIT_MS = 10_000;

/** The largest activity taken on `/api/messages`. */
const MAX_ACTIVITY_BYTES = 1024 * 1024;

/**
 * Refuses a compressed body (`Content-Encoding` other than `identity`) with 415 before it is
 * read: the body parser would inflate gzip without a limit on the inflated size (a small
 * request could fill the memory), before the activity's authentication is checked. The Bot
 * Framework channels send activities uncompressed.
 */
export const refuseEncodedBody: restify.RequestHandler = (req, res, next) => {
  const encoding = String(req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return next();
  res.header('Accept-Encoding', 'identity');
  res.header('Connection', 'close');
  res.send(415, { error: 'Send the body uncompressed (no Content-Encoding).' });
  return next(false);
};

/**
 * At most this many directory health checks per {@link HEALTH_WINDOW_MS}; more callers get
 * the last answer. The route is unauthenticated: while the directory fails (nothing is
 * cached then), each call would be a directory request (a Graph call, an LDAP bind), so a
 * flood of them would be the bot flooding the directory, or spending its Graph quota, for
 * anyone who can reach the port. A few checks in a row (a monitor, a person watching a
 * recovery) still see the directory's state at once.
 */
const HEALTH_CHECKS_PER_WINDOW = 5;
const HEALTH_WINDOW_MS = 10_000;

/** `check`, run at most `perWindow` times per `windowMs`, and once for every caller waiting on it; other callers get the last answer. */
function rateLimited<T>(perWindow: number, windowMs: number, check: () => Promise<T>): () => Promise<T> {
  const started: number[] = [];
  let last: Promise<T> | null = null;
  let running: Promise<T> | null = null;
  return () => {
    if (running) return running;
    const now = Date.now();
    while (started.length && now - started[0]! >= windowMs) started.shift();
    if (last && started.length >= perWindow) return last;
    started.push(now);
    const value = check();
    running = value;
    last = value;
    void value.finally(() => (running = null)).catch(() => undefined);
    return value;
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
