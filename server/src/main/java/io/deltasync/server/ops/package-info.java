/** Operations: health reporting and server reflection. */
package io.deltasync.server.ops;
