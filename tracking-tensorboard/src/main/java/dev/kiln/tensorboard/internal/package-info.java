/** TensorBoard event encoding and file handling: not API, may change in any release. */
package dev.kiln.tensorboard.internal;
