package dev.kiln.checkpoint;

import com.sun.nio.file.ExtendedOpenOption;
import dev.kiln.checkpoint.internal.TrailingHashes;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Whether saves write large files in a directory with direct I/O, as the store decides it. */
public final class DirectIo {

  private DirectIo() {}

  /**
   * True where the store picks direct I/O for {@code dir} ({@link TrailingHashes#directIoSuits}),
   * files of a MiB get it ({@code kiln.checkpoint.directIoMinBytes}, which this module's build
   * lowers to 1 MiB) and the file system takes {@code O_DIRECT}: then a file followed from its
   * start has a writing thread beside its hashing thread.
   */
  public static boolean isUsedIn(Path dir) throws IOException {
    if (!TrailingHashes.directIoSuits(dir)
        || Long.getLong("kiln.checkpoint.directIoMinBytes", 64L << 20) > (1 << 20)) {
      return false; // the tests' files are a few MiB: direct only if the build lowers the minimum
    }
    Path probe = Files.createTempFile(dir, "direct-io-probe", ".bin");
    try (FileChannel channel =
        FileChannel.open(probe, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT)) {
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    } finally {
      Files.delete(probe);
    }
  }

  /** The threads a save starts for one file followed from its start: hashing, and writing. */
  public static int threadsPerFollowedFile(Path dir) throws IOException {
    return isUsedIn(dir) ? 2 : 1;
  }
}
