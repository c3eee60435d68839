/**
 * Bad user input on the command line (arguments, files): reported as one
 * line on stderr with exit status 2, before anything is written.
 *
 * @module
 */

/** Exit status for bad input. */
export const EXIT_USAGE = 2;
/** Exit status when a ring image is damaged. */
export const EXIT_DAMAGED = 3;

/** A user error: the message is printed as one line, and the command exits 2. */
export class UsageError extends Error {
  /** @param message - one sentence saying what was wrong and quoting the value */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
