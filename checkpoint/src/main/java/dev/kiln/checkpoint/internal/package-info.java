/** Implementation of {@code dev.kiln.checkpoint}; not API, may change without notice. */
package dev.kiln.checkpoint.internal;
