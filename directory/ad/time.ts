/**
 * AD's timestamps: FILETIME (100-nanosecond steps since 1601-01-01 UTC, as in pwdLastSet and
 * lockoutTime) and the replication metadata that dates every change of every attribute.
 */

const EPOCH_OFFSET_MS = 11_644_473_600_000n;

/** The Date a FILETIME (a decimal string, as LDAP returns it) stands for; null for 0 and "never". */
export function fileTimeToDate(value: string | undefined | null): Date | null {
  if (value === undefined || value === null || !/^-?\d+$/.test(value)) return null;
  const ft = BigInt(value);
  // 0 means "not set"; the largest value means "never".
  if (ft <= 0n || ft >= 0x7fffffffffffffffn) return null;
  return new Date(Number(ft / 10_000n - EPOCH_OFFSET_MS));
}

/** The FILETIME of a date, as the decimal string LDAP takes. */
export function dateToFileTime(date: Date): string {
  return ((BigInt(date.getTime()) + EPOCH_OFFSET_MS) * 10_000n).toString();
}

/** A negative FILETIME interval (lockoutDuration, maxPwdAge) in milliseconds; null for "never". */
export function intervalToMs(value: string | undefined | null): number | null {
  if (value === undefined || value === null || !/^-?\d+$/.test(value)) return null;
  const v = BigInt(value);
  if (v === -0x8000000000000000n || v === 0n) return null;
  return Number((v < 0n ? -v : v) / 10_000n);
}

/** The attribute id of unicodePwd in replication metadata (fixed across every AD forest). */
export const ATTID_UNICODE_PWD = 0x9005a;

/**
 * When the attribute with id `attid` last changed, from an object's `replPropertyMetaData`
 * (the binary blob every DC keeps: version, count, then one 48-byte entry per attribute with
 * its originating change time in whole seconds since 1601). Null when the blob has no entry
 * for it or is not in the known format.
 *
 * Why: resetting a password with "must change at next sign-in" sets pwdLastSet to 0, which
 * erases the date of the change; the metadata keeps it.
 */
export function attributeChangeTime(blob: Uint8Array | undefined | null, attid: number): Date | null {
  if (!blob || blob.length < 16) return null;
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.readUInt32LE(0) !== 1) return null;
  const count = b.readUInt32LE(8);
  if (b.length < 16 + count * 48) return null;
  for (let i = 0; i < count; i++) {
    const at = 16 + i * 48;
    if (b.readUInt32LE(at) !== attid) continue;
    const seconds = b.readBigUInt64LE(at + 8);
    if (seconds === 0n) return null;
    return new Date(Number(seconds * 1000n - EPOCH_OFFSET_MS));
  }
  return null;
}
