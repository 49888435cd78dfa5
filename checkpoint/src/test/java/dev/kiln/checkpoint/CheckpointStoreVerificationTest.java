package dev.kiln.checkpoint;

import static dev.kiln.checkpoint.IndependentChecksums.crc32c;
import static dev.kiln.checkpoint.IndependentChecksums.sha256;
import static dev.kiln.checkpoint.TestCheckpoints.CLOCK;
import static dev.kiln.checkpoint.TestCheckpoints.flipByte;
import static dev.kiln.checkpoint.TestCheckpoints.randomWriter;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.checkpoint.CheckpointProblem.Kind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CheckpointStore.Builder#verification(Verification)}, and loading checkpoints whose
 * manifest was written before part CRC32Cs.
 */
class CheckpointStoreVerificationTest {

  private static final int MIB = 1 << 20;
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @TempDir Path dir;

  private CheckpointStore.Builder builder() {
    return CheckpointStore.builder(dir)
        .clock(CLOCK)
        .retention(Retention.builder().keepLast(10).build());
  }

  private CheckpointStore store(Verification verification) {
    return builder().verification(verification).build();
  }

  /** Two checkpoints (steps 10 and 20) each with a 3 MiB {@code model.bin} in three parts. */
  private static Checkpoint[] saveTwo(CheckpointStore store) {
    Checkpoint older = store.save(CheckpointRequest.of(1, 10), randomWriter(3 * MIB, 1));
    Checkpoint newer = store.save(CheckpointRequest.of(2, 20), randomWriter(3 * MIB, 2));
    return new Checkpoint[] {older, newer};
  }

  // ---------------------------------------------------------------- the setting

  @Test
  void aStoreChecksPartCrc32csByDefault() throws IOException {
    CheckpointStore store = builder().build();
    Checkpoint[] saved = saveTwo(store);
    Path model = saved[1].file("model.bin");
    byte[] original = Files.readAllBytes(model);
    flipByte(model, MIB + 3);
    byte[] damaged = Files.readAllBytes(model);

    assertThat(store.verification()).isEqualTo(Verification.CRC32C);
    assertThat(store.latestValid()).contains(saved[0]);
    assertThat(store.problems())
        .singleElement()
        .extracting(CheckpointProblem::detail)
        .isEqualTo(
            "CRC32C of bytes 1048576-2097151 (part 2) is "
                + crc32c(damaged, MIB, MIB)
                + " but the manifest says "
                + crc32c(original, MIB, MIB)
                + " (contents changed on disk)");
  }

  @Test
  void nullVerificationIsRejected() {
    assertThatThrownBy(() -> CheckpointStore.builder(dir).verification(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("verification == null");
  }

  @Test
  void theBuilderKeepsTheVerificationItWasGiven() {
    assertThat(store(Verification.SHA256).verification()).isEqualTo(Verification.SHA256);
    assertThat(store(Verification.CRC32C).verification()).isEqualTo(Verification.CRC32C);
  }

  @Test
  void toBuilderKeepsTheVerification() throws IOException {
    CheckpointStore copy = store(Verification.SHA256).toBuilder().build();
    Checkpoint[] saved = saveTwo(copy);
    flipByte(saved[1].file("model.bin"), 5);

    assertThat(copy.verification()).isEqualTo(Verification.SHA256);
    assertThat(copy.latestValid()).contains(saved[0]);
    assertThat(copy.problems())
        .singleElement()
        .extracting(CheckpointProblem::detail)
        .asString()
        .startsWith("SHA-256 is ");
  }

  // ---------------------------------------------------------------- SHA-256

  @Test
  void aSha256StoreReportsAFlippedByteAsTheWholeFilesSha256AndFallsBackToTheOlderCheckpoint()
      throws IOException {
    CheckpointStore store = store(Verification.SHA256);
    Checkpoint[] saved = saveTwo(store);
    Path model = saved[1].file("model.bin");
    byte[] original = Files.readAllBytes(model);
    flipByte(model, MIB + MIB / 2);
    byte[] damaged = Files.readAllBytes(model);

    Optional<Checkpoint> latest = store.latestValid();

    assertThat(latest).contains(saved[0]);
    assertThat(store.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Kind.CHECKSUM_MISMATCH);
              assertThat(p.checkpoint()).isEqualTo(saved[1].directory());
              assertThat(p.file()).isEqualTo("model.bin");
              assertThat(p.detail())
                  .isEqualTo(
                      "SHA-256 is "
                          + sha256(damaged)
                          + " but the manifest says "
                          + sha256(original)
                          + " (contents changed on disk)");
            });
  }

  @Test
  void aSha256StoreVerifyNamesEachDamagedFileOnceForTheWholeFile() throws IOException {
    CheckpointStore store = store(Verification.SHA256);
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("model.bin"), 0);
    flipByte(saved[1].file("model.bin"), 3 * MIB - 1);
    flipByte(saved[1].file("state.json"), 1);

    assertThatThrownBy(() -> store.verify(saved[1].directory()))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("model.bin: SHA-256 is ")
        .hasMessageContaining("state.json: SHA-256 is ")
        .hasMessageNotContaining("CRC32C")
        .satisfies(e -> assertThat(((CheckpointException) e).problems()).hasSize(2));
    assertThat(store.verify(saved[0].directory())).isEqualTo(saved[0]);
  }

  @Test
  void aSha256StoreReadingWhileVerifyingClosesTheDamagedResultAndReadsTheOlderCheckpoint()
      throws IOException {
    CheckpointStore store =
        builder().verification(Verification.SHA256).concurrentReadBytes(0).build();
    Checkpoint[] saved = saveTwo(store);
    flipByte(saved[1].file("model.bin"), 2 * MIB + 9);
    List<Long> read = new ArrayList<>();
    List<FakeResult> results = new ArrayList<>();

    Optional<FakeResult> result =
        store.latestValid(
            c -> {
              read.add(c.step());
              FakeResult r = new FakeResult();
              results.add(r);
              return r;
            });

    assertThat(read).containsExactly(20L, 10L);
    assertThat(result).containsSame(results.get(1));
    assertThat(results.get(0).closed).isTrue();
    assertThat(results.get(1).closed).isFalse();
    assertThat(store.problems())
        .singleElement()
        .extracting(CheckpointProblem::detail)
        .asString()
        .startsWith("SHA-256 is ");
  }

  @Test
  void aSha256StoreChecksTheWholeFileSha256AndNotThePartCrc32cs() throws IOException {
    Checkpoint[] saved = saveTwo(store(Verification.CRC32C));
    // Every part CRC32C in the newer manifest is wrong; its SHA-256s are right.
    rewriteManifest(
        saved[1],
        file -> {
          ArrayNode parts = (ArrayNode) file.get("partCrc32c");
          for (int i = 0; i < parts.size(); i++) {
            long wrong = Long.parseLong(parts.get(i).asText(), 16) ^ 1;
            parts.set(i, String.format("%08x", wrong));
          }
        });

    CheckpointStore sha256 = store(Verification.SHA256);
    CheckpointStore crc32c = store(Verification.CRC32C);

    assertThat(sha256.latestValid().orElseThrow().step()).isEqualTo(20);
    assertThat(sha256.problems()).isEmpty();
    assertThat(crc32c.latestValid()).contains(saved[0]);
    assertThat(crc32c.problems())
        .extracting(CheckpointProblem::file)
        .containsExactlyInAnyOrder("model.bin", "model.bin", "model.bin", "state.json");
  }

  @Test
  void checkpointsSavedByEitherStoreLoadWithTheOther() {
    Checkpoint bySha256 =
        store(Verification.SHA256).save(CheckpointRequest.of(0, 1), randomWriter(2 * MIB, 3));
    Checkpoint byCrc32c =
        store(Verification.CRC32C).save(CheckpointRequest.of(0, 2), randomWriter(2 * MIB, 4));

    for (Verification verification : Verification.values()) {
      CheckpointStore store = store(verification);
      assertThat(store.verify(bySha256.directory())).as("%s", verification).isEqualTo(bySha256);
      assertThat(store.verify(byCrc32c.directory())).as("%s", verification).isEqualTo(byCrc32c);
      assertThat(store.problems()).as("%s", verification).isEmpty();
    }
    assertThat(bySha256.files().get("model.bin").partCrc32c()).hasSize(2);
  }

  // ---------------------------------------------------------------- manifests from before CRC32Cs

  @Test
  void aCheckpointWithALegacyManifestLoadsWithTheDefaultStoreAndItsFilesHaveNoParts()
      throws IOException {
    CheckpointStore store = builder().build();
    Checkpoint[] saved = saveTwo(store);
    rewriteAsLegacy(saved[1]);

    Checkpoint latest = store.latestValid().orElseThrow();

    assertThat(store.problems()).isEmpty();
    assertThat(latest.name()).isEqualTo(saved[1].name());
    assertThat(latest.formatVersion()).isEqualTo(1);
    CheckpointFile model = latest.files().get("model.bin");
    assertThat(model.sha256()).isEqualTo(saved[1].files().get("model.bin").sha256());
    assertThat(model.size()).isEqualTo(3 * MIB);
    assertThat(model.partSize()).isZero();
    assertThat(model.partCrc32c()).isEmpty();
    assertThat(latest.files().get("state.json").partCrc32c()).isEmpty();
  }

  @Test
  void aFlippedByteInACheckpointWithALegacyManifestIsFoundByTheWholeFileSha256()
      throws IOException {
    CheckpointStore store = builder().build();
    Checkpoint[] saved = saveTwo(store);
    rewriteAsLegacy(saved[1]);
    Path model = saved[1].file("model.bin");
    byte[] original = Files.readAllBytes(model);
    flipByte(model, 2 * MIB + 1234);
    byte[] damaged = Files.readAllBytes(model);

    Optional<Checkpoint> latest = store.latestValid();

    assertThat(latest).contains(saved[0]);
    assertThat(store.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.kind()).isEqualTo(Kind.CHECKSUM_MISMATCH);
              assertThat(p.checkpoint()).isEqualTo(saved[1].directory());
              assertThat(p.file()).isEqualTo("model.bin");
              assertThat(p.detail())
                  .isEqualTo(
                      "SHA-256 is "
                          + sha256(damaged)
                          + " but the manifest says "
                          + sha256(original)
                          + " (contents changed on disk)");
            });
  }

  @Test
  void aFlippedByteInASmallFileOfALegacyManifestIsFoundByItsSha256() throws IOException {
    CheckpointStore store = builder().build();
    Checkpoint[] saved = saveTwo(store);
    rewriteAsLegacy(saved[1]);
    flipByte(saved[1].file("state.json"), 2);

    assertThatThrownBy(() -> store.verify(saved[1].directory()))
        .isInstanceOf(CheckpointException.class)
        .hasMessageContaining("state.json: SHA-256 is ")
        .satisfies(e -> assertThat(((CheckpointException) e).problems()).hasSize(1));
  }

  // ---------------------------------------------------------------- helpers

  /** A reader's result that records whether it was closed. */
  private static final class FakeResult implements AutoCloseable {
    boolean closed;

    @Override
    public void close() {
      closed = true;
    }
  }

  /**
   * Rewrites {@code checkpoint}'s manifest as the previous Kiln wrote it: format version 1, a
   * {@code partSha256} (64 hex digits per part) instead of {@code partCrc32c} for files over 1 MiB,
   * and no part fields for smaller ones; the whole-file SHA-256s stay.
   */
  private static void rewriteAsLegacy(Checkpoint checkpoint) throws IOException {
    rewriteManifest(
        checkpoint,
        file -> {
          long partSize = file.get("partSize").asLong();
          file.remove("partCrc32c");
          Path path = checkpoint.file(file.get("name").asText());
          byte[] data;
          try {
            data = Files.readAllBytes(path);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
          if (data.length <= MIB) {
            file.remove("partSize");
            return;
          }
          ArrayNode parts = file.putArray("partSha256");
          for (int offset = 0; offset < data.length; offset += (int) partSize) {
            int length = (int) Math.min(partSize, data.length - offset);
            parts.add(sha256(data, offset, length));
          }
        });
    Path manifest = checkpoint.directory().resolve("manifest.json");
    ObjectNode root = (ObjectNode) MAPPER.readTree(manifest.toFile());
    root.put("formatVersion", 1);
    Files.write(manifest, MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    assertThat(Files.readString(manifest)).contains("partSha256").doesNotContain("partCrc32c");
  }

  /** Applies {@code edit} to every file entry of {@code checkpoint}'s manifest. */
  private static void rewriteManifest(Checkpoint checkpoint, Consumer<ObjectNode> edit)
      throws IOException {
    Path manifest = checkpoint.directory().resolve("manifest.json");
    ObjectNode root = (ObjectNode) MAPPER.readTree(manifest.toFile());
    for (JsonNode file : root.get("files")) {
      edit.accept((ObjectNode) file);
    }
    Files.write(manifest, MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
  }
}
