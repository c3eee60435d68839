/**
 * Runs a callback in a later task of the event loop, as soon as possible:
 * `setImmediate` where it exists (Node), else a `MessageChannel` message
 * (browsers), never `setTimeout(0)`, which Node clamps to at least a
 * millisecond and browsers to four after nesting.
 *
 * @module
 */

type Immediate = (callback: () => void) => void;

const immediate: Immediate = (() => {
  const g = globalThis as {
    setImmediate?: (cb: () => void) => unknown;
    MessageChannel?: typeof MessageChannel;
  };
  if (typeof g.setImmediate === 'function') {
    const set = g.setImmediate;
    return (cb) => void set(cb);
  }
  if (typeof g.MessageChannel === 'function') {
    const queue: (() => void)[] = [];
    const channel = new g.MessageChannel();
    (channel.port1 as unknown as { onmessage: (() => void) | null }).onmessage = () =>
      queue.shift()?.();
    return (cb) => {
      queue.push(cb);
      channel.port2.postMessage(0);
    };
  }
  return (cb) => void setTimeout(cb, 0);
})();

/**
 * Schedules `callback` for the next task.
 *
 * @param callback - what to run
 * @example
 * ```ts
 * import { nextTask } from 'vmbus-kmcl';
 * nextTask(() => console.log('later, but not a millisecond later'));
 * ```
 */
export function nextTask(callback: () => void): void {
  immediate(callback);
}

/**
 * A promise that settles in the next task (to yield to the event loop).
 *
 * @returns the promise
 *
 * @example
 * ```ts
 * import { yieldTask } from 'vmbus-kmcl';
 * let other = false;
 * setImmediate(() => {
 *   other = true;
 * });
 * await yieldTask();
 * console.log(other); // true: queued work ran first
 * ```
 */
export function yieldTask(): Promise<void> {
  return new Promise((resolve) => immediate(resolve));
}
