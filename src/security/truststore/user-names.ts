/**
 * Which names may be user IDs. A user ID is the subject CN of the user's certificate (paper 4.2), so
 * the same rule guards every way a certificate enters the trust store. Service identities are
 * reserved: a user named "frontend" or "volume-delegate-x" could otherwise be mistaken, in logs or
 * in a careless check, for the service that carries that CN.
 */

/** Refusals an administrator can act on: shown as they are, never with a stack trace. */
export class TrustStoreError extends Error {
  override readonly name = 'TrustStoreError';
}

export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

const RESERVED_EXACT = ['frontend'];
const RESERVED_PREFIXES = ['volume-delegate-', 'vmm-delegate-'];

/** Case-insensitive: "Frontend" is refused as well, since a reader would take it for the service. */
export function isReservedName(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED_EXACT.includes(lower) || RESERVED_PREFIXES.some((p) => lower.startsWith(p));
}

/** Throws a TrustStoreError naming the rule that `name` breaks. */
export function checkUserName(name: string): void {
  if (!USER_NAME.test(name)) {
    throw new TrustStoreError(
      `invalid user name ${JSON.stringify(name)}: 1 to 64 characters, letters, digits and . _ @ -, starting with a letter or digit`,
    );
  }
  if (isReservedName(name)) {
    throw new TrustStoreError(`the user name ${JSON.stringify(name)} is reserved for a VBS service identity`);
  }
}
