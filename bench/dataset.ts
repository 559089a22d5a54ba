import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { snapshotPolicy } from '../dialogs/access-policy';
import { DEFAULT_CATALOG_FILE, loadCatalog, type CatalogResource } from '../directory/catalog';
import { loadDemoTenant } from '../directory/demo-tenant';
import type { AuditActor, AuditOutcome } from '../store/audit-trail';
import { openDatabase } from '../store/db';
import { migrations } from '../store/migrations';
import { openStore, type Store } from '../store/store';

/**
 * A year of helpdesk history at scale, for the audit store and report benchmarks: `requests`
 * access requests from the demo tenant's people through their whole lives (requested,
 * approved stage by stage or denied, cancelled, expired, granted, revoked), self-service
 * recoveries, tickets, and enough other audited activity (sign-in recovery steps, technician
 * commands, refusals) that the trail holds exactly `events` events. Everything is written
 * through the stores, in time order, with a clock the generator moves: the hash chain is the
 * real one. Large transactions keep it fast (a million events in well under a minute).
 *
 * The file is kept under `bench/.cache/`, named by a hash of the schema and of this
 * generator, so a rerun reuses it and a schema change makes a new one.
 */

export interface DatasetSpec {
  events: number;
  requests: number;
}

export interface Dataset {
  file: string;
  spec: DatasetSpec;
  /** The end of the history: reports are asked "as of" this instant. */
  now: string;
  /** Ids to query by: the most frequent actors, one who never acted, a display name, request ids. */
  probes: { actors: string[]; absentActor: string; actorName: string; correlationIds: string[] };
  /** Whether the file was made by this run (else reused from the cache). */
  generated: boolean;
  generateSeconds?: number;
}

const NOW = Date.parse('2026-11-01T00:00:00.000Z');
const DAY = 86_400_000;
const HOUR = 3_600_000;
const SPAN_DAYS = 365;
const SYSTEM: AuditActor = { id: 'system', name: 'Northwind IAM Helpdesk' };

/** A small deterministic PRNG (mulberry32): the same dataset every time. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The cache key: the schema a fresh store gets, and this generator's own code. */
export function datasetKey(spec: DatasetSpec): string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-schema-'));
  try {
    const db = openDatabase(path.join(tmp, 'schema.db'), { migrations });
    const schema = (db.prepare("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name").all() as Array<Record<string, string>>)
      .map((r) => `${r.type} ${r.name} ${r.sql}`)
      .join('\n');
    const version = db.pragma('user_version', { simple: true });
    db.close();
    const generator = fs.readFileSync(__filename, 'utf8');
    return createHash('sha256').update(`${version}\n${schema}\n${generator}\n${spec.events}/${spec.requests}`).digest('hex').slice(0, 16);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The dataset for `spec` from `cacheDir`, generated first when it is not there. */
export function dataset(cacheDir: string, spec: DatasetSpec, log: (line: string) => void = () => undefined): Dataset {
  fs.mkdirSync(cacheDir, { recursive: true });
  const key = datasetKey(spec);
  const file = path.join(cacheDir, `helpdesk-${spec.events}-events-${spec.requests}-requests-${key}.db`);
  const probesFile = `${file}.json`;
  if (fs.existsSync(file) && fs.existsSync(probesFile)) {
    return { file, spec, now: new Date(NOW).toISOString(), probes: JSON.parse(fs.readFileSync(probesFile, 'utf8')), generated: false };
  }
  // Older datasets of the same size (another schema or generator) are dropped.
  for (const f of fs.readdirSync(cacheDir)) if (f.startsWith(`helpdesk-${spec.events}-events-${spec.requests}-requests-`)) fs.rmSync(path.join(cacheDir, f), { force: true });
  log(`generating ${spec.events.toLocaleString('en')} audit events and ${spec.requests.toLocaleString('en')} requests into ${path.relative(process.cwd(), file)} (cached for later runs)...`);
  const t0 = Date.now();
  const partial = `${file}.partial`;
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(partial + suffix, { force: true });
  const probes = generate(partial, spec);
  fs.renameSync(partial, file);
  fs.writeFileSync(probesFile, JSON.stringify(probes, null, 2));
  const seconds = (Date.now() - t0) / 1000;
  log(`generated in ${seconds.toFixed(0)} s`);
  return { file, spec, now: new Date(NOW).toISOString(), probes, generated: true, generateSeconds: seconds };
}

type Step =
  | { t: number; k: 'create'; r: number }
  | { t: number; k: 'stage'; r: number; stage: number }
  | { t: number; k: 'close'; r: number; to: 'approved' | 'denied' | 'cancelled' | 'expired'; stage: number }
  | { t: number; k: 'grant'; r: number }
  | { t: number; k: 'revoke'; r: number };

interface Plan {
  requester: { id: string; name: string; upn: string; department: string | null; jobTitle: string | null };
  manager: AuditActor | null;
  resource: CatalogResource;
  id?: string;
  expiresAt?: number;
}

function generate(file: string, spec: DatasetSpec): Dataset['probes'] {
  const random = prng(20261101);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const tenant = loadDemoTenant();
  const catalog = loadCatalog(DEFAULT_CATALOG_FILE);
  const people = tenant.users.filter((u) => u.accountEnabled);
  const byId = new Map(tenant.users.map((u) => [u.id, u]));
  const technicianGroup = tenant.groups.find((g) => g.id === tenant.technicianGroupId);
  const TECHNICIANS: Array<{ id: string; name: string }> = (technicianGroup?.members ?? []).map((id) => ({ id, name: byId.get(id)!.displayName }));
  if (!TECHNICIANS.length) throw new Error('the demo tenant has no identity technicians');
  const start = NOW - SPAN_DAYS * DAY;
  let clock = start;
  const store = openStore(file, () => new Date(clock));

  // ---- the plan of every request, then its steps in time order ----
  const plans: Plan[] = [];
  const steps: Step[] = [];
  for (let r = 0; r < spec.requests; r++) {
    const u = pick(people);
    const m = u.managerId ? byId.get(u.managerId) : undefined;
    const resource = pick(catalog.resources);
    plans.push({
      requester: { id: u.id, name: u.displayName, upn: u.userPrincipalName, department: u.department ?? null, jobTitle: u.jobTitle ?? null },
      manager: m ? { id: m.id, name: m.displayName } : null,
      resource,
    });
    const t = start + random() * SPAN_DAYS * DAY;
    steps.push({ t, k: 'create', r });
    const fate = random();
    const decisionDelay = () => (0.2 + random() * random() * 72) * HOUR;
    if (fate < 0.08) steps.push({ t: t + (0.1 + random() * 24) * HOUR, k: 'close', r, to: 'cancelled', stage: 1 });
    else if (fate < 0.12) steps.push({ t: t + 14 * DAY, k: 'close', r, to: 'expired', stage: 1 });
    else {
      let at = t;
      const stages = resource.stages.length;
      const deniedAt = fate < 0.22 ? 1 + Math.floor(random() * stages) : 0;
      for (let stage = 1; stage <= stages; stage++) {
        at += decisionDelay();
        if (stage === deniedAt) {
          steps.push({ t: at, k: 'close', r, to: 'denied', stage });
          break;
        }
        if (stage < stages) steps.push({ t: at, k: 'stage', r, stage });
        else {
          steps.push({ t: at, k: 'close', r, to: 'approved', stage });
          at += (1 + random() * 30) * 60_000;
          steps.push({ t: at, k: 'grant', r });
          if (resource.defaultHours) steps.push({ t: at + resource.defaultHours * HOUR, k: 'revoke', r });
        }
      }
    }
  }
  const due = steps.filter((s) => s.t < NOW).sort((a, b) => a.t - b.t);
  // Events the request steps write; the rest of the trail is other helpdesk activity.
  const requestEvents = due.length;
  const fillers = spec.events - requestEvents;
  if (fillers < 0) throw new Error(`${spec.requests} requests write ${requestEvents} events, more than ${spec.events}`);

  const requestId = (p: Plan) => p.id!;
  const turn = () => Math.floor(random() * 2 ** 48).toString(16).padStart(12, '0');
  const runStep = (s: Step) => {
    const p = plans[s.r]!;
    const actor = { id: p.requester.id, name: p.requester.name };
    const approver = (stage: number): AuditActor => (p.resource.stages[stage - 1]?.approver === 'manager' && p.manager ? p.manager : pick(TECHNICIANS));
    switch (s.k) {
      case 'create': {
        const policy = snapshotPolicy(p.resource, new Map());
        const r = store.requests.create({
          requesterId: p.requester.id,
          requesterName: p.requester.name,
          resourceId: p.resource.id,
          groupId: p.resource.groupId,
          durationHours: p.resource.defaultHours,
          justification: p.resource.justificationRequired ? 'Quarter-end reconciliation for the finance team' : null,
          policy,
          context: { userPrincipalName: p.requester.upn, department: p.requester.department, jobTitle: p.requester.jobTitle, managerId: p.manager?.id ?? null, managerName: p.manager?.name ?? null, memberships: [] },
          extendsRequestId: null,
        });
        p.id = r.id;
        const first = approver(1);
        store.requests.addApprover({ requestId: r.id, stage: 1, approverId: first.id!, approverName: first.name!, source: 'policy' });
        store.audit.append({
          actor,
          action: 'access.requested',
          target: r.id,
          outcome: 'success',
          correlationId: r.id,
          details: {
            resource: p.resource.id,
            groupId: p.resource.groupId,
            risk: p.resource.risk,
            durationHours: p.resource.defaultHours,
            endsAt: null,
            justification: r.justification,
            stages: policy.stages.map((x) => x.title),
            approvers: [{ id: first.id, name: first.name, source: 'policy' }],
            extendsRequestId: null,
            turn: turn(),
          },
        });
        return;
      }
      case 'stage': {
        const by = approver(s.stage);
        store.requests.advanceStage(requestId(p), s.stage);
        store.requests.recordDecision({ requestId: requestId(p), stage: s.stage, decision: 'approved', by: { id: by.id!, name: by.name! }, comment: null });
        const next = approver(s.stage + 1);
        store.requests.addApprover({ requestId: requestId(p), stage: s.stage + 1, approverId: next.id!, approverName: next.name!, source: 'policy' });
        store.audit.append({ actor: by, action: 'access.approved', target: requestId(p), outcome: 'success', correlationId: requestId(p), details: { stage: s.stage, stages: p.resource.stages.length, final: false, comment: null, turn: turn() } });
        return;
      }
      case 'close': {
        if (s.to === 'cancelled') {
          store.requests.closePending(requestId(p), 'cancelled', actor);
          store.audit.append({ actor, action: 'access.cancelled', target: requestId(p), outcome: 'success', correlationId: requestId(p), details: { stage: s.stage, turn: turn() } });
        } else if (s.to === 'expired') {
          store.requests.closePending(requestId(p), 'expired', SYSTEM);
          store.audit.append({ actor: SYSTEM, action: 'access.expired', target: requestId(p), outcome: 'success', correlationId: requestId(p), details: { stage: s.stage } });
        } else {
          const by = approver(s.stage);
          const comment = s.to === 'denied' ? 'Not needed for this role' : null;
          store.requests.closePending(requestId(p), s.to, by, { stage: s.stage, comment });
          store.requests.recordDecision({ requestId: requestId(p), stage: s.stage, decision: s.to, by: { id: by.id!, name: by.name! }, comment });
          store.audit.append({ actor: by, action: `access.${s.to}`, target: requestId(p), outcome: 'success', correlationId: requestId(p), details: { stage: s.stage, stages: p.resource.stages.length, final: true, comment, turn: turn() } });
        }
        return;
      }
      case 'grant': {
        p.expiresAt = p.resource.defaultHours ? clock + p.resource.defaultHours * HOUR : undefined;
        const expiresAt = p.expiresAt ? new Date(p.expiresAt).toISOString() : null;
        store.requests.markGranted(requestId(p), new Date(clock).toISOString(), expiresAt);
        store.audit.append({ actor: SYSTEM, action: 'access.provisioned', target: requestId(p), outcome: 'success', correlationId: requestId(p), details: { groupId: p.resource.groupId, userId: p.requester.id, result: 'added', expiresAt, attempt: 1, supersedes: [] } });
        return;
      }
      case 'revoke':
        store.requests.endGrant(requestId(p), 'revoked');
        store.audit.append({ actor: SYSTEM, action: 'access.revoked', target: requestId(p), outcome: 'success', correlationId: requestId(p), details: { groupId: p.resource.groupId, userId: p.requester.id } });
        return;
    }
  };

  // Other activity, spread evenly over the year: a sign-in recovery (its session and steps),
  // a technician command, a ticket, a refused or unknown visitor.
  const filler = (n: number) => {
    const who = pick(people);
    const user = { id: who.id, name: who.displayName };
    const roll = n % 20;
    if (roll < 6) {
      const flow = roll < 3 ? 'password' : roll < 5 ? 'mfa' : 'unlock';
      const sr = `SR-${turn().slice(0, 8).toUpperCase()}`;
      const step = ['signin.recovery-started', 'signin.verification-requested', 'signin.verified', flow === 'password' ? 'signin.password-reset' : flow === 'mfa' ? 'signin.tap-issued' : 'signin.unlocked', 'signin.secret-hidden', 'signin.diagnosed'][n % 6]!;
      if (step === 'signin.recovery-started') {
        const session = store.recovery.create({ userId: who.id, userName: who.displayName, flow, privileged: false, requirement: { slots: [['code']] }, expiresAt: new Date(clock + 15 * 60_000) });
        store.audit.append({ actor: user, action: step, target: who.id, outcome: 'success', correlationId: session.id, details: { flow, privileged: false, requirement: [['code']] } });
      } else store.audit.append({ actor: user, action: step, target: who.id, outcome: 'success', correlationId: sr, details: { flow, method: 'code' } });
    } else if (roll < 14) {
      const tech = pick(TECHNICIANS);
      const command = pick(['whois', 'groups', 'mfa', 'members', 'unlock', 'audit', 'pending', 'report']);
      store.audit.append({ actor: tech, action: command === 'unlock' ? 'technician.unlocked' : `technician.${command}`, target: who.id, outcome: 'success', correlationId: `turn-${turn()}`, details: { command, subject: who.userPrincipalName } });
    } else if (roll < 15) {
      const t = store.technician.tickets.create(
        { type: pick(['signin', 'report', 'provisioning', 'escalation', 'general'] as const), title: `Sign-in problem reported for ${who.displayName}`, text: 'Reported in chat.', facts: [{ title: 'User', value: who.userPrincipalName }], requester: user, subject: user, sourceRef: null, slaHours: 8 },
        pick(TECHNICIANS),
      );
      // Most tickets are closed within a day or two; the most recent ones stay open.
      if (clock < NOW - 3 * DAY || random() < 0.5) store.technician.tickets.close(t.id, pick(TECHNICIANS), 'Done: verified by phone and fixed.');
      store.audit.append({ actor: pick(TECHNICIANS), action: 'ticket.closed', target: t.id, outcome: 'success', correlationId: t.id, details: { type: t.type } });
    } else if (roll < 17) {
      store.audit.append({ actor: { id: null, name: null }, action: 'helpdesk.access-refused', target: null, outcome: 'refused', correlationId: `turn-${turn()}`, details: { reason: 'unknown-user', activityType: 'message', conversationType: 'personal', claimedName: 'Visitor' } });
    } else {
      store.audit.append({ actor: user, action: pick(['helpdesk.menu-refused', 'access.decision-refused', 'signin.verification-failed']), target: who.id, outcome: roll === 17 ? 'refused' : ('failure' as AuditOutcome), correlationId: `turn-${turn()}`, details: { reason: 'not-an-approver', turn: turn() } });
    }
  };

  const fillerGap = (NOW - start) / Math.max(1, fillers);
  let nextFiller = start + fillerGap / 2;
  let filled = 0;
  let i = 0;
  const batch = 20_000;
  while (i < due.length || filled < fillers) {
    store.transaction(() => {
      for (let n = 0; n < batch && (i < due.length || filled < fillers); n++) {
        if (filled < fillers && (i >= due.length || nextFiller <= due[i]!.t)) {
          clock = Math.floor(nextFiller);
          filler(filled++);
          nextFiller += fillerGap;
        } else {
          const s = due[i++]!;
          clock = Math.floor(s.t);
          runStep(s);
        }
      }
    });
  }
  if (store.audit.count() !== spec.events) throw new Error(`generated ${store.audit.count()} events, wanted ${spec.events}`);
  const counts = store.db.prepare('SELECT actor_id AS id, count(*) AS n FROM audit_events WHERE actor_id IS NOT NULL GROUP BY actor_id ORDER BY n DESC').all() as Array<{ id: string; n: number }>;
  const requestIds = store.db.prepare("SELECT id FROM access_requests ORDER BY id LIMIT 1000").pluck().all() as string[];
  const probes = {
    actors: counts.filter((c) => c.id !== 'system').slice(0, 5).map((c) => c.id),
    // Someone in the directory who never acted (a disabled account): the query finds nothing.
    absentActor: tenant.users.find((u) => !u.accountEnabled)?.id ?? counts[counts.length - 1]!.id,
    actorName: byId.get(counts.find((c) => byId.has(c.id))!.id)!.displayName,
    correlationIds: Array.from({ length: 9 }, (_, k) => requestIds[Math.floor((k * requestIds.length) / 9)]!).concat(plans.slice(-3).map(requestId)),
  };
  store.close();
  return probes;
}

/** Opens a dataset's store (read and write, as the bot and the report command open it). */
export function openDataset(d: Dataset): Store {
  return openStore(d.file, () => new Date(d.now));
}
