package dev.kiln.checkpoint.internal;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads DJL's NDList encoding (what {@code NDList.encode} writes) from a file channel, copying each
 * tensor's bytes once: straight from the file into the tensor's memory when the engine exposes it
 * (PyTorch on CPU), else into a direct buffer the engine adopts. DJL's own decoder copies them
 * three times (through a stream buffer, a heap array and a zeroed direct buffer).
 *
 * <p>Every length is checked against the file before anything is allocated, so a damaged header
 * gives an error rather than a huge allocation.
 */
public final class NdListReader {

  /** The magic string before each array. */
  public static final String MAGIC = "NDAR";

  /** The array encoding version written (DJL 0.36 writes 3 and reads 1 to 3). */
  public static final int VERSION = 3;

  private static final int WINDOW = 1 << 17;
  private static final int MAX_DIMENSIONS = 64;

  private NdListReader() {}

  /** The file is not a valid NDList; the message says what is wrong and where. */
  public static final class MalformedException extends IOException {
    private static final long serialVersionUID = 1L;

    MalformedException(String message) {
      super(message);
    }
  }

  /**
   * One array's header, and where its data lies in the file.
   *
   * @param strings the values of a {@link DataType#STRING} array, else null
   */
  public record Header(
      String name,
      DataType dataType,
      Shape shape,
      ByteOrder order,
      long dataOffset,
      int length,
      String[] strings) {}

  /**
   * Reads every header, skipping the data, and checks that the file ends after the last array.
   *
   * @return the headers in file order; null if the file is in another format DJL reads (npz, a
   *     numpy array, safetensors)
   * @throws MalformedException if the file is damaged
   */
  public static List<Header> headers(FileChannel channel) throws IOException {
    Input in = new Input(channel);
    if (isOtherFormat(in)) {
      return null;
    }
    int count = in.readInt("the array count");
    if (count < 0) {
      throw in.malformed("the array count is negative (" + count + ")");
    }
    List<Header> headers = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      Header header = readHeader(in, i);
      if (header.strings() == null) {
        in.skip(header.length());
      }
      headers.add(header);
    }
    if (in.position() != in.size) {
      throw in.malformed(
          (in.size - in.position()) + " bytes follow the last of " + count + " arrays");
    }
    return headers;
  }

  /**
   * Reads every array in file order.
   *
   * @return the arrays, owned by {@code manager}; null if the file is in another format DJL reads
   *     (npz, a numpy array, safetensors)
   * @throws MalformedException if the file is damaged; nothing stays allocated
   */
  public static List<NDArray> read(FileChannel channel, NDManager manager) throws IOException {
    List<Header> headers = headers(channel);
    if (headers == null) {
      return null;
    }
    List<NDArray> arrays = new ArrayList<>();
    boolean done = false;
    try {
      for (Header header : headers) {
        arrays.add(readArray(channel, header, manager));
      }
      done = true;
      return arrays;
    } finally {
      if (!done) {
        arrays.forEach(NDArray::close);
      }
    }
  }

  /**
   * Copies each array's data into the target of the same name, which must have the header's shape
   * (the caller checks that, and that no array holds strings). The bytes are read into a staging
   * buffer and copied from there with the engine's in-place assignment, so targets of any layout,
   * data type or device work. Staging up to {@link #KEPT_STAGING_BYTES} is kept between calls:
   * fresh memory costs a page fault per 4 KiB, which for a small state takes longer than the read.
   * From a {@link MemoryChannel} the bytes are used where they are, without staging.
   */
  public static void readInto(
      FileChannel channel, List<Header> headers, Map<String, NDArray> targets, NDManager staging)
      throws IOException {
    // Bytes already in memory become tensors without a staging copy.
    MemoryChannel inMemory = channel instanceof MemoryChannel m ? m : null;
    int max = 0;
    if (inMemory == null) {
      for (Header h : headers) {
        max = Math.max(max, h.length());
      }
    }
    NDArray stagingArray = null;
    ByteBuffer memory;
    boolean kept = max > 0 && max <= KEPT_STAGING_BYTES;
    if (kept) {
      memory = STAGING.take(max);
    } else if (max > 0 && canWriteInPlace(staging, ByteOrder.nativeOrder())) {
      // Not zero-filled, unlike a direct ByteBuffer.
      stagingArray = staging.create(new Shape(max), DataType.UINT8);
      memory = stagingArray.toByteBuffer(true);
    } else {
      memory = max > 0 ? ByteBuffer.allocateDirect(max) : ByteBuffer.allocate(0);
    }
    try {
      for (Header h : headers) {
        NDArray target = targets.get(h.name());
        if (h.length() == 0) {
          continue;
        }
        ByteBuffer slice;
        if (inMemory != null) {
          slice = inMemory.slice(h.dataOffset(), h.length()).order(h.order());
        } else {
          slice = memory.duplicate().clear().limit(h.length()).slice().order(h.order());
          readFully(channel, slice, h.dataOffset());
          slice.rewind();
        }
        // A direct buffer becomes a tensor without a copy. Through a view without autograd:
        // PyTorch refuses in-place writes into a parameter that requires gradients on a thread
        // where grad mode is on.
        try (NDArray source = staging.create(slice, h.shape(), h.dataType());
            NDArray view = target.stopGradient()) {
          view.set(new NDIndex("..."), source);
        }
      }
    } finally {
      if (stagingArray != null) {
        stagingArray.close();
      }
      if (kept) {
        STAGING.giveBack(memory);
      }
    }
  }

  /** The largest staging buffer kept between reads. */
  static final int KEPT_STAGING_BYTES = 16 << 20;

  private static final KeptBuffer STAGING = new KeptBuffer(KEPT_STAGING_BYTES);

  private static boolean isOtherFormat(Input in) throws IOException {
    if (!in.fill(9)) {
      return false; // too short for another format; the NDList parser names the problem
    }
    ByteBuffer w = in.window;
    int p = w.position();
    boolean zip = w.get(p) == 'P' && w.get(p + 1) == 'K';
    boolean numpy = (w.get(p) & 0xff) == 0x93 && w.get(p + 1) == 'N' && w.get(p + 2) == 'U';
    boolean safetensors = w.get(p + 8) == '{';
    return zip || numpy || safetensors;
  }

  private static Header readHeader(Input in, int index) throws IOException {
    String what = "array #" + index;
    String magic = in.readUtf(what + "'s magic string");
    if (!MAGIC.equals(magic)) {
      throw in.malformed(what + " does not start with \"" + MAGIC + "\"");
    }
    int version = in.readInt(what + "'s version");
    if (version < 1 || version > VERSION) {
      throw in.malformed(what + " has encoding version " + version + " (1 to 3 are known)");
    }
    String name = null;
    if (version > 1 && in.readByte(what + "'s name flag") == 1) {
      name = in.readUtf(what + "'s name");
      what = "array '" + name + "'";
    }
    in.readUtf(what + "'s sparse format");
    String typeName = in.readUtf(what + "'s data type");
    DataType dataType;
    try {
      dataType = DataType.valueOf(typeName);
    } catch (IllegalArgumentException e) {
      throw in.malformed(what + " has an unknown data type '" + typeName + "'");
    }
    int rank = in.readInt(what + "'s rank");
    if (rank < 0 || rank > MAX_DIMENSIONS) {
      throw in.malformed(what + " has " + rank + " dimensions");
    }
    long[] dims = new long[rank];
    for (int d = 0; d < rank; d++) {
      dims[d] = in.readLong(what + "'s shape");
      if (dims[d] < 0) {
        throw in.malformed(what + " has a negative dimension " + dims[d]);
      }
    }
    int layoutLength = in.readInt(what + "'s layout");
    if (layoutLength < 0 || layoutLength > MAX_DIMENSIONS) {
      throw in.malformed(what + " has a layout of " + layoutLength + " entries");
    }
    char[] layout = new char[layoutLength];
    for (int d = 0; d < layoutLength; d++) {
      layout[d] = in.readChar(what + "'s layout");
    }
    Shape shape;
    try {
      shape = new Shape(dims, new String(layout));
    } catch (IllegalArgumentException e) {
      throw in.malformed(what + " has an invalid layout '" + new String(layout) + "'");
    }
    if (dataType == DataType.STRING) {
      int count = in.readInt(what + "'s string count");
      if (count < 0 || count > in.remaining()) {
        throw in.malformed(what + " has " + count + " strings");
      }
      String[] values = new String[count];
      for (int i = 0; i < count; i++) {
        values[i] = in.readUtf(what + "'s strings");
      }
      return new Header(name, dataType, shape, ByteOrder.nativeOrder(), in.position(), 0, values);
    }
    ByteOrder order = ByteOrder.nativeOrder();
    if (version > 2) {
      order =
          in.readByte(what + "'s byte order") == '>'
              ? ByteOrder.BIG_ENDIAN
              : ByteOrder.LITTLE_ENDIAN;
    }
    int length = in.readInt(what + "'s data length");
    long expected;
    try {
      long elements = 1;
      for (long d : dims) {
        elements = Math.multiplyExact(elements, d);
      }
      expected = Math.multiplyExact(elements, (long) dataType.getNumOfBytes());
    } catch (ArithmeticException e) {
      throw in.malformed(what + " has a shape " + shape + " too large to exist");
    }
    if (length != expected) {
      throw in.malformed(
          what
              + " holds "
              + length
              + " bytes but its shape "
              + shape
              + " of "
              + dataType
              + " needs "
              + expected);
    }
    if (length > in.remaining()) {
      throw in.malformed(
          what
              + " needs "
              + length
              + " bytes but the file has "
              + in.remaining()
              + " left (truncated)");
    }
    return new Header(name, dataType, shape, order, in.position(), length, null);
  }

  private static NDArray readArray(FileChannel channel, Header h, NDManager manager)
      throws IOException {
    NDArray array = null;
    try {
      if (h.strings() != null) {
        array = manager.create(h.strings(), h.shape());
      } else if (h.length() > 0 && canWriteInPlace(manager, h.order())) {
        array = manager.create(h.shape(), h.dataType()); // uninitialised; filled from the file
        ByteBuffer memory = array.toByteBuffer(true);
        if (!memory.isDirect() || memory.remaining() != h.length()) {
          throw new IllegalStateException(
              "the engine did not expose the memory of a new " + h.shape() + " array");
        }
        readFully(channel, memory, h.dataOffset());
      } else {
        ByteBuffer data = manager.allocateDirect(h.length()).order(h.order());
        readFully(channel, data, h.dataOffset());
        data.rewind();
        array = manager.create(data, h.shape(), h.dataType());
      }
      array.setName(h.name());
      return array;
    } catch (IOException | RuntimeException e) {
      if (array != null) {
        array.close();
      }
      throw e;
    }
  }

  private static void readFully(FileChannel channel, ByteBuffer target, long offset)
      throws IOException {
    long pos = offset;
    while (target.hasRemaining()) {
      int read = channel.read(target, pos);
      if (read < 0) {
        throw new MalformedException("the file ends inside a tensor's data at byte " + pos);
      }
      pos += read;
    }
  }

  /** PyTorch's CPU tensors expose their memory: {@code toByteBuffer(true)} is a view. */
  private static boolean canWriteInPlace(NDManager manager, ByteOrder order) {
    return order == ByteOrder.nativeOrder()
        && manager.getDevice().equals(Device.cpu())
        && "PyTorch".equals(manager.getEngine().getEngineName());
  }

  /** The channel read through a 128 KiB window; big payloads bypass it. */
  private static final class Input {
    final FileChannel channel;
    final long size;
    final ByteBuffer window = ByteBuffer.allocate(WINDOW).limit(0);
    long windowStart; // file offset of window index 0

    Input(FileChannel channel) throws IOException {
      this.channel = channel;
      this.size = channel.size();
    }

    long position() {
      return windowStart + window.position();
    }

    long remaining() {
      return size - position();
    }

    /** Makes {@code n} bytes available in the window; false if the file ends first. */
    boolean fill(int n) throws IOException {
      if (window.remaining() >= n) {
        return true;
      }
      long pos = position();
      window.compact();
      windowStart = pos;
      while (window.position() < n) {
        int read = channel.read(window, windowStart + window.position());
        if (read < 0) {
          break;
        }
      }
      window.flip();
      return window.remaining() >= n;
    }

    private void need(int n, String what) throws IOException {
      if (!fill(n)) {
        throw malformed("the file ends inside " + what + " (truncated)");
      }
    }

    int readInt(String what) throws IOException {
      need(4, what);
      return window.getInt();
    }

    long readLong(String what) throws IOException {
      need(8, what);
      return window.getLong();
    }

    byte readByte(String what) throws IOException {
      need(1, what);
      return window.get();
    }

    char readChar(String what) throws IOException {
      need(2, what);
      return window.getChar();
    }

    /** A {@code DataOutput.writeUTF} string: 2-byte length, modified UTF-8. */
    String readUtf(String what) throws IOException {
      need(2, what);
      int length = Short.toUnsignedInt(window.getShort(window.position()));
      need(2 + length, what);
      byte[] bytes = new byte[2 + length];
      window.get(bytes);
      try {
        return new DataInputStream(new ByteArrayInputStream(bytes)).readUTF();
      } catch (IOException e) {
        throw malformed(what + " is not valid modified UTF-8");
      }
    }

    /** Moves past {@code n} bytes, which {@link #readHeader} checked are in the file. */
    void skip(int n) {
      if (n <= window.remaining()) {
        window.position(window.position() + n);
      } else {
        windowStart = position() + n;
        window.clear().limit(0);
      }
    }

    MalformedException malformed(String message) {
      return new MalformedException(message + " at byte " + position());
    }
  }
}
