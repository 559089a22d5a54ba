import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import type restify from 'restify';
import { DEFAULT_BIRTHRIGHT_FILE, loadBirthrightRules } from '../directory/birthright';
import { HR_REJECTED_VERB, REJECTED_PAGE, rejectedCard } from '../dialogs/hr-feed/cards';
import { checkHrSignatureHeader, HR_SIGNATURE_HEADER, signatureExpiry, verifyHrSignature } from '../dialogs/hr-feed/signature';
import { HrFeedService, HR_FEED_ACTOR, type AccessReviewStarter, type BatchReport } from '../dialogs/hr-feed/service';
import type { TechnicianCommands } from '../dialogs/technician/commands';
import { notice } from '../dialogs/technician/commands';
import { callerOf } from '../dialogs/technician/register';
import { csvField } from '../store/audit-export';
import type { AuditTrail } from '../store/audit-trail';
import { HrFeedStore } from '../store/hr-feed';
import type { AccessCapability } from './access';
import type { BotDeps, HelpdeskApp } from './deps';
import { HR_WEBHOOK_PATH } from './hr-feed-config';
import type { Logger } from './logger';

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
  /** Files processed but not moved away (name → size and time): not taken again while they stay as they are. */
  const stuck = new Map<string, string>();
  const refusals = createRefusalAudit(deps.store.audit, deps.clock, logger);

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
    for (const known of [...stuck.keys()]) if (!names.includes(known)) stuck.delete(known);
    for (const name of names) {
      if (stopping) break;
      const file = path.join(dir, name);
      // Gone meanwhile, not a plain file, still being written: looked at again at the next poll.
      const read = readSettled(file, settings.maxBytes);
      if (!read) continue;
      if (stuck.get(name) === read.version) continue;
      const format = name.toLowerCase().endsWith('.json') ? 'json' : 'csv';
      let report: BatchReport;
      try {
        report = read.bytes
          ? await service.receive({ source: 'file', name, bytes: read.bytes, format })
          : await service.refuse({ source: 'file', name, size: read.size, error: `The file has ${read.size} bytes; at most ${settings.maxBytes} are taken (HR_FEED_MAX_BYTES). Split it. Nothing in it was applied.` });
      } catch (err) {
        // The directory or the store did not answer: the file stays and is tried at the next poll.
        logger.error({ file: name, err: { name: (err as Error).name, message: (err as Error).message } }, 'HR file not processed; will try again');
        continue;
      }
      const wholeFileRefused = report.state === 'rejected' || (report.records > 0 && report.rejected === report.records);
      const target = path.join(dir, wholeFileRefused ? 'rejected' : 'processed', `${report.batch}-${name}`);
      try {
        moveFile(file, target);
      } catch (err) {
        // Not taken again while it stays as it is (a new batch, audit events and maybe a card at every poll otherwise).
        stuck.set(name, read.version);
        logger.error({ correlationId: report.batch, file: name, err: { message: (err as Error).message } }, 'HR file processed but not moved; it is not taken again until it changes or the bot restarts');
        reports.push(report);
        continue;
      }
      try {
        fs.writeFileSync(`${target}.report.csv`, reportCsv(report));
      } catch (err) {
        logger.error({ correlationId: report.batch, file: name, err: { message: (err as Error).message } }, 'HR file processed and moved; its report could not be written');
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
    // The signed requests taken are kept in the database until their time leaves the window
    // (after that the signature is refused anyway): the same signed request again is a replay,
    // refused, so a captured call cannot put back a record that a later batch changed (also
    // after a restart), and identical deliveries at once are processed once.

    // The signature covers the exact bytes, so this route reads its own body (with its own
    // limit); the server has no global body parser.
    server.post(HR_WEBHOOK_PATH, async (req, res) => {
      if (stopping) {
        res.header('Retry-After', '30');
        res.send(503, { error: 'shutting down; send it again later' });
        return;
      }
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const remoteAddress = req.socket?.remoteAddress ?? null;
      const refuse = (reason: RefusalReason, bytes: number | null) => {
        refusals.record(reason, remoteAddress, { contentType: contentType.slice(0, 60), bytes }, null);
        if (bytes === null) res.header('Connection', 'close');
        res.header('WWW-Authenticate', `HMAC-SHA256 header="X-HR-Signature"`);
        res.send(401, { error: 'unauthorized', reason: REFUSALS[reason] });
      };
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > settings.maxBytes) return tooLarge(res, settings.maxBytes);
      // Without a signature header in the window nothing is read.
      const header = checkHrSignatureHeader(req.headers[HR_SIGNATURE_HEADER], deps.clock(), settings.webhookToleranceSeconds);
      if (!header.ok) return refuse(header.reason, null);
      let body: Buffer | 'too-large';
      try {
        body = await readRaw(req, settings.maxBytes);
      } catch {
        res.send(400, { error: 'The body could not be read.' });
        return;
      }
      if (body === 'too-large') return tooLarge(res, settings.maxBytes);
      const check = verifyHrSignature(secret, req.headers[HR_SIGNATURE_HEADER], body, deps.clock(), settings.webhookToleranceSeconds);
      if (!check.ok) return refuse(check.reason, body.length);
      const format = contentType === 'text/csv' ? 'csv' : contentType === 'application/json' ? 'json' : null;
      if (!format) {
        res.send(415, { error: 'Send text/csv or application/json (an array of records). Nothing was applied.' });
        return;
      }
      const claim = store.claimWebhookSignature(header.signature, signatureExpiry(header.timestamp, settings.webhookToleranceSeconds));
      if (!claim.claimed) {
        const earlier = claim.batch;
        refusals.record('replayed', remoteAddress, { contentType: contentType.slice(0, 60), bytes: body.length, batch: earlier }, earlier);
        res.send(409, {
          error: `This signed request was already received${earlier ? ` (${earlier})` : ' and is being processed'}; nothing was applied again. Sign each request when it is sent.`,
          batch: earlier,
        });
        return;
      }
      inFlight += 1;
      try {
        let report: BatchReport;
        try {
          report = await service.receive({ source: 'webhook', name: 'webhook', bytes: body, format });
        } catch (err) {
          // Nothing was applied: the same signed request may come again.
          store.releaseWebhookSignature(header.signature);
          logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'HR webhook batch not processed');
          res.header('Retry-After', '60');
          res.send(503, { error: 'The batch could not be processed now (the directory did not answer); nothing was applied. Send it again later.' });
          return;
        }
        store.settleWebhookSignature(header.signature, report.batch);
        res.send(report.state === 'rejected' ? 422 : 200, report);
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
      refusals.flush();
    },
    scanNow,
  };
}

type RefusalReason = 'missing' | 'malformed' | 'outside-window' | 'mismatch';

/**
 * Refused webhook calls in the audit trail, bounded: anyone who reaches the route can be
 * refused, and the trail is append-only. The first refusal of each reason (`replayed` too)
 * and remote address in a minute is an `hr.webhook-refused` event; the others in that minute
 * are only counted, and one summary event (`suppressed`: how many, `from`/`until`: the
 * minute) is written when a later minute's first refusal comes, or by {@link flush} when the
 * bot stops. The callers' answers do not depend on it.
 */
function createRefusalAudit(audit: AuditTrail, clock: () => Date, logger: Logger) {
  const minutes = new Map<string, { minute: number; reason: string; remoteAddress: string | null; suppressed: number }>();
  const summarise = (before: number) => {
    for (const [key, m] of minutes) {
      if (m.minute >= before) continue;
      minutes.delete(key);
      if (m.suppressed === 0) continue;
      const from = new Date(m.minute * 60_000).toISOString();
      const until = new Date((m.minute + 1) * 60_000).toISOString();
      audit.append({
        actor: { id: null, name: null },
        action: 'hr.webhook-refused',
        target: null,
        outcome: 'refused',
        correlationId: null,
        details: { reason: m.reason, remoteAddress: m.remoteAddress, suppressed: m.suppressed, from, until },
      });
      logger.warn({ action: 'hr.webhook-refused', reason: m.reason, remoteAddress: m.remoteAddress, suppressed: m.suppressed, from }, 'HR webhook calls refused and not audited one by one');
    }
  };
  return {
    record(reason: RefusalReason | 'replayed', remoteAddress: string | null, details: Record<string, unknown>, correlationId: string | null): void {
      const minute = Math.floor(clock().getTime() / 60_000);
      summarise(minute);
      const key = `${reason} ${remoteAddress ?? ''}`;
      const counted = minutes.get(key);
      if (counted) {
        counted.suppressed += 1;
        logger.debug({ action: 'hr.webhook-refused', reason, remoteAddress }, 'HR webhook call refused (counted)');
        return;
      }
      minutes.set(key, { minute, reason, remoteAddress, suppressed: 0 });
      audit.append({ actor: { id: null, name: null }, action: 'hr.webhook-refused', target: null, outcome: 'refused', correlationId, details: { reason, remoteAddress, ...details } });
      logger.warn({ action: 'hr.webhook-refused', reason, remoteAddress, correlationId }, 'HR webhook call refused');
    },
    /** Writes the summaries still counted. */
    flush(): void {
      summarise(Infinity);
    },
  };
}

const REFUSALS: Record<RefusalReason, string> = {
  missing: `no ${HR_SIGNATURE_HEADER} header`,
  malformed: `the ${HR_SIGNATURE_HEADER} header must be t=<unix seconds>,v1=<hex HMAC-SHA256>`,
  'outside-window': "the signature's time is outside the accepted window: check the sender's clock, sign each request when it is sent",
  mismatch: 'the signature does not match the body',
};

/**
 * A file of the drop folder, read whole through one descriptor: null when it is gone, not a
 * plain file (a symbolic link is not followed), changed within the last {@link SETTLE_MS}, or
 * changed while it was read. Over `limit` bytes: its size only. `version` (size and time)
 * tells whether it changed since.
 */
function readSettled(file: string, limit: number): { bytes: Buffer | null; size: number; version: string } | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0));
  } catch {
    return null;
  }
  try {
    const before = fs.fstatSync(fd);
    if (!before.isFile() || Date.now() - before.mtimeMs < SETTLE_MS) return null;
    const version = `${before.size}:${before.mtimeMs}`;
    if (before.size > limit) return { bytes: null, size: before.size, version };
    const bytes = fs.readFileSync(fd);
    const after = fs.fstatSync(fd);
    if (bytes.length !== before.size || after.size !== before.size || after.mtimeMs !== before.mtimeMs) return null;
    return { bytes, size: before.size, version };
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Renames; across file systems (`processed/` on another volume), copies and removes. */
function moveFile(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL);
    fs.unlinkSync(from);
  }
}

function tooLarge(res: restify.Response, limit: number): void {
  res.header('Connection', 'close');
  res.send(413, { error: `The body is larger than ${limit} bytes (HR_FEED_MAX_BYTES). Nothing was applied.` });
}

/** The request body as bytes, or `too-large` (without reading on) past `limit`. */
function readRaw(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
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
    // The caller went away (or the server's request timeout ended a slow body) before the end.
    req.once('close', () => {
      if (!done) {
        done = true;
        reject(new Error('the request was closed before its body ended'));
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
