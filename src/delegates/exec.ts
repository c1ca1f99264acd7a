/*
 * The one way the delegates start external programs (dd, cp, fallocate, lfs,
 * qemu tools...). It exists so that no caller can ever build a shell string:
 * every argument is passed to execve() as-is, so a volume name or path that
 * contains spaces, quotes or `;` stays one literal argument. It also turns
 * every way a command can fail (missing program, non-zero exit, timeout,
 * cancellation) into a single error type that keeps what an operator needs.
 */
import { execa, ExecaError, type ResultPromise } from 'execa';

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Told the child's PID as soon as it runs, e.g. to watch its progress in /proc. */
  onSpawn?: (pid: number) => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

interface ExecErrorDetails {
  cause: unknown;
  argv: readonly string[];
  exitCode: number | undefined;
  stderr: string;
  timedOut: boolean;
  canceled: boolean;
}

export class ExecError extends Error {
  override readonly cause: unknown;
  readonly argv: readonly string[];
  /** undefined when the program never ran or was killed by a signal. */
  readonly exitCode: number | undefined;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly canceled: boolean;

  constructor(message: string, details: ExecErrorDetails) {
    super(message, { cause: details.cause });
    this.name = 'ExecError';
    this.cause = details.cause;
    this.argv = details.argv;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr;
    this.timedOut = details.timedOut;
    this.canceled = details.canceled;
  }
}

function describe(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return '';
}

/**
 * Children still running. execa's `cleanup` option is off: it kills children through signal-exit,
 * which handles SIGTERM, SIGINT and SIGHUP itself and raises the signal again as soon as it is the
 * last listener left, killing the service in the middle of its graceful stop. A service stops its
 * children itself (the Volume Delegate aborts its jobs); when the process exits anyway (a crash, or a
 * stop cut off at its bound), what still runs is killed here, as `cleanup` did. Nothing kills them
 * when the service is killed with SIGKILL (as before): the Volume Delegate's next start removes a
 * partial file before it runs the job again.
 */
const live = new Set<ResultPromise>();
let killOnExit = false;

function track(subprocess: ResultPromise): void {
  if (!killOnExit) {
    killOnExit = true;
    process.on('exit', () => {
      for (const child of live) child.kill('SIGTERM');
    });
  }
  live.add(subprocess);
}

export async function run(argv: readonly [string, ...string[]], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  try {
    const subprocess = execa(file, args, {
      shell: false,
      // Children must never wait for a terminal the delegate does not have.
      stdin: 'ignore',
      cleanup: false,
      // In a process group of its own: Ctrl-C (SIGINT to the terminal's group) must not kill a dd or a
      // virsh under the service, which decides itself what to stop and when (see `live`).
      detached: true,
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      ...(options.signal !== undefined ? { cancelSignal: options.signal } : {}),
    });
    track(subprocess);
    try {
      if (options.onSpawn && subprocess.pid !== undefined) options.onSpawn(subprocess.pid);
      const result = await subprocess;
      return { stdout: toText(result.stdout), stderr: toText(result.stderr) };
    } finally {
      live.delete(subprocess);
    }
  } catch (error) {
    if (!(error instanceof ExecaError)) {
      throw new ExecError(`${describe(argv)}: ${String(error)}`, {
        cause: error,
        argv: [...argv],
        exitCode: undefined,
        stderr: '',
        timedOut: false,
        canceled: false,
      });
    }
    const stderr = toText(error.stderr).trim();
    let why: string;
    if (error.timedOut) why = `timed out after ${options.timeoutMs ?? 0} ms`;
    else if (error.isCanceled) why = 'canceled';
    else if (error.exitCode !== undefined) why = `exited with code ${error.exitCode}`;
    else if (error.signal !== undefined) why = `killed by ${error.signal}`;
    else why = error.originalMessage || error.shortMessage;
    throw new ExecError(`${describe(argv)}: ${why}${stderr ? `: ${stderr}` : ''}`, {
      cause: error,
      argv: [...argv],
      exitCode: error.exitCode,
      stderr,
      timedOut: error.timedOut,
      canceled: error.isCanceled,
    });
  }
}
