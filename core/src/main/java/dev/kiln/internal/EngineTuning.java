package dev.kiln.internal;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Process settings measured to speed up DJL training on CPU (see bench/README.md): glibc malloc
 * thresholds that stop freed tensor memory from being returned to the kernel and faulted back in on
 * the next step (15–20% of a CPU epoch). Applied once, before the engine loads; effective only on
 * Linux with glibc. Trade-off: the process keeps its peak memory.
 */
public final class EngineTuning {
  private static final Logger log = LoggerFactory.getLogger(EngineTuning.class);
  private static final AtomicBoolean APPLIED = new AtomicBoolean();

  private static final int M_TRIM_THRESHOLD = -1;
  private static final int M_TOP_PAD = -2;
  private static final int M_MMAP_THRESHOLD = -3;

  private EngineTuning() {}

  interface LibC extends Library {
    int mallopt(int param, int value);
  }

  /** Applies the allocator settings once; later calls do nothing. Returns whether they took. */
  public static boolean applyMallocTuning() {
    if (!APPLIED.compareAndSet(false, true)) {
      return true;
    }
    if (!Platform.isLinux() || "false".equalsIgnoreCase(System.getenv("KILN_MALLOC_TUNING"))) {
      return false;
    }
    try {
      LibC libc = Native.load("c", LibC.class);
      boolean ok =
          libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1
              & libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
              & libc.mallopt(M_TOP_PAD, 256 << 20) == 1;
      log.debug(
          "glibc malloc tuned for training (mmap threshold 32 MiB, trim 1 GiB, top pad 256 MiB):"
              + " {}",
          ok);
      return ok;
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      log.debug("malloc tuning not applied: {}", e.toString());
      return false;
    }
  }
}
