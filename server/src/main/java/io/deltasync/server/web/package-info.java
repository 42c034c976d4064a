/** The HTTP port: the same gRPC services over gRPC-Web and HTTP/JSON (Armeria), and the web console's files. */
package io.deltasync.server.web;
