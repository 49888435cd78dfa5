package dev.kiln.tensorboard.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.tensorboard.TensorBoardProtos;
import dev.kiln.tensorboard.TfRecordReader;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Byte-exact against the worked examples of tensorboard-format.md §10. */
class EventEncoderTest {
  private static final double WALL = 1700000000.0;

  /** Hex bytes and "quoted" ASCII strings, separated by spaces. */
  static byte[] bytes(String spec) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (String token : spec.trim().split("\\s+")) {
      if (token.startsWith("\"")) {
        out.writeBytes(token.substring(1, token.length() - 1).getBytes(StandardCharsets.US_ASCII));
      } else {
        out.write(Integer.parseInt(token, 16));
      }
    }
    return out.toByteArray();
  }

  private static byte[] record(Consumer<ProtoOutput> payload) {
    ProtoOutput out = new ProtoOutput();
    int start = Records.begin(out);
    payload.accept(out);
    new Records().end(out, start);
    return out.toByteArray();
  }

  @Test
  void fileVersionRecordMatchesWorkedExample() {
    byte[] expected =
        bytes(
            "18 00 00 00 00 00 00 00 a3 7f 4b 22 09 00 00 00 40 fc 54 d9 41"
                + " 1a 0d \"brain.Event:2\" ec ed 8f 9d");

    assertThat(record(out -> EventEncoder.fileVersion(out, WALL, ""))).isEqualTo(expected);
  }

  @Test
  void legacyScalarRecordMatchesWorkedExample() {
    byte[] expected =
        bytes(
            "1f 00 00 00 00 00 00 00 51 4b 44 18 09 00 00 00 40 fc 54 d9 41 10 03 2a 12 0a 10"
                + " 0a 09 \"test_loss\" 15 00 00 00 3f 9f 98 eb 18");
    byte[][] tags = {"test_loss".getBytes(StandardCharsets.UTF_8)};

    assertThat(record(out -> EventEncoder.scalars(out, WALL, 3, tags, new float[] {0.5f}, 1)))
        .isEqualTo(expected);
  }

  @Test
  void hparamsSessionStartRecordMatchesWorkedExample() {
    byte[] expected =
        bytes(
            "7c 00 00 00 00 00 00 00 c9 e3 c7 c8 09 00 00 00 40 fc 54 d9 41 2a 71 0a 6f"
                + " 0a 1c \"_hparams_/session_start_info\" 42 06 08 01 12 02 12 00"
                + " 4a 47 0a 45 0a 07 \"hparams\" 12 3a 1a 38"
                + " 0a 0f 0a 02 \"lr\" 12 09 11 7b 14 ae 47 e1 7a 84 3f"
                + " 0a 13 0a 09 \"optimizer\" 12 06 1a 04 \"adam\""
                + " 22 07 \"trial-1\" 29 00 00 00 40 fc 54 d9 41 17 49 95 b9");
    Map<String, Object> hparams = new LinkedHashMap<>();
    hparams.put("lr", 0.01);
    hparams.put("optimizer", "adam");

    assertThat(
            record(out -> EventEncoder.hparamsSessionStart(out, WALL, 0, hparams, "trial-1", WALL)))
        .isEqualTo(expected);
  }

  @Test
  void zeroScalarIsWrittenExplicitly() throws Exception {
    byte[][] tags = {"a".getBytes(StandardCharsets.UTF_8)};
    byte[] rec = record(out -> EventEncoder.scalars(out, WALL, 0, tags, new float[] {0f}, 1));

    byte[] payload = TfRecordReader.read(rec).payloads().get(0);
    var value =
        (com.google.protobuf.Message)
            ((List<?>)
                    TensorBoardProtos.get(TensorBoardProtos.parseEvent(payload), "summary.value"))
                .get(0);
    assertThat(TensorBoardProtos.has(value, "simple_value")).isTrue();
    assertThat(TensorBoardProtos.get(value, "simple_value")).isEqualTo(0f);
  }

  @Test
  void negativeStepTakesTenByteVarintAndDecodes() throws Exception {
    byte[][] tags = {"a".getBytes(StandardCharsets.UTF_8)};
    byte[] rec = record(out -> EventEncoder.scalars(out, WALL, -5, tags, new float[] {1f}, 1));

    var event = TensorBoardProtos.parseEvent(TfRecordReader.read(rec).payloads().get(0));
    assertThat(TensorBoardProtos.get(event, "step")).isEqualTo(-5L);
  }

  @Test
  void maskedCrcMatchesSpecTestVectors() {
    Records records = new Records();
    byte[] digits = "123456789".getBytes(StandardCharsets.US_ASCII);

    assertThat(records.maskedCrc32c(new byte[0], 0, 0)).isEqualTo(0xA282EAD8);
    assertThat(records.maskedCrc32c(digits, 0, digits.length)).isEqualTo(0xC78AB0E5);
  }
}
