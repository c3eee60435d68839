/**
 * A disk image file as a block backend for the storage VSP (the Node
 * adapter: it uses `node:fs`). Reads and writes go through a file handle,
 * so requests in flight complete in whatever order the file system answers.
 *
 * @module
 */

import { type FileHandle, open } from 'node:fs/promises';
import type { BlockBackend } from '../devices/storage/scsi-disk.js';

/** A raw disk image. *
 * @example
 * ```ts
 * import { ScsiDisk } from 'vmbus-kmcl';
 * import { FileBackend } from 'vmbus-kmcl/node';
 * const backend = await FileBackend.open('/tmp/disk.img', { create: 16 << 20 });
 * const disk = new ScsiDisk(backend); // serve it with a StorageVsp
 * console.log(disk.backend.blockCount); // 32768
 * await backend.close();
 * ```
 */
export class FileBackend implements BlockBackend {
  readonly blockSize: number;
  readonly blockCount: number;
  readonly readOnly: boolean;
  private readonly handle: FileHandle;

  private constructor(handle: FileHandle, size: number, blockSize: number, readOnly: boolean) {
    this.handle = handle;
    this.blockSize = blockSize;
    this.blockCount = Math.floor(size / blockSize);
    this.readOnly = readOnly;
  }

  /**
   * Opens an image, creating it with `createBytes` if asked.
   *
   * @param path - the image file
   * @param options - `create` bytes for a new image (or to grow one), `readOnly`, `blockSize`
   * @returns the backend
   * @throws Error when the file cannot be opened or holds no whole block
   */
  static async open(
    path: string,
    options: { create?: number; readOnly?: boolean; blockSize?: number } = {},
  ): Promise<FileBackend> {
    const blockSize = options.blockSize ?? 512;
    const flags = options.create !== undefined ? 'a+' : options.readOnly ? 'r' : 'r+';
    let handle = await open(path, flags);
    if (options.create !== undefined) {
      await handle.close();
      handle = await open(path, 'r+');
      const { size } = await handle.stat();
      if (size < options.create) await handle.truncate(options.create);
    }
    const { size } = await handle.stat();
    if (size < blockSize) {
      await handle.close();
      throw new Error(`${path} holds no whole ${blockSize}-byte block`);
    }
    return new FileBackend(handle, size, blockSize, options.readOnly ?? false);
  }

  /**
   * Reads whole blocks.
   * @param lba - the first block
   * @param dst - receives whole blocks
   */
  async read(lba: number, dst: Uint8Array): Promise<void> {
    await this.handle.read(dst, 0, dst.length, lba * this.blockSize);
  }
  /**
   * Writes whole blocks.
   * @param lba - the first block
   * @param src - whole blocks
   */
  async write(lba: number, src: Uint8Array): Promise<void> {
    await this.handle.write(src, 0, src.length, lba * this.blockSize);
  }
  async flush(): Promise<void> {
    await this.handle.datasync();
  }
  /** Closes the file. */
  async close(): Promise<void> {
    await this.handle.close();
  }
}
