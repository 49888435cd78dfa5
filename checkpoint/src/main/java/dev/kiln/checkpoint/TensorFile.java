package dev.kiln.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.kiln.checkpoint.internal.Failures;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * Writing does not sync the file; {@link CheckpointStore} does that when it commits.
 */
public final class TensorFile {

  private static final int BUFFER = 1 << 16;
  private static final long EMPTY_FILE_SIZE = 4;

  private TensorFile() {}

  /**
   * Writes {@code tensors} to {@code file} (replacing it), in map order, each under its map key.
   * The arrays' own names are restored afterwards.
   */
  public static void write(Path file, Map<String, NDArray> tensors) throws IOException {
    Objects.requireNonNull(file, "file == null");
    Objects.requireNonNull(tensors, "tensors == null");
    NDList list = new NDList(tensors.size());
    List<String> originalNames = new ArrayList<>(tensors.size());
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      if (e.getKey() == null || e.getValue() == null) {
        throw new IllegalArgumentException("tensors has a null name or array: " + e.getKey());
      }
      list.add(e.getValue());
    }
    try {
      for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
        originalNames.add(e.getValue().getName());
        e.getValue().setName(e.getKey());
      }
      try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), BUFFER)) {
        list.encode(out, NDList.Encoding.ND_LIST);
      }
    } finally {
      int i = 0;
      for (NDArray array : tensors.values()) {
        if (i < originalNames.size()) {
          array.setName(originalNames.get(i++));
        }
      }
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
    if (Files.size(file) == EMPTY_FILE_SIZE) {
      try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
        if (in.readInt() == 0) {
          return Collections.emptyMap();
        }
      }
    }
    NDList list;
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file), BUFFER)) {
      list = NDList.decode(manager, in);
    } catch (RuntimeException e) {
      throw new CheckpointException(
          "Tensor file "
              + file
              + " is not readable as a DJL NDList: "
              + Failures.cause(e.getCause() != null ? e.getCause() : e)
              + " — the file is damaged or was not written by TensorFile.write",
          e);
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
        list.close();
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
    List<String> missing = new ArrayList<>();
    List<String> unexpected = new ArrayList<>();
    List<String> wrongShape = new ArrayList<>();
    for (Map.Entry<String, Shape> e : expected.entrySet()) {
      NDArray array = tensors.get(e.getKey());
      if (array == null) {
        missing.add(e.getKey());
      } else if (!array.getShape().equals(e.getValue())) {
        wrongShape.add(
            "parameter '"
                + e.getKey()
                + "' has shape "
                + array.getShape()
                + " in the file but "
                + e.getValue()
                + " is expected");
      }
    }
    for (String name : tensors.keySet()) {
      if (!expected.containsKey(name)) {
        unexpected.add(name);
      }
    }
    if (missing.isEmpty() && unexpected.isEmpty() && wrongShape.isEmpty()) {
      return tensors;
    }
    tensors.values().forEach(NDArray::close);
    StringBuilder message =
        new StringBuilder("Tensor file ").append(file).append(" does not match: ");
    List<String> parts = new ArrayList<>();
    if (!missing.isEmpty()) {
      parts.add("missing " + missing);
    }
    if (!unexpected.isEmpty()) {
      parts.add("unexpected " + unexpected);
    }
    parts.addAll(wrongShape);
    message
        .append(String.join("; ", parts))
        .append(" — load it into the same model architecture it was saved from");
    throw new CheckpointException(message.toString());
  }
}
