package io.deltasync.server.warmup;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.jooq.conf.Settings;
import org.jooq.conf.SettingsTools;
import org.jooq.impl.DefaultConnectionProvider;

/**
 * One connection of the pool on which every table of the {@code public} schema is shadowed by a temporary table of
 * the same shape (columns, defaults, CHECK constraints, indexes and triggers; sequences of its own), so that the
 * start-up warm-up runs the real write statements and triggers, commits, and reads its rows back through the real
 * read code, while the real tables get no row, no dead tuple and no statistics (the old warm-up's rolled-back writes
 * left dead tuples in {@code entity}, {@code change_log} and {@code applied_delta} of a fresh database, and the
 * first minute of real writes paid for them).
 *
 * <p>Why this works: PostgreSQL looks relations up in the session's temporary schema before the search path, so the
 * triggers' unqualified {@code INSERT INTO change_log} reach the temporary tables; jOOQ renders unqualified names
 * through {@link #dsl}. Nothing else can see the temporary tables, and {@link #close} drops them ({@code DISCARD
 * TEMP}) before the connection goes back to the pool; if that fails, the connection is aborted (the pool replaces
 * it), so no later statement on it could reach a shadow. Functions' and statements' plans cached on the connection
 * are invalidated by the drop and planned again against the real tables.
 */
final class ScratchTables implements AutoCloseable {
  /** Tables whose rows the shadow copies: read by every write (the epoch), tiny. */
  private static final List<String> COPIED = List.of("sync_epoch");
  private static final Pattern TRIGGER_TABLE = Pattern.compile(" ON (?:public\\.)?(\"?)([A-Za-z0-9_]+)\\1 ");

  private final Connection connection;
  private final List<String> tables;
  private final DSLContext dsl;

  private ScratchTables(Connection connection, List<String> tables, DSLContext real) {
    this.connection = connection;
    this.tables = tables;
    Settings settings = SettingsTools.clone(real.settings()).withRenderSchema(false);
    // The pool's own connection object, not a wrapper: the JIT's type profiles of the driver and jOOQ then see the
    // classes real traffic uses (a proxy class here would be deoptimized at the first real write).
    this.dsl = real.configuration().derive(new DefaultConnectionProvider(connection)).derive(settings).dsl();
  }

  /**
   * Takes a connection of {@code pool} and shadows every table of the {@code public} schema (Flyway's history
   * aside) on it.
   */
  static ScratchTables open(DataSource pool, DSLContext real) throws SQLException {
    Connection connection = pool.getConnection();
    try {
      connection.setAutoCommit(true);
      List<String> tables = new ArrayList<>();
      List<String> triggers = new ArrayList<>();
      try (Statement statement = connection.createStatement()) {
        try (ResultSet rows = statement.executeQuery("SELECT c.relname FROM pg_class c JOIN pg_namespace n "
            + "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
            + "AND c.relname <> 'flyway_schema_history' ORDER BY c.relname")) {
          while (rows.next()) {
            tables.add(rows.getString(1));
          }
        }
        // Read before any shadow exists, so that every definition names a real table.
        try (ResultSet rows = statement.executeQuery("SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t "
            + "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            + "WHERE n.nspname = 'public' AND NOT t.tgisinternal AND c.relname <> 'flyway_schema_history' "
            + "ORDER BY c.relname, t.tgname")) {
          while (rows.next()) {
            triggers.add(rows.getString(1));
          }
        }
        for (String table : tables) {
          String name = quote(table);
          statement.execute("CREATE TEMP TABLE " + name + " (LIKE public." + name + " INCLUDING ALL)");
          if (COPIED.contains(table)) {
            statement.execute("INSERT INTO pg_temp." + name + " SELECT * FROM public." + name);
          }
        }
        ownSequences(statement, tables);
        for (String definition : triggers) {
          statement.execute(onShadow(definition));
        }
      }
      return new ScratchTables(connection, List.copyOf(tables), real);
    } catch (SQLException | RuntimeException e) {
      discard(connection);
      throw e;
    }
  }

  /** The trigger's definition on the table's shadow: {@code ... ON public.entity ...} becomes {@code ON pg_temp.entity}. */
  static String onShadow(String triggerDefinition) {
    Matcher on = TRIGGER_TABLE.matcher(triggerDefinition);
    if (!on.find()) {
      throw new IllegalStateException("trigger definition without a table: " + triggerDefinition);
    }
    return triggerDefinition.substring(0, on.start()) + " ON pg_temp." + quote(on.group(2)) + " "
        + triggerDefinition.substring(on.end());
  }

  /** Columns that draw from a real sequence (serial) draw from a temporary one instead: no real id is used up. */
  private static void ownSequences(Statement statement, List<String> tables) throws SQLException {
    List<String[]> serials = new ArrayList<>();
    try (ResultSet rows = statement.executeQuery("SELECT c.relname, a.attname FROM pg_attrdef d "
        + "JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
        + "JOIN pg_class c ON c.oid = d.adrelid "
        + "WHERE c.relnamespace = pg_my_temp_schema() AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%'")) {
      while (rows.next()) {
        serials.add(new String[] {rows.getString(1), rows.getString(2)});
      }
    }
    int n = 0;
    for (String[] serial : serials) {
      String sequence = quote("deltasync_scratch_seq_" + n++);
      statement.execute("CREATE TEMP SEQUENCE " + sequence);
      statement.execute("ALTER TABLE pg_temp." + quote(serial[0]) + " ALTER COLUMN " + quote(serial[1])
          + " SET DEFAULT nextval('pg_temp." + sequence + "')");
    }
  }

  private static String quote(String identifier) {
    return "\"" + identifier.replace("\"", "\"\"") + "\"";
  }

  /** The tables shadowed. */
  List<String> tables() {
    return tables;
  }

  /**
   * jOOQ over the shadowed connection, rendering unqualified names (so that they resolve to the shadows); one
   * caller at a time (transactions are the connection's, nested ones savepoints).
   */
  DSLContext dsl() {
    return dsl;
  }

  /** Drops the shadows and gives the connection back; a connection whose shadows could not be dropped is aborted. */
  @Override
  public void close() {
    discard(connection);
  }

  private static void discard(Connection connection) {
    try {
      try {
        if (!connection.getAutoCommit()) {
          connection.rollback();
          connection.setAutoCommit(true);
        }
        try (Statement statement = connection.createStatement()) {
          statement.execute("DISCARD TEMP");
        }
      } catch (SQLException | RuntimeException e) {
        // Never hand a connection with shadows back to the pool: later unqualified statements would reach them.
        connection.abort(Runnable::run);
      } finally {
        connection.close();
      }
    } catch (SQLException ignored) {
      // Aborted or closed: the pool replaces it.
    }
  }
}
