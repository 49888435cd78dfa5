/** Implementation of dataset staging and MNIST reading: not API, may change in any release. */
package dev.kiln.data.internal;
