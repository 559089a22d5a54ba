import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call the bot made to the Bot Framework connector. */
export interface ConnectorCall {
  kind: 'send' | 'reply' | 'update' | 'delete' | 'createConversation' | 'other';
  method: string;
  path: string;
  conversationId: string | null;
  activityId: string | null;
  body: any;
  headers: http.IncomingHttpHeaders;
  /** The id the fake answered with: the new message's id for a send or reply (what later updates name). */
  responseId?: string;
}

/**
 * A fake Bot Framework connector on 127.0.0.1: the `serviceUrl` of test activities. It
 * records every call the bot makes (replies, updates, deletions, createConversation) and
 * answers like the real service, so tests can wait on what the bot sent.
 */
export class FakeConnector {
  readonly calls: ConnectorCall[] = [];
  private server: http.Server | null = null;
  private waiters: Array<() => void> = [];
  private counter = 0;
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  /** Activities the bot sent (new messages and replies) to one conversation, in order. */
  sentTo(conversationId: string): any[] {
    return this.calls.filter((c) => (c.kind === 'send' || c.kind === 'reply') && c.conversationId === conversationId).map((c) => c.body);
  }

  /** Every activity sent (not updates), in order. */
  sent(): any[] {
    return this.calls.filter((c) => c.kind === 'send' || c.kind === 'reply').map((c) => c.body);
  }

  clear(): void {
    this.calls.length = 0;
  }

  /** Resolves with the first recorded call matching `predicate`, waiting up to `timeoutMs`. */
  async waitFor(predicate: (c: ConnectorCall) => boolean, timeoutMs = 5_000): Promise<ConnectorCall> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.calls.find(predicate);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connector: no matching call within ${timeoutMs} ms; saw ${this.calls.map((c) => `${c.method} ${c.path}`).join(', ') || 'nothing'}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      const path = (req.url ?? '').split('?')[0]!;
      const m = /^\/v3\/conversations(?:\/([^/]+)(?:\/activities(?:\/([^/]+))?)?)?\/?$/.exec(path);
      const conversationId = m?.[1] ? decodeURIComponent(m[1]) : null;
      const activityId = m?.[2] ? decodeURIComponent(m[2]) : null;
      let kind: ConnectorCall['kind'] = 'other';
      if (m && req.method === 'POST' && !conversationId) kind = 'createConversation';
      else if (m && req.method === 'POST' && conversationId && !activityId) kind = 'send';
      else if (m && req.method === 'POST' && activityId) kind = 'reply';
      else if (m && req.method === 'PUT' && activityId) kind = 'update';
      else if (m && req.method === 'DELETE' && activityId) kind = 'delete';
      let responseId: string | undefined;
      if (kind === 'createConversation' || kind === 'send' || kind === 'reply' || kind === 'update') {
        this.counter += 1;
        responseId = kind === 'createConversation' ? `a:created-${this.counter}` : activityId && kind === 'update' ? activityId : `activity-${this.counter}`;
      }
      this.calls.push({ kind, method: req.method ?? '', path, conversationId, activityId, body, headers: req.headers, responseId });
      for (const w of this.waiters.splice(0)) w();

      res.setHeader('content-type', 'application/json');
      if (kind === 'createConversation') {
        res.end(JSON.stringify({ id: responseId, activityId: `activity-${this.counter}` }));
      } else if (kind === 'send' || kind === 'reply' || kind === 'update') {
        res.end(JSON.stringify({ id: responseId }));
      } else if (kind === 'delete') {
        res.statusCode = 200;
        res.end('{}');
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ error: { code: 'NotFound', message: `fake connector does not serve ${req.method} ${path}` } }));
      }
    });
  }
}
