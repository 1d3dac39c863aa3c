/** Keeps the last `capacity` items; reads newest first. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  newestFirst(limit = this.size): T[] {
    const n = Math.min(limit, this.size);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = this.items[(this.next - 1 - i + this.capacity) % this.capacity] as T;
    return out;
  }

  get length(): number {
    return this.size;
  }
}
