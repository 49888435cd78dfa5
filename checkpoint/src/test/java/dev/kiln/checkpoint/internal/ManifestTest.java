package dev.kiln.checkpoint.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.checkpoint.CheckpointFile;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class ManifestTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final long MIB = 1L << 20;

  private static String hex(char c) {
    return String.valueOf(c).repeat(64);
  }

  /** A part checksum: 8 hex digits. */
  private static String crc(char c) {
    return String.valueOf(c).repeat(8);
  }

  /** A manifest with a 2.5 MiB file in three parts, a small file in one part and an empty file. */
  private static Manifest manifest() {
    Map<String, CheckpointFile> files = new LinkedHashMap<>();
    files.put(
        "model.bin",
        new CheckpointFile(
            "model.bin", 2 * MIB + MIB / 2, hex('a'), MIB, List.of(crc('b'), crc('c'), crc('d'))));
    files.put("state.json", new CheckpointFile("state.json", 17, hex('e'), MIB, List.of(crc('e'))));
    files.put("empty.bin", new CheckpointFile("empty.bin", 0, hex('f')));
    return new Manifest(
        Manifest.FORMAT_VERSION,
        3,
        1234,
        Instant.parse("2025-01-02T03:04:05Z"),
        Map.of("kiln", "0.1.0"),
        Map.of("loss", 0.5),
        Map.of("note", "x"),
        files);
  }

  @Test
  void everyKindOfPlainMetadataValueIsWrittenAsJsonAndReadBack() throws Exception {
    Map<String, Object> metadata = new LinkedHashMap<>();
    metadata.put("text", "quote \" newline \n e-acute \u00e9");
    metadata.put("int", 3);
    metadata.put("long", 1L << 40);
    metadata.put("short", (short) 7);
    metadata.put("double", 0.1);
    metadata.put("float", 1.5f);
    metadata.put("inexactFloat", 0.1f);
    metadata.put("bigInteger", new BigInteger("123456789012345678901234567890"));
    metadata.put("bigDecimal", new BigDecimal("2.50"));
    metadata.put("atomic", new AtomicLong(42));
    metadata.put("flag", true);
    metadata.put("nothing", null);
    metadata.put("nested", Map.of("list", List.of(1, "a", Map.of("k", 2.5))));
    Manifest manifest = withMetadata(JsonValues.copyObject(metadata, "metadata"));

    JsonNode written = MAPPER.readTree(manifest.toJson()).get("metadata");

    assertThat(written.get("text").asText()).isEqualTo("quote \" newline \n e-acute \u00e9");
    assertThat(written.get("long").asLong()).isEqualTo(1L << 40);
    assertThat(written.get("short").isIntegralNumber()).isTrue();
    assertThat(written.get("float").asDouble()).isEqualTo(1.5);
    assertThat(written.get("inexactFloat").asText()).isEqualTo("0.1"); // as a float prints
    assertThat(written.get("bigInteger").bigIntegerValue())
        .isEqualTo(new BigInteger("123456789012345678901234567890"));
    assertThat(written.get("bigDecimal").decimalValue()).isEqualByComparingTo("2.5");
    assertThat(written.get("atomic").isNumber()).isTrue();
    assertThat(written.get("atomic").asLong()).isEqualTo(42);
    assertThat(written.get("nothing").isNull()).isTrue();
    assertThat(written.at("/nested/list/2/k").asDouble()).isEqualTo(2.5);
    Map<String, Object> read = Manifest.parse(manifest.toJson()).metadata();
    assertThat(read)
        .containsEntry("int", 3)
        .containsEntry("flag", true)
        .containsEntry("double", 0.1);
    assertThat(read.get("nested")).isEqualTo(Map.of("list", List.of(1, "a", Map.of("k", 2.5))));
  }

  @Test
  void nonFiniteMetricsAreWrittenAsStringsAndReadBackAsTheirValues() throws Exception {
    Map<String, Double> metrics = new LinkedHashMap<>();
    metrics.put("nan", Double.NaN);
    metrics.put("inf", Double.POSITIVE_INFINITY);
    metrics.put("loss", 0.25);
    Manifest m = manifest();
    Manifest manifest =
        new Manifest(
            m.formatVersion(),
            m.epoch(),
            m.step(),
            m.createdAt(),
            m.versions(),
            metrics,
            m.metadata(),
            m.files());

    JsonNode written = MAPPER.readTree(manifest.toJson()).get("metrics");

    assertThat(written.get("nan").asText()).isEqualTo("NaN");
    assertThat(written.get("inf").asText()).isEqualTo("Infinity");
    assertThat(written.get("loss").isNumber()).isTrue();
    assertThat(Manifest.parse(manifest.toJson()).metrics()).isEqualTo(metrics);
  }

  private static Manifest withMetadata(Map<String, Object> metadata) {
    Manifest m = manifest();
    return new Manifest(
        m.formatVersion(),
        m.epoch(),
        m.step(),
        m.createdAt(),
        m.versions(),
        m.metrics(),
        metadata,
        m.files());
  }

  @Test
  void partChecksumsRoundTrip() throws Exception {
    Manifest manifest = manifest();

    Manifest parsed = Manifest.parse(manifest.toJson());

    assertThat(parsed).isEqualTo(manifest);
    CheckpointFile model = parsed.files().get("model.bin");
    assertThat(model.partSize()).isEqualTo(MIB);
    assertThat(model.partCrc32c()).containsExactly(crc('b'), crc('c'), crc('d'));
    assertThat(parsed.files().get("state.json").partSize()).isEqualTo(MIB);
    assertThat(parsed.files().get("state.json").partCrc32c()).containsExactly(crc('e'));
    assertThat(parsed.files().get("empty.bin").partCrc32c()).isEmpty();
  }

  @Test
  void partChecksumsAreWrittenAsPartCrc32cAndNeverAsPartSha256() {
    String json = Manifest.toJsonString(manifest());

    assertThat(json)
        .contains("\"partCrc32c\"")
        .contains("\"" + crc('c') + "\"")
        .doesNotContain("partSha256");
  }

  @Test
  void partFieldsAreWrittenOnlyForFilesWithParts() throws IOException {
    JsonNode files = MAPPER.readTree(manifest().toJson()).get("files");

    assertThat(files.get(0).get("partSize").asLong()).isEqualTo(MIB);
    assertThat(files.get(0).get("partCrc32c")).hasSize(3);
    assertThat(files.get(0).get("partCrc32c").get(2).asText()).isEqualTo(crc('d'));
    assertThat(files.get(2).get("name").asText()).isEqualTo("empty.bin");
    assertThat(files.get(2).has("partSize")).isFalse();
    assertThat(files.get(2).has("partCrc32c")).isFalse();
  }

  @Test
  void aFormatVersion1EntryWithoutPartFieldsParsesAsAFileWithoutParts() throws Exception {
    ObjectNode root = (ObjectNode) MAPPER.readTree(manifest().toJson());
    root.put("formatVersion", 1);
    ObjectNode entry = (ObjectNode) root.get("files").get(0);
    entry.remove("partSize");
    entry.remove("partCrc32c");

    CheckpointFile model = Manifest.parse(MAPPER.writeValueAsBytes(root)).files().get("model.bin");

    assertThat(model).isEqualTo(new CheckpointFile("model.bin", 2 * MIB + MIB / 2, hex('a')));
  }

  @Test
  void legacyEntryWithPartSizeAndPartSha256ParsesAsAFileWithoutPartsKeepingItsSha256()
      throws Exception {
    // As the previous Kiln wrote it: format version 1, a SHA-256 per part of a file over 1 MiB.
    String json =
        """
        {
          "format" : "kiln-checkpoint",
          "formatVersion" : 1,
          "epoch" : 3,
          "step" : 1234,
          "createdAt" : "2025-01-02T03:04:05Z",
          "versions" : { "kiln" : "0.1.0" },
          "metrics" : { },
          "metadata" : { },
          "files" : [ {
            "name" : "model.bin",
            "size" : 2621440,
            "sha256" : "%s",
            "partSize" : 1048576,
            "partSha256" : [ "%s", "%s", "%s" ]
          }, {
            "name" : "state.json",
            "size" : 17,
            "sha256" : "%s"
          } ]
        }
        """
            .formatted(hex('a'), hex('b'), hex('c'), hex('d'), hex('e'));

    Manifest parsed = Manifest.parse(json.getBytes(StandardCharsets.UTF_8));

    CheckpointFile model = parsed.files().get("model.bin");
    assertThat(model.sha256()).isEqualTo(hex('a'));
    assertThat(model.size()).isEqualTo(2 * MIB + MIB / 2);
    assertThat(model.partSize()).isZero();
    assertThat(model.partCrc32c()).isEmpty();
    assertThat(model).isEqualTo(new CheckpointFile("model.bin", 2 * MIB + MIB / 2, hex('a')));
    assertThat(parsed.files().get("state.json"))
        .isEqualTo(new CheckpointFile("state.json", 17, hex('e')));
    assertThat(parsed.formatVersion()).isEqualTo(1);
  }

  @Test
  void legacyPartSha256NextToPartCrc32cIsIgnored() throws Exception {
    byte[] json =
        edit(
            model -> {
              ArrayNode legacy = model.putArray("partSha256");
              legacy.add(hex('1')).add(hex('2'));
            });

    assertThat(Manifest.parse(json)).isEqualTo(manifest());
  }

  @Test
  void fewerPartChecksumsThanSizeAndPartSizeNeedAreRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partCrc32c")).remove(2));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin'")
        .hasMessageContaining("partCrc32c has 2 checksums");
  }

  @Test
  void morePartChecksumsThanSizeAndPartSizeNeedAreRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partCrc32c")).add(crc('f')));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin'");
  }

  @Test
  void partSizeThatDoesNotFitTheChecksumCountIsRejected() throws IOException {
    byte[] json = edit(model -> model.put("partSize", 2 * MIB));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin'");
  }

  @Test
  void uppercaseHexPartChecksumIsRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partCrc32c")).set(1, "BBBBBBBB"));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin'")
        .hasMessageContaining("malformed part checksum");
  }

  @Test
  void nonHexPartChecksumIsRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partCrc32c")).set(0, crc('z')));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("malformed part checksum");
  }

  @Test
  void partChecksumOfSevenHexDigitsIsRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partCrc32c")).set(0, "abcdef0"));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin'")
        .hasMessageContaining("malformed part checksum");
  }

  @Test
  void partChecksumOfNineHexDigitsIsRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partCrc32c")).set(0, "abcdef012"));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("malformed part checksum");
  }

  @Test
  void aSha256InPartCrc32cIsRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partCrc32c")).set(0, hex('b')));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("malformed part checksum");
  }

  @Test
  void numericPartChecksumIsRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partCrc32c")).set(0, 7));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("malformed part checksum");
  }

  @Test
  void anEntryWithoutPartCrc32cParsesAsAFileWithoutPartsAsToJsonWritesIt() throws Exception {
    byte[] json = edit(model -> model.remove("partCrc32c"));

    CheckpointFile model = Manifest.parse(json).files().get("model.bin");

    assertThat(model).isEqualTo(new CheckpointFile("model.bin", 2 * MIB + MIB / 2, hex('a')));
  }

  @Test
  void aFormatVersion1EntryWithPartSizeButNoPartCrc32cHasNoParts() throws Exception {
    ObjectNode root = (ObjectNode) MAPPER.readTree(manifest().toJson());
    root.put("formatVersion", 1);
    ((ObjectNode) root.get("files").get(0)).remove("partCrc32c");

    CheckpointFile model = Manifest.parse(MAPPER.writeValueAsBytes(root)).files().get("model.bin");

    assertThat(model).isEqualTo(new CheckpointFile("model.bin", 2 * MIB + MIB / 2, hex('a')));
  }

  @Test
  void partCrc32cWithoutPartSizeIsRejected() throws IOException {
    byte[] json = edit(model -> model.remove("partSize"));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin' has malformed parts");
  }

  @Test
  void zeroNegativeOrNonNumericPartSizeIsRejected() throws IOException {
    for (Consumer<ObjectNode> edit :
        List.<Consumer<ObjectNode>>of(
            model -> model.put("partSize", 0),
            model -> model.put("partSize", -MIB),
            model -> model.put("partSize", "1048576"))) {
      byte[] json = edit(edit);

      assertThatThrownBy(() -> Manifest.parse(json))
          .isInstanceOf(Manifest.InvalidManifestException.class)
          .hasMessageContaining("'model.bin' has malformed parts");
    }
  }

  @Test
  void partCrc32cThatIsNotAnArrayIsRejected() throws IOException {
    byte[] json = edit(model -> model.put("partCrc32c", crc('b')));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin' has malformed parts");
  }

  /** The manifest's JSON with {@code edit} applied to the entry of {@code model.bin}. */
  private static byte[] edit(Consumer<ObjectNode> edit) throws IOException {
    ObjectNode root = (ObjectNode) MAPPER.readTree(manifest().toJson());
    edit.accept((ObjectNode) root.get("files").get(0));
    return MAPPER.writeValueAsBytes(root);
  }
}
