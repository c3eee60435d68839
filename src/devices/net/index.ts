/**
 * The Hyper-V synthetic NIC (NVSP and RNDIS), both sides, and the virtual
 * switch that connects NICs of several guests.
 *
 * @module
 */

export { GuestBuffer } from './guest-buffer.js';
export { NetVsc, type NetVscOptions, type NetVscStats } from './net-vsc.js';
export { NetVsp, type NetVspOptions, type NetVspStats } from './net-vsp.js';
export * from './nvsp-protocol.js';
export {
  type FrameTicket,
  type SwitchPort,
  type SwitchStats,
  VirtualSwitch,
} from './virtual-switch.js';
