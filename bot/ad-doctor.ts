import { AdDirectory } from '../directory/ad-directory';
import { ForbiddenError } from '../directory/directory';
import { text, USER_FILTER, GROUP_FILTER } from '../directory/ad/entries';
import { AdConnectionError } from '../directory/ad/errors';
import { parseFilter } from '../directory/ad/filter';
import type { AdDirectoryConfig } from './config';
import { adDirectoryOptions } from './directory-setup';

/** LDAP paged results control: without it, AD answers at most 1000 entries. */
const PAGED_RESULTS = '1.2.840.113556.1.4.319';
const WHO_AM_I = '1.3.6.1.4.1.4203.1.11.3';

type Status = 'ok' | 'MISSING' | 'CHECK' | 'ERROR';

/** A helpdesk feature on AD and the attributes the service account must be able to write for it. */
interface AdFeature {
  name: string;
  on: 'user' | 'group' | null;
  writes: string[];
  /** What to delegate when it is missing. */
  delegate: string;
  /** A right that no read can show (Reset Password): reported as CHECK when the rest is there. */
  unreadable?: string;
}

/** The features, in the order of the delegation list in docs/deploy.md. */
export const AD_FEATURES: AdFeature[] = [
  { name: 'Know who is asking (users, managers)', on: null, writes: [], delegate: 'read access to the OU (Authenticated Users have it by default)' },
  { name: 'Group membership, nested groups included', on: null, writes: [], delegate: 'read access to the groups' },
  {
    name: 'Know who is privileged (protected groups by SID, adminCount; without it every account is treated as privileged)',
    on: null,
    writes: [],
    delegate: 'Read tokenGroups: add the service account to the Windows Authorization Access Group',
  },
  { name: 'Grant and remove group access', on: 'group', writes: ['member'], delegate: 'Write member on group objects' },
  { name: 'Enable and disable accounts', on: 'user', writes: ['userAccountControl'], delegate: 'Write userAccountControl on user objects' },
  { name: 'Unlock accounts', on: 'user', writes: ['lockoutTime'], delegate: 'Write lockoutTime on user objects' },
  { name: 'Profile updates of movers', on: 'user', writes: ['department', 'title', 'manager'], delegate: 'Write department, title and manager on user objects' },
  {
    name: 'Reset passwords',
    on: 'user',
    writes: ['pwdLastSet'],
    delegate: 'Write pwdLastSet on user objects',
    unreadable: 'the Reset Password extended right on user objects',
  },
];

/**
 * The Active Directory half of `npm run doctor`: connects as the bot would (TLS verified),
 * signs in as the service account, reads the base DN, the password policy and one user and
 * group, and asks AD which attributes the account may write on them (allowedAttributesEffective).
 * Nothing is changed. Returns 0 when every feature will work, 1 otherwise, 2 when the
 * configuration cannot be used. The password never appears.
 */
export async function diagnoseAd(c: AdDirectoryConfig, say: (line?: string) => void): Promise<number> {
  say(`Active Directory: ${c.urls.join(', ')}${c.tlsServerName ? ` (certificate name ${c.tlsServerName})` : ''}${c.caFile ? `, CA ${c.caFile}` : ''}`);
  say(`  service account: ${c.bind.kind === 'password' ? c.bind.bindDn : `client certificate ${c.bind.certificatePath}`}`);
  let ad: AdDirectory;
  try {
    ad = AdDirectory.create({ ...adDirectoryOptions(c), healthCacheMs: 0 });
  } catch (e) {
    say(`Configuration: cannot run. ${(e as Error).message}`);
    return 2;
  }
  try {
    return await diagnose(ad, c.bind.kind === 'password' ? c.bind.bindDn : 'the account of the client certificate', say);
  } finally {
    await ad.close();
  }
}

async function diagnose(ad: AdDirectory, account: string, say: (line?: string) => void): Promise<number> {
  let identity: string;
  let paged: boolean;
  try {
    ({ identity, paged } = await ad.pool.run(async (client) => {
      const who = await client.exop(WHO_AM_I).catch(() => ({ value: undefined }));
      const root = await client.search('', { scope: 'base', attributes: ['supportedControl'] });
      const controls = root.searchEntries[0]?.supportedControl;
      const list = Array.isArray(controls) ? controls.map(String) : controls ? [String(controls)] : [];
      // "Who am I" (RFC 4532) names the account AD resolved; not every server offers it.
      return { identity: who.value ? String(who.value).replace(/^u:/, '') : account, paged: list.includes(PAGED_RESULTS) };
    }));
  } catch (e) {
    say(`Connection: FAILED. ${(e as Error).message}`);
    say(`  ${hint(e)}`);
    return 1;
  }
  say(`Connection: ok (TLS verified${ad.pool.lastUrl?.startsWith('ldap:') ? ', StartTLS' : ''}), signed in as ${identity}`);
  if (!paged) say('  WARNING: the server does not offer paged results; lists are cut at its size limit');

  let base: string;
  try {
    base = await ad.baseDn();
    await ad.pool.run((client) => client.search(base, { scope: 'base', attributes: ['1.1'] }));
  } catch (e) {
    say(`Base DN: FAILED. ${(e as Error).message}`);
    say('  Set AD_BASE_DN to the OU that holds the people and groups the helpdesk serves.');
    return 1;
  }
  say(`Base DN: ${base}`);
  try {
    const p = await ad.passwordPolicy();
    say(
      `Password policy: at least ${p.minLength} characters${p.complexity ? ', complexity on' : ''}, history ${p.historyLength}; ` +
        (p.lockoutThreshold > 0
          ? `lockout after ${p.lockoutThreshold} failed sign-ins ${p.lockoutDurationMs === null ? 'until unlocked' : `for ${Math.round(p.lockoutDurationMs / 60_000)} min`}`
          : 'no lockout'),
    );
  } catch (e) {
    say(`Password policy: could not be read (${(e as Error).message})`);
  }

  const sample = await ad.pool.run(async (client) => {
    const one = async (filter: string) => {
      const r = await client.search(base, { scope: 'sub', filter: parseFilter(filter), attributes: ['allowedAttributesEffective', 'cn'], sizeLimit: 1 });
      const e = r.searchEntries[0];
      if (!e) return null;
      const v = e.allowedAttributesEffective;
      return { dn: e.dn, name: text(e, 'cn') ?? e.dn, writable: new Set((Array.isArray(v) ? v : v ? [v] : []).map((x) => String(x).toLowerCase())) };
    };
    return { user: await one(USER_FILTER), group: await one(GROUP_FILTER) };
  });
  if (!sample.user) {
    say(`No user could be read under ${base}, so no feature can be checked further.`);
    return 1;
  }
  say(`Checked on user ${sample.user.name}${sample.group ? ` and group ${sample.group.name}` : ''}.`);
  say();
  say('Active Directory features:');
  let working = 0;
  for (const f of AD_FEATURES) {
    const { status, detail } = await check(ad, f, sample);
    if (status === 'ok' || status === 'CHECK') working++;
    say(`  ${status.padEnd(8)} ${f.name}${detail ? `: ${detail}` : ''}`);
  }
  say();
  say(`${working} of ${AD_FEATURES.length} Active Directory features will work.`);
  if (working < AD_FEATURES.length) {
    say('Delegate the missing rights on the OU to the service account (Active Directory Users and Computers >');
    say('the OU > Delegate Control, or dsacls); docs/deploy.md lists them.');
    return 1;
  }
  return 0;
}

type Sample = { dn: string; name: string; writable: Set<string> } | null;

async function check(ad: AdDirectory, f: AdFeature, sample: { user: Sample; group: Sample }): Promise<{ status: Status; detail: string }> {
  if (f.on === null) {
    try {
      const users = await ad.searchUsers(sample.user!.name.split(/\s+/)[0] ?? 'a', 1);
      const u = users[0];
      if (u && f.name.startsWith('Group')) await ad.listUserGroups(u.id);
      if (u && f.name.startsWith('Know who is privileged')) await ad.listPrivilegedRoles(u.id);
      return { status: 'ok', detail: '' };
    } catch (e) {
      if (e instanceof ForbiddenError) return { status: 'MISSING', detail: `needs ${f.delegate}` };
      return { status: 'ERROR', detail: (e as Error).message };
    }
  }
  const target = f.on === 'user' ? sample.user : sample.group;
  if (!target) return { status: 'ERROR', detail: `no ${f.on} could be read under the base DN` };
  const missing = f.writes.filter((a) => !target.writable.has(a.toLowerCase()));
  if (missing.length > 0) return { status: 'MISSING', detail: `needs ${f.delegate}` };
  if (f.unreadable) return { status: 'CHECK', detail: `${f.writes.join(', ')} writable; make sure the account also holds ${f.unreadable} (no read shows it)` };
  return { status: 'ok', detail: '' };
}

function hint(e: unknown): string {
  if (e instanceof AdConnectionError) {
    switch (e.reason) {
      case 'tls':
        return 'Check AD_CA_FILE (the CA that issued the DC certificates) and AD_TLS_SERVER_NAME (the name in the certificate).';
      case 'bind':
        return 'Check AD_BIND_DN and AD_BIND_PASSWORD (or the client certificate), and that the account is enabled and not locked.';
      case 'timeout':
      case 'unreachable':
        return 'Check AD_URL, the network path and the firewall (LDAPS is TCP 636; StartTLS uses 389).';
      default:
        return 'Try again; the domain controller was busy.';
    }
  }
  return 'Check AD_URL and the network path.';
}
