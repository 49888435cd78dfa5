package dev.kiln.data.internal;

import dev.kiln.data.MnistFormatException;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads an IDX file of unsigned bytes (the MNIST format), raw or gzip-compressed.
 *
 * <p>Layout: a 4-byte big-endian magic number whose last byte is the rank, then one 4-byte
 * big-endian size per dimension, then the items as unsigned bytes. Whether the file is gzip is
 * decided by its first two bytes (0x1f 0x8b), never by its name.
 */
public final class IdxFile {

  /** Magic number of an IDX file of unsigned-byte images: 0x00000803. */
  public static final int IMAGES_MAGIC = 2051;

  /** Magic number of an IDX file of unsigned-byte labels: 0x00000801. */
  public static final int LABELS_MAGIC = 2049;

  private static final int GZIP_FIRST = 0x1f;
  private static final int GZIP_SECOND = 0x8b;

  /**
   * What was read.
   *
   * @param file the file
   * @param declaredCount the number of items the header declares
   * @param count the number of items read: the declared count, or fewer if a limit applied
   * @param data {@code count} items of {@code itemSize} bytes each, back to back
   */
  public record Contents(Path file, int declaredCount, int count, byte[] data) {}

  private IdxFile() {}

  /**
   * Reads the first {@code limit} items of an IDX file.
   *
   * @param file the file to read
   * @param what the items' name for messages, e.g. {@code "images"}
   * @param expectedMagic {@link #IMAGES_MAGIC} or {@link #LABELS_MAGIC}
   * @param expectedItemDims each item's dimensions, e.g. {@code {28, 28}}; empty for labels
   * @param limit the most items to read
   * @throws MnistFormatException if the file is not such an IDX file or is truncated
   * @throws IOException if reading fails
   */
  public static Contents read(
      Path file, String what, int expectedMagic, int[] expectedItemDims, int limit)
      throws IOException {
    try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        DataInputStream in = new DataInputStream(decompressIfGzip(raw))) {
      int magic = readHeaderInt(in, file);
      if (magic != expectedMagic) {
        throw new MnistFormatException(file, badMagicMessage(file, expectedMagic, magic));
      }
      int declared = readHeaderInt(in, file);
      if (declared < 0) {
        throw new MnistFormatException(
            file,
            file
                + " declares a negative number of "
                + what
                + " ("
                + declared
                + "): the header is corrupt — download the file again");
      }
      int[] dims = new int[expectedItemDims.length];
      for (int i = 0; i < dims.length; i++) {
        dims[i] = readHeaderInt(in, file);
      }
      if (!Arrays.equals(dims, expectedItemDims)) {
        throw new MnistFormatException(
            file,
            file
                + " holds "
                + what
                + " of "
                + formatDims(dims)
                + "; MNIST "
                + what
                + " are "
                + formatDims(expectedItemDims)
                + " — this is not MNIST or Fashion-MNIST data; pass a directory with MNIST-format"
                + " files");
      }
      int itemSize = Arrays.stream(dims).reduce(1, Math::multiplyExact);
      int count = Math.min(declared, limit);
      byte[] data = new byte[Math.multiplyExact(count, itemSize)];
      int got = in.readNBytes(data, 0, data.length);
      if (got < data.length) {
        throw new MnistFormatException(
            file,
            file
                + " is truncated: its header declares "
                + declared
                + " "
                + what
                + " but the file holds only "
                + got / itemSize
                + " — download it again (an interrupted download or a full disk cuts files short)");
      }
      return new Contents(file, declared, count, data);
    } catch (EOFException | ZipException e) {
      throw new MnistFormatException(
          file,
          file
              + " is a truncated or corrupt gzip file ("
              + e.getMessage()
              + ") — download it again",
          e);
    }
  }

  private static InputStream decompressIfGzip(InputStream in) throws IOException {
    in.mark(2);
    int first = in.read();
    int second = in.read();
    in.reset();
    if (first == GZIP_FIRST && second == GZIP_SECOND) {
      return new BufferedInputStream(new GZIPInputStream(in, 1 << 16), 1 << 16);
    }
    return in;
  }

  private static int readHeaderInt(DataInputStream in, Path file) throws IOException {
    try {
      return in.readInt();
    } catch (EOFException e) {
      throw new MnistFormatException(
          file,
          file
              + " ends inside its header: it is empty or cut short, not an MNIST IDX file"
              + " — download it again",
          e);
    }
  }

  private static String badMagicMessage(Path file, int expected, int found) {
    String message =
        file
            + " is not an MNIST IDX "
            + (expected == IMAGES_MAGIC ? "images" : "labels")
            + " file: expected magic number "
            + expected
            + ", found "
            + found;
    if (found == IMAGES_MAGIC || found == LABELS_MAGIC) {
      return message
          + " (an IDX "
          + (found == IMAGES_MAGIC ? "images" : "labels")
          + " file) — the images and labels files seem swapped; check their names";
    }
    return message + " — download the file again or check that it is an MNIST-format file";
  }

  private static String formatDims(int[] dims) {
    return Arrays.stream(dims).mapToObj(Integer::toString).collect(Collectors.joining("×"));
  }
}
