package dev.kiln.checkpoint.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Checkpoint files that the store has read into memory and verified, visible to the thread that
 * runs the checkpoint's reader: {@link #open} then serves those bytes instead of reading the file
 * again. A small checkpoint is thus read once, and the reader parses exactly the bytes that were
 * checked, even if the file changed on disk in between.
 */
public final class Preloaded {

  /**
   * Checkpoints up to this size are read into memory, verified there and parsed from there; the
   * buffer is kept between loads (fresh memory costs a page fault per 4 KiB and Java zero-fills it,
   * which for a small checkpoint takes as long as the read).
   */
  public static final int MAX_BYTES = 16 << 20;

  private static final ThreadLocal<Map<Path, ByteBuffer>> FILES = new ThreadLocal<>();
  private static final KeptBuffer MEMORY = new KeptBuffer(MAX_BYTES);

  private Preloaded() {}

  /** Makes {@code files} (absolute, normalized paths) visible to this thread until closed. */
  public static Scope install(Map<Path, ByteBuffer> files) {
    Map<Path, ByteBuffer> previous = FILES.get();
    FILES.set(Map.copyOf(files));
    return () -> {
      if (previous == null) {
        FILES.remove();
      } else {
        FILES.set(previous);
      }
    };
  }

  /** The verified bytes of {@code file} if this thread has them, else the file, for reading. */
  public static FileChannel open(Path file) throws IOException {
    Map<Path, ByteBuffer> files = FILES.get();
    if (files != null) {
      ByteBuffer contents = files.get(file.toAbsolutePath().normalize());
      if (contents != null) {
        return new MemoryChannel(contents);
      }
    }
    return FileChannel.open(file, StandardOpenOption.READ);
  }

  /** A direct buffer of at least {@code size} (≤ {@link #MAX_BYTES}) bytes, kept between loads. */
  public static ByteBuffer takeBuffer(int size) {
    return MEMORY.take(size);
  }

  /** Returns a buffer from {@link #takeBuffer} once nothing refers to its contents any more. */
  public static void giveBack(ByteBuffer buffer) {
    MEMORY.giveBack(buffer);
  }

  /** Ends an {@link #install}. */
  public interface Scope extends AutoCloseable {
    @Override
    void close();
  }
}
