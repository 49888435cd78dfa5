package dev.kiln.data.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ArchiveTarReaderTest {

  @Test
  void octalSizesMayBePaddedWithSpacesOrNuls() {
    byte[] field = " 0000017 \0\0\0".getBytes(StandardCharsets.US_ASCII);

    assertThat(ArchiveTarReader.parseNumber(field, 0, 12)).isEqualTo(15);
  }

  @Test
  void gnuBase256SizesAboveEightGigabytesAreRead() {
    byte[] field = new byte[12];
    field[0] = (byte) 0x80;
    long size = 10L << 30;
    for (int i = 0; i < 8; i++) {
      field[11 - i] = (byte) (size >>> (8 * i));
    }

    assertThat(ArchiveTarReader.parseNumber(field, 0, 12)).isEqualTo(size);
  }

  @Test
  void nonOctalDigitsAreRejected() {
    byte[] field = "0000009\0".getBytes(StandardCharsets.US_ASCII);

    assertThatThrownBy(() -> ArchiveTarReader.parseNumber(field, 0, 8))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void paxRecordsAreSplitOnTheirOwnLengths() throws IOException {
    byte[] data = "30 path=dir/with space=and=eq\n14 size=12345\n".getBytes(StandardCharsets.UTF_8);

    assertThat(ArchiveTarReader.parsePax(data, "h"))
        .containsEntry("path", "dir/with space=and=eq")
        .containsEntry("size", "12345");
  }

  @Test
  void paxRecordWithAWrongLengthIsCorrupt() {
    byte[] data = "99 path=x\n".getBytes(StandardCharsets.UTF_8);

    assertThatThrownBy(() -> ArchiveTarReader.parsePax(data, "PaxHeaders/x"))
        .hasMessageContaining("pax header 'PaxHeaders/x' has a malformed record");
  }
}
