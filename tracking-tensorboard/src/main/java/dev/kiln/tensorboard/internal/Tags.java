package dev.kiln.tensorboard.internal;

/**
 * TensorBoard's tag rules, as its summary writers apply them: every character other than a word
 * character (Unicode letters and digits, {@code _}), {@code -}, {@code /} and {@code .} becomes
 * {@code _}; leading slashes are removed; an empty result becomes {@code _}.
 */
public final class Tags {
  private Tags() {}

  public static String sanitize(String name) {
    StringBuilder sb = new StringBuilder(name.length());
    boolean leading = true;
    for (int i = 0; i < name.length(); ) {
      int cp = name.codePointAt(i);
      i += Character.charCount(cp);
      if (leading && cp == '/') {
        continue;
      }
      leading = false;
      if (Character.isLetterOrDigit(cp) || cp == '_' || cp == '-' || cp == '/' || cp == '.') {
        sb.appendCodePoint(cp);
      } else {
        sb.append('_');
      }
    }
    return sb.length() == 0 ? "_" : sb.toString();
  }
}
