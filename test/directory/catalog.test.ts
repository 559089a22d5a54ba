import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { areIncompatible, CatalogError, durationHours, findResourceById, loadCatalog, parseCatalog, resolveLeading, resolveResource, searchResources } from '../../directory/catalog';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { loadResources } from '../../bot/nlu/resources';

const catalog = loadCatalog();
const tenant = loadDemoTenant();

function valid(): any {
  return {
    resources: [
      { id: 'a', name: 'Alpha', aliases: ['first'], description: 'd', groupId: '00000000-0000-4000-8000-000000000001', risk: 'low', stages: [{ approver: 'manager' }], justificationRequired: false, defaultDuration: '1d', maxDuration: '2w', permanentAllowed: false, incompatibleWith: [] },
      { id: 'b', name: 'Beta', aliases: [], description: 'd', groupId: '00000000-0000-4000-8000-000000000002', risk: 'high', stages: [{ approver: 'manager' }, { approver: 'group', groupId: '00000000-0000-4000-8000-000000000003', label: 'Security' }], justificationRequired: true, defaultDuration: '8h', maxDuration: '7d', permanentAllowed: false, incompatibleWith: ['a'] },
    ],
  };
}

describe('the bundled catalog', () => {
  it('covers low, medium and high risk, with two stages for the high-risk items', () => {
    const risks = new Set(catalog.resources.map((r) => r.risk));
    expect([...risks].sort()).toEqual(['high', 'low', 'medium']);
    for (const r of catalog.resources.filter((x) => x.risk === 'high')) expect(r.stages.length).toBe(2);
    expect(findResourceById(catalog, 'payroll-reports')!.stages.map((s) => s.approver)).toEqual(['manager', 'owners']);
    expect(findResourceById(catalog, 'production-admin')!.stages.map((s) => s.approver)).toEqual(['manager', 'group']);
  });

  it('names only groups of the demo tenant, and none that makes someone a technician or global admin', () => {
    const groups = new Set(tenant.groups.map((g) => g.id));
    for (const r of catalog.resources) {
      expect(groups.has(r.groupId), r.id).toBe(true);
      for (const s of r.stages) if (s.approver === 'group') expect(groups.has(s.groupId)).toBe(true);
    }
    const ids = catalog.resources.map((r) => r.groupId);
    expect(ids).not.toContain(tenant.technicianGroupId);
    expect(ids).not.toContain(tenant.groups.find((g) => g.displayName === 'Global Admins')!.id);
  });

  it('is time-bound by default; permanent only where allowed; defaults within the maximum', () => {
    for (const r of catalog.resources) expect(r.defaultHours).toBeLessThanOrEqual(r.maxHours);
    expect(catalog.resources.filter((r) => r.permanentAllowed).map((r) => r.id).sort()).toEqual(['expense-reporting', 'vpn']);
  });

  it('keeps payroll and the HR portal apart (separation of duties), whichever side is asked', () => {
    const payroll = findResourceById(catalog, 'payroll-reports')!;
    const hr = findResourceById(catalog, 'hr-portal-admin')!;
    expect(areIncompatible(payroll, hr)).toBe(true);
    expect(areIncompatible(hr, payroll)).toBe(true);
    expect(areIncompatible(payroll, findResourceById(catalog, 'vpn')!)).toBe(false);
  });

  it('is the only list of requestable resources: the recognizer reads it, there is no second file', () => {
    expect(loadResources()).toEqual(catalog.resources);
    expect(fs.existsSync(path.resolve(__dirname, '../../directory/resources.json'))).toBe(false);
  });
});

describe('finding a resource', () => {
  it.each([
    ['payroll', 'payroll-reports'],
    ['the Payroll Reports', 'payroll-reports'],
    ['payroll reports access', 'payroll-reports'],
    ['VPN', 'vpn'],
    ['remote access', 'vpn'],
    ['access to the crm', 'crm'],
    ['Production-Admin', 'production-admin'],
    ['the CRM app', 'crm'],
  ])('"%s" is %s', (phrase, id) => {
    expect(resolveResource(catalog, phrase)?.id).toBe(id);
  });

  it.each(['help with payroll shipping', 'the moon', '', 'access'])('"%s" is nothing', (phrase) => {
    expect(resolveResource(catalog, phrase)).toBeUndefined();
  });

  it('finds the resource at the start of a longer phrase', () => {
    expect(resolveLeading(catalog, 'payroll reports until friday')?.id).toBe('payroll-reports');
    expect(resolveLeading(catalog, 'the vpn please')?.id).toBe('vpn');
    expect(resolveLeading(catalog, 'moon base')).toBeUndefined();
  });

  it('suggests by words', () => {
    expect(searchResources(catalog, 'salary stuff').map((r) => r.id)).toContain('payroll-reports');
    expect(searchResources(catalog, 'the')).toEqual([]);
  });
});

describe('loading a catalog', () => {
  it('accepts a valid one and converts durations to hours', () => {
    const c = parseCatalog(valid());
    expect(c.resources[1]).toMatchObject({ defaultHours: 8, maxHours: 168, stages: [{ approver: 'manager' }, { approver: 'group', label: 'Security' }] });
    expect(durationHours('2w')).toBe(336);
  });

  it.each([
    ['no stages', (c: any) => (c.resources[0].stages = []), /needs 1 to 3 approval stages/],
    ['four stages', (c: any) => (c.resources[0].stages = Array(4).fill({ approver: 'manager' })), /needs 1 to 3 approval stages/],
    ['unknown approver', (c: any) => (c.resources[0].stages = [{ approver: 'ceo' }]), /stages/],
    ['group stage without a group', (c: any) => (c.resources[0].stages = [{ approver: 'group', label: 'x' }]), /groupId/],
    ['bad risk', (c: any) => (c.resources[0].risk = 'extreme'), /risk/],
    ['bad duration', (c: any) => (c.resources[0].maxDuration = '2 weeks'), /maxDuration: must be a number followed by h, d or w/],
    ['default over max', (c: any) => (c.resources[0].defaultDuration = '30d'), /defaultDuration: longer than maxDuration/],
    ['unknown incompatible id', (c: any) => (c.resources[1].incompatibleWith = ['zzz']), /incompatibleWith: no resource zzz/],
    ['incompatible with itself', (c: any) => (c.resources[1].incompatibleWith = ['b']), /cannot name itself/],
    ['duplicate alias', (c: any) => (c.resources[1].aliases = ['First']), /"first" is also used by a/],
    ['duplicate id', (c: any) => (c.resources[1].id = 'a'), /the id is used twice/],
    ['group id not a GUID', (c: any) => (c.resources[0].groupId = 'payroll'), /groupId: must be a lowercase GUID/],
    ['unknown key', (c: any) => (c.resources[0].owner = 'me'), /Unrecognized key/],
  ])('refuses %s, naming the problem', (_name, change, message) => {
    const c = valid();
    change(c);
    expect(() => parseCatalog(c, 'test.json')).toThrow(CatalogError);
    expect(() => parseCatalog(c, 'test.json')).toThrow(message);
  });

  it('names a file it cannot read', () => {
    expect(() => loadCatalog('/nonexistent/catalog.json')).toThrow(/Invalid access catalog \/nonexistent\/catalog.json/);
  });
});
