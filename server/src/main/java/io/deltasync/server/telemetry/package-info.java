/** Metrics: the server's Micrometer meters, the Prometheus endpoint and the GetMetrics view of the same figures. */
package io.deltasync.server.telemetry;
