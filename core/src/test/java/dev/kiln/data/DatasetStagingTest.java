package dev.kiln.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.data.DatasetStaging.Staged;
import dev.kiln.data.internal.StagingFileOps;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetStagingTest {

  @TempDir Path tmp;

  /** The dataset every well-formed test archive holds. */
  private static final Map<String, String> FILES = new LinkedHashMap<>();

  static {
    FILES.put("README.txt", "fashion-mnist, staged by a test\n");
    FILES.put("train/images.bin", "x".repeat(70_000));
    FILES.put("train/labels/labels.bin", "0123456789");
    FILES.put("test/deep/er/still/images.bin", "y".repeat(1_000));
    FILES.put("empty.txt", "");
  }

  private Path drive() throws IOException {
    return Files.createDirectories(tmp.resolve("drive"));
  }

  private Path target() {
    return tmp.resolve("local").resolve("data");
  }

  private DatasetStaging.Builder staging(Path archive) {
    return DatasetStaging.builder(archive, target()).progress(null);
  }

  private Path zip(String name, Map<String, String> files) throws IOException {
    Path file = drive().resolve(name);
    try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(file))) {
      zip.putNextEntry(new ZipEntry("train/"));
      zip.closeEntry();
      for (Map.Entry<String, String> f : files.entrySet()) {
        zip.putNextEntry(new ZipEntry(f.getKey()));
        zip.write(f.getValue().getBytes(StandardCharsets.UTF_8));
        zip.closeEntry();
      }
    }
    return file;
  }

  private StagingTarWriter tar(Map<String, String> files) {
    StagingTarWriter tar = new StagingTarWriter().directory("train");
    files.forEach(tar::file);
    return tar;
  }

  private Path tarGz(String name) throws IOException {
    return tar(FILES).writeGzTo(drive().resolve(name));
  }

  private void assertHoldsFiles(Path dir, Map<String, String> files) throws IOException {
    for (Map.Entry<String, String> f : files.entrySet()) {
      assertThat(dir.resolve(f.getKey())).hasContent(f.getValue());
    }
    assertThat(regularFiles(dir)).containsExactlyInAnyOrderElementsOf(files.keySet());
    assertThat(dir.resolve(".kiln-staged.json")).exists();
  }

  private static List<String> regularFiles(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(Files::isRegularFile)
          .map(p -> dir.relativize(p).toString().replace('\\', '/'))
          .filter(n -> !n.equals(".kiln-staged.json"))
          .collect(Collectors.toList());
    }
  }

  /** What is next to the target: only the lock file once staging has finished or failed. */
  private List<String> siblings() throws IOException {
    try (Stream<Path> list = Files.list(target().getParent())) {
      return list.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
    }
  }

  private static long expectedBytes() {
    return FILES.values().stream().mapToLong(s -> s.getBytes(StandardCharsets.UTF_8).length).sum();
  }

  // --- formats -------------------------------------------------------------------------------

  @Test
  void zipIsExtractedWithNestedDirectories() throws IOException {
    Staged staged = staging(zip("data.zip", FILES)).build().stage();

    assertThat(staged.reused()).isFalse();
    assertThat(staged.directory()).isEqualTo(target());
    assertThat(staged.files()).isEqualTo(FILES.size());
    assertThat(staged.bytes()).isEqualTo(expectedBytes());
    assertHoldsFiles(target(), FILES);
    assertThat(siblings()).containsExactly(".data.lock", "data");
  }

  @Test
  void tarIsExtractedWithNestedDirectories() throws IOException {
    Path archive = tar(FILES).writeTo(drive().resolve("data.tar"));

    Staged staged = staging(archive).build().stage();

    assertThat(staged.files()).isEqualTo(FILES.size());
    assertHoldsFiles(target(), FILES);
  }

  @Test
  void tarGzIsExtractedWithNestedDirectories() throws IOException {
    Staged staged = staging(tarGz("data.tar.gz")).build().stage();

    assertThat(staged.reused()).isFalse();
    assertThat(staged.bytes()).isEqualTo(expectedBytes());
    assertHoldsFiles(target(), FILES);
  }

  @Test
  void formatIsRecognisedFromContentNotName() throws IOException {
    Path gzNamedZip = tar(FILES).writeGzTo(drive().resolve("dataset.zip"));

    staging(gzNamedZip).build().stage();

    assertHoldsFiles(target(), FILES);
  }

  @Test
  void gnuLongNamesAndPaxPathAndSizeAreHonoured() throws IOException {
    String longName = "dir/" + "n".repeat(150) + ".txt";
    byte[] body = "pax body".getBytes(StandardCharsets.UTF_8);
    Path archive =
        new StagingTarWriter()
            .gnuLongName(longName, "long")
            .pax(
                Map.of("path", "pax/ünïcode-name.txt", "size", String.valueOf(body.length)),
                "short",
                0,
                body)
            .writeGzTo(drive().resolve("names.tgz"));

    Staged staged = staging(archive).build().stage();

    assertThat(staged.files()).isEqualTo(2);
    assertThat(target().resolve(longName)).hasContent("long");
    assertThat(target().resolve("pax/ünïcode-name.txt")).hasContent("pax body");
  }

  @Test
  void unknownFormatIsRejectedNamingWhatItIs() throws IOException {
    Path archive = drive().resolve("data.tar.xz");
    Files.write(archive, new byte[] {(byte) 0xfd, '7', 'z', 'X', 'Z', 0, 1, 2});

    assertThatThrownBy(() -> staging(archive).build().stage())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("xz-compressed")
        .hasMessageContaining("not a zip, tar or tar.gz")
        .hasMessageContaining("tar -czf");
    assertThat(target()).doesNotExist();
  }

  @Test
  void missingArchiveIsReportedWithTheFix() {
    Path archive = tmp.resolve("drive/not-there.zip");

    assertThatThrownBy(() -> staging(archive).build().stage())
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("not-there.zip")
        .hasMessageContaining("mount the drive");
  }

  // --- reuse and re-extraction ---------------------------------------------------------------

  @Test
  void secondRunReusesTheIntactCopyWithoutExtracting() throws IOException {
    Path archive = tarGz("data.tar.gz");
    staging(archive).build().stage();
    Path images = target().resolve("train/images.bin");
    FileTime marked = FileTime.from(Instant.parse("2001-02-03T04:05:06Z"));
    Files.setLastModifiedTime(images, marked);

    Staged again = staging(archive).build().stage();

    assertThat(again.reused()).isTrue();
    assertThat(again.files()).isEqualTo(FILES.size());
    assertThat(again.bytes()).isEqualTo(expectedBytes());
    assertThat(Files.getLastModifiedTime(images)).as("not rewritten").isEqualTo(marked);
  }

  @Test
  void modifiedArchiveIsExtractedAgain() throws IOException {
    Path archive = tarGz("data.tar.gz");
    staging(archive).build().stage();
    Map<String, String> changed = new LinkedHashMap<>(FILES);
    changed.put("train/labels/labels.bin", "9876543210");
    tar(changed).writeGzTo(archive);
    Files.setLastModifiedTime(
        archive, FileTime.fromMillis(Files.getLastModifiedTime(archive).toMillis() + 5_000));

    Staged again = staging(archive).build().stage();

    assertThat(again.reused()).isFalse();
    assertHoldsFiles(target(), changed);
    assertThat(siblings()).containsExactly(".data.lock", "data");
  }

  @Test
  void interruptedExtractionIsCleanedUpAndRedone() throws IOException {
    Path archive = tarGz("data.tar.gz");
    // What a session killed mid-way leaves: a hidden partial directory, and (from an older tool)
    // a target without a marker whose file is short.
    Path partial = Files.createDirectories(target().resolveSibling(".data.partial-5eed/train"));
    Files.writeString(partial.resolve("images.bin"), "xx");
    Files.createDirectories(target().resolve("train"));
    Files.writeString(target().resolve("train/images.bin"), "xxx");

    Staged staged = staging(archive).build().stage();

    assertThat(staged.reused()).isFalse();
    assertHoldsFiles(target(), FILES);
    assertThat(siblings()).containsExactly(".data.lock", "data");
  }

  @Test
  void truncatedFileInAStagedCopyIsDetectedAndExtractedAgain() throws IOException {
    Path archive = zip("data.zip", FILES);
    staging(archive).build().stage();
    Files.writeString(target().resolve("train/images.bin"), "cut");

    Staged again = staging(archive).build().stage();

    assertThat(again.reused()).isFalse();
    assertHoldsFiles(target(), FILES);
  }

  @Test
  void missingFileInAStagedCopyIsDetectedAndExtractedAgain() throws IOException {
    Path archive = zip("data.zip", FILES);
    staging(archive).build().stage();
    Files.delete(target().resolve("test/deep/er/still/images.bin"));

    Staged again = staging(archive).build().stage();

    assertThat(again.reused()).isFalse();
    assertHoldsFiles(target(), FILES);
  }

  @Test
  void unmarkedTargetHoldingOtherFilesIsNotDeleted() throws IOException {
    Path archive = zip("data.zip", FILES);
    Files.createDirectories(target());
    Files.writeString(target().resolve("my-notes.txt"), "precious");

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("'my-notes.txt'")
        .hasMessageContaining("refusing to replace");
    assertThat(target().resolve("my-notes.txt")).hasContent("precious");
    assertThat(siblings()).containsExactly(".data.lock", "data");
  }

  @Test
  void concurrentStagingIntoOneTargetExtractsOnce() throws Exception {
    Path archive = tarGz("data.tar.gz");
    Callable<Staged> stage = () -> staging(archive).build().stage();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<Staged> a = pool.submit(stage);
      Future<Staged> b = pool.submit(stage);
      List<Boolean> reused = List.of(a.get().reused(), b.get().reused());
      assertThat(reused).containsExactlyInAnyOrder(true, false);
    } finally {
      pool.shutdownNow();
    }
    assertHoldsFiles(target(), FILES);
  }

  // --- checksums and corruption --------------------------------------------------------------

  @Test
  void matchingSha256IsAcceptedAndSurvivesANewModificationTime() throws Exception {
    Path archive = tarGz("data.tar.gz");
    String digest = sha256(archive);

    assertThat(staging(archive).sha256(digest.toUpperCase()).build().stage().reused()).isFalse();
    assertThat(target().resolve(".kiln-staged.json")).content().contains(digest);
    Files.setLastModifiedTime(archive, FileTime.fromMillis(1_000));

    assertThat(staging(archive).sha256(digest).build().stage().reused()).isTrue();
  }

  @Test
  void sha256MismatchNamesBothDigestsAndStagesNothing() throws Exception {
    Path archive = tarGz("data.tar.gz");
    String actual = sha256(archive);
    String wrong = "0".repeat(64);

    assertThatThrownBy(() -> staging(archive).sha256(wrong).build().stage())
        .hasMessageContaining(actual)
        .hasMessageContaining(wrong)
        .hasMessageContaining("copy it again");
    assertThat(siblings()).containsExactly(".data.lock");
  }

  @Test
  void truncatedGzipIsRejectedNamingTheEntryAndStagesNothing() throws IOException {
    byte[] gz = StagingTarWriter.gzip(tar(FILES).bytes());
    Path archive = drive().resolve("cut.tar.gz");
    Files.write(archive, Arrays.copyOf(gz, gz.length * 2 / 3));

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("truncated or corrupt")
        .hasMessageMatching("(?s).*entry '[^']+'.*")
        .hasMessageContaining("copy the archive again");
    assertThat(siblings()).containsExactly(".data.lock");
  }

  @Test
  void tarWithoutItsEndMarkerIsReportedTruncated() throws IOException {
    Path archive = drive().resolve("cut.tar");
    Files.write(archive, tar(FILES).bytesWithoutEnd());

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("end-of-archive marker")
        .hasMessageContaining("after entry 'empty.txt'");
    assertThat(siblings()).containsExactly(".data.lock");
  }

  @Test
  void tarCutInsideAnEntryNamesTheEntry() throws IOException {
    byte[] tar = tar(FILES).bytes();
    Path archive = drive().resolve("cut.tar");
    Files.write(archive, Arrays.copyOf(tar, 512 * 3 + 1000)); // inside train/images.bin

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("inside entry 'train/images.bin'");
    assertThat(siblings()).containsExactly(".data.lock");
  }

  @Test
  void zipCutShortIsRejectedBeforeExtracting() throws IOException {
    byte[] zip = Files.readAllBytes(zip("data.zip", FILES));
    Path archive = drive().resolve("cut.zip");
    Files.write(archive, Arrays.copyOf(zip, zip.length - 30));

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("no central directory")
        .hasMessageContaining("truncated");
    assertThat(siblings()).containsExactly(".data.lock");
  }

  @Test
  void corruptTarHeaderIsRejected() throws IOException {
    byte[] tar = tar(FILES).bytes();
    tar[512 + 10] ^= 0x55; // the name of the second header, "README.txt"
    Path archive = drive().resolve("bad.tar");
    Files.write(archive, tar);

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("checksum mismatch");
    assertThat(siblings()).containsExactly(".data.lock");
  }

  // --- hostile archives ----------------------------------------------------------------------

  @Test
  void zipEntryClimbingOutOfTheTargetIsRejected() throws IOException {
    Map<String, String> files = new LinkedHashMap<>(FILES);
    files.put("../evil.txt", "pwned");

    assertThatThrownBy(() -> staging(zip("evil.zip", files)).build().stage())
        .hasMessage(
            "archive entry '../evil.txt' would be written outside "
                + target()
                + " — the archive is unsafe; it was not extracted. Remove that entry from the"
                + " archive (or re-create it from the dataset directory) and try again");
    assertNothingEscaped();
  }

  @Test
  void tarEntryClimbingOutThroughADirectoryIsRejected() throws IOException {
    Path archive =
        tar(FILES).file("train/../../../evil.txt", "pwned").writeTo(drive().resolve("evil.tar"));

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("'train/../../../evil.txt' would be written outside");
    assertNothingEscaped();
  }

  @Test
  void absoluteEntryIsRejected() throws IOException {
    Path archive = tar(FILES).file("/tmp/evil.txt", "pwned").writeGzTo(drive().resolve("evil.tgz"));

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("'/tmp/evil.txt' is an absolute path");
    assertNothingEscaped();
  }

  @Test
  void tarSymlinkIsRejected() throws IOException {
    Path archive = tar(FILES).symlink("train/link", "/etc").writeTo(drive().resolve("evil.tar"));

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("'train/link' is a symbolic link to '/etc'")
        .hasMessageContaining("the archive is unsafe");
    assertNothingEscaped();
  }

  @Test
  void tarHardlinkIsRejected() throws IOException {
    Path archive =
        tar(FILES)
            .hardlink("train/passwd", "../../etc/passwd")
            .writeTo(drive().resolve("evil.tar"));

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("'train/passwd' is a hard link to '../../etc/passwd'");
    assertNothingEscaped();
  }

  @Test
  void zipSymlinkIsRejected() throws IOException {
    Map<String, String> files = new LinkedHashMap<>(FILES);
    files.put("train/link", "/etc");
    Path archive = zip("evil.zip", files);
    markAsSymlink(archive, "train/link");

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("'train/link' is a symbolic link");
    assertNothingEscaped();
  }

  private void assertNothingEscaped() throws IOException {
    assertThat(target()).doesNotExist();
    assertThat(siblings()).containsExactly(".data.lock");
    try (Stream<Path> all = Files.walk(tmp)) {
      assertThat(all.filter(p -> p.getFileName().toString().equals("evil.txt"))).isEmpty();
    }
  }

  // --- failing disks -------------------------------------------------------------------------

  @Test
  void fullDiskLeavesThePreviousCopyUntouched() throws IOException {
    Path archive = tarGz("data.tar.gz");
    staging(archive).build().stage();
    Map<String, String> changed = new LinkedHashMap<>(FILES);
    changed.put("train/images.bin", "z".repeat(90_000));
    tar(changed).writeGzTo(archive);

    assertThatThrownBy(() -> staging(archive).fileOps(new ThrowingFileOps(50_000)).build().stage())
        .hasMessageContaining("No space left on device")
        .hasMessageContaining("'train/images.bin'")
        .hasMessageContaining("previously staged copy was left untouched");

    assertHoldsFiles(target(), FILES);
    assertThat(siblings()).containsExactly(".data.lock", "data");
    assertThat(staging(archive).build().stage().reused()).isFalse();
    assertHoldsFiles(target(), changed);
  }

  @Test
  void progressIsPrintedAsLinesWhenNotATerminal() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    Path archive = tarGz("data.tar.gz");

    Staged staged =
        DatasetStaging.builder(archive, target())
            .progress(new PrintStream(bytes, true, StandardCharsets.UTF_8))
            .clock(new FakeClock())
            .build()
            .stage();

    String out = bytes.toString(StandardCharsets.UTF_8);
    assertThat(out).doesNotContain("\r").contains("Staging data.tar.gz: 100%").contains("5 files");
    assertThat(staged.elapsed()).isPositive();
  }

  @Test
  void builderRejectsBadArgumentsNamingTheField() {
    Path archive = tmp.resolve("a.zip");
    assertThatThrownBy(() -> DatasetStaging.builder(null, target())).hasMessage("archive == null");
    assertThatThrownBy(() -> DatasetStaging.builder(archive, null)).hasMessage("target == null");
    assertThatThrownBy(() -> DatasetStaging.builder(archive, Path.of("/")))
        .hasMessageContaining("target is a file system root");
    assertThatThrownBy(() -> DatasetStaging.builder(archive, target()).sha256("abc"))
        .hasMessageContaining("sha256 must be 64 hexadecimal digits");
    assertThatThrownBy(() -> DatasetStaging.builder(archive, target()).clock(null))
        .hasMessage("clock == null");
  }

  @Test
  void archiveInsideTheTargetIsRefused() throws IOException {
    Files.createDirectories(target());
    Path archive = new StagingTarWriter().file("a", "b").writeTo(target().resolve("data.tar"));

    assertThatThrownBy(() -> staging(archive).build().stage())
        .hasMessageContaining("lies inside the target");
    assertThat(archive).exists();
  }

  // --- helpers -------------------------------------------------------------------------------

  private static String sha256(Path file) throws Exception {
    return HexFormat.of()
        .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
  }

  /** Rewrites the central-directory record of {@code name} to say "Unix symbolic link". */
  private static void markAsSymlink(Path zip, String name) throws IOException {
    byte[] bytes = Files.readAllBytes(zip);
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    byte[] wanted = name.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i + 46 < bytes.length; i++) {
      if (b.getInt(i) == 0x02014b50) {
        int nameLength = b.getShort(i + 28) & 0xffff;
        if (Arrays.equals(Arrays.copyOfRange(bytes, i + 46, i + 46 + nameLength), wanted)) {
          b.putShort(i + 4, (short) ((3 << 8) | 20)); // made by Unix
          b.putInt(i + 38, 0120777 << 16); // S_IFLNK | 0777
          Files.write(zip, bytes);
          return;
        }
      }
    }
    throw new IllegalStateException(name + " not in " + zip);
  }

  /** Real file system, except that writing fails once {@code budget} bytes are written. */
  static final class ThrowingFileOps implements StagingFileOps {
    private final AtomicLong left;

    ThrowingFileOps(long budget) {
      this.left = new AtomicLong(budget);
    }

    @Override
    public OutputStream create(Path file) throws IOException {
      return new FilterOutputStream(StagingFileOps.SYSTEM.create(file)) {
        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          if (left.addAndGet(-len) < 0) {
            throw new IOException("No space left on device");
          }
          out.write(b, off, len);
        }
      };
    }
  }

  /** A clock that moves 50 ms forward each time it is read. */
  static final class FakeClock extends Clock {
    private long millis = 1_700_000_000_000L;

    @Override
    public long millis() {
      return millis += 50;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis());
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }
}
