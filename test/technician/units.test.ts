import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../bot/config';
import { DEFAULT_SLA_HOURS } from '../../bot/technician-config';
import { BirthrightError, birthrightFor, loadBirthrightRules, parseBirthrightRules } from '../../directory/birthright';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { openStore, type Store } from '../../store/store';
import { TestClock } from '../support/harness';

describe('technician configuration', () => {
  it('has defaults: any channel, 30-minute plans, SLA by type, the bundled rules', () => {
    const c = loadConfig({});
    expect(c.technicians).toEqual({ channelIds: null, planMinutes: 30, slaHours: DEFAULT_SLA_HOURS, birthrightPath: null });
  });

  it('reads the channel allow-list, plan minutes, SLA overrides and the rules file', () => {
    const c = loadConfig({ TECHNICIAN_CHANNEL_IDS: '19:a@thread.tacv2, 19:b@thread.tacv2', TECHNICIAN_PLAN_MINUTES: '45', TICKET_SLA_HOURS: 'signin=2, provisioning=12', BIRTHRIGHT_RULES_PATH: 'rules.json' });
    expect(c.technicians.channelIds).toEqual(['19:a@thread.tacv2', '19:b@thread.tacv2']);
    expect(c.technicians.planMinutes).toBe(45);
    expect(c.technicians.slaHours).toEqual({ ...DEFAULT_SLA_HOURS, signin: 2, provisioning: 12 });
    expect(c.technicians.birthrightPath).toBe(path.resolve('rules.json'));
  });

  it('names the variable at fault', () => {
    expect(() => loadConfig({ TECHNICIAN_CHANNEL_IDS: 'general' })).toThrow(ConfigError);
    expect(() => loadConfig({ TECHNICIAN_CHANNEL_IDS: 'general' })).toThrow(/TECHNICIAN_CHANNEL_IDS must be a comma-separated list of Teams channel ids/);
    expect(() => loadConfig({ TECHNICIAN_PLAN_MINUTES: '2' })).toThrow(/TECHNICIAN_PLAN_MINUTES must be between 5 and 1440/);
    expect(() => loadConfig({ TICKET_SLA_HOURS: 'signin=0' })).toThrow(/TICKET_SLA_HOURS must be a comma-separated list of type=hours.*not "signin=0"/);
    expect(() => loadConfig({ TICKET_SLA_HOURS: 'coffee=4' })).toThrow(/not "coffee=4"/);
  });
});

describe('birthright rules', () => {
  const tenant = loadDemoTenant();
  const rules = loadBirthrightRules();

  it('the bundled rules name groups of the demo tenant, none of them privileged', () => {
    const ids = new Set(tenant.groups.map((g) => g.id));
    for (const r of rules.rules) {
      for (const g of r.groups) {
        expect(ids.has(g), `${r.name}: ${g}`).toBe(true);
        expect(tenant.privilegedGroupIds, `${r.name} gives a privileged group`).not.toContain(g);
      }
    }
  });

  it('apply by department (ignoring case) and words of the title', () => {
    const name = (id: string) => tenant.groups.find((g) => g.id === id)!.displayName;
    expect(birthrightFor(rules, 'finance', 'Accountant').groups.map(name)).toEqual(['All Staff', 'Finance Department', 'App - ERP Finance', 'App - Expense Reporting']);
    expect(birthrightFor(rules, 'Operations', 'Warehouse Supervisor')).toMatchObject({ rules: ['Everyone', 'Operations', 'Warehouse staff'] });
    expect(birthrightFor(rules, 'Sales', 'Sales Manager, EMEA').rules).toEqual(['Everyone', 'Sales', 'Managers']);
    expect(birthrightFor(rules, null, null).rules).toEqual(['Everyone']);
    expect(birthrightFor(rules, 'Nowhere', 'Astronaut').groups.map(name)).toEqual(['All Staff']);
  });

  it('a bad file is refused with its problems', () => {
    expect(() => parseBirthrightRules({ rules: [{ name: 'x', groups: ['not-a-guid'] }] })).toThrow(/rules\.0\.groups\.0: must be a lowercase GUID/);
    expect(() => parseBirthrightRules({ rules: [{ name: 'x', groups: [tenant.groups[0]!.id] }, { name: 'X', groups: [tenant.groups[0]!.id] }] })).toThrow(/"X" is defined twice/);
    expect(() => parseBirthrightRules({ rules: [{ name: 'x', groups: [tenant.groups[0]!.id], location: 'Berlin' }] })).toThrow(BirthrightError);
    expect(() => loadBirthrightRules('/nonexistent/rules.json')).toThrow(/Invalid birthright rules \/nonexistent\/rules\.json/);
  });
});

describe('technician store', () => {
  let dir: string;
  let store: Store;
  let clock: TestClock;
  const sarah = { id: 'e41b629b-bea9-48c7-87aa-7659b7d30756', name: 'Sarah Mitchell' };
  const ahmed = { id: '367a2f5f-ecca-4498-9293-ad69ba8979c0', name: 'Ahmed Farouk' };
  const subject = { id: '957e5a6d-0c8b-4f46-aca9-a39f53ef71e8', name: 'Emily Chen', upn: 'emily.chen@northwind.example' };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-techstore-'));
    clock = new TestClock();
    store = openStore(path.join(dir, 'helpdesk.db'), clock.now);
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('numbers tickets and plans from 1001; a ticket is assigned, breached and closed once', () => {
    const t = store.technician.tickets.create({ type: 'signin', title: 't', text: 'x', facts: [], requester: sarah, subject, sourceRef: 'SR-1', slaHours: 4 }, sarah);
    expect(t).toMatchObject({ id: 'TKT-1001', state: 'open', slaDueAt: '2026-03-02T13:00:00.000Z' });
    expect(store.technician.tickets.openFromSource('SR-1', 't')!.id).toBe('TKT-1001');
    expect(store.technician.tickets.assign(t.id, ahmed)).toBe(true);
    expect(store.technician.tickets.markBreached(t.id)).toBe(true);
    expect(store.technician.tickets.markBreached(t.id)).toBe(false);
    expect(store.technician.tickets.close(t.id, ahmed, 'done')).toBe(true);
    expect(store.technician.tickets.close(t.id, sarah, 'again')).toBe(false);
    expect(store.technician.tickets.assign(t.id, sarah)).toBe(false);
    expect(store.technician.tickets.get(t.id)).toMatchObject({ state: 'closed', closedBy: ahmed, closeNote: 'done', assignee: ahmed });
    expect(store.technician.tickets.openFromSource('SR-1', 't')).toBeNull();
  });

  it('a plan is approved by someone other than its proposer, once, and starts once', () => {
    const p = store.technician.plans.create({ command: 'disable', actor: sarah, subject, args: { rerun: 'x' }, steps: [{ kind: 'disable' }], signature: 's', privileged: true, expiresAt: new Date('2026-03-02T09:30:00Z'), correlationId: 'c' });
    expect(p).toMatchObject({ id: 'PLN-1001', state: 'proposed', privileged: true, progress: [{ status: 'pending', detail: '' }] });
    expect(store.technician.plans.approve(p.id, sarah)).toBe(false);
    expect(store.technician.plans.approve(p.id, ahmed)).toBe(true);
    expect(store.technician.plans.approve(p.id, ahmed)).toBe(false);
    expect(store.technician.plans.markConfirmed(p.id)).toBe(true);
    expect(store.technician.plans.replan(p.id, [{ kind: 'disable' }, { kind: 'revoke-sessions' }], 't', true, new Date('2026-03-02T10:00:00Z'))).toBe(true);
    expect(store.technician.plans.get(p.id)).toMatchObject({ confirmedAt: null, approvedBy: { id: null }, signature: 't' });
    expect(store.technician.plans.start(p.id)).toBe(true);
    expect(store.technician.plans.start(p.id)).toBe(false);
    expect(store.technician.plans.end(p.id, 'cancelled')).toBe(false);
    expect(store.technician.plans.finish(p.id, 'done', [])).toBe(true);
    expect(store.technician.plans.finish(p.id, 'partial', [])).toBe(false);
  });

  it('a prompt is claimed once; audit search finds by actor, target or correlation, after a time', () => {
    store.technician.prompts.create('PICK-1', sarah.id, 'pick', { a: 1 }, new Date('2026-03-02T09:15:00Z'));
    expect(store.technician.prompts.claim('PICK-1')).toBe(true);
    expect(store.technician.prompts.claim('PICK-1')).toBe(false);
    store.audit.append({ actor: sarah, action: 'a.one', target: subject.id, outcome: 'success' });
    clock.advance(60_000);
    store.audit.append({ actor: { id: subject.id, name: 'Emily' }, action: 'a.two', outcome: 'success' });
    store.audit.append({ actor: sarah, action: 'a.three', target: 'REQ-1', outcome: 'success', correlationId: 'REQ-1' });
    store.audit.append({ actor: sarah, action: 'a.four', target: 'other', outcome: 'success' });
    expect(store.technician.auditSearch.about(subject.id).map((e) => e.action)).toEqual(['a.one', 'a.two']);
    expect(store.technician.auditSearch.about([subject.id, 'REQ-1']).map((e) => e.action)).toEqual(['a.one', 'a.two', 'a.three']);
    expect(store.technician.auditSearch.about(subject.id, { since: '2026-03-02T09:00:30.000Z' }).map((e) => e.action)).toEqual(['a.two']);
    expect(store.technician.auditSearch.about([subject.id, 'REQ-1'], { afterSeq: 1, limit: 1 }).map((e) => e.action)).toEqual(['a.two']);
    expect(store.technician.auditSearch.latestAbout([subject.id, 'REQ-1'], 2).map((e) => e.action)).toEqual(['a.two', 'a.three']);
  });
});
