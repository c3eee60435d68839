/**
 * NTSTATUS values by name (values of Wine's `include/ntstatus.h`, as listed
 * in the KMCL digest `../shared/reference/kmcl/API.md` §6), their names,
 * and `NT_SUCCESS`.
 *
 * `NT_SUCCESS(s)` is "`s` as a signed 32-bit number is >= 0": warnings
 * (0x8...) and errors (0xC...) are both failures; STATUS_PENDING is a
 * success code.
 *
 * @module
 */

/**
 * NTSTATUS values, as unsigned 32-bit numbers.
 *
 * @example
 * ```ts
 * import { NT_SUCCESS, NTSTATUS } from 'vmbus-kmcl';
 * console.log(NT_SUCCESS(NTSTATUS.STATUS_PENDING), NT_SUCCESS(NTSTATUS.STATUS_INVALID_PARAMETER_3)); // true false
 * console.log(NTSTATUS.STATUS_SUCCESS === 0); // true
 * ```
 */
export const NTSTATUS = {
  STATUS_SUCCESS: 0x00000000,
  STATUS_TIMEOUT: 0x00000102,
  STATUS_PENDING: 0x00000103,
  STATUS_BUFFER_OVERFLOW: 0x80000005,
  STATUS_UNSUCCESSFUL: 0xc0000001,
  STATUS_NOT_IMPLEMENTED: 0xc0000002,
  STATUS_INVALID_HANDLE: 0xc0000008,
  STATUS_INVALID_PARAMETER: 0xc000000d,
  STATUS_INVALID_DEVICE_REQUEST: 0xc0000010,
  STATUS_MORE_PROCESSING_REQUIRED: 0xc0000016,
  STATUS_NO_MEMORY: 0xc0000017,
  STATUS_BUFFER_TOO_SMALL: 0xc0000023,
  STATUS_INVALID_PARAMETER_MIX: 0xc0000030,
  STATUS_INSUFFICIENT_RESOURCES: 0xc000009a,
  STATUS_DEVICE_NOT_CONNECTED: 0xc000009d,
  STATUS_DEVICE_NOT_READY: 0xc00000a3,
  STATUS_NOT_SUPPORTED: 0xc00000bb,
  STATUS_INVALID_PARAMETER_1: 0xc00000ef,
  STATUS_INVALID_PARAMETER_2: 0xc00000f0,
  STATUS_INVALID_PARAMETER_3: 0xc00000f1,
  STATUS_INVALID_PARAMETER_4: 0xc00000f2,
  STATUS_INVALID_PARAMETER_5: 0xc00000f3,
  STATUS_INVALID_PARAMETER_6: 0xc00000f4,
  STATUS_INVALID_PARAMETER_7: 0xc00000f5,
  STATUS_INVALID_PARAMETER_8: 0xc00000f6,
  STATUS_INVALID_PARAMETER_9: 0xc00000f7,
  STATUS_INVALID_PARAMETER_10: 0xc00000f8,
  STATUS_INVALID_PARAMETER_11: 0xc00000f9,
  STATUS_INVALID_PARAMETER_12: 0xc00000fa,
  STATUS_CANCELLED: 0xc0000120,
  STATUS_INVALID_DEVICE_STATE: 0xc0000184,
  STATUS_INVALID_BUFFER_SIZE: 0xc0000206,
  STATUS_NOT_FOUND: 0xc0000225,
  STATUS_DEVICE_REMOVED: 0xc00002b6,
} as const;

/**
 * An NTSTATUS name, such as `STATUS_SUCCESS`.
 *
 * @example
 * ```ts
 * import { NTSTATUS, type NtStatusName } from 'vmbus-kmcl';
 * const name: NtStatusName = 'STATUS_DEVICE_REMOVED';
 * console.log(NTSTATUS[name] === 0xc00002b6); // true
 * ```
 */
export type NtStatusName = keyof typeof NTSTATUS;

const NAMES = new Map<number, NtStatusName>(
  Object.entries(NTSTATUS).map(([name, value]) => [value, name as NtStatusName]),
);

/**
 * Whether an NTSTATUS is a success (signed value >= 0).
 *
 * @param status - the status, signed or unsigned
 * @returns true for success and informational codes, false for warnings and errors
 * @example
 * ```ts
 * import { NT_SUCCESS, NTSTATUS } from 'vmbus-kmcl';
 * NT_SUCCESS(NTSTATUS.STATUS_PENDING); // true
 * NT_SUCCESS(NTSTATUS.STATUS_BUFFER_OVERFLOW); // false
 * ```
 */
export function NT_SUCCESS(status: number): boolean {
  return (status | 0) >= 0;
}

/**
 * The name of a status, or its hex form when it has none here.
 *
 * @param status - the status, signed or unsigned
 * @returns a name such as `STATUS_CANCELLED`, or `0x...`
 *
 * @example
 * ```ts
 * import { NTSTATUS, ntStatusName } from 'vmbus-kmcl';
 * console.log(ntStatusName(NTSTATUS.STATUS_INVALID_PARAMETER_3)); // STATUS_INVALID_PARAMETER_3
 * console.log(ntStatusName(0x12345678)); // 0x12345678
 * ```
 */
export function ntStatusName(status: number): string {
  const u = status >>> 0;
  return NAMES.get(u) ?? `0x${u.toString(16).padStart(8, '0')}`;
}
