import { isGuid } from '../directory';

/**
 * objectGUID and the ids built on it.
 *
 * AD stores a GUID as 16 bytes in Microsoft's mixed-endian layout: the first three fields
 * little-endian, the last two as written. The text form (what PowerShell's `[guid]` and Entra
 * print) reverses those first fields, so `guidFromBytes(bytes)` is not the bytes' hex.
 *
 * Entra Connect's source anchor, `onPremisesImmutableId`, is the base64 of the same 16 bytes:
 * of `ms-DS-ConsistencyGuid` when it is set (the default anchor since 2017, and Entra Connect
 * writes objectGUID's bytes there), else of objectGUID.
 */

/** The canonical lowercase text form of a 16-byte GUID value. */
export function guidFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`A GUID has 16 bytes, got ${bytes.length}`);
  const b = Buffer.from(bytes);
  const hex = (from: number, to: number) => b.subarray(from, to).toString('hex');
  const le = (from: number, to: number) => Buffer.from(b.subarray(from, to)).reverse().toString('hex');
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(8, 10)}-${hex(10, 16)}`;
}

/** The 16 bytes AD stores for a GUID in text form. */
export function guidToBytes(guid: string): Buffer {
  if (!isGuid(guid)) throw new Error(`Not a GUID: ${JSON.stringify(guid)}`);
  const h = guid.toLowerCase().replace(/-/g, '');
  const le = (from: number, to: number) => Buffer.from(h.slice(from, to), 'hex').reverse();
  return Buffer.concat([le(0, 8), le(8, 12), le(12, 16), Buffer.from(h.slice(16), 'hex')]);
}

/** Entra's `onPremisesImmutableId` for these anchor bytes (base64). */
export function immutableIdFromBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/**
 * The 16 anchor bytes in an `onPremisesImmutableId`, or null when it is not a base64 GUID (an
 * organisation may anchor on another attribute, such as an employee number).
 */
export function anchorBytesFromImmutableId(immutableId: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]{22}==$/.test(immutableId)) return null;
  const bytes = Buffer.from(immutableId, 'base64');
  return bytes.length === 16 ? bytes : null;
}

/** A SID's text form (S-1-5-21-...) from its binary value (objectSid). */
export function sidFromBytes(bytes: Uint8Array): string {
  const b = Buffer.from(bytes);
  if (b.length < 8) throw new Error('A SID has at least 8 bytes');
  const count = b[1]!;
  if (b.length !== 8 + 4 * count) throw new Error(`A SID with ${count} sub-authorities has ${8 + 4 * count} bytes, got ${b.length}`);
  const authority = b.readUIntBE(2, 6);
  const subs: number[] = [];
  for (let i = 0; i < count; i++) subs.push(b.readUInt32LE(8 + 4 * i));
  return `S-${b[0]}-${authority}${subs.map((s) => `-${s}`).join('')}`;
}

/** A SID's binary value from its text form. */
export function sidToBytes(sid: string): Buffer {
  const m = /^S-(\d+)-(\d+)((?:-\d+)*)$/i.exec(sid.trim());
  if (!m) throw new Error(`Not a SID: ${JSON.stringify(sid)}`);
  const subs = m[3] ? m[3].slice(1).split('-').map(Number) : [];
  if (subs.length > 15 || subs.some((s) => s > 0xffffffff)) throw new Error(`Not a SID: ${JSON.stringify(sid)}`);
  const b = Buffer.alloc(8 + 4 * subs.length);
  b[0] = Number(m[1]);
  b[1] = subs.length;
  b.writeUIntBE(Number(m[2]), 2, 6);
  subs.forEach((s, i) => b.writeUInt32LE(s, 8 + 4 * i));
  return b;
}
