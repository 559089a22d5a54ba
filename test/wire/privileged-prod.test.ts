import { describe, expect, it } from 'vitest';
import { useProductionBot } from '../support/production-rig';
import { TestClock } from '../support/harness';
import { demoPersona, demoTenant } from '../support/graph-setup';
import { cardOf, cardText, type TestUser } from '../support/teams-client';
import { actions, planOf, status } from '../technician/support';

/**
 * Production mode on the fake Graph, with the privileged groups configured: a Global
 * Administrator who is in none of them is still privileged (Graph's role assignments), so a
 * technician's tap needs a second technician; an eligible assignment counts the same; and when
 * the app may not read role assignments (403), every account is treated as privileged (fail
 * closed), with a log line that names the missing permission.
 */
const clock = new TestClock('2026-12-08T09:00:00.000Z');
// The configured list leaves out the technicians group: it is privileged whatever the list says.
const configured = demoTenant.privilegedGroupIds.filter((g) => g !== demoTenant.technicianGroupId);
const rig = useProductionBot({ dirPrefix: 'helpdesk-privileged-', clock, env: { GRAPH_RETRY_MAX_SECONDS: '1', RECOVERY_PRIVILEGED_GROUP_IDS: configured.join(',') } });

const sarah = () => demoPersona('technician');
const byName = (name: string) => demoTenant.users.find((u) => u.displayName === name)!;
const WAITING = "Waiting for Sarah Mitchell's confirmation and a second technician's approval (privileged account)";

async function say(user: TestUser, text: string): Promise<any[]> {
  const client = rig.client();
  const conv = client.channelConversationId();
  const before = rig.connector.sentTo(conv).length;
  expect((await client.message(user, text, { where: 'channel' })).status).toBe(200);
  return rig.connector.sentTo(conv).slice(before).map(cardOf).filter(Boolean);
}

async function cancel(card: any): Promise<void> {
  expect((await rig.client().invoke(sarah(), 'tech.cancel', { plan: planOf(card) }, { where: 'channel' })).status).toBe(200);
}

const inPrivilegedGroup = (id: string) => demoTenant.groups.some((g) => configured.includes(g.id) && g.members.includes(id));

describe('privileged in production: the technicians group and Entra directory roles through Graph', () => {
  it('another technician, whatever the configured list: tap waits for a second technician', async () => {
    const ahmed = byName('Ahmed Farouk');
    expect(inPrivilegedGroup(ahmed.id)).toBe(false);
    const [card] = await say(sarah(), `tap ${ahmed.userPrincipalName}`);
    expect(status(card)).toBe(WAITING);
    expect(cardText(card)).toMatch(/member of the technicians group/);
    await cancel(card);
  });

  it('a Global Administrator outside every privileged group: tap waits for a second technician', async () => {
    const priya = byName('Priya Raman');
    expect(inPrivilegedGroup(priya.id)).toBe(false);
    rig.graph.roleAssignments.push({ id: 'ra-ga', principalId: priya.id, roleDefinitionId: '62e90394-69f5-4237-9190-012177145e10', roleName: 'Global Administrator', kind: 'active' });
    const [card] = await say(sarah(), `tap ${priya.userPrincipalName}`);
    expect(status(card)).toBe(WAITING);
    expect(actions(card)).toContain('tech-approve');
    expect(cardText(card)).toMatch(/Global Administrator/);
    expect(rig.graph.requests.some((r) => r.path === '/roleManagement/directory/roleAssignments' && r.query.get('$filter') === `principalId eq '${priya.id}'`)).toBe(true);
    await cancel(card);
  });

  it('an eligible role (PIM) counts too: reset-password waits for a second technician', async () => {
    const mateo = byName('Mateo Alvarez');
    expect(inPrivilegedGroup(mateo.id)).toBe(false);
    rig.graph.roleAssignments.push({ id: 'ra-el', principalId: mateo.id, roleDefinitionId: 'fe930be7-5e62-47db-91af-98c3a49a38b1', roleName: 'User Administrator', kind: 'eligible' });
    const [card] = await say(sarah(), `reset-password ${mateo.userPrincipalName}`);
    expect(status(card)).toBe(WAITING);
    expect(cardText(card)).toMatch(/User Administrator \(eligible\)/);
    await cancel(card);
  });

  it('without RoleManagement.Read.Directory the answer is "privileged", never "not privileged", and the log says what is missing', async () => {
    const hannah = byName('Hannah Kowalski');
    expect(inPrivilegedGroup(hannah.id)).toBe(false);
    // Control: with the permission, an ordinary account needs no second technician.
    const [plain] = await say(sarah(), `reset-password ${hannah.userPrincipalName}`);
    expect(actions(plain)).not.toContain('tech-approve');
    await cancel(plain);

    rig.graph.grantedRoles = rig.graph.grantedRoles.filter((r) => r !== 'RoleManagement.Read.Directory');
    // A new process asks for a new token, with the roles granted now.
    await rig.restart();
    const [card] = await say(sarah(), `reset-password ${hannah.userPrincipalName}`);
    expect(status(card)).toBe(WAITING);
    expect(cardText(card)).toMatch(/directory roles unreadable/);
    expect(rig.logs.some((l) => l.action === 'privileged.lookup-failed' && /treated as privileged/.test(String(l.msg)))).toBe(true);
    await cancel(card);
  });
});
