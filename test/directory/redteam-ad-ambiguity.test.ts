import type { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdDirectory } from '../../directory/ad-directory';
import { loadDemoTenant } from '../../directory/demo-tenant';
import { AmbiguousUserError, InvalidInputError } from '../../directory/directory';
import { resolveUser } from '../../dialogs/technician/resolve';
import { DEMO_PASSWORD, adDirectoryFor, ldapClient, startDemoSamba } from '../support/ad-setup';
import type { SambaDc, SambaSeedUser } from '../support/samba';

/**
 * Active Directory keeps no uniqueness on `mail` or `proxyAddresses`: an administrator's second
 * account often carries the owner's address. A lookup by that address must ask which account,
 * never act on whichever the DC returned first. Against a real Samba AD DC.
 */
const tenant = loadDemoTenant();
const LAB = 'Lab,Northwind';
const SHARED = 'ops.lead@northwind.example';
const lab = (key: string, cn: string, sam: string, attrs: Record<string, string | null>): SambaSeedUser => ({
  key,
  ou: LAB,
  cn,
  sam,
  upn: `${sam}@northwind.example`,
  password: DEMO_PASSWORD,
  attrs: { displayName: cn, ...attrs },
});
const users: SambaSeedUser[] = [
  lab('daily', 'Noor Haddad', 'noor.haddad', { givenName: 'Noor', sn: 'Haddad', mail: SHARED }),
  lab('admin', 'Noor Haddad (admin)', 'adm-noor.haddad', { givenName: 'Noor', sn: 'Haddad', mail: SHARED }),
  lab('alias', 'Alias Holder', 'alias.holder', { mail: 'alias.holder@northwind.example', proxyAddresses: 'smtp:shared.alias@northwind.example' }),
  lab('aliasmail', 'Mail Holder', 'mail.holder', { mail: 'shared.alias@northwind.example' }),
];

let dc: SambaDc;
let admin: Client;
let d: AdDirectory;

beforeAll(async () => {
  dc = await startDemoSamba(tenant, { ous: [LAB], users, groups: [] });
  admin = await ldapClient(dc);
  d = adDirectoryFor(dc);
}, 120_000);

afterAll(async () => {
  await d?.close();
  await admin?.unbind().catch(() => undefined);
  await dc?.stop();
});

const id = (key: string): string => dc.objects[key]!.guid;

describe('an address that more than one AD account carries', () => {
  it('findUserByMail refuses to pick: AmbiguousUserError (an InvalidInputError) with both accounts', async () => {
    const err = await d.findUserByMail(SHARED).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AmbiguousUserError);
    expect(err).toBeInstanceOf(InvalidInputError);
    const amb = err as AmbiguousUserError;
    expect(amb.candidates.map((u) => u.id).sort()).toEqual([id('daily'), id('admin')].sort());
    expect(amb.message).toMatch(/^2 accounts match \(.*adm-noor\.haddad@northwind\.example.*\): name one by its sign-in name or object id$/);
    // Also when one account has it as mail and another as an smtp: alias.
    const alias = await d.findUserByMail('shared.alias@northwind.example').then(
      () => null,
      (e: unknown) => e as AmbiguousUserError,
    );
    expect(alias?.candidates.map((u) => u.id).sort()).toEqual([id('alias'), id('aliasmail')].sort());
  });

  it('the sign-in name still names one account, and an address only one account has still finds it', async () => {
    expect((await d.findUserByUpn('adm-noor.haddad@northwind.example'))?.id).toBe(id('admin'));
    expect((await d.findUserByMail('alias.holder@northwind.example'))?.id).toBe(id('alias'));
    expect(await d.findUserByMail('nobody.here@northwind.example')).toBeNull();
  });

  it('a technician naming the shared address gets both accounts to pick from, never one of them', async () => {
    const r = await resolveUser(d, SHARED);
    expect(r.kind).toBe('many');
    expect(r.kind === 'many' && r.values.map((u) => u.id).sort()).toEqual([id('daily'), id('admin')].sort());
    const one = await resolveUser(d, 'noor.haddad@northwind.example');
    expect(one.kind === 'one' && one.value.id).toBe(id('daily'));
  });
});
