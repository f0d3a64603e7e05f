package io.qsnapfs.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;

/**
 * The JSON of {@code --output json} where it is a record ({@code info}, {@code snapshot list}):
 * snake-case field names, indented, a newline after.
 */
final class JsonOutput {
    private JsonOutput() {
    }

    static void write(PrintStream out, Object value) throws IOException {
        // Made here, not in a static field: picocli instantiates every command on every run,
        // and Jackson's setup would slow down the commands that do not print JSON.
        ObjectMapper json = new ObjectMapper()
                .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .enable(SerializationFeature.INDENT_OUTPUT);
        out.write(json.writeValueAsBytes(value));
        out.print("\n");
    }
}
