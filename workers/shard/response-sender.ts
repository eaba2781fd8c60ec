// Writes response frames into the shard → router ring. Frames of one drained
// batch are committed together (one notify); when the ring is full the rest
// wait, in order, for the router to consume (back-pressure, never dropping).

import { RingWriter } from '../../shared/ring.js';

export class ResponseSender {
  private readonly queue: Uint8Array[] = [];
  private offset = 0;
  private waiting = false;

  constructor(private readonly ring: RingWriter) {}

  send(frame: Uint8Array): void {
    this.queue.push(frame);
  }

  /** Writes what fits and publishes it; schedules the rest for when space frees. */
  flush(): void {
    while (this.queue.length > 0) {
      const frame = this.queue[0];
      this.offset = this.ring.write(frame, this.offset);
      if (this.offset < frame.length) break;
      this.queue.shift();
      this.offset = 0;
    }
    this.ring.commit();
    if (this.queue.length > 0 && !this.waiting) {
      this.waiting = true;
      void this.ring.waitForSpace().then(() => {
        this.waiting = false;
        this.flush();
      });
    }
  }
}
