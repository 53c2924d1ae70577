/**
 * A mistake in what the user gave the CLI (a flag, a value, a file). The message says what is
 * wrong and where; the CLI prints it without a stack trace and exits with status 2.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
