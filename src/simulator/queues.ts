/**
 * The two queues the simulator's event loop runs on: a binary min-heap of timed events, ordered
 * by time and then by insertion so equal times resolve the same way every run, and a growable
 * ring buffer of request ids (the activator's buffer and each replica's queue).
 */

/** A timed event; `seq` is assigned by the queue. */
export interface TimedEvent {
  readonly atMs: number;
  seq: number;
}

/** A binary min-heap of events by (`atMs`, insertion order). */
export class EventQueue<E extends TimedEvent> {
  private readonly heap: E[] = [];
  private nextSeq = 0;

  /** Number of events waiting. */
  get size(): number {
    return this.heap.length;
  }

  /** The earliest event, without removing it. */
  peek(): E | undefined {
    return this.heap[0];
  }

  /** Adds an event. */
  push(event: E): void {
    event.seq = this.nextSeq++;
    const heap = this.heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent] as E)) break;
      heap[i] = heap[parent] as E;
      i = parent;
    }
    heap[i] = event;
  }

  /** Removes and returns the earliest event. */
  pop(): E | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right] as E, heap[left] as E) ? right : left;
      if (!before(heap[child] as E, last)) break;
      heap[i] = heap[child] as E;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: TimedEvent, b: TimedEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

/** A first-in first-out queue of non-negative integers (request ids) in a growable ring buffer. */
export class IdQueue {
  private items = new Int32Array(16);
  private head = 0;
  private count = 0;

  /** Number of ids queued. */
  get length(): number {
    return this.count;
  }

  /** Appends an id. */
  push(id: number): void {
    if (this.count === this.items.length) {
      const grown = new Int32Array(this.items.length * 2);
      for (let i = 0; i < this.count; i++) grown[i] = this.items[(this.head + i) % this.items.length] as number;
      this.items = grown;
      this.head = 0;
    }
    this.items[(this.head + this.count) % this.items.length] = id;
    this.count += 1;
  }

  /** The id `index` places behind the head (0 = the head); the caller keeps `index < length`. */
  at(index: number): number {
    return this.items[(this.head + index) % this.items.length] as number;
  }

  /** Removes and returns the head; the caller keeps `length > 0`. */
  shift(): number {
    const id = this.items[this.head] as number;
    this.head = (this.head + 1) % this.items.length;
    this.count -= 1;
    return id;
  }
}
