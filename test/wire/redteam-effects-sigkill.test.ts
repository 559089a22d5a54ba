import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../store/audit-trail';
import { APP_ID, startProductionFakes, type ProductionFakes } from '../support/production-rig';
import { demoPersona, demoTenant } from '../support/graph-setup';
import { cardOf, findById, TeamsClient } from '../support/teams-client';
import { planOf } from '../technician/support';

/**
 * The built bot (`npm run build`, `dist/bot/start.js`) runs as its own process in production
 * mode on the offline fakes. A technician's password reset is on its way: Graph makes the
 * change and never answers. The process is killed (SIGKILL: no shutdown, no grace, nothing
 * flushed but what SQLite already synced), then started again on the same database. The
 * trail must show the reset attempted, then reconciled from the directory as done - never
 * failed - the password never shown (so never shown twice) and nowhere on disk, and the
 * audit chain intact.
 */
const root = path.resolve(__dirname, '../..');
const preload = path.join(root, 'test/support/child-offline.cjs');
const sarah = () => demoPersona('technician');
const lukas = demoTenant.users.find((u) => u.displayName === 'Lukas Novak')!;
const USER = new RegExp(`^/users/${lukas.id}$`);

let fakes: ProductionFakes;
let child: ChildProcess | null = null;

beforeAll(async () => {
  // The test runs what is built from this tree.
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  fakes = await startProductionFakes({ dirPrefix: 'helpdesk-sigkill-' });
}, 240_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await fakes?.stop();
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts `dist/bot/start.js` on the fakes; resolves with its URL once it listens. */
async function startChild(): Promise<string> {
  const env = {
    ...process.env,
    ...fakes.env,
    PORT: String(await freePort()),
    LOG_FILE: path.join(fakes.dir, 'helpdesk.log'),
    LOG_LEVEL: 'debug',
    GRAPH_RETRY_MAX_SECONDS: '1',
    RECOVERY_PRIVILEGED_GROUP_IDS: demoTenant.privilegedGroupIds.join(','),
    TEST_OUTGOING_TOKEN: fakes.outgoing,
    NODE_ENV: 'production',
  };
  const c = spawn(process.execPath, ['--disable-warning=DEP0111', '-r', preload, path.join(root, 'dist/bot/start.js')], { cwd: fakes.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child = c;
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bot did not start: ${out}`)), 60_000);
    c.stdout!.on('data', (d) => {
      out += String(d);
      const m = /bot at (http:\/\/[^\s]+)\/api\/messages/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    c.stderr!.on('data', (d) => (out += String(d)));
    c.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the bot exited (${code}): ${out}`));
    });
  });
}

function clientFor(url: string): TeamsClient {
  return new TeamsClient(url, fakes.connector.url, demoTenant.tenantId, { authorization: `Bearer ${fakes.issuer.sign({ aud: APP_ID, serviceurl: fakes.connector.url })}` });
}

/** The trail as the database has it, read by another connection (as `npm run audit` would). */
function withTrail<T>(read: (audit: AuditTrail) => T): T {
  const db = new Database(fakes.env.DATABASE_PATH!, { readonly: true, fileMustExist: true });
  try {
    return read(new AuditTrail(db as never));
  } finally {
    db.close();
  }
}

async function until(what: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the built bot killed (SIGKILL) while Graph makes a password reset', () => {
  it('the next start reconciles the reset as done from the directory: never failed, the password never shown, the chain intact', async () => {
    let url = await startChild();
    let client = clientFor(url);
    const conv = client.channelConversationId();
    const before = fakes.graph.users.get(lukas.id)!.lastPasswordChangeDateTime;

    expect((await client.message(sarah(), `reset-password ${lukas.userPrincipalName}`, { where: 'channel' })).status).toBe(200);
    const plan = planOf(fakes.connector.sentTo(conv).map(cardOf).filter(Boolean).at(-1));
    expect(plan).toMatch(/\S/);
    // Graph makes the reset and never answers it.
    fakes.graph.inject({ status: 500, method: 'PATCH', path: USER, afterApply: true, hang: true });
    void client.invoke(sarah(), 'tech.confirm', { plan }, { where: 'channel' }).catch(() => undefined);
    await until(() => fakes.graph.users.get(lukas.id)!.lastPasswordChangeDateTime !== before);
    const password = fakes.graph.users.get(lukas.id)!.lastPasswordSet!;
    expect(password).toBeTruthy();

    // On disk before the kill: the step and the reset attempted, no outcome.
    const open = withTrail((a) => a.query({ correlationId: plan }).map((e) => e.action));
    expect(open).toEqual(expect.arrayContaining(['technician.step-attempted', 'signin.password-reset-attempted']));
    expect(open).not.toContain('signin.password-reset');

    const killed = new Promise((r) => child!.once('exit', r));
    child!.kill('SIGKILL');
    await killed;
    fakes.graph.clearFaults();

    url = await startChild();
    client = clientFor(url);
    await until(() => withTrail((a) => a.query({ correlationId: plan, action: 'technician.plan-finished' }).length === 1));

    const events = withTrail((a) => a.query({ correlationId: plan }));
    const actions = events.map((e) => e.action);
    const step = events.find((e) => e.action === 'technician.step-attempted' && JSON.parse(e.details).step === 'reset-password')!;
    const reset = events.find((e) => e.action === 'signin.password-reset-attempted')!;
    const reconciled = events.filter((e) => e.action === 'technician.step-reconciled');
    expect(reconciled.map((e) => JSON.parse(e.details))).toEqual([expect.objectContaining({ attempt: step.seq, attempts: [reset.seq], step: 'reset-password', outcome: 'done' })]);
    expect(reconciled[0]!.seq).toBeGreaterThan(reset.seq);
    // Never "failed" for the reset that was made; it was not made again.
    expect(actions).not.toContain('technician.step-failed');
    expect(actions).not.toContain('signin.effect-error');
    expect(events.filter((e) => e.outcome === 'failure' && e.action !== 'technician.plan-finished')).toEqual([]);
    expect(fakes.graph.calls('PATCH', USER).filter((r) => r.body?.passwordProfile)).toHaveLength(1);
    const finished = JSON.parse(events.find((e) => e.action === 'technician.plan-finished')!.details);
    expect(finished.steps).toEqual([{ step: 'reset-password', status: 'partial' }]);

    // The password: never shown (so never twice), nowhere in the database, its log or its WAL.
    const everything = JSON.stringify(fakes.connector.calls);
    expect(everything).not.toContain(password);
    expect(fakes.connector.calls.map((c) => cardOf(c.body)).filter((c) => c && findById(c, 'tech-secret-value'))).toEqual([]);
    for (const f of fs.readdirSync(fakes.dir)) {
      const file = path.join(fakes.dir, f);
      if (fs.statSync(file).isFile()) expect(fs.readFileSync(file).includes(Buffer.from(password)), f).toBe(false);
    }
    expect(withTrail((a) => a.verify().ok)).toBe(true);

    child!.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }, 180_000);
});
