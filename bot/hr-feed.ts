import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import type restify from 'restify';
import { DEFAULT_BIRTHRIGHT_FILE, loadBirthrightRules } from '../directory/birthright';
import { HR_REJECTED_VERB, REJECTED_PAGE, rejectedCard } from '../dialogs/hr-feed/cards';
import { HR_SIGNATURE_HEADER, verifyHrSignature } from '../dialogs/hr-feed/signature';
import { HrFeedService, HR_FEED_ACTOR, type AccessReviewStarter, type BatchReport } from '../dialogs/hr-feed/service';
import type { TechnicianCommands } from '../dialogs/technician/commands';
import { notice } from '../dialogs/technician/commands';
import { callerOf } from '../dialogs/technician/register';
import { csvField } from '../store/audit-export';
import { HrFeedStore } from '../store/hr-feed';
import type { AccessCapability } from './access';
import type { BotDeps, HelpdeskApp } from './deps';
import { HR_WEBHOOK_PATH } from './hr-feed-config';

/**
 * Puts the HR feed together: its store, the service (on the technicians' plans, tickets and
 * scheduler), the drop folder poller (`HR_FEED_DIR`), the signed webhook (`HR_WEBHOOK_SECRET`,
 * `POST /api/hr-feed`) and the summary card's button. Each way in is off unless configured.
 */
export interface HrFeedCapability {
  service: HrFeedService;
  store: HrFeedStore;
  /** Adds the webhook route to the server (when a secret is configured). */
  mount(server: restify.Server): void;
  /** Starts polling the drop folder (when one is configured): once now, then every `HR_FEED_POLL_SECONDS`. */
  start(): void;
  /** Stops polling and refuses new webhook calls; waits up to `graceMs` for a batch being processed. */
  stop(graceMs: number): Promise<void>;
  /** Processes the files waiting in the drop folder now (name order); the reports of those processed. */
  scanNow(): Promise<BatchReport[]>;
}

/** A file must be this old (unchanged) before it is taken: a writer may still be writing it. */
const SETTLE_MS = 1000;
const FILE_PATTERN = /^[^.].*\.(csv|json)$/i;

export function createHrFeedCapability(deps: BotDeps, app: HelpdeskApp, access: AccessCapability, technician: TechnicianCommands, reviews: AccessReviewStarter | null): HrFeedCapability {
  const { config, logger: root } = deps;
  const settings = config.hrFeed;
  const logger = root.child({ component: 'hr-feed' });
  const store = new HrFeedStore(deps.store.db, deps.clock);
  const service = new HrFeedService({
    settings: { timeZone: settings.timeZone, approvalHours: settings.approvalHours, maxJobAttempts: config.jobs.maxAttempts },
    store: deps.store,
    feed: store,
    directory: deps.directory,
    logger,
    clock: deps.clock,
    notifier: access.notifier,
    scheduler: access.scheduler,
    tickets: access.tickets,
    technician,
    birthright: loadBirthrightRules(config.technicians.birthrightPath ?? DEFAULT_BIRTHRIGHT_FILE),
    reviews,
  });
  service.registerJobs(access.scheduler);

  // The summary card's button: a batch's rejected lines, for technicians only.
  app.adaptiveCards.actionExecute<Record<string, unknown>>(HR_REJECTED_VERB, async (context, _state, data) => {
    const caller = callerOf(context);
    const refusal = technician.gate(caller, HR_REJECTED_VERB);
    if (refusal) return notice('Not available', refusal, 'attention');
    const id = data && typeof data === 'object' ? data.batch : undefined;
    const batch = typeof id === 'string' && /^HRB-\d{1,9}$/.test(id) ? store.batch(id) : null;
    if (!batch) return notice('No such HR batch', 'This card is no longer active.', 'warning');
    deps.store.audit.append({
      actor: { id: caller.user.id, name: caller.user.displayName },
      action: 'technician.lookup',
      target: batch.id,
      outcome: 'success',
      correlationId: caller.correlationId,
      details: { command: HR_REJECTED_VERB, where: caller.where },
    });
    return rejectedCard(batch, store.lines(batch.id, 'rejected', REJECTED_PAGE));
  });

  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let scanning: Promise<BatchReport[]> | null = null;
  let inFlight = 0;

  // ---- the drop folder ------------------------------------------------------------------------

  const scanOnce = async (): Promise<BatchReport[]> => {
    const dir = settings.dir!;
    for (const sub of ['processed', 'rejected']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    const names = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && FILE_PATTERN.test(e.name))
      .map((e) => e.name)
      .sort();
    const reports: BatchReport[] = [];
    for (const name of names) {
      if (stopping) break;
      const file = path.join(dir, name);
      let stat: fs.Stats;
      try {
        stat = fs.statSync(file);
      } catch {
        continue; // moved away meanwhile
      }
      if (Date.now() - stat.mtimeMs < SETTLE_MS) continue;
      const format = name.toLowerCase().endsWith('.json') ? 'json' : 'csv';
      let report: BatchReport;
      try {
        report =
          stat.size > settings.maxBytes
            ? await service.refuse({ source: 'file', name, size: stat.size, error: `The file has ${stat.size} bytes; at most ${settings.maxBytes} are taken (HR_FEED_MAX_BYTES). Split it. Nothing in it was applied.` })
            : await service.receive({ source: 'file', name, bytes: fs.readFileSync(file), format });
      } catch (err) {
        // The directory or the store did not answer: the file stays and is tried at the next poll.
        logger.error({ file: name, err: { name: (err as Error).name, message: (err as Error).message } }, 'HR file not processed; will try again');
        continue;
      }
      const wholeFileRefused = report.state === 'rejected' || (report.records > 0 && report.rejected === report.records);
      const target = path.join(dir, wholeFileRefused ? 'rejected' : 'processed', `${report.batch}-${name}`);
      try {
        fs.renameSync(file, target);
        fs.writeFileSync(`${target}.report.csv`, reportCsv(report));
      } catch (err) {
        logger.error({ correlationId: report.batch, file: name, err: { message: (err as Error).message } }, 'HR file processed but not moved');
      }
      reports.push(report);
    }
    return reports;
  };

  const scanNow = (): Promise<BatchReport[]> => {
    if (!settings.dir) return Promise.resolve([]);
    if (!scanning) {
      scanning = scanOnce().finally(() => {
        scanning = null;
      });
    }
    return scanning;
  };

  // ---- the webhook ----------------------------------------------------------------------------

  const mount = (server: restify.Server): void => {
    const secret = settings.webhookSecret;
    if (!secret) return;
    // The signature covers the exact bytes, so this route reads its own body (with its own
    // limit) before the server's body parser would; the parser then leaves it alone.
    server.pre((req, res, next) => {
      if (req.method !== 'POST' || req.getPath() !== HR_WEBHOOK_PATH) return next();
      readRaw(req, settings.maxBytes).then(
        (body) => {
          if (body === 'too-large') {
            res.header('Connection', 'close');
            res.send(413, { error: `The body is larger than ${settings.maxBytes} bytes (HR_FEED_MAX_BYTES). Nothing was applied.` });
            return next(false);
          }
          const r = req as unknown as { hrRawBody: Buffer; _readBody: boolean; _parsedBody: boolean };
          r.hrRawBody = body;
          r._readBody = true;
          r._parsedBody = true;
          return next();
        },
        () => {
          res.send(400, { error: 'The body could not be read.' });
          return next(false);
        },
      );
    });

    server.post(HR_WEBHOOK_PATH, async (req, res) => {
      if (stopping) {
        res.header('Retry-After', '30');
        res.send(503, { error: 'shutting down; send it again later' });
        return;
      }
      const body = (req as unknown as { hrRawBody?: Buffer }).hrRawBody ?? Buffer.alloc(0);
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const check = verifyHrSignature(secret, req.headers[HR_SIGNATURE_HEADER], body, deps.clock(), settings.webhookToleranceSeconds);
      if (!check.ok) {
        const remoteAddress = req.socket?.remoteAddress ?? null;
        deps.store.audit.append({
          actor: { id: null, name: null },
          action: 'hr.webhook-refused',
          target: null,
          outcome: 'refused',
          correlationId: null,
          details: { reason: check.reason, remoteAddress, contentType: contentType.slice(0, 60), bytes: body.length },
        });
        logger.warn({ action: 'hr.webhook-refused', reason: check.reason, remoteAddress }, 'HR webhook call refused');
        res.header('WWW-Authenticate', `HMAC-SHA256 header="X-HR-Signature"`);
        res.send(401, { error: 'unauthorized', reason: REFUSALS[check.reason] });
        return;
      }
      const format = contentType === 'text/csv' ? 'csv' : contentType === 'application/json' ? 'json' : null;
      if (!format) {
        res.send(415, { error: 'Send text/csv or application/json (an array of records). Nothing was applied.' });
        return;
      }
      inFlight += 1;
      try {
        const report = await service.receive({ source: 'webhook', name: 'webhook', bytes: body, format });
        res.send(report.state === 'rejected' ? 422 : 200, report);
      } catch (err) {
        logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'HR webhook batch not processed');
        res.header('Retry-After', '60');
        res.send(503, { error: 'The batch could not be processed now (the directory did not answer); nothing was applied. Send it again later.' });
      } finally {
        inFlight -= 1;
      }
    });
    logger.info({ path: HR_WEBHOOK_PATH }, 'HR webhook on');
  };

  return {
    service,
    store,
    mount,
    start() {
      if (!settings.dir) return;
      stopping = false;
      fs.mkdirSync(settings.dir, { recursive: true });
      const tick = () => {
        scanNow().catch((err) => logger.error({ err: { message: (err as Error).message } }, 'HR drop folder scan failed'));
      };
      timer = setInterval(tick, settings.pollSeconds * 1000);
      timer.unref();
      tick();
      logger.info({ dir: settings.dir, pollSeconds: settings.pollSeconds }, 'HR drop folder on');
    },
    async stop(graceMs) {
      stopping = true;
      if (timer) clearInterval(timer);
      timer = null;
      const deadline = Date.now() + graceMs;
      while ((scanning || inFlight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    },
    scanNow,
  };
}

const REFUSALS: Record<'missing' | 'malformed' | 'outside-window' | 'mismatch', string> = {
  missing: `no ${HR_SIGNATURE_HEADER} header`,
  malformed: `the ${HR_SIGNATURE_HEADER} header must be t=<unix seconds>,v1=<hex HMAC-SHA256>`,
  'outside-window': "the signature's time is outside the accepted window: check the sender's clock, sign each request when it is sent",
  mismatch: 'the signature does not match the body',
};

/** The request body as bytes, or `too-large` (without reading on) past `limit`. */
function readRaw(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.once('error', (err) => {
      if (!done) {
        done = true;
        reject(err);
      }
    });
  });
}

/** The per-line report beside a processed or rejected file. */
export function reportCsv(report: BatchReport): string {
  const rows = [['line', 'employee_id', 'upn', 'outcome', 'actions', 'reason']];
  if (report.state === 'rejected') rows.push(['', '', '', 'file-rejected', '', report.error ?? '']);
  for (const l of report.lines) {
    rows.push([String(l.line), l.employeeId ?? '', l.upn ?? '', l.outcome, l.actions.map((a) => `${a.id} ${a.kind} ${a.dueAt}`).join('; '), l.reason ?? '']);
  }
  return `# HR feed batch ${report.batch} (${HR_FEED_ACTOR.name}): ${report.records} records, ${report.changed} changed, ${report.unchanged} unchanged, ${report.rejected} rejected\n${rows.map((r) => r.map(csvField).join(',')).join('\n')}\n`;
}
