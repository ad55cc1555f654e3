// DynamoDB Local with its Jetty connector bound to 127.0.0.1 instead of every interface.
//
// DynamoDB Local has no bind option: DynamoDBProxyServer builds `new Server(port)`, whose connector
// listens on 0.0.0.0. This launcher lets DynamoDB Local parse its own command line, then sets the
// host of that connector before anything listens. jobwork-infra compiles it once with javac
// (into .jobwork/launcher/) and runs it with DynamoDBLocal.jar on the class path.
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        int bound = 0;
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector) {
                ((ServerConnector) connector).setHost("127.0.0.1");
                bound++;
            }
        }
        if (bound == 0) {
            System.err.println("jobwork-infra: no Jetty connector to bind to 127.0.0.1; refusing to listen on every interface");
            System.exit(70);
        }
        proxy.start();
        System.out.println("jobwork-infra: DynamoDB Local listening on 127.0.0.1 only");
        proxy.join();
    }
}
