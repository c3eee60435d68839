/**
 * VMBus protocol versions, feature flags, offer flags and open flags (spec
 * vmbus-wire.md §3.4, §3.5). A version is `(major << 16) | minor`.
 *
 * @module
 */

/**
 * Protocol versions by name, oldest first.
 *
 * @example
 * ```ts
 * import { VMBUS_VERSION, versionName } from 'vmbus-kmcl/protocol';
 * console.log(versionName(VMBUS_VERSION.WIN10) === 'WIN10'); // true
 * ```
 */
export const VMBUS_VERSION = {
  /** 0.13, Windows Server 2008. */
  WS2008: 0x0000000d,
  /** 1.1, Windows 7 / Server 2008 R2. */
  WIN7: 0x00010001,
  /** 2.4, Windows 8 / Server 2012. */
  WIN8: 0x00020004,
  /** 3.0, Windows 8.1 / Server 2012 R2. */
  WIN8_1: 0x00030000,
  /** 4.0, Windows 10. */
  WIN10: 0x00040000,
  /** 4.1, Windows 10 RS3. */
  WIN10_V4_1: 0x00040001,
  /** 5.0, newer Windows 10 (multiclient: INITIATE_CONTACT goes to connection 4). */
  WIN10_V5: 0x00050000,
  /** 5.1, Windows 10 RS4. */
  WIN10_V5_1: 0x00050001,
  /** 5.2, Windows Server 2019 / RS5. */
  WIN10_V5_2: 0x00050002,
  /** 5.3, Windows Server 2022 ("Iron"). */
  WIN10_V5_3: 0x00050003,
  /** 6.0, "Copper": feature flags in INITIATE_CONTACT and VERSION_RESPONSE. */
  COPPER: 0x00060000,
} as const;

/**
 * Every version, newest first: the order a guest proposes them in.
 *
 * @example
 * ```ts
 * import { VMBUS_VERSION, VMBUS_VERSIONS_NEWEST_FIRST } from 'vmbus-kmcl/protocol';
 * console.log(VMBUS_VERSIONS_NEWEST_FIRST.at(-1) === VMBUS_VERSION.WS2008); // true: the oldest is tried last
 * ```
 */
export const VMBUS_VERSIONS_NEWEST_FIRST: readonly number[] = Object.values(VMBUS_VERSION).sort(
  (a, b) => b - a,
);

/**
 * The name of a version, such as `WIN10_V5_3`, or its `major.minor` form.
 *
 * @param version - `(major << 16) | minor`
 * @returns the name
 *
 * @example
 * ```ts
 * import { versionName } from 'vmbus-kmcl/protocol';
 * console.log(versionName(0x50003)); // the name of protocol 5.3
 * ```
 */
export function versionName(version: number): string {
  for (const [name, v] of Object.entries(VMBUS_VERSION)) if (v === version) return name;
  return `${version >>> 16}.${version & 0xffff}`;
}

/**
 * Feature flags negotiated at Copper (INITIATE_CONTACT @20, VERSION_RESPONSE @16).
 *
 * @example
 * ```ts
 * import { VMBUS_FEATURE } from 'vmbus-kmcl/protocol';
 * const features = VMBUS_FEATURE.GUEST_SPECIFIED_SIGNAL_PARAMETERS | VMBUS_FEATURE.PAUSE_RESUME;
 * console.log((features & VMBUS_FEATURE.PAUSE_RESUME) !== 0); // true
 * ```
 */
export const VMBUS_FEATURE = {
  GUEST_SPECIFIED_SIGNAL_PARAMETERS: 0x1,
  CHANNEL_INTERRUPT_REDIRECTION: 0x2,
  MODIFY_CONNECTION: 0x4,
  CLIENT_ID: 0x8,
  CONFIDENTIAL_CHANNELS: 0x10,
  PAUSE_RESUME: 0x20,
  SERVER_SPECIFIED_MONITOR_PAGES: 0x40,
  GPA_PINNING: 0x80,
} as const;

/**
 * Offer flags (OFFERCHANNEL @56), openvmm/MSVM names.
 *
 * @example
 * ```ts
 * import { OFFER_FLAG } from 'vmbus-kmcl/protocol';
 * const flags = OFFER_FLAG.ENUMERATE_DEVICE_INTERFACE | OFFER_FLAG.NAMED_PIPE_MODE;
 * console.log((flags & OFFER_FLAG.NAMED_PIPE_MODE) !== 0); // true
 * ```
 */
export const OFFER_FLAG = {
  ENUMERATE_DEVICE_INTERFACE: 0x1,
  CONFIDENTIAL_RING_BUFFER: 0x2,
  CONFIDENTIAL_EXTERNAL_MEMORY: 0x4,
  REQUIRE_PINNED_EXTERNAL_MEMORY: 0x8,
  NAMED_PIPE_MODE: 0x10,
  LOOPBACK_OFFER: 0x100,
  PARENT_OFFER: 0x200,
  REQUEST_MONITORED_NOTIFICATION: 0x400,
  TLNPI_PROVIDER: 0x2000,
} as const;

/**
 * Open flags (OPENCHANNEL @154, with feature 0x2).
 *
 * @example
 * ```ts
 * import { OPEN_FLAG } from 'vmbus-kmcl/protocol';
 * console.log(OPEN_FLAG.REDIRECT_INTERRUPT === 1); // true
 * ```
 */
export const OPEN_FLAG = {
  REDIRECT_INTERRUPT: 0x1,
} as const;

/**
 * VERSION_RESPONSE connection states (@9).
 *
 * @example
 * ```ts
 * import { CONNECTION_STATE } from 'vmbus-kmcl/protocol';
 * console.log(CONNECTION_STATE.SUCCESSFUL === 0); // true: the value a VersionResponse carries on success
 * ```
 */
export const CONNECTION_STATE = {
  SUCCESSFUL: 0,
  FAILED_LOW_RESOURCES: 1,
  FAILED_UNKNOWN_FAILURE: 2,
} as const;
