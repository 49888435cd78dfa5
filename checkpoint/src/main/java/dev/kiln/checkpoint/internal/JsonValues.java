package dev.kiln.checkpoint.internal;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Checks that metadata holds only plain JSON values and copies it into unmodifiable structures. */
public final class JsonValues {

  private JsonValues() {}

  /**
   * Returns an unmodifiable deep copy of {@code map}, keeping its order.
   *
   * @param what how to name the map in errors, e.g. {@code "metadata"}
   * @throws IllegalArgumentException naming the offending key if a value is not String, Number,
   *     Boolean, null, a List/Collection or a Map with String keys
   */
  public static Map<String, Object> copyObject(Map<String, ?> map, String what) {
    LinkedHashMap<String, Object> copy = new LinkedHashMap<>();
    for (Map.Entry<String, ?> e : map.entrySet()) {
      if (e.getKey() == null) {
        throw new IllegalArgumentException(what + " has a null key; use String keys");
      }
      copy.put(e.getKey(), copyValue(e.getValue(), what + "." + e.getKey()));
    }
    return Collections.unmodifiableMap(copy);
  }

  private static Object copyValue(Object value, String path) {
    if (value == null || value instanceof String || value instanceof Boolean) {
      return value;
    }
    if (value instanceof Number) {
      if (value instanceof Double d && !Double.isFinite(d)
          || value instanceof Float f && !Float.isFinite(f)) {
        throw new IllegalArgumentException(
            path + " is " + value + ", which JSON cannot hold; store it as a String");
      }
      return value;
    }
    if (value instanceof Map<?, ?> m) {
      LinkedHashMap<String, Object> copy = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (!(e.getKey() instanceof String key)) {
          throw new IllegalArgumentException(
              path + " has key " + e.getKey() + " that is not a String; use String keys");
        }
        copy.put(key, copyValue(e.getValue(), path + "." + key));
      }
      return Collections.unmodifiableMap(copy);
    }
    if (value instanceof Collection<?> c) {
      List<Object> copy = new ArrayList<>(c.size());
      int i = 0;
      for (Object element : c) {
        copy.add(copyValue(element, path + "[" + i++ + "]"));
      }
      return Collections.unmodifiableList(copy);
    }
    throw new IllegalArgumentException(
        path
            + " has unsupported type "
            + value.getClass().getName()
            + "; use String, Number, Boolean, null, List or Map values");
  }
}
