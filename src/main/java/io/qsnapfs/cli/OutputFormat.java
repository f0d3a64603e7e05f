package io.qsnapfs.cli;

/**
 * How a command with {@code --output} prints ({@code info}, {@code snapshot list}, {@code diff},
 * {@code check}): text for people, or JSON for programs (each command documents its layout).
 */
enum OutputFormat {
    human,
    json
}
