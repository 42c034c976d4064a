package io.deltasync.db.codegen;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import org.flywaydb.core.Flyway;
import org.jooq.codegen.GenerationTool;
import org.jooq.meta.jaxb.Configuration;
import org.jooq.meta.jaxb.Database;
import org.jooq.meta.jaxb.Generate;
import org.jooq.meta.jaxb.Generator;
import org.jooq.meta.jaxb.Target;

/**
 * Generates the jOOQ classes from the Flyway migrations applied to a real, throw-away PostgreSQL.
 *
 * <p>Why a real database and not jOOQ's {@code DDLDatabase}: that one replays the DDL on H2, which
 * cannot parse our PostgreSQL-first schema (plpgsql triggers, jsonb, partial indexes).
 *
 * <p>Arguments: {@code migrationsDir targetDir packageName}.
 */
public final class JooqCodegen {
  private JooqCodegen() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      throw new IllegalArgumentException("arguments: " + args.length + " (expected: migrationsDir targetDir packageName)");
    }
    Path migrations = Path.of(args[0]).toAbsolutePath();
    String target = Path.of(args[1]).toAbsolutePath().toString();
    String packageName = args[2];
    try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
      Flyway.configure()
          .dataSource(pg.getPostgresDatabase())
          .locations("filesystem:" + migrations)
          .load()
          .migrate();
      try (Connection connection = pg.getPostgresDatabase().getConnection()) {
        Configuration configuration = new Configuration()
            .withGenerator(new Generator()
                .withDatabase(new Database()
                    .withName("org.jooq.meta.postgres.PostgresDatabase")
                    .withInputSchema("public")
                    .withExcludes("flyway_schema_history"))
                .withGenerate(new Generate()
                    .withRecords(true)
                    .withPojos(false)
                    .withFluentSetters(true)
                    .withJavaTimeTypes(true))
                .withTarget(new Target().withPackageName(packageName).withDirectory(target)));
        GenerationTool tool = new GenerationTool();
        tool.setConnection(connection);
        tool.run(configuration);
      }
    }
  }
}
