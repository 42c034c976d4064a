package io.deltasync.examples.inspections;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The README's walk-through of the example, against a real server: two copies, both edit offline, both converge. */
class InspectionsExampleIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  @TempDir
  Path dir;

  private String run(String db, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine app = new CommandLine(new InspectionsApp());
    app.setOut(new PrintWriter(out, true));
    app.setErr(new PrintWriter(err, true));
    String[] all = new String[args.length + 4];
    all[0] = "--db";
    all[1] = dir.resolve(db).toString();
    all[2] = "--server";
    all[3] = "127.0.0.1:" + server.port();
    System.arraycopy(args, 0, all, 4, args.length);
    int code = app.execute(all);
    assertThat(code).as("inspections %s: %s", String.join(" ", args), err).isZero();
    return out.toString();
  }

  @Test
  void twoCopiesEditOfflineAndConverge() {
    String added = run("a.db", "add", "Gate 3");
    assertThat(added).startsWith("added ").endsWith("Gate 3 (pending)" + System.lineSeparator());
    String id = added.split(" ")[1];
    assertThat(run("a.db", "sync")).contains("synced: 1 inspections, 0 pending");
    assertThat(run("b.db", "sync")).contains("synced: 1 inspections, 0 pending");
    assertThat(run("b.db", "list")).contains(id + "  Gate 3  open");

    assertThat(run("a.db", "set", id, "passed")).contains("(pending)");
    assertThat(run("b.db", "set", id, "failed")).contains("(pending)");
    assertThat(run("a.db", "list")).contains("passed  (pending)");
    run("a.db", "sync");
    assertThat(run("b.db", "sync")).contains("conflict on " + id
        + ": RESOLUTION_OUTCOME_CLIENT_WON by CONFLICT_POLICY_LAST_WRITE_WINS");
    run("a.db", "sync");

    String a = run("a.db", "list");
    assertThat(a).isEqualTo(run("b.db", "list")).contains(id + "  Gate 3  failed").doesNotContain("pending");
  }
}
