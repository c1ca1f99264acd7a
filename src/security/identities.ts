/**
 * The names VBS services go by: the subject CN of each service's certificate (issued by the VBS CA
 * with serverAuth), which is how one service recognises another. Users may never take these names.
 */
export const FRONTEND_IDENTITY = 'frontend';

export function volumeDelegateIdentity(delegateId: string): string {
  return `volume-delegate-${delegateId}`;
}

export function vmmDelegateIdentity(vmmHost: string): string {
  return `vmm-delegate-${vmmHost}`;
}

/** The VMM host a VMM Delegate's identity names, if it is one. */
export function vmmHostOf(identity: string): string | undefined {
  return identity.startsWith('vmm-delegate-') ? identity.slice('vmm-delegate-'.length) : undefined;
}
