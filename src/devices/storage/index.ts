/**
 * The Hyper-V synthetic SCSI controller (VSTOR), both sides.
 *
 * @module
 */

export {
  type BlockBackend,
  MemoryBackend,
  ScsiDisk,
  type ScsiDiskOptions,
  type ScsiResult,
  SENSE,
  senseData,
} from './scsi-disk.js';
export {
  type ScsiOutcome,
  StorageError,
  StorageVsc,
  type StorageVscOptions,
} from './storage-vsc.js';
export { StorageVsp, type StorageVspOptions, type StorageVspStats } from './storage-vsp.js';
export * from './vstor-protocol.js';
