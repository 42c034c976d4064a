/** jOOQ queries and transactions: the only package that touches SQL. */
package io.deltasync.server.store;
