/**
 * `vmbus-kmcl`: Hyper-V VMBus in TypeScript. The root export gathers every
 * layer; the subpath exports (`vmbus-kmcl/ring`, `vmbus-kmcl/protocol`) give
 * one layer each.
 *
 * @module
 */

export * from './bus/index.js';
export * from './devices/echo/index.js';
export * from './devices/net/index.js';
export { openClientChannel } from './devices/open-client-channel.js';
export * from './devices/storage/index.js';
export * from './kmcl/index.js';
export { GuestMemory, MemoryAccessError, MemoryDescriptor, PageAllocator } from './memory/index.js';
export * from './protocol/index.js';
export * from './ring/index.js';
export { EventWord } from './signal/event-word.js';
export { nextTask, yieldTask } from './signal/next-task.js';
export { NT_SUCCESS, NTSTATUS, type NtStatusName, ntStatusName } from './status/ntstatus.js';
export { VmbusError } from './status/vmbus-error.js';
