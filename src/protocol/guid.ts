/**
 * GUIDs as canonical strings (`f8615163-df3e-46c5-913f-f2d2f965ed0e`) and
 * their Windows mixed-endian wire layout (spec vmbus-wire.md §3.3): the
 * first three groups little-endian, the last two as bytes in order.
 *
 * ```
 * f8615163-df3e-46c5-913f-f2d2f965ed0e
 * -> 63 51 61 f8 | 3e df | c5 46 | 91 3f | f2 d2 f9 65 ed 0e
 * ```
 *
 * @module
 */

/**
 * A GUID in canonical lower-case form.
 *
 * @example
 * ```ts
 * import { type Guid, readGuid, writeGuid } from 'vmbus-kmcl/protocol';
 * const bytes = new Uint8Array(16);
 * writeGuid('ba6163d9-04a1-4d29-b605-72e2ffb1dc7f', bytes, 0);
 * const id: Guid = readGuid(bytes, 0); // a checked, canonical lower-case string
 * console.log(id.length); // 36
 * ```
 */
export type Guid = string & { readonly __brand: 'Guid' };

const PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The all-zero GUID.
 *
 * @example
 * ```ts
 * import { NIL_GUID, readGuid } from 'vmbus-kmcl/protocol';
 * console.log(String(readGuid(new Uint8Array(16), 0)) === NIL_GUID); // true
 * ```
 */
export const NIL_GUID = '00000000-0000-0000-0000-000000000000' as Guid;

/**
 * Checks and normalises a GUID string.
 *
 * @param text - a GUID in the 8-4-4-4-12 hex form, any case, optionally in braces
 * @returns the canonical lower-case GUID
 * @throws TypeError when `text` is not a GUID
 * @example
 * ```ts
 * import { parseGuid } from 'vmbus-kmcl/protocol';
 * parseGuid('{BA6163D9-04A1-4D29-B605-72E2FFB1DC7F}'); // 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f'
 * ```
 */
export function parseGuid(text: string): Guid {
  const t = text
    .trim()
    .replace(/^\{(.*)\}$/, '$1')
    .toLowerCase();
  if (!PATTERN.test(t)) throw new TypeError(`${JSON.stringify(text)} is not a GUID`);
  return t as Guid;
}

/**
 * Writes a GUID in its wire layout.
 *
 * @param guid - canonical GUID
 * @param dst - destination
 * @param offset - where the 16 bytes go
 *
 * @example
 * ```ts
 * import { readGuid, writeGuid } from 'vmbus-kmcl/protocol';
 * const bytes = new Uint8Array(16);
 * writeGuid('ba6163d9-04a1-4d29-b605-72e2ffb1dc7f', bytes, 0);
 * console.log(bytes[0]?.toString(16)); // d9: the first field is little-endian
 * console.log(String(readGuid(bytes, 0))); // ba6163d9-04a1-4d29-b605-72e2ffb1dc7f
 * ```
 */
export function writeGuid(guid: Guid | string, dst: Uint8Array, offset: number): void {
  const hex = parseGuid(guid).replace(/-/g, '');
  const byte = (i: number) => Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  for (let i = 0; i < 16; i++) dst[offset + i] = byte(order[i]!);
}

/**
 * Reads a GUID from its wire layout.
 *
 * @param src - source
 * @param offset - where the 16 bytes are
 * @returns the canonical GUID
 *
 * @example
 * ```ts
 * import { readGuid } from 'vmbus-kmcl/protocol';
 * const bytes = Uint8Array.from([0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f]);
 * console.log(String(readGuid(bytes, 0))); // ba6163d9-04a1-4d29-b605-72e2ffb1dc7f
 * ```
 */
export function readGuid(src: Uint8Array, offset: number): Guid {
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  let hex = '';
  for (let i = 0; i < 16; i++) {
    hex += (src[offset + order[i]!] ?? 0).toString(16).padStart(2, '0');
    if (i === 3 || i === 5 || i === 7 || i === 9) hex += '-';
  }
  return hex as Guid;
}
