/** Errors as they travel on the wire: google.rpc.Status with ErrorInfo and BadRequest details. */
package io.deltasync.server.error;
