/**
 * Logging for every VBS service: winston, one JSON object per line, so that a request can be followed
 * by its request ID across the frontend and the delegates with nothing more than grep or jq.
 * A log file is 0600 (src/private-files.ts): it names users, volumes and what they asked.
 */
import winston from 'winston';
import { ensurePrivateFile, PRIVATE_FILE_MODE } from './private-files.js';

export type Logger = winston.Logger;

export function createLogger(
  service: string,
  options: { file?: string | undefined; level?: string | undefined } = {},
): Logger {
  const transport = options.file
    ? fileTransport(options.file)
    : new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] });
  return winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: { service },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    // winston types its transports as interfaces, though they are TransportStream subclasses at run time.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    transports: [transport],
  });
}

/**
 * The file made (with its directory) or tightened before winston opens it, since winston creates
 * both with the umask's modes; the stream's mode covers a file winston makes later (rotation).
 */
function fileTransport(file: string): winston.transports.FileTransportInstance {
  ensurePrivateFile(file);
  return new winston.transports.File({ filename: file, options: { flags: 'a', mode: PRIVATE_FILE_MODE } });
}

/** A logger that drops everything, for unit tests and tools that have nothing to say. */
export function silentLogger(): Logger {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- as above
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}
