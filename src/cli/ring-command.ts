/**
 * `vmbus ring encode | decode | dump`: ring images on disk (format in
 * src/ring/ring-image.ts and the vectors README).
 *
 * @module
 */

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { packetTypeName } from '../protocol/packet-descriptor.js';
import { CONTROL_PAGE_SIZE, ControlPage } from '../ring/control-page.js';
import { decodeRingImage, encodeRingImage } from '../ring/ring-image.js';
import { parseRingSpec, RingSpecError } from '../ring/ring-spec.js';
import type { TerminalStyle } from './terminal-style.js';
import { EXIT_DAMAGED, UsageError } from './usage-error.js';

/** Where a command writes. */
export interface CommandOutput {
  /** Standard output. */
  out(text: string): void;
  /** Styling for standard output. */
  style: TerminalStyle;
}

/**
 * `vmbus ring encode SPEC OUT`: writes the image, prints the write outcomes.
 *
 * @param specPath - the JSON spec
 * @param outPath - the image to write (only when everything succeeded)
 * @param io - output
 * @returns the exit status
 * @throws UsageError for a missing or malformed spec
 */
export function ringEncode(specPath: string, outPath: string, io: CommandOutput): number {
  const text = readText(specPath);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${specPath} is not valid JSON: ${(e as Error).message}`);
  }
  let encoded: ReturnType<typeof encodeRingImage>;
  try {
    encoded = encodeRingImage(parseRingSpec(json));
  } catch (e) {
    if (e instanceof RingSpecError || e instanceof RangeError) {
      throw new UsageError(`${specPath}: ${e.message}`);
    }
    throw e;
  }
  // Write beside the target, then rename: no partial output file on failure.
  const tmp = `${outPath}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, encoded.image);
    renameSync(tmp, outPath);
  } catch (e) {
    throw new UsageError(
      `cannot write ${outPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const control = new ControlPage(encoded.image.buffer, 0);
  io.out(
    `${JSON.stringify({ results: encoded.results, readIndex: control.readIndex, writeIndex: control.writeIndex })}\n`,
  );
  return 0;
}

/**
 * `vmbus ring decode IMAGE`: prints every packet as one JSON object.
 *
 * @param imagePath - the image
 * @param io - output
 * @returns 0, or 3 when the image is damaged
 * @throws UsageError for a missing or wrongly sized image
 */
export function ringDecode(imagePath: string, io: CommandOutput): number {
  const decoded = decodeRingImage(readImage(imagePath));
  io.out(`${JSON.stringify(decoded)}\n`);
  return decoded.error === undefined ? 0 : EXIT_DAMAGED;
}

/**
 * `vmbus ring dump IMAGE`: the control page, space, a packet table and the
 * damage if any, for people.
 *
 * @param imagePath - the image
 * @param io - output
 * @returns 0, or 3 when the image is damaged
 * @throws UsageError for a missing or wrongly sized image
 */
export function ringDump(imagePath: string, io: CommandOutput): number {
  const image = readImage(imagePath);
  const { style } = io;
  const control = new ControlPage(image.buffer, image.byteOffset);
  const dataSize = image.length - CONTROL_PAGE_SIZE;
  const decoded = decodeRingImage(image);
  const lines: string[] = [];
  const w = control.writeIndex;
  const r = control.readIndex;
  lines.push(style.bold(`ring image ${imagePath}`));
  lines.push(
    `  data area        ${dataSize} bytes (${dataSize / 4096} page${dataSize === 4096 ? '' : 's'}) after a 4096-byte control page`,
  );
  lines.push(`  write index      ${hex(w)} (${w})`);
  lines.push(`  read index       ${hex(r)} (${r})`);
  lines.push(`  interrupt mask   ${control.interruptMask}`);
  lines.push(`  pending send     ${control.pendingSendSize}`);
  lines.push(`  feature bits     ${hex(control.featureBits)}`);
  if (w < dataSize && r < dataSize) {
    const used = (w - r + dataSize) % dataSize;
    lines.push(`  used / free      ${used} / ${dataSize - used} bytes`);
  }
  lines.push('');
  const rows = [['offset', 'type', 'flags', 'offset8', 'len8', 'transaction id', 'payload']];
  for (const p of decoded.packets) {
    const bytes = p.payload.match(/../g) ?? [];
    const preview =
      bytes.slice(0, 16).join(' ') + (bytes.length > 16 ? ` ... (${bytes.length} bytes)` : '');
    rows.push([
      hex(p.offset),
      `${packetTypeName(p.type)} (${p.type})`,
      hex(p.flags),
      String(p.offset8),
      String(p.len8),
      p.transactionId,
      p.ranges
        ? `${preview} [${p.ranges.length} range${p.ranges.length === 1 ? '' : 's'}]`
        : preview,
    ]);
  }
  lines.push(style.bold(`packets: ${decoded.packets.length}`));
  for (const line of table(rows)) lines.push(`  ${line}`);
  if (decoded.error) {
    const e = decoded.error;
    lines.push('');
    lines.push(style.red(`damage at offset ${hex(e.offset)} (${e.offset}): ${e.code}`));
    lines.push(`  ${e.reason}`);
    if (e.offset < dataSize && e.offset % 8 === 0) {
      const view = new DataView(image.buffer, image.byteOffset + CONTROL_PAGE_SIZE, dataSize);
      const type = view.getUint16(e.offset, true);
      lines.push(
        style.dim(
          `  descriptor there: type ${type} (${packetTypeName(type)}), offset8 ${view.getUint16(e.offset + 2, true)}, len8 ${view.getUint16(e.offset + 4, true)}, flags ${hex(view.getUint16(e.offset + 6, true))}`,
        ),
      );
    }
  }
  io.out(`${lines.join('\n')}\n`);
  return decoded.error === undefined ? 0 : EXIT_DAMAGED;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/**
 * Reads a ring image file.
 *
 * @param path - the file
 * @returns its bytes
 * @throws UsageError for a missing file or one that is not a whole number of pages
 */
export function readImage(path: string): Uint8Array {
  let image: Uint8Array;
  try {
    image = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UsageError(
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (image.length < 2 * 4096 || image.length % 4096 !== 0) {
    throw new UsageError(
      `${path} is ${image.length} bytes: a ring image is a 4096-byte control page and a data area of whole 4096-byte pages`,
    );
  }
  return image;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, c] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows.map((row) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
