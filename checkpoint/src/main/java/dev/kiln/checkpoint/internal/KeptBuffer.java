package dev.kiln.checkpoint.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One direct buffer kept between uses. Fresh memory costs a page fault per 4 KiB and Java
 * zero-fills direct buffers, which for a small checkpoint takes as long as reading it. A user takes
 * the buffer (or a new one if it is in use or too small) and gives it back when nothing refers to
 * its contents any more; the larger of the two is kept.
 */
final class KeptBuffer {

  private final int maxBytes;
  private final AtomicReference<ByteBuffer> kept = new AtomicReference<>();

  KeptBuffer(int maxBytes) {
    this.maxBytes = maxBytes;
  }

  /** A cleared, native-order direct buffer of at least {@code size} bytes. */
  ByteBuffer take(int size) {
    if (size > maxBytes) {
      throw new IllegalArgumentException(size + " bytes is more than " + maxBytes);
    }
    ByteBuffer buffer = kept.getAndSet(null);
    if (buffer == null || buffer.capacity() < size) {
      // Rounded up so that a slightly larger state next time still fits.
      int capacity = Math.min(maxBytes, Math.max(1 << 20, Integer.highestOneBit(size) << 1));
      buffer = ByteBuffer.allocateDirect(Math.max(size, capacity));
    }
    return buffer.clear().order(ByteOrder.nativeOrder());
  }

  /** Keeps {@code buffer} for the next {@link #take} unless a larger one is already kept. */
  void giveBack(ByteBuffer buffer) {
    kept.accumulateAndGet(
        buffer, (old, given) -> old == null || old.capacity() < given.capacity() ? given : old);
  }
}
