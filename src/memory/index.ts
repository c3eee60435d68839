/**
 * Guest physical memory: pages, allocation and memory descriptors.
 *
 * @module
 */

export { GuestMemory, MemoryAccessError, PAGE_SIZE } from './guest-memory.js';
export { MemoryDescriptor } from './memory-descriptor.js';
export { PageAllocator } from './page-allocator.js';
