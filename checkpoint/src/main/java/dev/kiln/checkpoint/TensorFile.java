package dev.kiln.checkpoint;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import dev.kiln.checkpoint.internal.Failures;
import dev.kiln.checkpoint.internal.NdListReader;
import dev.kiln.checkpoint.internal.Preloaded;
import dev.kiln.checkpoint.internal.TrailingHashes;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Named tensors in one file, in DJL's own {@link NDList} encoding ({@link
 * NDList#encode(OutputStream)}), so plain DJL ({@link NDList#decode(NDManager, InputStream)}) reads
 * it too. Names, data types and shapes are kept; reading creates arrays and never runs code from
 * the file.
 *
 * <p>Limits: each tensor must be smaller than 2 GiB (DJL's encoding stores lengths as {@code int}).
 * DJL's own decoder cannot read a file of no tensors (it needs 9 bytes); this class can. Writing
 * does not sync the file; {@link CheckpointStore} does that when it commits. Written inside a
 * store's save, a file of 1 MiB or more is hashed as it is written and then gets a modification
 * time about 10 s in the past: the store's mark that the file is unchanged since, so that it need
 * not read it again.
 */
public final class TensorFile {

  private static final int BUFFER = 1 << 16;

  private TensorFile() {}

  /**
   * Writes {@code tensors} to {@code file} (replacing it), in map order, each under its map key,
   * straight from the tensors' memory where the engine exposes it. The arrays are not changed.
   */
  public static void write(Path file, Map<String, NDArray> tensors) throws IOException {
    Objects.requireNonNull(file, "file == null");
    Objects.requireNonNull(tensors, "tensors == null");
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      if (e.getKey() == null || e.getValue() == null) {
        throw new IllegalArgumentException("tensors has a null name or array: " + e.getKey());
      }
    }
    // Inside a CheckpointStore save, a thread of the store hashes what this writes as it goes.
    TrailingHashes.writeFile(
        file,
        dataBytes(tensors),
        output -> {
          ByteArrayOutputStream header = new ByteArrayOutputStream(256);
          DataOutputStream out = new DataOutputStream(header);
          out.writeInt(tensors.size());
          for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray array = e.getValue();
            if (array.getDataType() == DataType.STRING
                || array.getSparseFormat() != SparseFormat.DENSE) {
              out.write(encodeWithDjl(e.getKey(), array));
              continue;
            }
            // Copies the engine makes on the way (to the CPU, to contiguous memory) land in a
            // scratch manager and are freed after the write; the array returns to its own manager.
            try (NDManager scratch = array.getManager().newSubManager()) {
              array.tempAttach(scratch);
              // A view of the tensor's memory where the engine allows it (PyTorch on CPU), else a
              // copy.
              ByteBuffer data = array.toByteBuffer(true);
              out.writeUTF(NdListReader.MAGIC);
              out.writeInt(NdListReader.VERSION);
              out.write(1);
              out.writeUTF(e.getKey());
              out.writeUTF(SparseFormat.DENSE.name());
              out.writeUTF(array.getDataType().name());
              out.write(array.getShape().getEncoded());
              out.write(data.order() == ByteOrder.BIG_ENDIAN ? '>' : '<');
              out.writeInt(data.remaining());
              output.write(ByteBuffer.wrap(header.toByteArray()));
              header.reset();
              output.write(data);
            }
          }
          output.write(ByteBuffer.wrap(header.toByteArray()));
        });
  }

  /**
   * The bytes of the tensors' data, without headers: about the size of the file, a hint only. An
   * array that cannot tell (closed, say) counts as empty; writing it fails in its turn.
   */
  private static long dataBytes(Map<String, NDArray> tensors) {
    long bytes = 0;
    for (NDArray array : tensors.values()) {
      try {
        if (array.getDataType() != DataType.STRING) {
          bytes += array.size() * array.getDataType().getNumOfBytes();
        }
      } catch (RuntimeException e) {
        // counted as empty
      }
    }
    return bytes;
  }

  /** DJL's own encoding of one array, stored under {@code name}. */
  private static byte[] encodeWithDjl(String name, NDArray array) {
    String original = array.getName();
    array.setName(name);
    try {
      return array.encode();
    } finally {
      array.setName(original);
    }
  }

  /**
   * Reads every tensor in {@code file}, in file order, keyed by name. The arrays belong to {@code
   * manager}.
   *
   * @throws CheckpointException if the file is not a valid tensor file, or a tensor has no name or
   *     a duplicate name
   */
  public static Map<String, NDArray> read(Path file, NDManager manager) throws IOException {
    Objects.requireNonNull(file, "file == null");
    Objects.requireNonNull(manager, "manager == null");
    List<NDArray> list;
    try (FileChannel channel = Preloaded.open(file)) {
      list = NdListReader.read(channel, manager);
    } catch (NdListReader.MalformedException e) {
      throw notReadable(file, e.getMessage(), e);
    }
    if (list == null) {
      list = readWithDjl(file, manager); // not DJL's NDList encoding: npz or safetensors
    }
    Map<String, NDArray> result = new LinkedHashMap<>();
    for (int i = 0; i < list.size(); i++) {
      NDArray array = list.get(i);
      String name = array.getName();
      String error = null;
      if (name == null) {
        error = "tensor #" + i + " has no name";
      } else if (result.containsKey(name)) {
        error = "the name '" + name + "' occurs twice";
      }
      if (error != null) {
        list.forEach(NDArray::close);
        throw new CheckpointException(
            "Tensor file "
                + file
                + " is not usable: "
                + error
                + " — write it with TensorFile.write, which stores each tensor under its map key");
      }
      result.put(name, array);
    }
    return Collections.unmodifiableMap(result);
  }

  private static List<NDArray> readWithDjl(Path file, NDManager manager) throws IOException {
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), BUFFER)) {
      return NDList.decode(manager, in);
    } catch (RuntimeException e) {
      throw notReadable(file, Failures.cause(e.getCause() != null ? e.getCause() : e), e);
    }
  }

  private static CheckpointException notReadable(Path file, String why, Exception cause) {
    return new CheckpointException(
        "Tensor file "
            + file
            + " is not readable as a DJL NDList: "
            + why
            + " — the file is damaged or was not written by TensorFile.write",
        cause);
  }

  /**
   * Reads {@code file} like {@link #read(Path, NDManager)} and checks that it holds exactly the
   * {@code expected} names with the expected shapes. On a mismatch the arrays read are closed.
   *
   * @throws CheckpointException naming missing and unexpected tensors, or each parameter whose
   *     shape differs with both shapes
   */
  public static Map<String, NDArray> read(Path file, NDManager manager, Map<String, Shape> expected)
      throws IOException {
    Objects.requireNonNull(expected, "expected == null");
    Map<String, NDArray> tensors = read(file, manager);
    Map<String, Shape> actual = new LinkedHashMap<>();
    tensors.forEach((name, array) -> actual.put(name, array.getShape()));
    String mismatch = mismatch(actual, expected);
    if (mismatch != null) {
      tensors.values().forEach(NDArray::close);
      throw doesNotMatch(file, mismatch);
    }
    return tensors;
  }

  /**
   * Reads {@code file} into existing arrays: each tensor's values are copied into the array of the
   * same name in {@code targets}, which must hold exactly the file's names with the same shapes
   * (data types and devices may differ; values are converted and moved). Faster than {@link
   * #read(Path, NDManager)} followed by a copy, and allocates no new arrays beyond one staging
   * buffer the size of the largest tensor.
   *
   * <p>Names and shapes are checked before any target is written. If reading fails after that (an
   * I/O error), some targets hold the file's values and the others their old ones.
   *
   * @throws CheckpointException if the file is damaged, holds other names or shapes (naming each
   *     missing, unexpected and differently shaped tensor with both shapes), or holds strings
   */
  public static void readInto(Path file, Map<String, NDArray> targets) throws IOException {
    Objects.requireNonNull(file, "file == null");
    Objects.requireNonNull(targets, "targets == null");
    try (FileChannel channel = Preloaded.open(file)) {
      List<NdListReader.Header> headers = NdListReader.headers(channel);
      if (headers == null) {
        throw notReadable(file, "it is in another format (npz or safetensors)", null);
      }
      Map<String, Shape> actual = new LinkedHashMap<>();
      for (NdListReader.Header h : headers) {
        if (h.strings() != null) {
          throw new CheckpointException(
              "Tensor file "
                  + file
                  + " holds strings in '"
                  + h.name()
                  + "'; readInto copies numbers only — read it with TensorFile.read");
        }
        if (h.name() == null || actual.put(h.name(), h.shape()) != null) {
          throw new CheckpointException(
              "Tensor file "
                  + file
                  + " is not usable: "
                  + (h.name() == null
                      ? "a tensor has no name"
                      : "the name '" + h.name() + "' occurs twice")
                  + " — write it with TensorFile.write, which stores each tensor under its map"
                  + " key");
        }
      }
      Map<String, Shape> expected = new LinkedHashMap<>();
      targets.forEach((name, array) -> expected.put(name, array.getShape()));
      String mismatch = mismatch(actual, expected);
      if (mismatch != null) {
        throw doesNotMatch(file, mismatch);
      }
      if (targets.isEmpty()) {
        return;
      }
      NDManager owner = targets.values().iterator().next().getManager();
      try (NDManager staging = owner.newSubManager(Device.cpu())) {
        NdListReader.readInto(channel, headers, targets, staging);
      }
    } catch (NdListReader.MalformedException e) {
      throw notReadable(file, e.getMessage(), e);
    }
  }

  /** Describes how {@code actual} differs from {@code expected}; null if it does not. */
  private static String mismatch(Map<String, Shape> actual, Map<String, Shape> expected) {
    List<String> missing = new ArrayList<>();
    List<String> unexpected = new ArrayList<>();
    List<String> wrongShape = new ArrayList<>();
    for (Map.Entry<String, Shape> e : expected.entrySet()) {
      Shape shape = actual.get(e.getKey());
      if (shape == null) {
        missing.add(e.getKey());
      } else if (!Arrays.equals(shape.getShape(), e.getValue().getShape())) {
        wrongShape.add(
            "parameter '"
                + e.getKey()
                + "' has shape "
                + shape
                + " in the file but "
                + e.getValue()
                + " is expected");
      }
    }
    for (String name : actual.keySet()) {
      if (!expected.containsKey(name)) {
        unexpected.add(name);
      }
    }
    if (missing.isEmpty() && unexpected.isEmpty() && wrongShape.isEmpty()) {
      return null;
    }
    List<String> parts = new ArrayList<>();
    if (!missing.isEmpty()) {
      parts.add("missing " + missing);
    }
    if (!unexpected.isEmpty()) {
      parts.add("unexpected " + unexpected);
    }
    parts.addAll(wrongShape);
    return String.join("; ", parts);
  }

  private static CheckpointException doesNotMatch(Path file, String mismatch) {
    return new CheckpointException(
        "Tensor file "
            + file
            + " does not match: "
            + mismatch
            + " — load it into the same model architecture it was saved from");
  }
}
