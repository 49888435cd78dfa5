/**
 * Implementation details of the W&amp;B tracker: spool, acknowledgements, HTTP and the sender. Not
 * API.
 */
package dev.kiln.wandb.internal;
