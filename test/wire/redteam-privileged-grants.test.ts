import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness';
import { actions, groupsOf, planOf, press, sarah, say } from '../technician/support';

/**
 * Four eyes on making someone privileged, over the real server: a technician's grant of a
 * catalog resource whose group is a privileged group waits for a second technician, even when
 * the catalog rates it below high risk (which would otherwise let one technician grant it at once).
 */
let h: Harness;
let dir: string;
const PRODUCTION_ADMINS = '73d32ec8-68a1-432c-93bc-626fad345206';

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helpdesk-rt-grants-'));
  const catalog = JSON.parse(fs.readFileSync(path.join(__dirname, '../../directory/catalog.json'), 'utf8'));
  const resources = catalog.resources ?? catalog;
  const admin = resources.find((r: { id: string }) => r.id === 'production-admin');
  // A catalog that underrates a privileged group.
  admin.risk = 'medium';
  fs.writeFileSync(path.join(dir, 'catalog.json'), JSON.stringify(catalog));
  h = await startHarness({ ACCESS_CATALOG_PATH: path.join(dir, 'catalog.json') });
});

afterAll(async () => {
  await h?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('granting a privileged group', () => {
  it('one technician cannot grant it alone: the plan waits for a second technician, confirmed or not', async () => {
    const employee = h.user('employee');
    const { cards } = await say(h, sarah(h), `grant ${employee.userPrincipalName} production-admin --for 8h --reason incident`);
    await h.bot.scheduler.idle();
    expect(await groupsOf(h, employee.id)).not.toContain(PRODUCTION_ADMINS);
    const plan = planOf(cards[0]);
    expect(actions(cards[0])).toContain('tech-approve');
    const [proposed] = h.bot.store.audit.query({ action: 'technician.plan-proposed', correlationId: plan });
    expect(JSON.parse(proposed!.details)).toMatchObject({ privileged: true, fourEyes: expect.stringMatching(/privileged group/) });
    await press(h, sarah(h), 'tech.confirm', { plan });
    await h.bot.scheduler.idle();
    expect(await groupsOf(h, employee.id)).not.toContain(PRODUCTION_ADMINS);
    expect(h.bot.store.audit.query({ action: 'technician.plan-approved', correlationId: plan })).toEqual([]);
  });
});
