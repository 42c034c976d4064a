package io.deltasync.server;

/** Thrown when the server's configuration is invalid; its message names the setting and what is expected. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  ConfigException(String message) {
    super(message);
  }
}
