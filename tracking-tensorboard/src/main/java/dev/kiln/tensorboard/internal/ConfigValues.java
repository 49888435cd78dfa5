package dev.kiln.tensorboard.internal;

import java.util.Collection;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** Turns a run's config (plain values, nested maps and lists) into hparams and a text table. */
public final class ConfigValues {
  private ConfigValues() {}

  /**
   * Flattens nested maps with dotted keys ({@code optimizer.lr}), sorted by key. Numbers, booleans
   * and strings stay as they are; lists and anything else become their text; nulls are dropped.
   */
  public static SortedMap<String, Object> flatten(Map<String, ?> config) {
    SortedMap<String, Object> out = new TreeMap<>();
    flatten("", config, out);
    return out;
  }

  private static void flatten(String prefix, Map<?, ?> map, SortedMap<String, Object> out) {
    for (Map.Entry<?, ?> e : map.entrySet()) {
      String key = prefix + e.getKey();
      Object v = e.getValue();
      if (v == null) {
        continue;
      }
      if (v instanceof Map<?, ?> nested) {
        flatten(key + ".", nested, out);
      } else if (v instanceof Number || v instanceof Boolean || v instanceof String) {
        out.put(key, v);
      } else if (v instanceof Collection<?> c) {
        out.put(key, c.toString());
      } else {
        out.put(key, String.valueOf(v));
      }
    }
  }

  /** A two-column markdown table, which TensorBoard's text dashboard renders as a table. */
  public static String markdownTable(Map<String, Object> flat) {
    StringBuilder sb = new StringBuilder("| name | value |\n|---|---|\n");
    for (Map.Entry<String, Object> e : flat.entrySet()) {
      sb.append("| ")
          .append(escape(e.getKey()))
          .append(" | ")
          .append(escape(String.valueOf(e.getValue())))
          .append(" |\n");
    }
    return sb.toString();
  }

  private static String escape(String s) {
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ");
  }

  /** Indents every line by four spaces: a markdown code block that keeps line breaks. */
  public static String codeBlock(String text) {
    return "    " + text.replace("\n", "\n    ");
  }
}
