/**
 * A small client for QMP, the JSON protocol of QEMU's monitor socket. The QEMU driver opens one
 * connection per call sequence (connect, negotiate, run a few commands, close) because a QMP socket
 * serves one client at a time: holding it open would lock out operators and a restarted delegate.
 *
 * Every wait is bounded: a socket that accepts but never greets (a hung QEMU, or another client
 * holding the monitor) and a command that never returns both end in DriverError 'unavailable', each
 * within timeoutMs and never later than the session's deadline (no command is sent after it).
 * Events are buffered from the moment of connection, so an event QEMU sends before its command
 * returns (DEVICE_DELETED often does) is not lost.
 */
import { createConnection, type Socket } from 'node:net';
import { DriverError, timeLeft } from './driver.js';

export interface QmpEvent {
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** QEMU answered the command with an error; errorClass is QMP's class, e.g. "GenericError". */
export class QmpCommandError extends Error {
  override readonly name = 'QmpCommandError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`${command}: ${desc}`);
  }
}

/** The socket could not be reached; code is the errno name (ENOENT, ECONNREFUSED...) or ETIMEDOUT. */
export class QmpConnectError extends DriverError {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('unavailable', message, options);
  }
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface EventWaiter {
  readonly matches: (event: QmpEvent) => boolean;
  readonly resolve: (event: QmpEvent) => void;
  readonly reject: (error: Error) => void;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class QmpClient {
  private received = '';
  private nextId = 1;
  private failure: DriverError | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly events: QmpEvent[] = [];
  private readonly waiters = new Set<EventWaiter>();
  private onGreeting: (() => void) | undefined;
  private readonly closed: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    private readonly path: string,
    private readonly timeoutMs: number,
    private readonly deadline: number,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) =>
      this.fail(new QmpConnectError(e.code ?? 'EIO', `QMP socket ${path}: ${e.message}`, { cause: e })),
    );
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.fail(new QmpConnectError('ECONNRESET', `QMP socket ${path} closed by QEMU`));
        resolve();
      }),
    );
  }

  /**
   * Connects, reads the greeting and leaves capabilities negotiation mode, all within timeoutMs (and
   * before the deadline, a Date.now() value: every command of the session is bounded by it too).
   */
  static async connect(
    path: string,
    options: { readonly timeoutMs: number; readonly deadline?: number },
  ): Promise<QmpClient> {
    const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
    const greetMs = timeLeft(deadline, options.timeoutMs, `connecting to ${path}`);
    const socket = createConnection({ path });
    const client = new QmpClient(socket, path, options.timeoutMs, deadline);
    const greeted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new QmpConnectError(
            'ETIMEDOUT',
            `QMP socket ${path} did not greet within ${greetMs} ms (QEMU hung, or another client holds the monitor)`,
          ),
        );
      }, greetMs);
      client.onGreeting = () => {
        clearTimeout(timer);
        resolve();
      };
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new QmpConnectError(e.code ?? 'EIO', `QMP socket ${path}: ${e.message}`, { cause: e }));
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(client.failure ?? new QmpConnectError('ECONNRESET', `QMP socket ${path} closed`));
      });
    });
    try {
      await greeted;
      await client.execute('qmp_capabilities');
    } catch (e) {
      socket.destroy();
      throw e;
    }
    return client;
  }

  /**
   * Runs one command and resolves with its "return" value. A command whose time runs out was sent: its
   * DriverError says so (effect 'unknown'); one refused because the deadline passed was not.
   */
  execute(command: string, args?: Readonly<Record<string, unknown>>): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    let limit: number;
    try {
      limit = timeLeft(this.deadline, this.timeoutMs, `sending ${command} to ${this.path}`);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const id = `vbs-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new DriverError('unavailable', `QEMU did not answer ${command} on ${this.path} within ${limit} ms`, {
            effect: 'unknown',
          }),
        );
      }, limit);
      this.pending.set(id, { command, resolve, reject, timer });
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Resolves with the first event (already received or still to come) that matches, in time. */
  waitForEvent(matches: (event: QmpEvent) => boolean, timeoutMs: number, onTimeout: () => Error): Promise<QmpEvent> {
    const seen = this.events.find(matches);
    if (seen) return Promise.resolve(seen);
    if (this.failure) return Promise.reject(this.failure);
    const limit = Math.min(timeoutMs, this.deadline - Date.now());
    if (limit <= 0) return Promise.reject(onTimeout());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(onTimeout());
      }, limit);
      const waiter: EventWaiter = {
        matches,
        resolve: (event) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(event);
        },
        reject: (error) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** Ends the session; QEMU's monitor is then free for the next client. */
  async close(): Promise<void> {
    this.fail(new DriverError('unavailable', `QMP connection to ${this.path} was closed`));
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 200);
    await this.closed;
    clearTimeout(timer);
  }

  private receive(chunk: string): void {
    this.received += chunk;
    let newline = this.received.indexOf('\n');
    while (newline >= 0) {
      const line = this.received.slice(0, newline).trim();
      this.received = this.received.slice(newline + 1);
      if (line !== '') this.dispatch(line);
      newline = this.received.indexOf('\n');
    }
  }

  private dispatch(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      return; // not QMP; nothing a caller waits for can be in it
    }
    if (!isRecord(message)) return;
    if ('QMP' in message) {
      this.onGreeting?.();
      return;
    }
    if (typeof message.event === 'string') {
      const event: QmpEvent = { event: message.event, data: isRecord(message.data) ? message.data : {} };
      this.events.push(event);
      for (const waiter of [...this.waiters]) if (waiter.matches(event)) waiter.resolve(event);
      return;
    }
    if (typeof message.id !== 'string') return;
    const pending = this.pending.get(message.id);
    if (!pending) return; // answer to a command that already timed out
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (isRecord(message.error)) {
      const errorClass = typeof message.error.class === 'string' ? message.error.class : 'GenericError';
      const desc = typeof message.error.desc === 'string' ? message.error.desc : JSON.stringify(message.error);
      pending.reject(new QmpCommandError(pending.command, errorClass, desc));
    } else {
      pending.resolve(message.return);
    }
  }

  private fail(error: DriverError): void {
    if (this.failure) return;
    this.failure = error;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      // Sent and never answered: QEMU may have run it.
      pending.reject(error.withEffect('unknown'));
    }
    for (const waiter of [...this.waiters]) waiter.reject(error);
  }
}
