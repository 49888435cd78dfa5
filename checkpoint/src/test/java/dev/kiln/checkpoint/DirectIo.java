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
   * True where the store picks direct I/O for {@code dir} ({@link TrailingHashes#directIoSuits})
   * and its file system takes {@code O_DIRECT}: then a file followed from its start has a writing
   * thread beside its hashing thread.
   */
  public static boolean isUsedIn(Path dir) throws IOException {
    if (!TrailingHashes.directIoSuits(dir)) {
      return false;
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
