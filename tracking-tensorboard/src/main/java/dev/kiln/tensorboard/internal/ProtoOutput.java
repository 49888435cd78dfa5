package dev.kiln.tensorboard.internal;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable byte array with the few protobuf (proto3) wire-format writes the event encoder needs.
 *
 * <p>Fields are written in the order the caller writes them; callers write ascending field numbers
 * so that output is byte-identical to protoc's. Proto3 implicit presence is the caller's choice:
 * the {@code *IfNonDefault} variants skip default values, the plain variants always write (for
 * {@code oneof} members such as {@code simple_value = 0.0}).
 */
final class ProtoOutput {
  static final int WIRE_VARINT = 0;
  static final int WIRE_FIXED64 = 1;
  static final int WIRE_LEN = 2;
  static final int WIRE_FIXED32 = 5;

  private byte[] buf;
  private int pos;

  ProtoOutput() {
    this(64);
  }

  ProtoOutput(int initialCapacity) {
    buf = new byte[Math.max(16, initialCapacity)];
  }

  int size() {
    return pos;
  }

  byte[] toByteArray() {
    return Arrays.copyOf(buf, pos);
  }

  void reset() {
    pos = 0;
  }

  /** The backing array; valid up to {@link #size()} until the next write. */
  byte[] array() {
    return buf;
  }

  /** Reserves {@code n} bytes to be filled in later with the {@code put*At} methods. */
  void skip(int n) {
    ensure(n);
    pos += n;
  }

  /** Drops everything before {@code from}, keeping the rest at the start. */
  void discardBefore(int from) {
    System.arraycopy(buf, from, buf, 0, pos - from);
    pos -= from;
  }

  void putFixed32At(int at, int value) {
    for (int i = 0; i < 4; i++) {
      buf[at + i] = (byte) (value >>> (8 * i));
    }
  }

  void putFixed64At(int at, long value) {
    for (int i = 0; i < 8; i++) {
      buf[at + i] = (byte) (value >>> (8 * i));
    }
  }

  private void ensure(int extra) {
    if (pos + extra > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + extra));
    }
  }

  // ---- raw ----

  void rawVarint(long value) {
    ensure(10);
    while ((value & ~0x7FL) != 0) {
      buf[pos++] = (byte) ((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    buf[pos++] = (byte) value;
  }

  void rawFixed32(int value) {
    ensure(4);
    buf[pos++] = (byte) value;
    buf[pos++] = (byte) (value >>> 8);
    buf[pos++] = (byte) (value >>> 16);
    buf[pos++] = (byte) (value >>> 24);
  }

  void rawFixed64(long value) {
    ensure(8);
    for (int i = 0; i < 8; i++) {
      buf[pos++] = (byte) (value >>> (8 * i));
    }
  }

  void rawBytes(byte[] bytes) {
    rawBytes(bytes, 0, bytes.length);
  }

  void rawBytes(byte[] bytes, int offset, int length) {
    ensure(length);
    System.arraycopy(bytes, offset, buf, pos, length);
    pos += length;
  }

  void key(int field, int wireType) {
    rawVarint(((long) field << 3) | wireType);
  }

  // ---- fields ----

  /** An int32/int64/enum/bool field, always written. Negative values take 10 bytes. */
  void varint(int field, long value) {
    key(field, WIRE_VARINT);
    rawVarint(value);
  }

  void varintIfNonDefault(int field, long value) {
    if (value != 0) {
      varint(field, value);
    }
  }

  void doubleField(int field, double value) {
    key(field, WIRE_FIXED64);
    rawFixed64(Double.doubleToRawLongBits(value));
  }

  /** Skips +0.0 only: -0.0 and NaN are not the proto3 default and are written. */
  void doubleIfNonDefault(int field, double value) {
    if (Double.doubleToRawLongBits(value) != 0L) {
      doubleField(field, value);
    }
  }

  void floatField(int field, float value) {
    key(field, WIRE_FIXED32);
    rawFixed32(Float.floatToRawIntBits(value));
  }

  void bytesField(int field, byte[] value) {
    key(field, WIRE_LEN);
    rawVarint(value.length);
    rawBytes(value);
  }

  void bytesIfNonEmpty(int field, byte[] value) {
    if (value.length > 0) {
      bytesField(field, value);
    }
  }

  void stringField(int field, String value) {
    bytesField(field, value.getBytes(StandardCharsets.UTF_8));
  }

  void stringIfNonEmpty(int field, String value) {
    if (!value.isEmpty()) {
      stringField(field, value);
    }
  }

  /** A sub-message, written even when empty ({@code key 00}). */
  void message(int field, ProtoOutput message) {
    key(field, WIRE_LEN);
    rawVarint(message.pos);
    rawBytes(message.buf, 0, message.pos);
  }

  /** A packed repeated double; nothing when empty. */
  void packedDoubles(int field, double[] values) {
    if (values.length == 0) {
      return;
    }
    key(field, WIRE_LEN);
    rawVarint(8L * values.length);
    ensure(8 * values.length);
    for (double v : values) {
      rawFixed64(Double.doubleToRawLongBits(v));
    }
  }

  /** Bytes a varint of this value takes. */
  static int varintSize(long value) {
    int n = 1;
    while ((value & ~0x7FL) != 0) {
      n++;
      value >>>= 7;
    }
    return n;
  }
}
