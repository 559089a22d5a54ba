import { intervalToMs } from './time';

/** The value AD takes for unicodePwd: the password in double quotes, UTF-16LE. */
export function encodeUnicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, 'utf16le');
}

/** The domain's password policy (the attributes on the domain head). */
export interface DomainPasswordPolicy {
  minLength: number;
  /** DOMAIN_PASSWORD_COMPLEX (bit 1 of pwdProperties). */
  complexity: boolean;
  /** How many earlier passwords may not be used again. */
  historyLength: number;
  /** Failed sign-ins before lockout; 0 means no lockout. */
  lockoutThreshold: number;
  /** How long a lockout lasts; null until a technician unlocks it. */
  lockoutDurationMs: number | null;
}

export const POLICY_ATTRIBUTES = ['minPwdLength', 'pwdProperties', 'pwdHistoryLength', 'lockoutThreshold', 'lockoutDuration'];

export function policyFrom(read: (name: string) => string | null): DomainPasswordPolicy {
  const n = (name: string) => Number(read(name) ?? '0') || 0;
  return {
    minLength: n('minPwdLength'),
    complexity: (n('pwdProperties') & 1) === 1,
    historyLength: n('pwdHistoryLength'),
    lockoutThreshold: n('lockoutThreshold'),
    lockoutDurationMs: intervalToMs(read('lockoutDuration')),
  };
}

/** True when AD refused a password for its policy: ERROR_PASSWORD_RESTRICTION (0x52D). */
export function isPasswordPolicyRefusal(code: number | undefined, message: string): boolean {
  return (code === 19 || code === 53) && /0000052D/i.test(message);
}

/**
 * A message for a user whose new password AD refused, naming the rule it broke when the domain
 * controller says (Samba does; Windows says only "0000052D"), and the domain's rules always.
 */
export function passwordPolicyMessage(serverMessage: string, policy: DomainPasswordPolicy | null): string {
  let reason = '';
  if (/too short/i.test(serverMessage)) reason = 'it is too short';
  else if (/complexity/i.test(serverMessage)) reason = 'it is not complex enough';
  else if (/history|already used|used before/i.test(serverMessage)) reason = 'it was used before';
  else if (/too young|minimum password age/i.test(serverMessage)) reason = 'the password was changed too recently';
  const rules: string[] = [];
  if (policy) {
    if (policy.minLength > 0) rules.push(`at least ${policy.minLength} characters`);
    if (policy.complexity) {
      rules.push('three of: uppercase letters, lowercase letters, digits, symbols');
      rules.push('not the account name or parts of the full name');
    }
    if (policy.historyLength > 0) rules.push(`not one of the last ${policy.historyLength} passwords`);
  }
  return (
    `The domain's password policy refused the new password${reason ? `: ${reason}` : ''}.` +
    (rules.length ? ` A password here needs ${rules.join('; ')}.` : '') +
    ' A stricter fine-grained policy may apply to some accounts.'
  );
}
