// Starts one OpenSearch node in this JVM, from the server jars on the
// classpath, for integration tests: single-node discovery, loopback only,
// HTTP on the given port. Usage: EmbeddedOpenSearch HOME HTTP_PORT TRANSPORT_PORT
// Prints "started" on stdout once the node is up; runs until killed.
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import org.opensearch.common.settings.Settings;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public class EmbeddedOpenSearch {
  // Node's constructor that takes classpath plugins is protected: the
  // packaged distribution loads netty4 from modules/, we pass it directly.
  static final class EmbeddedNode extends Node {
    EmbeddedNode(Settings settings, Collection<Class<? extends Plugin>> plugins) {
      super(InternalSettingsPreparer.prepareEnvironment(settings, Collections.emptyMap(), null,
                () -> "shoal-test"), plugins, true);
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: EmbeddedOpenSearch HOME HTTP_PORT TRANSPORT_PORT");
      System.exit(2);
    }
    Path home = Paths.get(args[0]);
    Files.createDirectories(home.resolve("config"));
    Settings settings = Settings.builder()
        .put("path.home", home.toString())
        .put("path.data", home.resolve("data").toString())
        .put("path.logs", home.resolve("logs").toString())
        .put("network.host", "127.0.0.1")
        .put("http.port", args[1])
        .put("transport.port", args[2])
        .put("discovery.type", "single-node")
        .put("cluster.name", "shoal-test")
        .put("node.name", "shoal-test")
        // Tests fill small disks; do not block writes on disk watermarks.
        .put("cluster.routing.allocation.disk.threshold_enabled", false)
        .build();
    Node node = new EmbeddedNode(settings, List.of(Netty4Plugin.class));
    node.start();
    System.out.println("started");
    System.out.flush();
    Thread.currentThread().join();
  }
}
