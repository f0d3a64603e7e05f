package io.qsnapfs.cli;

/** How {@code info} prints: text for people, or JSON for programs (see {@link ImageInfo}). */
enum OutputFormat {
    human,
    json
}
