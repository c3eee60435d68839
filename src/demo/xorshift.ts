/**
 * xorshift32, the small seeded generator the demo workloads and the tests
 * draw sizes, offsets and bytes from.
 *
 * @module
 */

/**
 * xorshift32: a small, fast, seeded generator.
 *
 * @param seed - seed (0 is taken as 1)
 * @returns a function giving the next u32
 */
export function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
