import fs from 'node:fs';
import { PrivilegedResolver } from '../../dialogs/privileged';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../bot/config';
import { createLogger } from '../../bot/logger';
import type { Notifier } from '../../bot/notifier';
import { Scheduler } from '../../bot/scheduler';
import { AccessService } from '../../dialogs/access-service';
import { TechnicianCommands, type Caller } from '../../dialogs/technician/commands';
import { COMMAND_NAMES, parseCommand } from '../../dialogs/technician/grammar';
import { TicketService } from '../../dialogs/technician/tickets';
import { loadBirthrightRules } from '../../directory/birthright';
import { loadCatalog } from '../../directory/catalog';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { LocalDirectory } from '../../directory/local-directory';
import { openStore, type Store } from '../../store/store';
import { startHarness, type Harness } from '../support/harness';
import { problems } from './support';

/**
 * Thousands of random command lines: the grammar never throws and always explains; the
 * command service always answers and, for lines that name nobody real, changes nothing in the
 * directory or the store (only the audit trail records lookups and refusals).
 */

const NOW = new Date('2026-03-02T09:00:00.000Z');

describe('the grammar on arbitrary text', () => {
  it('never throws, and every refusal says something (5000 lines of any characters)', () => {
    const anyText = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 1500 }),
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.string({ maxLength: 80 }).map((s) => `${fc.sample(fc.constantFrom(...COMMAND_NAMES), 1)[0]} ${s}`),
    );
    fc.assert(
      fc.property(anyText, (line) => {
        const r = parseCommand(line, NOW);
        if (!r.ok) {
          expect(r.message.trim().length).toBeGreaterThan(10);
          expect(r.message.length).toBeLessThan(2000);
        } else expect(COMMAND_NAMES).toContain(r.command.name);
      }),
      { numRuns: 5000 },
    );
  });
});

// ---- the service, in-process, on a real store and demo directory ---------------------------------

const COMMANDS = [...COMMAND_NAMES, 'whoiss', 'offbord', 'reprot', 'HELP', 'Grant', 'mfa-rest', 'tickets'];
/** Nobody real: unknown names, ids and addresses. */
const NOBODY = ['Zed Nobody', '"Quoted Nobody"', "O'Nobody", 'nobody@northwind.example', 'x@y', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'Zyx'];
const OTHER = ['TKT-424242', 'REQ-999999', 'PLN-77', 'crm', 'payroll reports', 'teleporter', 'verify', 'tail', 'export', 'tail 9999', '--', '-', '""', "''", '“', '"unclosed'];
const FLAGS = ['--reason', '--for', '--minutes', '--days', '--since', '--format', '--note', '--department', '--title', '--bogus', '—reason', '--reason=', '--for=7d', '--since=24h'];
const VALUES = ['7d', '0d', '9999d', '-1d', '1e9d', 'permanent', 'forever', '10', '9', '43201', '2026-13-45', '2030-01-01', '1990-01-01', '24h', 'csv', 'card', 'xml', '0', '366'];
/** Junk without ASCII letters, so it never names a real person by accident. */
const junk = fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replace(/[A-Za-z]/g, '#'));

const token = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NOBODY) },
  { weight: 2, arbitrary: fc.constantFrom(...OTHER) },
  { weight: 3, arbitrary: fc.constantFrom(...FLAGS) },
  { weight: 3, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 2, arbitrary: junk },
);
const commandLine = fc.oneof(
  // Lines that get as far as looking someone up: a command and nobody real.
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...COMMANDS), fc.constantFrom(...NOBODY, ...OTHER), fc.constantFrom('', ' --reason test', ' --note done', ' --department Finance', ' --minutes 60', ' --for 7d --reason x')).map(([c, who, flags]) => `${c} ${who}${flags}`) },
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...COMMANDS), fc.array(token, { maxLength: 10 })).map(([c, rest]) => [c, ...rest].join(' ')) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...COMMANDS), fc.string({ unit: 'binary', minLength: 990, maxLength: 1400 })).map(([c, s]) => `${c} ${s}`) },
  { weight: 1, arbitrary: fc.array(token, { minLength: 1, maxLength: 8 }).map((t) => t.join(' ')) },
);

let dir: string;
let store: Store;
let directory: LocalDirectory;
let commands: TechnicianCommands;
let sarah: Caller['user'];
let emily: Caller['user'];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-fuzz-'));
  const config = loadConfig({ DATABASE_PATH: path.join(dir, 'helpdesk.db'), LOCAL_DIRECTORY_PATH: path.join(dir, 'directory.db'), PLAYGROUND: 'false' });
  const clock = () => NOW;
  const tenant = loadDemoTenant();
  store = openStore(config.databasePath, clock);
  directory = LocalDirectory.open(path.join(dir, 'directory.db'), tenant);
  const logger = createLogger('silent');
  const notifier: Notifier = {
    sendToUser: async () => ({ conversationId: 'a:x', activityId: 'm', reference: { conversation: { id: 'a:x' } as never } }),
    update: async () => undefined,
    sendToTechnicians: async () => null,
    teamsUserId: (id) => id,
  };
  const tickets = new TicketService({ store, directory, notifier, logger, clock, config: config.technicians, maxJobAttempts: 3, technicianGroupId: tenant.technicianGroupId });
  const scheduler = new Scheduler({ jobs: store.jobs, clock, logger, technicians: tickets, retryBaseMs: 1000, retryMaxMs: 2000, pollMs: 60_000 });
  tickets.attach(scheduler);
  const catalog = loadCatalog();
  const access = new AccessService({ config, store, directory, logger, clock, catalog, notifier, scheduler, technicians: tickets, fallbackGroupId: tenant.technicianGroupId });
  access.registerJobs(scheduler);
  commands = new TechnicianCommands({ config, store, directory, logger, clock, notifier, scheduler, tickets, access, catalog, birthright: loadBirthrightRules(), privileged: new PrivilegedResolver({ directory, privilegedGroupIds: tenant.privilegedGroupIds, technicianGroupId: tenant.technicianGroupId, logger }), technicianGroupId: tenant.technicianGroupId });
  commands.registerJobs(scheduler);
  sarah = (await directory.getUser(tenant.personas.technician))!;
  emily = (await directory.getUser(tenant.personas.employee))!;
});

afterAll(() => {
  store?.close();
  directory?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Everything but the audit trail (and short-lived prompts), as one string. */
function state(): string {
  const helpdesk = store.db;
  const tables = ['access_requests', 'access_request_approvers', 'access_decisions', 'jobs', 'card_refs', 'tickets', 'ticket_history', 'technician_cards', 'recovery_sessions'];
  const rows = tables.map((t) => JSON.stringify(helpdesk.prepare(`SELECT * FROM ${t}`).all()));
  rows.push(JSON.stringify(helpdesk.prepare("SELECT id, state FROM technician_plans WHERE state <> 'proposed'").all()));
  const d = new Database(path.join(dir, 'directory.db'), { readonly: true });
  try {
    for (const t of ['users', 'group_members', 'group_owners', 'auth_methods']) rows.push(JSON.stringify(d.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()));
  } finally {
    d.close();
  }
  return rows.join('\n');
}

describe('the command service on random command lines', () => {
  it('answers every line, never crashes, and changes nothing (as a technician in the channel and in 1:1, and as an employee)', async () => {
    const before = state();
    const auditBefore = store.audit.count();
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(commandLine, fc.constantFrom<'channel' | 'personal' | 'employee'>('channel', 'personal', 'employee'), async (line, who) => {
        const caller: Caller =
          who === 'employee'
            ? { user: emily, technician: false, where: 'channel', channelId: '19:c@thread.tacv2', correlationId: 'fuzz' }
            : { user: sarah, technician: true, where: who, channelId: who === 'channel' ? '19:c@thread.tacv2' : null, correlationId: 'fuzz' };
        const replies = await commands.handle(line, caller);
        expect(replies.length).toBeGreaterThan(0);
        for (const r of replies) {
          if (r.kind === 'text') expect(r.text.trim().length).toBeGreaterThan(0);
          else expect(problems(r.card)).toEqual([]);
        }
        if (who === 'employee') expect(replies).toEqual([{ kind: 'text', text: 'Sorry, that command is for identity technicians only.' }]);
        answered += 1;
      }),
      { numRuns: 3000 },
    );
    expect(answered).toBe(3000);
    expect(state()).toBe(before);
    // Refusals and lookups are recorded; nothing else happened.
    const actions = new Set(store.audit.query({}, { afterSeq: auditBefore, limit: 10_000 }).map((e) => e.action));
    for (const a of actions) expect(['helpdesk.command-refused', 'technician.lookup', 'technician.report', 'audit.verified', 'audit.exported']).toContain(a);
  }, 240_000);
});

describe('over the wire', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('every random line in the channel gets an answer', async () => {
    await fc.assert(
      fc.asyncProperty(commandLine, async (line) => {
        const before = h.connector.sentTo(h.client.channelConversationId()).length;
        const res = await h.client.message(h.user('technician'), line, { where: 'channel' });
        expect(res.status).toBe(200);
        expect(h.connector.sentTo(h.client.channelConversationId()).length).toBeGreaterThan(before);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
