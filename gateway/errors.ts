/**
 * Errors the CLI turns into exit codes without a stack trace.
 *
 * - UsageError: the user typed something wrong (unknown flag, bad layout text, bad HOST:PORT,
 *   missing data folder). Exit code 2. The message says what to fix.
 * - CliError: the command was well-formed but cannot be done (a pool already exists, the data
 *   folder is held by another process, a user is unknown). Exit code 1.
 */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class CliError extends Error {
  readonly exitCode: number;
  /** A short machine-readable reason, carried over the admin socket (e.g. 'EEXIST'). */
  readonly code: string;
  constructor(message: string, code = 'EFAIL', exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}
