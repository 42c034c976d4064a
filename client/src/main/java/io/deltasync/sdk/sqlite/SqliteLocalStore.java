package io.deltasync.sdk.sqlite;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import io.deltasync.sdk.EntityKey;
import io.deltasync.sdk.LocalStore;
import io.deltasync.sdk.OutboxEntry;
import io.deltasync.sdk.StoredEntity;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Entity;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link LocalStore} in one SQLite file: WAL journal with {@code synchronous=FULL}, so a committed transaction
 * survives the app being killed (and the machine losing power). Documents are stored as protobuf bytes, not JSON:
 * {@code google.protobuf.Struct} numbers are doubles, and bytes keep exactly what the server sent. One connection,
 * one transaction at a time (SQLite has a single writer anyway).
 */
public final class SqliteLocalStore implements LocalStore {
  private static final int SCHEMA_VERSION = 1;

  private final Connection connection;
  private final ReentrantLock lock = new ReentrantLock();
  private final SqliteTx tx = new SqliteTx();

  private SqliteLocalStore(Connection connection) {
    this.connection = connection;
  }

  /** Opens (creating if needed) the store in {@code file}. */
  public static SqliteLocalStore open(Path file) {
    Objects.requireNonNull(file, "file");
    try {
      Connection connection = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
      try (Statement statement = connection.createStatement()) {
        statement.execute("PRAGMA journal_mode=WAL");
        statement.execute("PRAGMA synchronous=FULL");
        statement.execute("PRAGMA busy_timeout=10000");
        int version;
        try (ResultSet rs = statement.executeQuery("PRAGMA user_version")) {
          version = rs.next() ? rs.getInt(1) : 0;
        }
        if (version > SCHEMA_VERSION) {
          connection.close();
          throw new IllegalStateException("local store " + file + ": schema " + version + " (expected: <= "
              + SCHEMA_VERSION + "; written by a newer SDK)");
        }
        if (version < 1) {
          connection.setAutoCommit(false);
          statement.execute("CREATE TABLE IF NOT EXISTS entity ("
              + "scope TEXT NOT NULL, entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, "
              + "server BLOB, local_data BLOB, local_deleted INTEGER NOT NULL, has_local INTEGER NOT NULL, "
              + "PRIMARY KEY (scope, entity_type, entity_id))");
          statement.execute("CREATE INDEX IF NOT EXISTS entity_by_type ON entity (entity_type, entity_id)");
          statement.execute("CREATE TABLE IF NOT EXISTS outbox ("
              + "seq INTEGER PRIMARY KEY AUTOINCREMENT, delta_id TEXT NOT NULL UNIQUE, "
              + "scope TEXT NOT NULL, entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, delta BLOB NOT NULL, "
              + "chained INTEGER NOT NULL, sent INTEGER NOT NULL, attempts INTEGER NOT NULL)");
          statement.execute("CREATE INDEX IF NOT EXISTS outbox_by_entity ON outbox (scope, entity_type, entity_id, seq)");
          statement.execute("CREATE TABLE IF NOT EXISTS setting (name TEXT PRIMARY KEY, value TEXT NOT NULL)");
          statement.execute("PRAGMA user_version=" + SCHEMA_VERSION);
          connection.commit();
        }
      }
      connection.setAutoCommit(false);
      return new SqliteLocalStore(connection);
    } catch (SQLException e) {
      throw new LocalStoreException("opening the local store " + file, e);
    }
  }

  @Override
  public <T> T inTransaction(Work<T> work) {
    lock.lock();
    try {
      try {
        T result = work.run(tx);
        connection.commit();
        return result;
      } catch (Exception e) {
        rollback(e);
        if (e instanceof RuntimeException runtime) {
          throw runtime;
        }
        throw new LocalStoreException("local transaction", e);
      }
    } finally {
      lock.unlock();
    }
  }

  private void rollback(Exception cause) {
    try {
      connection.rollback();
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
  }

  @Override
  public void close() {
    lock.lock();
    try {
      connection.close();
    } catch (SQLException e) {
      throw new LocalStoreException("closing the local store", e);
    } finally {
      lock.unlock();
    }
  }

  /** The transaction's operations; only called while the lock is held. */
  private final class SqliteTx implements Tx {
    @Override
    public Optional<StoredEntity> entity(EntityKey key) {
      try (PreparedStatement ps = connection.prepareStatement("SELECT scope, entity_type, entity_id, server, "
          + "local_data, local_deleted, has_local FROM entity WHERE scope = ? AND entity_type = ? AND entity_id = ?")) {
        ps.setString(1, key.scope());
        ps.setString(2, key.entityType());
        ps.setString(3, key.entityId());
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? Optional.of(entityOf(rs)) : Optional.empty();
        }
      } catch (SQLException e) {
        throw new LocalStoreException("reading " + key, e);
      }
    }

    @Override
    public void putEntity(StoredEntity entity) {
      try (PreparedStatement ps = connection.prepareStatement("INSERT OR REPLACE INTO entity (scope, entity_type, "
          + "entity_id, server, local_data, local_deleted, has_local) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
        ps.setString(1, entity.key().scope());
        ps.setString(2, entity.key().entityType());
        ps.setString(3, entity.key().entityId());
        ps.setBytes(4, entity.server() == null ? null : entity.server().toByteArray());
        ps.setBytes(5, entity.localData() == null ? null : entity.localData().toByteArray());
        ps.setInt(6, entity.localDeleted() ? 1 : 0);
        ps.setInt(7, entity.hasLocal() ? 1 : 0);
        ps.executeUpdate();
      } catch (SQLException e) {
        throw new LocalStoreException("writing " + entity.key(), e);
      }
    }

    @Override
    public void removeEntity(EntityKey key) {
      try (PreparedStatement ps = connection.prepareStatement(
          "DELETE FROM entity WHERE scope = ? AND entity_type = ? AND entity_id = ?")) {
        ps.setString(1, key.scope());
        ps.setString(2, key.entityType());
        ps.setString(3, key.entityId());
        ps.executeUpdate();
      } catch (SQLException e) {
        throw new LocalStoreException("removing " + key, e);
      }
    }

    @Override
    public List<StoredEntity> entities(String entityType, String scope) {
      // TEXT compares with SQLite's BINARY collation: UTF-8 byte order, as the checksum needs.
      String sql = "SELECT scope, entity_type, entity_id, server, local_data, local_deleted, has_local FROM entity"
          + " WHERE (? IS NULL OR entity_type = ?) AND (? IS NULL OR scope = ?) ORDER BY entity_type, entity_id, scope";
      try (PreparedStatement ps = connection.prepareStatement(sql)) {
        ps.setString(1, entityType);
        ps.setString(2, entityType);
        ps.setString(3, scope);
        ps.setString(4, scope);
        List<StoredEntity> rows = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            rows.add(entityOf(rs));
          }
        }
        return rows;
      } catch (SQLException e) {
        throw new LocalStoreException("listing entities", e);
      }
    }

    @Override
    public List<OutboxEntry> outbox() {
      return outboxWhere("", null);
    }

    @Override
    public List<OutboxEntry> pendingFor(EntityKey key) {
      return outboxWhere(" WHERE scope = ? AND entity_type = ? AND entity_id = ?", key);
    }

    private List<OutboxEntry> outboxWhere(String where, EntityKey key) {
      try (PreparedStatement ps = connection.prepareStatement(
          "SELECT seq, delta, chained, sent, attempts FROM outbox" + where + " ORDER BY seq")) {
        if (key != null) {
          ps.setString(1, key.scope());
          ps.setString(2, key.entityType());
          ps.setString(3, key.entityId());
        }
        List<OutboxEntry> entries = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            entries.add(new OutboxEntry(rs.getLong(1), Delta.parseFrom(rs.getBytes(2)), rs.getInt(3) != 0,
                rs.getInt(4) != 0, rs.getInt(5)));
          }
        }
        return entries;
      } catch (SQLException | InvalidProtocolBufferException e) {
        throw new LocalStoreException("reading the outbox", e);
      }
    }

    @Override
    public int outboxSize() {
      try (Statement statement = connection.createStatement();
          ResultSet rs = statement.executeQuery("SELECT count(*) FROM outbox")) {
        rs.next();
        return rs.getInt(1);
      } catch (SQLException e) {
        throw new LocalStoreException("counting the outbox", e);
      }
    }

    @Override
    public OutboxEntry append(OutboxEntry entry) {
      try (PreparedStatement ps = connection.prepareStatement("INSERT INTO outbox (delta_id, scope, entity_type, "
          + "entity_id, delta, chained, sent, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
          Statement.RETURN_GENERATED_KEYS)) {
        ps.setString(1, entry.deltaId());
        ps.setString(2, entry.key().scope());
        ps.setString(3, entry.key().entityType());
        ps.setString(4, entry.key().entityId());
        ps.setBytes(5, entry.delta().toByteArray());
        ps.setInt(6, entry.chained() ? 1 : 0);
        ps.setInt(7, entry.sent() ? 1 : 0);
        ps.setInt(8, entry.attempts());
        ps.executeUpdate();
        try (ResultSet keys = ps.getGeneratedKeys()) {
          keys.next();
          return new OutboxEntry(keys.getLong(1), entry.delta(), entry.chained(), entry.sent(), entry.attempts());
        }
      } catch (SQLException e) {
        throw new LocalStoreException("appending delta " + entry.deltaId(), e);
      }
    }

    @Override
    public void replace(OutboxEntry entry) {
      try (PreparedStatement ps = connection.prepareStatement(
          "UPDATE outbox SET delta = ?, chained = ?, sent = ?, attempts = ? WHERE seq = ?")) {
        ps.setBytes(1, entry.delta().toByteArray());
        ps.setInt(2, entry.chained() ? 1 : 0);
        ps.setInt(3, entry.sent() ? 1 : 0);
        ps.setInt(4, entry.attempts());
        ps.setLong(5, entry.seq());
        if (ps.executeUpdate() != 1) {
          throw new IllegalStateException("outbox entry " + entry.seq() + " is gone");
        }
      } catch (SQLException e) {
        throw new LocalStoreException("updating delta " + entry.deltaId(), e);
      }
    }

    @Override
    public void remove(String deltaId) {
      try (PreparedStatement ps = connection.prepareStatement("DELETE FROM outbox WHERE delta_id = ?")) {
        ps.setString(1, deltaId);
        ps.executeUpdate();
      } catch (SQLException e) {
        throw new LocalStoreException("removing delta " + deltaId, e);
      }
    }

    @Override
    public String setting(String name) {
      try (PreparedStatement ps = connection.prepareStatement("SELECT value FROM setting WHERE name = ?")) {
        ps.setString(1, name);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next() ? rs.getString(1) : null;
        }
      } catch (SQLException e) {
        throw new LocalStoreException("reading setting " + name, e);
      }
    }

    @Override
    public void putSetting(String name, String value) {
      try (PreparedStatement ps = connection.prepareStatement(
          "INSERT OR REPLACE INTO setting (name, value) VALUES (?, ?)")) {
        ps.setString(1, name);
        ps.setString(2, value);
        ps.executeUpdate();
      } catch (SQLException e) {
        throw new LocalStoreException("writing setting " + name, e);
      }
    }

    private StoredEntity entityOf(ResultSet rs) throws SQLException {
      EntityKey key = new EntityKey(rs.getString(1), rs.getString(2), rs.getString(3));
      try {
        byte[] server = rs.getBytes(4);
        byte[] local = rs.getBytes(5);
        return new StoredEntity(key, server == null ? null : Entity.parseFrom(server),
            local == null ? null : Struct.parseFrom(local), rs.getInt(6) != 0, rs.getInt(7) != 0);
      } catch (InvalidProtocolBufferException e) {
        throw new LocalStoreException("reading " + key, e);
      }
    }
  }
}
