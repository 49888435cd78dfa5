/**
 * Update plumbing shared by Kiln's optimizers: slot bookkeeping, checkpoint validation and in-place
 * tensor helpers. Not API; may change without notice.
 */
package dev.kiln.optim.internal;
