package io.qsnapfs.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs a class's {@code main} in a child JVM on the tests' class path, with a time limit. Code
 * that loops forever then fails the test and is killed, instead of leaving a thread spinning in
 * the test JVM for the rest of the run.
 */
public final class ChildJvm {
    private ChildJvm() {
    }

    /**
     * Runs {@code main.main(args)} in a child JVM; fails the test (naming it {@code what}) when it
     * exits other than 0 or outlasts {@code seconds}.
     */
    public static void run(Class<?> main, int seconds, String what, String... args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> command = new ArrayList<>(List.of(java, "-cp", classpath, main.getName()));
        command.addAll(List.of(args));
        Processes.Output o = Processes.run(command, Map.of(), null, seconds, what);
        if (o.exitCode() != 0) {
            fail(what + " exited " + o.exitCode() + ":\n" + o.stdout() + o.stderr());
        }
    }
}
