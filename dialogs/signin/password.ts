import { randomInt } from 'node:crypto';

/**
 * Temporary passwords, generated on the server from a cryptographic source.
 *
 * The alphabet leaves out characters people mistake for each other when reading a password
 * off a screen (0/O/o, 1/l/I/i, and symbols such as | ` ' " , . ;), and symbols that
 * Markdown in Teams would turn into formatting (* _ ~ [ ] ( ) #) or that break a copy and
 * paste (space, quotes). What is left has 63 characters: almost 6 bits each.
 */
export const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
export const LOWER = 'abcdefghjkmnpqrstuvwxyz';
export const DIGITS = '23456789';
export const SYMBOLS = '!$%&+=?@';
export const PASSWORD_ALPHABET = UPPER + LOWER + DIGITS + SYMBOLS;

/** Characters that are never used: each is easily read as another. */
export const LOOK_ALIKES = '0Oo1lIi|`\'",.;:';

export const MIN_PASSWORD_LENGTH = 16;

/**
 * A new temporary password of `length` (at least 16) characters that meets the Entra
 * password policy with room to spare: it always has an uppercase letter, a lowercase letter,
 * a digit and a symbol. Drawn uniformly from the alphabet and redrawn whole until all four
 * classes appear, so every acceptable password is equally likely (no fixed positions).
 * Entropy: about 5.98 bits per character less the rejected share, over 95 bits at 16 characters.
 */
export function generateTemporaryPassword(length = MIN_PASSWORD_LENGTH): string {
  if (!Number.isInteger(length) || length < MIN_PASSWORD_LENGTH || length > 256) {
    throw new RangeError(`a temporary password has ${MIN_PASSWORD_LENGTH} to 256 characters, not ${length}`);
  }
  for (;;) {
    let pw = '';
    for (let i = 0; i < length; i++) pw += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
    if (hasEveryClass(pw)) return pw;
  }
}

/** True when `pw` has an uppercase letter, a lowercase letter, a digit and a symbol of the alphabet. */
export function hasEveryClass(pw: string): boolean {
  const has = (set: string) => [...pw].some((c) => set.includes(c));
  return has(UPPER) && has(LOWER) && has(DIGITS) && has(SYMBOLS);
}

/** Bits of entropy of a uniformly drawn password of `length` over the alphabet, after rejection. */
export function passwordEntropyBits(length = MIN_PASSWORD_LENGTH): number {
  const n = PASSWORD_ALPHABET.length;
  // Inclusion-exclusion: the share of strings that miss at least one class is rejected.
  const classes = [UPPER.length, LOWER.length, DIGITS.length, SYMBOLS.length];
  let valid = 0;
  for (let mask = 0; mask < 16; mask++) {
    const missing = classes.filter((_, i) => mask & (1 << i)).reduce((a, b) => a + b, 0);
    const bits = [0, 1, 2, 3].filter((i) => mask & (1 << i)).length;
    valid += (bits % 2 === 0 ? 1 : -1) * (n - missing) ** length;
  }
  return Math.log2(valid);
}
