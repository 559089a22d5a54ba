import { describe, expect, it } from 'vitest';
import { passwordWeakness } from '../../directory/rules';
import { DIGITS, LOOK_ALIKES, LOWER, MIN_PASSWORD_LENGTH, PASSWORD_ALPHABET, SYMBOLS, UPPER, generateTemporaryPassword, hasEveryClass, passwordEntropyBits } from '../../dialogs/signin/password';

describe('temporary password generator', () => {
  it('makes 16 characters by default with every character class, accepted by the Entra policy', () => {
    for (let i = 0; i < 2000; i++) {
      const pw = generateTemporaryPassword();
      expect(pw).toHaveLength(16);
      expect(hasEveryClass(pw)).toBe(true);
      expect(/[A-Z]/.test(pw) && /[a-z]/.test(pw) && /[0-9]/.test(pw) && /[^A-Za-z0-9]/.test(pw)).toBe(true);
      expect(passwordWeakness(pw)).toBeNull();
    }
  });

  it('draws only from the alphabet, which has no look-alike or Markdown characters', () => {
    for (const c of LOOK_ALIKES) expect(PASSWORD_ALPHABET).not.toContain(c);
    for (const c of '*_~[]()#` \'"\\<>') expect(PASSWORD_ALPHABET).not.toContain(c);
    expect(new Set(PASSWORD_ALPHABET).size).toBe(PASSWORD_ALPHABET.length);
    expect(PASSWORD_ALPHABET).toBe(UPPER + LOWER + DIGITS + SYMBOLS);
    const allowed = new Set(PASSWORD_ALPHABET);
    for (let i = 0; i < 1000; i++) for (const c of generateTemporaryPassword(24)) expect(allowed.has(c)).toBe(true);
  });

  it('uses every character of the alphabet about equally often (no fixed positions, no bias)', () => {
    const counts = new Map<string, number>();
    const n = 4000;
    for (let i = 0; i < n; i++) for (const c of generateTemporaryPassword()) counts.set(c, (counts.get(c) ?? 0) + 1);
    const expected = (n * 16) / PASSWORD_ALPHABET.length;
    expect(counts.size).toBe(PASSWORD_ALPHABET.length);
    for (const [, count] of counts) {
      expect(count).toBeGreaterThan(expected * 0.75);
      expect(count).toBeLessThan(expected * 1.35);
    }
    // The first character is not always a letter (no "Aa1!" prefix pattern).
    const firsts = new Set(Array.from({ length: 500 }, () => generateTemporaryPassword()[0]));
    expect([...firsts].some((c) => DIGITS.includes(c!))).toBe(true);
    expect([...firsts].some((c) => SYMBOLS.includes(c!))).toBe(true);
  });

  it('has over 90 bits of entropy at 16 characters, and never repeats', () => {
    expect(passwordEntropyBits(16)).toBeGreaterThan(90);
    expect(passwordEntropyBits(16)).toBeLessThan(16 * Math.log2(PASSWORD_ALPHABET.length));
    expect(passwordEntropyBits(24)).toBeGreaterThan(140);
    const seen = new Set(Array.from({ length: 10_000 }, () => generateTemporaryPassword()));
    expect(seen.size).toBe(10_000);
  });

  it('refuses lengths under 16', () => {
    expect(MIN_PASSWORD_LENGTH).toBe(16);
    expect(() => generateTemporaryPassword(15)).toThrow(RangeError);
    expect(() => generateTemporaryPassword(16.5)).toThrow(RangeError);
    expect(generateTemporaryPassword(64)).toHaveLength(64);
  });
});
