/**
 * The baseline: a deliberately naive ring in the same VMBus layout, every
 * byte moved with one `DataView` call and no validation beyond what keeps it
 * running. It shows what the real ring's word writes, bulk copies, batching
 * and cached views buy, measured in the same run.
 */

const CONTROL = 4096;

/** Naive single-producer single-consumer ring over a shared buffer. */
export class NaiveRing {
  private readonly view: DataView;
  private readonly control: Int32Array;
  private readonly size: number;

  /** @param sab - a 4096-byte control page and a data area */
  constructor(sab: SharedArrayBuffer) {
    this.view = new DataView(sab, CONTROL);
    this.control = new Int32Array(sab, 0, 32);
    this.size = sab.byteLength - CONTROL;
  }

  private put(pos: number, byte: number): number {
    this.view.setUint8(pos, byte);
    return pos + 1 === this.size ? 0 : pos + 1;
  }

  private get(pos: number): number {
    return this.view.getUint8(pos);
  }

  /**
   * Writes one in-band packet, byte by byte.
   *
   * @param payload - bytes
   * @param id - transaction id (u32)
   * @returns false when full
   */
  write(payload: Uint8Array, id: number): boolean {
    const w = Atomics.load(this.control, 0);
    const r = Atomics.load(this.control, 1);
    const len = (16 + payload.length + 7) & ~7;
    const used = (w - r + this.size) % this.size;
    if (this.size - used <= len + 8) return false;
    const header = [
      6,
      0,
      2,
      0,
      len >> 3,
      len >> 11,
      0,
      0,
      id & 255,
      (id >> 8) & 255,
      (id >> 16) & 255,
      id >>> 24,
      0,
      0,
      0,
      0,
    ];
    let p = w;
    for (const b of header) p = this.put(p, b);
    for (let i = 0; i < payload.length; i++) p = this.put(p, payload[i]!);
    for (let i = 16 + payload.length; i < len; i++) p = this.put(p, 0);
    for (let i = 0; i < 4; i++) p = this.put(p, 0);
    for (let i = 0; i < 4; i++) p = this.put(p, (w >>> (8 * i)) & 255);
    Atomics.store(this.control, 0, p);
    return true;
  }

  /**
   * Reads one packet into `dst`, byte by byte.
   *
   * @param dst - destination
   * @returns the transaction id, or -1 when empty
   */
  read(dst: Uint8Array): number {
    const r = Atomics.load(this.control, 1);
    const w = Atomics.load(this.control, 0);
    if (r === w) return -1;
    const len8 = this.get(r + 4) | (this.get(r + 5) << 8);
    let p = r + 8 >= this.size ? r + 8 - this.size : r + 8;
    let id = 0;
    for (let i = 0; i < 4; i++) {
      id |= this.get(p) << (8 * i);
      p = p + 1 === this.size ? 0 : p + 1;
    }
    p = (r + 16) % this.size;
    const n = len8 * 8 - 16;
    for (let i = 0; i < n && i < dst.length; i++) {
      dst[i] = this.get(p);
      p = p + 1 === this.size ? 0 : p + 1;
    }
    Atomics.store(this.control, 1, (r + len8 * 8 + 8) % this.size);
    return id >>> 0;
  }
}
