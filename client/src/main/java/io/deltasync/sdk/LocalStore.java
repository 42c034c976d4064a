package io.deltasync.sdk;

import java.util.List;
import java.util.Optional;

/**
 * Where the client keeps its copy of synced entities, its outbox of pending deltas and its cursor, changed only
 * inside local transactions. {@link io.deltasync.sdk.sqlite.SqliteLocalStore} is the JVM implementation; an
 * Android app can implement this over Room or its own SQLite. Every method of {@link Tx} runs inside the one
 * transaction {@link #inTransaction} opened: either all of its writes become durable or none does.
 */
public interface LocalStore extends AutoCloseable {
  /** Runs {@code work} in one local transaction and commits it; a thrown exception rolls everything back. */
  <T> T inTransaction(Work<T> work);

  /** Closes the store. */
  @Override
  void close();

  /** Work inside one local transaction. */
  @FunctionalInterface
  interface Work<T> {
    /** Does the work. */
    T run(Tx tx) throws Exception;
  }

  /** The operations available inside a transaction. */
  interface Tx {
    /** The entity's row, if the client holds one. */
    Optional<StoredEntity> entity(EntityKey key);

    /** Inserts or replaces the entity's row. */
    void putEntity(StoredEntity entity);

    /** Removes the entity's row. */
    void removeEntity(EntityKey key);

    /** Every row of the entity type in the scope (null: any type, any scope), ordered by type then id. */
    List<StoredEntity> entities(String entityType, String scope);

    /** The whole outbox, oldest first. */
    List<OutboxEntry> outbox();

    /** The pending deltas of one entity, oldest first. */
    List<OutboxEntry> pendingFor(EntityKey key);

    /** How many deltas wait in the outbox. */
    int outboxSize();

    /** Appends a delta to the outbox and returns it with its position. */
    OutboxEntry append(OutboxEntry entry);

    /** Replaces the outbox entry of the same seq. */
    void replace(OutboxEntry entry);

    /** Removes the outbox entry with this delta id. */
    void remove(String deltaId);

    /** A stored setting (the cursor, the client id), or null. */
    String setting(String name);

    /** Stores a setting. */
    void putSetting(String name, String value);
  }
}
