/**
 * Colour for people: only when the stream is a terminal and `NO_COLOR` is
 * unset (https://no-color.org).
 *
 * @module
 */

/** Colour helpers bound to one output stream. */
export interface TerminalStyle {
  /** Bold text. */
  bold(s: string): string;
  /** Red text, for damage and errors. */
  red(s: string): string;
  /** Dim text, for secondary detail. */
  dim(s: string): string;
  /** Green text, for success. */
  green(s: string): string;
}

/**
 * Chooses colour for a stream.
 *
 * @param stream - the stream written to
 * @param env - the environment (for `NO_COLOR`)
 * @returns helpers that colour or pass text through
 */
export function terminalStyle(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined>,
): TerminalStyle {
  const on = stream.isTTY === true && env.NO_COLOR === undefined;
  const wrap = (open: number, close: number) => (s: string) =>
    on ? `\u001b[${open}m${s}\u001b[${close}m` : s;
  return { bold: wrap(1, 22), red: wrap(31, 39), dim: wrap(2, 22), green: wrap(32, 39) };
}
