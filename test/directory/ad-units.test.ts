import { BusyError, EqualityFilter, InsufficientAccessError, InvalidCredentialsError, NoSuchObjectError, OrFilter, UnwillingToPerformError } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { AD_OPERATIONS } from '../../directory/ad-directory';
import { byName, dnsDomainOf, matchesAll, searchWords, toUser } from '../../directory/ad/entries';
import { AdConnectionError, bindFailureReason, connectionError, isConnectionFailure, toDirectoryError } from '../../directory/ad/errors';
import { and, contains, equals, equalsBytes, escapeFilterBytes, escapeFilterValue, inChain, or, parseFilter, startsWith } from '../../directory/ad/filter';
import { anchorBytesFromImmutableId, guidFromBytes, guidToBytes, immutableIdFromBytes, sidFromBytes, sidToBytes } from '../../directory/ad/guid';
import { encodeUnicodePwd, isPasswordPolicyRefusal, passwordPolicyMessage } from '../../directory/ad/password';
import { LdapPool } from '../../directory/ad/pool';
import { protectedRoles, protectedSidName, sidToString } from '../../directory/ad/protected';
import { ATTID_UNICODE_PWD, attributeChangeTime, dateToFileTime, fileTimeToDate, intervalToMs } from '../../directory/ad/time';
import { DirectoryError, ForbiddenError, NotFoundError, ThrottledError } from '../../directory/directory';

describe('LDAP filters (RFC 4515)', () => {
  it('escapes the five special characters and nothing else', () => {
    expect(escapeFilterValue('*)(uid=*')).toBe('\\2a\\29\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\u0000c')).toBe('a\\5cb\\00c');
    expect(escapeFilterValue("Inès O'Brien-Łukasz")).toBe("Inès O'Brien-Łukasz");
    expect(escapeFilterBytes(Buffer.from([0x00, 0x9f, 0xff]))).toBe('\\00\\9f\\ff');
  });

  it('builds filters whose values cannot add clauses', () => {
    expect(equals('userPrincipalName', 'x)(|(cn=*')).toBe('(userPrincipalName=x\\29\\28|\\28cn=\\2a)');
    expect(startsWith('sn', 'o*')).toBe('(sn=o\\2a*)');
    expect(contains('displayName', '(a)')).toBe('(displayName=*\\28a\\29*)');
    expect(inChain('member', 'CN=A (x),DC=c')).toBe('(member:1.2.840.113556.1.4.1941:=CN=A \\28x\\29,DC=c)');
    expect(and('(a=1)', '(b=2)')).toBe('(&(a=1)(b=2))');
    expect(or('(a=1)')).toBe('(a=1)');
    expect(() => equals('cn)(objectClass', 'x')).toThrow(/Not an LDAP attribute name/);
    expect(() => equals('', 'x')).toThrow();
  });

  it('keeps binary values as bytes and text values as text when parsed for sending', () => {
    const bytes = guidToBytes('957e5a6d-0c8b-4f46-aca9-a39f53ef71e8');
    const f = parseFilter(or(equalsBytes('objectGUID', bytes), equals('givenName', 'Zoë (x)')));
    expect(f).toBeInstanceOf(OrFilter);
    const [g, n] = (f as OrFilter).filters as EqualityFilter[];
    expect(Buffer.isBuffer(g!.value) && g!.value.equals(bytes)).toBe(true);
    expect(n!.value).toBe('Zoë (x)');
  });
});

describe('objectGUID, immutable id and SID', () => {
  it('reads the mixed-endian bytes into the text form', () => {
    const bytes = Buffer.from('6d5a7e958b0c464faca9a39f53ef71e8', 'hex');
    expect(guidFromBytes(bytes)).toBe('957e5a6d-0c8b-4f46-aca9-a39f53ef71e8');
    expect(guidToBytes('957E5A6D-0C8B-4F46-ACA9-A39F53EF71E8').equals(bytes)).toBe(true);
    expect(() => guidFromBytes(Buffer.alloc(15))).toThrow();
    expect(() => guidToBytes('nope')).toThrow();
  });

  it("turns anchors into Entra's onPremisesImmutableId and back; other anchors are not GUIDs", () => {
    const bytes = guidToBytes('957e5a6d-0c8b-4f46-aca9-a39f53ef71e8');
    const id = immutableIdFromBytes(bytes);
    expect(id).toBe('bVp+lYsMRk+sqaOfU+9x6A==');
    expect(anchorBytesFromImmutableId(id)!.equals(bytes)).toBe(true);
    expect(anchorBytesFromImmutableId(Buffer.from('EMP-004711').toString('base64'))).toBeNull();
    expect(anchorBytesFromImmutableId('not base64 at all')).toBeNull();
  });

  it('reads and writes SIDs', () => {
    const sid = 'S-1-5-21-1123558213-1290261758-2302230804-1105';
    expect(sidFromBytes(sidToBytes(sid))).toBe(sid);
    expect(() => sidToBytes('S-x')).toThrow();
  });
});

describe('AD time', () => {
  it('converts FILETIME, with 0 and "never" as no date', () => {
    const d = new Date('2026-11-25T13:05:00.000Z');
    expect(fileTimeToDate(dateToFileTime(d))?.toISOString()).toBe(d.toISOString());
    expect(fileTimeToDate('0')).toBeNull();
    expect(fileTimeToDate('9223372036854775807')).toBeNull();
    expect(fileTimeToDate('x')).toBeNull();
    expect(intervalToMs('-18000000000')).toBe(30 * 60_000);
    expect(intervalToMs('-9223372036854775808')).toBeNull();
  });

  it('finds when unicodePwd changed in replPropertyMetaData', () => {
    const at = new Date('2026-11-25T13:05:07.000Z');
    const entry = (attid: number, seconds: bigint) => {
      const b = Buffer.alloc(48);
      b.writeUInt32LE(attid, 0);
      b.writeUInt32LE(3, 4);
      b.writeBigUInt64LE(seconds, 8);
      return b;
    };
    const seconds = BigInt(at.getTime()) / 1000n + 11_644_473_600n;
    const header = Buffer.alloc(16);
    header.writeUInt32LE(1, 0);
    header.writeUInt32LE(2, 8);
    const blob = Buffer.concat([header, entry(0x90001, 1n), entry(ATTID_UNICODE_PWD, seconds)]);
    expect(attributeChangeTime(blob, ATTID_UNICODE_PWD)?.toISOString()).toBe(at.toISOString());
    expect(attributeChangeTime(blob, 0x12345)).toBeNull();
    expect(attributeChangeTime(blob.subarray(0, 40), ATTID_UNICODE_PWD)).toBeNull();
    expect(attributeChangeTime(null, ATTID_UNICODE_PWD)).toBeNull();
  });
});

describe('AD errors', () => {
  it("reads AD's reason for a failed bind", () => {
    const bind = (data: string) => new InvalidCredentialsError(`80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data ${data}, v4563`);
    expect(bindFailureReason(bind('52e'))).toBe('invalid-credentials');
    expect(bindFailureReason(bind('775'))).toBe('locked');
    expect(bindFailureReason(bind('773'))).toBe('must-change-password');
    expect(bindFailureReason(bind('533'))).toBe('disabled');
    expect(bindFailureReason(bind('532'))).toBe('password-expired');
    expect(bindFailureReason(new Error('x'))).toBeNull();
  });

  it('maps result codes to the port errors, naming the right to delegate', () => {
    expect(toDirectoryError(new NoSuchObjectError('gone'), AD_OPERATIONS.readUser)).toBeInstanceOf(NotFoundError);
    const forbidden = toDirectoryError(new InsufficientAccessError('00002098: SecErr'), AD_OPERATIONS.unlock);
    expect(forbidden).toBeInstanceOf(ForbiddenError);
    expect((forbidden as ForbiddenError).missingPermission).toBe('Write lockoutTime on user objects');
    expect(forbidden.message).toMatch(/AdminSDHolder/);
    expect(toDirectoryError(new BusyError('busy'), AD_OPERATIONS.readUser)).toBeInstanceOf(ThrottledError);
    const timeout = toDirectoryError(new Error('Connection timeout'), AD_OPERATIONS.readGroup);
    expect(timeout).toBeInstanceOf(DirectoryError);
    expect(timeout.message).toBe('Active Directory did not answer in time to read groups');
    const other = toDirectoryError(new UnwillingToPerformError('0000209A: SvcErr'), AD_OPERATIONS.changeMembers);
    expect(other.message).toMatch(/could not change group members \(LDAP result 53\)/);
  });

  it('tells connection failures from request failures', () => {
    expect(isConnectionFailure(new Error('Connection closed before message response was received.'))).toBe(true);
    expect(isConnectionFailure(new Error('Socket error. Message type: SearchRequest'))).toBe(true);
    expect(isConnectionFailure(new NoSuchObjectError('x'))).toBe(false);
    expect(isConnectionFailure(new BusyError('x'))).toBe(true);
    expect(isConnectionFailure(new AdConnectionError('x', 'bind'))).toBe(false);
    expect(isConnectionFailure(new AdConnectionError('x', 'timeout'))).toBe(true);
  });

  it('explains TLS and network failures with the setting to change', () => {
    const e = (code: string, message = code) => Object.assign(new Error(message), { code });
    expect(connectionError(e('SELF_SIGNED_CERT_IN_CHAIN'), 'ldaps://dc1').message).toMatch(/not trusted.*set AD_CA_FILE/);
    expect(connectionError(e('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), 'ldaps://10.0.0.5').message).toMatch(/AD_TLS_SERVER_NAME/);
    expect(connectionError(e('ECONNREFUSED'), 'ldaps://dc1').reason).toBe('unreachable');
    expect(connectionError(new Error('Connection timeout'), 'ldaps://dc1').reason).toBe('timeout');
  });
});

describe('passwords', () => {
  it('encodes unicodePwd as the quoted password in UTF-16LE', () => {
    expect(encodeUnicodePwd('Ab1!')).toEqual(Buffer.from([0x22, 0, 0x41, 0, 0x62, 0, 0x31, 0, 0x21, 0, 0x22, 0]));
  });

  it("recognises AD's policy refusal (0x52D) and explains the domain's rules", () => {
    const windows = '0000052D: AtrErr: DSID-03191083, #1:\n\t0: 0000052D: DSID-03191083, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)';
    expect(isPasswordPolicyRefusal(19, windows)).toBe(true);
    expect(isPasswordPolicyRefusal(53, '0000052D: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0')).toBe(true);
    expect(isPasswordPolicyRefusal(19, 'other constraint')).toBe(false);
    const policy = { minLength: 12, complexity: true, historyLength: 24, lockoutThreshold: 5, lockoutDurationMs: 900_000 };
    expect(passwordPolicyMessage(windows, policy)).toBe(
      "The domain's password policy refused the new password. A password here needs at least 12 characters; " +
        'three of: uppercase letters, lowercase letters, digits, symbols; not the account name or parts of the full name; ' +
        'not one of the last 24 passwords. A stricter fine-grained policy may apply to some accounts.',
    );
    expect(passwordPolicyMessage('check_password_restrictions: the password was already used (in history)!', null)).toMatch(/: it was used before\./);
  });
});

describe('entries and searching', () => {
  it('uses the implicit UPN for an account without one, and reads the sync anchor', () => {
    const u = toUser({
      dn: 'CN=Old Account,OU=People,DC=corp,DC=example',
      objectGUID: guidToBytes('957e5a6d-0c8b-4f46-aca9-a39f53ef71e8'),
      sAMAccountName: 'old.account',
      cn: 'Old Account',
      userAccountControl: '514',
      'mS-DS-ConsistencyGuid': Buffer.alloc(16, 1),
    });
    expect(u).toMatchObject({ id: '957e5a6d-0c8b-4f46-aca9-a39f53ef71e8', userPrincipalName: 'old.account@corp.example', displayName: 'Old Account', accountEnabled: false, onPremisesSyncEnabled: true });
    expect(dnsDomainOf('CN=a\\,b,OU=x,DC=corp,DC=example')).toBe('corp.example');
  });

  it('matches word starts like the local directory', () => {
    const words = searchWords(["Kevin O'Brien", 'Kevin', "O'Brien"], ['kevin.obrien@northwind.example']);
    expect(matchesAll(['brien'], words)).toBe(true);
    expect(matchesAll(["o'b", 'kev'], words)).toBe(true);
    expect(matchesAll(['rien'], words)).toBe(false);
    expect(byName([{ id: 'b', displayName: 'zed' }, { id: 'a', displayName: 'Alpha' }]).map((x) => x.id)).toEqual(['a', 'b']);
  });
});

describe('LdapPool', () => {
  it('takes only LDAP URLs that name a server, and a bounded size', () => {
    const credential = { kind: 'password' as const, bindDn: 'x', password: 'y' };
    expect(() => new LdapPool({ urls: [], credential })).toThrow(/At least one/);
    expect(() => new LdapPool({ urls: ['https://dc1'], credential })).toThrow(/Not an LDAP URL/);
    expect(() => new LdapPool({ urls: ['ldaps://dc1/DC=x'], credential })).toThrow(/server only/);
    expect(new LdapPool({ urls: ['ldaps://dc1'], credential, size: 100 }).size).toBe(32);
    expect(new LdapPool({ urls: ['ldap://dc1'], credential }).size).toBe(4);
  });

  it('fails fast once closed', async () => {
    const pool = new LdapPool({ urls: ['ldaps://127.0.0.1:1'], credential: { kind: 'password', bindDn: 'x', password: 'y' } });
    await pool.close();
    await expect(pool.run(async () => 1)).rejects.toThrow(/pool is closed/);
  });
});

describe('protected accounts by SID', () => {
  it('matches well-known RIDs in any domain and the builtin groups, never a name or another RID', () => {
    const domain = 'S-1-5-21-1004336348-1177238915-682003330';
    const roles = protectedRoles(`${domain}-500`, [`${domain}-513`, `${domain}-512`, 'S-1-5-32-548', `${domain}-1104`, 'S-1-5-32-545', 'S-1-5-21-1-2-3-519'], null);
    expect(roles.map((r) => r.name)).toEqual(['Administrator (built-in account)', 'Domain Admins', 'Account Operators', 'Enterprise Admins']);
    expect(roles.every((r) => r.kind === 'protected-group')).toBe(true);
    expect(protectedRoles(`${domain}-1105`, [`${domain}-513`], '0')).toEqual([]);
    expect(protectedRoles(`${domain}-1105`, [], '1')).toEqual([{ kind: 'admin-count', name: 'adminCount=1 (protected account)', id: null }]);
    expect(protectedSidName('S-1-5-21-1-2-512')).toBeNull();
  });

  it('reads binary SIDs as AD sends them in tokenGroups', () => {
    expect(sidToString(sidToBytes('S-1-5-32-544'))).toBe('S-1-5-32-544');
    expect(sidToString(Buffer.from([1, 2, 0]))).toBeNull();
  });
});
