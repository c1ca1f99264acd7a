/**
 * Logging for every VBS service: winston, one JSON object per line, so that a request can be followed
 * by its request ID across the frontend and the delegates with nothing more than grep or jq.
 */
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(
  service: string,
  options: { file?: string | undefined; level?: string | undefined } = {},
): Logger {
  const transport = options.file
    ? new winston.transports.File({ filename: options.file })
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

/** A logger that drops everything, for unit tests and tools that have nothing to say. */
export function silentLogger(): Logger {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- as above
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}
