/** A thin Java client over the generated deltasync stubs: retries with exponential backoff and full jitter. */
package io.deltasync.client;
