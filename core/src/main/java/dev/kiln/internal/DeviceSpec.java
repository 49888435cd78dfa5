package dev.kiln.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A parsed device request: {@code auto}, {@code cpu}, {@code gpu(i)[,gpu(j)...]} or {@code gpu:n}.
 */
public record DeviceSpec(Kind kind, List<Integer> gpuIndices, int firstN, String text) {

  /** What was asked for. */
  public enum Kind {
    AUTO,
    CPU,
    GPUS,
    FIRST_N_GPUS
  }

  private static final Pattern GPU = Pattern.compile("gpu\\((\\d+)\\)|gpu(\\d+)|cuda:(\\d+)");
  private static final Pattern FIRST_N = Pattern.compile("gpu:(\\d+)");

  /**
   * Parses a spec.
   *
   * @throws IllegalArgumentException naming the field and the accepted forms
   */
  public static DeviceSpec parse(String text) {
    String s = text.trim().toLowerCase(Locale.ROOT).replace(" ", "");
    if (s.equals("auto") || s.isEmpty()) {
      return new DeviceSpec(Kind.AUTO, List.of(), 0, text);
    }
    if (s.equals("cpu") || s.equals("cpu()")) {
      return new DeviceSpec(Kind.CPU, List.of(), 0, text);
    }
    Matcher n = FIRST_N.matcher(s);
    if (n.matches()) {
      int count = Integer.parseInt(n.group(1));
      if (count < 1) {
        throw bad(text);
      }
      return new DeviceSpec(Kind.FIRST_N_GPUS, List.of(), count, text);
    }
    List<Integer> indices = new ArrayList<>();
    for (String part : s.split(",")) {
      Matcher m = GPU.matcher(part);
      if (!m.matches()) {
        throw bad(text);
      }
      String digits =
          m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3);
      int index = Integer.parseInt(digits);
      if (indices.contains(index)) {
        throw new IllegalArgumentException(
            "devices lists gpu(" + index + ") twice: '" + text + "'");
      }
      indices.add(index);
    }
    return new DeviceSpec(Kind.GPUS, List.copyOf(indices), 0, text);
  }

  private static IllegalArgumentException bad(String text) {
    return new IllegalArgumentException(
        "devices must be auto, cpu, gpu(i), a list like gpu(0),gpu(1), or gpu:n for the first n"
            + " GPUs: '"
            + text
            + "'");
  }
}
