package dev.kiln.checkpoint.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.checkpoint.CheckpointFile;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class ManifestTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final long MIB = 1L << 20;

  private static String hex(char c) {
    return String.valueOf(c).repeat(64);
  }

  /** A manifest with a 2.5 MiB file in three parts and a small file without parts. */
  private static Manifest manifest() {
    Map<String, CheckpointFile> files = new LinkedHashMap<>();
    files.put(
        "model.bin",
        new CheckpointFile(
            "model.bin", 2 * MIB + MIB / 2, hex('a'), MIB, List.of(hex('b'), hex('c'), hex('d'))));
    files.put("state.json", new CheckpointFile("state.json", 17, hex('e')));
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
  void partDigestsRoundTrip() throws Exception {
    Manifest manifest = manifest();

    Manifest parsed = Manifest.parse(manifest.toJson());

    assertThat(parsed).isEqualTo(manifest);
    CheckpointFile model = parsed.files().get("model.bin");
    assertThat(model.partSize()).isEqualTo(MIB);
    assertThat(model.partSha256()).containsExactly(hex('b'), hex('c'), hex('d'));
    assertThat(parsed.files().get("state.json").partSize()).isZero();
    assertThat(parsed.files().get("state.json").partSha256()).isEmpty();
  }

  @Test
  void partFieldsAreWrittenOnlyForFilesWithParts() throws IOException {
    JsonNode files = MAPPER.readTree(manifest().toJson()).get("files");

    assertThat(files.get(0).get("partSize").asLong()).isEqualTo(MIB);
    assertThat(files.get(0).get("partSha256")).hasSize(3);
    assertThat(files.get(0).get("partSha256").get(2).asText()).isEqualTo(hex('d'));
    assertThat(files.get(1).has("partSize")).isFalse();
    assertThat(files.get(1).has("partSha256")).isFalse();
  }

  @Test
  void entryWithoutPartFieldsParsesAsAFileWithoutParts() throws Exception {
    byte[] json =
        edit(
            model -> {
              model.remove("partSize");
              model.remove("partSha256");
            });

    CheckpointFile model = Manifest.parse(json).files().get("model.bin");

    assertThat(model).isEqualTo(new CheckpointFile("model.bin", 2 * MIB + MIB / 2, hex('a')));
  }

  @Test
  void fewerPartDigestsThanSizeAndPartSizeNeedAreRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partSha256")).remove(2));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin'")
        .hasMessageContaining("partSha256 has 2 digests");
  }

  @Test
  void morePartDigestsThanSizeAndPartSizeNeedAreRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partSha256")).add(hex('f')));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin'");
  }

  @Test
  void partSizeThatDoesNotFitTheDigestCountIsRejected() throws IOException {
    byte[] json = edit(model -> model.put("partSize", 2 * MIB));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin'");
  }

  @Test
  void uppercaseHexPartDigestIsRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partSha256")).set(1, hex('B')));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin'")
        .hasMessageContaining("malformed part digest");
  }

  @Test
  void nonHexPartDigestIsRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partSha256")).set(0, hex('z')));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("malformed part digest");
  }

  @Test
  void shortPartDigestIsRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partSha256")).set(0, "abc"));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("malformed part digest");
  }

  @Test
  void numericPartDigestIsRejected() throws IOException {
    byte[] json = edit(model -> ((ArrayNode) model.get("partSha256")).set(0, 7));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("malformed part digest");
  }

  @Test
  void partSizeWithoutPartDigestsIsRejected() throws IOException {
    byte[] json = edit(model -> model.remove("partSha256"));

    assertThatThrownBy(() -> Manifest.parse(json))
        .isInstanceOf(Manifest.InvalidManifestException.class)
        .hasMessageContaining("'model.bin' has malformed parts");
  }

  @Test
  void partDigestsWithoutPartSizeAreRejected() throws IOException {
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
  void partDigestsThatAreNotAnArrayAreRejected() throws IOException {
    byte[] json = edit(model -> model.put("partSha256", hex('b')));

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
