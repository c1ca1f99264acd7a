/**
 * Several frontends behind one CLI: a call goes to the endpoint that worked last, and moves to the
 * next one only when that cannot have had an effect. A connection that was refused or never set up
 * (TransportError effect 'none') means the request never left, so another frontend may take it. A
 * request that was sent and not answered (effect 'unknown') may have been carried out: it is sent
 * again elsewhere only when doing it twice is harmless (the Describe* reads); otherwise the user is
 * told the outcome is unknown, and decides.
 */
import { TransportError } from '../soap/client.js';

export interface Endpoint<C> {
  readonly url: string;
  readonly client: C;
}

/** Operations that only read: sending one twice changes nothing. */
export function isIdempotent(operation: string): boolean {
  return operation.startsWith('Describe');
}

export class FailoverCaller<C> {
  private current = 0;

  constructor(private readonly endpoints: readonly Endpoint<C>[]) {
    if (endpoints.length === 0) throw new Error('no endpoint');
  }

  /** The endpoint in use: the one the last call went to. */
  get url(): string {
    return (this.endpoints[this.current] as Endpoint<C>).url;
  }

  async call<T>(operation: string, send: (client: C) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let tried = 0; tried < this.endpoints.length; tried++) {
      const endpoint = this.endpoints[this.current] as Endpoint<C>;
      try {
        return await send(endpoint.client);
      } catch (error) {
        const movable = error instanceof TransportError && (error.effect === 'none' || isIdempotent(operation));
        if (!movable || this.endpoints.length === 1) throw error;
        lastError = error;
        if (tried + 1 < this.endpoints.length) this.current = (this.current + 1) % this.endpoints.length;
      }
    }
    throw lastError;
  }
}
