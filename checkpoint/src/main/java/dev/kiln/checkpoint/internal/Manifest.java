package dev.kiln.checkpoint.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.checkpoint.CheckpointFile;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The contents of {@code manifest.json}: written last into a checkpoint, it describes every other
 * file. Parsed as a JSON tree into plain values only; nothing in it selects a class to instantiate.
 */
public record Manifest(
    int formatVersion,
    int epoch,
    long step,
    Instant createdAt,
    Map<String, String> versions,
    Map<String, Double> metrics,
    Map<String, Object> metadata,
    Map<String, CheckpointFile> files) {

  public static final String FILE_NAME = "manifest.json";
  public static final String FORMAT = "kiln-checkpoint";

  /**
   * 2: files list {@code partCrc32c}. Version 1 listed {@code partSha256} instead, which is ignored
   * (such files are verified by their whole SHA-256); a Kiln that reads only version 1 would reject
   * the new entries as malformed, and this way says "load it with a newer Kiln" instead.
   */
  public static final int FORMAT_VERSION = 2;

  /** Refuse to parse manifests larger than this; a real one is a few KiB. */
  public static final long MAX_BYTES = 16L << 20;

  /** Writes manifests; the first save of a process need not build an ObjectMapper (0.2 s). */
  private static final JsonFactory FACTORY = new JsonFactory();

  /** Reads manifests, built when the first one is read. */
  private static final class Reading {
    static final ObjectMapper MAPPER = new ObjectMapper();
  }

  /** A manifest could not be parsed; the message says which field and why. */
  public static final class InvalidManifestException extends Exception {
    private static final long serialVersionUID = 1L;
    private final boolean unsupportedVersion;

    InvalidManifestException(String message, boolean unsupportedVersion) {
      super(message);
      this.unsupportedVersion = unsupportedVersion;
    }

    public boolean unsupportedVersion() {
      return unsupportedVersion;
    }
  }

  /**
   * The manifest as indented JSON. Written with the streaming generator rather than through a tree:
   * a save runs this once, mostly before the JIT has compiled it, and the tree's data binding ran
   * about a millisecond per save in the interpreter here.
   */
  public byte[] toJson() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      g.useDefaultPrettyPrinter();
      g.writeStartObject();
      g.writeStringField("format", FORMAT);
      g.writeNumberField("formatVersion", formatVersion);
      g.writeNumberField("epoch", epoch);
      g.writeNumberField("step", step);
      g.writeStringField("createdAt", createdAt.toString());
      g.writeObjectFieldStart("versions");
      for (Map.Entry<String, String> e : versions.entrySet()) {
        g.writeStringField(e.getKey(), e.getValue());
      }
      g.writeEndObject();
      g.writeObjectFieldStart("metrics");
      for (Map.Entry<String, Double> e : metrics.entrySet()) {
        double value = e.getValue();
        if (Double.isFinite(value)) {
          g.writeNumberField(e.getKey(), value);
        } else {
          g.writeStringField(e.getKey(), e.getValue().toString()); // "NaN", "Infinity", ...
        }
      }
      g.writeEndObject();
      g.writeFieldName("metadata");
      writeValue(g, metadata);
      g.writeArrayFieldStart("files");
      for (CheckpointFile file : files.values()) {
        g.writeStartObject();
        g.writeStringField("name", file.name());
        g.writeNumberField("size", file.size());
        g.writeStringField("sha256", file.sha256());
        if (!file.partCrc32c().isEmpty()) {
          g.writeNumberField("partSize", file.partSize());
          g.writeArrayFieldStart("partCrc32c");
          for (String part : file.partCrc32c()) {
            g.writeString(part);
          }
          g.writeEndArray();
        }
        g.writeEndObject();
      }
      g.writeEndArray();
      g.writeEndObject();
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode manifest: " + e.getMessage(), e);
    }
    return out.toByteArray();
  }

  /** Writes a plain value as {@link JsonValues} allows them: null, String, Boolean, Number, ... */
  private static void writeValue(JsonGenerator g, Object value) throws IOException {
    if (value == null) {
      g.writeNull();
    } else if (value instanceof String string) {
      g.writeString(string);
    } else if (value instanceof Boolean bool) {
      g.writeBoolean(bool);
    } else if (value instanceof Integer
        || value instanceof Long
        || value instanceof Short
        || value instanceof Byte) {
      g.writeNumber(((Number) value).longValue());
    } else if (value instanceof Double d) {
      g.writeNumber(d);
    } else if (value instanceof Float f) {
      g.writeNumber(f); // as a float: 0.1f is "0.1", not 0.10000000149011612
    } else if (value instanceof BigInteger big) {
      g.writeNumber(big);
    } else if (value instanceof BigDecimal big) {
      g.writeNumber(big);
    } else if (value instanceof Number number) { // AtomicLong, a user's own Number type, ...
      writeOtherNumber(g, number);
    } else if (value instanceof Map<?, ?> map) {
      g.writeStartObject();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        g.writeFieldName((String) e.getKey());
        writeValue(g, e.getValue());
      }
      g.writeEndObject();
    } else if (value instanceof Collection<?> list) {
      g.writeStartArray();
      for (Object element : list) {
        writeValue(g, element);
      }
      g.writeEndArray();
    } else {
      throw new IllegalStateException("not a plain JSON value: " + value.getClass().getName());
    }
  }

  private static void writeOtherNumber(JsonGenerator g, Number number) throws IOException {
    try {
      g.writeNumber(new BigDecimal(number.toString()));
    } catch (NumberFormatException e) {
      g.writeString(number.toString());
    }
  }

  public static Manifest parse(byte[] json) throws InvalidManifestException {
    JsonNode root;
    try {
      root = Reading.MAPPER.readTree(json);
    } catch (java.io.IOException e) {
      throw new InvalidManifestException(
          "not valid JSON (" + firstLine(e.getMessage()) + ")", false);
    }
    if (root == null || !root.isObject()) {
      throw new InvalidManifestException("not a JSON object", false);
    }
    if (!FORMAT.equals(root.path("format").asText())) {
      throw new InvalidManifestException("field 'format' is not \"" + FORMAT + "\"", false);
    }
    int version = requiredInt(root, "formatVersion");
    if (version > FORMAT_VERSION || version < 1) {
      throw new InvalidManifestException(
          "format version "
              + version
              + " is not supported (this Kiln reads "
              + FORMAT_VERSION
              + "); load it with a newer Kiln",
          true);
    }
    int epoch = requiredInt(root, "epoch");
    long step = required(root, "step").asLong();
    if (!required(root, "step").canConvertToLong() || step < 0) {
      throw new InvalidManifestException("field 'step' is not a non-negative integer", false);
    }
    Instant createdAt;
    try {
      createdAt = Instant.parse(required(root, "createdAt").asText());
    } catch (DateTimeParseException e) {
      throw new InvalidManifestException("field 'createdAt' is not an ISO-8601 instant", false);
    }
    Map<String, String> versions = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = object(root, "versions").fields();
        it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      versions.put(e.getKey(), e.getValue().asText());
    }
    Map<String, Double> metrics = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = object(root, "metrics").fields();
        it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      metrics.put(e.getKey(), metricValue(e.getKey(), e.getValue()));
    }
    Map<String, Object> metadata;
    try {
      @SuppressWarnings("unchecked")
      Map<String, Object> raw =
          Reading.MAPPER.convertValue(object(root, "metadata"), LinkedHashMap.class);
      metadata = JsonValues.copyObject(raw, "metadata");
    } catch (IllegalArgumentException e) {
      throw new InvalidManifestException("field 'metadata' is malformed: " + e.getMessage(), false);
    }
    JsonNode filesNode = required(root, "files");
    if (!filesNode.isArray()) {
      throw new InvalidManifestException("field 'files' is not an array", false);
    }
    Map<String, CheckpointFile> files = new LinkedHashMap<>();
    for (JsonNode f : filesNode) {
      String name = required(f, "name").asText();
      JsonNode size = required(f, "size");
      String sha = required(f, "sha256").asText();
      if (!size.canConvertToLong()
          || size.asLong() < 0
          || !sha.matches("[0-9a-f]{64}")
          || !isSafe(name)) {
        throw new InvalidManifestException("entry for file '" + name + "' is malformed", false);
      }
      long partSize = 0;
      List<String> parts = new ArrayList<>();
      JsonNode partSizeNode = f.get("partSize");
      // Format version 1 listed a "partSha256" per part; it is ignored. A file without part
      // checksums (version 1, or written so) is verified by its whole SHA-256.
      JsonNode partsNode = f.get("partCrc32c");
      if (partsNode != null) {
        if (partSizeNode == null
            || !partSizeNode.canConvertToLong()
            || partSizeNode.asLong() <= 0
            || !partsNode.isArray()) {
          throw new InvalidManifestException(
              "entry for file '" + name + "' has malformed parts", false);
        }
        partSize = partSizeNode.asLong();
        for (JsonNode part : partsNode) {
          if (!part.isTextual() || !part.asText().matches("[0-9a-f]{8}")) {
            throw new InvalidManifestException(
                "entry for file '" + name + "' has a malformed part checksum", false);
          }
          parts.add(part.asText());
        }
      }
      try {
        files.put(name, new CheckpointFile(name, size.asLong(), sha, partSize, parts));
      } catch (IllegalArgumentException e) {
        throw new InvalidManifestException(
            "entry for file '" + name + "' is inconsistent: " + e.getMessage(), false);
      }
    }
    return new Manifest(
        version,
        epoch,
        step,
        createdAt,
        Collections.unmodifiableMap(versions),
        Collections.unmodifiableMap(metrics),
        metadata,
        Collections.unmodifiableMap(files));
  }

  public static String toJsonString(Manifest manifest) {
    return new String(manifest.toJson(), StandardCharsets.UTF_8);
  }

  /** True if {@code name} is a relative path that stays inside the checkpoint directory. */
  public static boolean isSafe(String name) {
    if (name.isEmpty() || name.startsWith("/") || name.contains("\\") || name.contains("\0")) {
      return false;
    }
    for (String part : name.split("/", -1)) {
      if (part.isEmpty() || part.equals(".") || part.equals("..")) {
        return false;
      }
    }
    return true;
  }

  private static double metricValue(String name, JsonNode node) throws InvalidManifestException {
    if (node.isNumber()) {
      return node.asDouble();
    }
    switch (node.asText()) {
      case "NaN":
        return Double.NaN;
      case "Infinity":
        return Double.POSITIVE_INFINITY;
      case "-Infinity":
        return Double.NEGATIVE_INFINITY;
      default:
        throw new InvalidManifestException("metric '" + name + "' is not a number", false);
    }
  }

  private static JsonNode required(JsonNode node, String field) throws InvalidManifestException {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      throw new InvalidManifestException("field '" + field + "' is missing", false);
    }
    return value;
  }

  private static int requiredInt(JsonNode node, String field) throws InvalidManifestException {
    JsonNode value = required(node, field);
    if (!value.canConvertToInt() || !value.isIntegralNumber()) {
      throw new InvalidManifestException("field '" + field + "' is not an integer", false);
    }
    return value.asInt();
  }

  private static JsonNode object(JsonNode node, String field) throws InvalidManifestException {
    JsonNode value = required(node, field);
    if (!value.isObject()) {
      throw new InvalidManifestException("field '" + field + "' is not an object", false);
    }
    return value;
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "no detail";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
