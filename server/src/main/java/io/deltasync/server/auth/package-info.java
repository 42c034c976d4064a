/** Authentication (JWT, API keys), permissions, and the scopes a credential may read and write. */
package io.deltasync.server.auth;
