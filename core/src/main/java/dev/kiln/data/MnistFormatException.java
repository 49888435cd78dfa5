package dev.kiln.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An MNIST-format file exists but does not hold what an MNIST IDX file must: a wrong magic number,
 * fewer items than its header declares, images that are not 28×28, a label outside 0..9, or image
 * and label files whose counts differ.
 *
 * <p>The message names the file, what was expected, what was found, and how to fix it (usually:
 * download the file again, or point the dataset at the right directory). A missing directory or
 * file is reported as a {@link java.nio.file.NoSuchFileException} instead, and a failing read as a
 * plain {@link IOException}.
 */
public final class MnistFormatException extends IOException {

  private static final long serialVersionUID = 1L;

  private final transient Path file;

  /**
   * @param file the offending file
   * @param message the cause and the fix
   */
  public MnistFormatException(Path file, String message) {
    super(message);
    this.file = Objects.requireNonNull(file, "file");
  }

  /**
   * @param file the offending file
   * @param message the cause and the fix
   * @param cause the low-level failure, e.g. a corrupt gzip stream
   */
  public MnistFormatException(Path file, String message, Throwable cause) {
    super(message, cause);
    this.file = Objects.requireNonNull(file, "file");
  }

  /** The file that is not valid, e.g. {@code .../t10k-labels-idx1-ubyte.gz}. */
  public Path file() {
    return file;
  }
}
