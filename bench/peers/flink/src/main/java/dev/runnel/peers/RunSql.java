/*
 * RunSql: the Flink SQL peer of bench/peers (bench/peers/flink/README.md).
 *
 * Design note. It runs one Flink SQL file, the same file runnel runs, on a
 * local MiniCluster at parallelism 1 and changes only deployment settings, the
 * way runnel's `--set` / `--connector` do: every source table whose connector
 * is 'kafka' gets the broker, a fresh consumer group and a bounded scan
 * (earliest offset to the end offsets at start); the table named by INSERT INTO
 * becomes a Kafka sink on OUT_TOPIC (upsert-kafka when it declares a PRIMARY
 * KEY, append kafka otherwise), JSON. The statement text (columns, types,
 * queries) is passed to Flink unchanged: a statement Flink rejects fails the
 * run with Flink's error.
 *
 * Timing: startup_s runs from T0 (the adapter's launch time, env PEERS_T0_NS as
 * epoch nanoseconds; else the JVM's start) until the job reports RUNNING;
 * process_s from then until the job is FINISHED (the bounded sources ended and
 * the Kafka sink flushed). records is the number of input records the bounded
 * scan reads: per source topic, the sum over partitions of end - beginning
 * offset, fetched just before the job is submitted.
 *
 * Usage: RunSql SQL_FILE BOOTSTRAP OUT_TOPIC. Exit 0 on success, 1 on any
 * failure (message on stderr). The last stdout line is
 * PEERS {"startup_s": S, "process_s": P, "records": N}.
 */
package dev.runnel.peers;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.StatementSet;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;

public final class RunSql {
    private RunSql() {}

    /** One CREATE TABLE statement, split around its WITH (...) option list. */
    private static final class CreateTable {
        String name;                                  // table name, unquoted, lower case
        String head;                                  // text up to and including "WITH ("
        String tail;                                  // text from the closing ")" of the options
        Map<String, String> options = new LinkedHashMap<>(); // the options, in order
        boolean primaryKey;                           // declares PRIMARY KEY
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: RunSql SQL_FILE BOOTSTRAP OUT_TOPIC");
            System.exit(2);
        }
        try {
            run(args[0], args[1], args[2]);
            System.exit(0);
        } catch (Throwable e) {
            System.err.println("flink peer: " + e);
            Throwable c = e.getCause();
            while (c != null) {
                String m = c.getMessage();
                if (m == null || e.getMessage() == null || !e.getMessage().contains(m)) {
                    System.err.println("  caused by: " + c);
                }
                c = c.getCause();
            }
            System.exit(1);
        }
    }

    private static void run(String sqlFile, String bootstrap, String outTopic) throws Exception {
        long t0Ns;
        String env = System.getenv("PEERS_T0_NS");
        if (env != null && !env.isEmpty()) {
            t0Ns = Long.parseLong(env.trim());
        } else {
            t0Ns = ManagementFactory.getRuntimeMXBean().getStartTime() * 1_000_000L;
        }

        String text = Files.readString(Path.of(sqlFile), StandardCharsets.UTF_8);
        List<String> statements = splitStatements(stripComments(text));

        Set<String> sinks = new LinkedHashSet<>();
        Pattern insert = Pattern.compile("^\\s*INSERT\\s+INTO\\s+(`[^`]+`|[\\w.]+)",
                Pattern.CASE_INSENSITIVE);
        for (String s : statements) {
            Matcher m = insert.matcher(s);
            if (m.find()) sinks.add(unquote(m.group(1)));
        }
        if (sinks.isEmpty()) throw new IllegalArgumentException(sqlFile + ": no INSERT INTO");

        String group = "peers-flink-" + UUID.randomUUID();
        Set<String> sourceTopics = new LinkedHashSet<>();
        List<String> ddl = new ArrayList<>();
        List<String> inserts = new ArrayList<>();
        for (String s : statements) {
            if (insert.matcher(s).find()) {
                inserts.add(s);
                continue;
            }
            CreateTable t = parseCreateTable(s);
            if (t == null) {
                ddl.add(s);
                continue;
            }
            if (sinks.contains(t.name)) {
                t.options.clear();
                if (t.primaryKey) {
                    t.options.put("connector", "upsert-kafka");
                    t.options.put("topic", outTopic);
                    t.options.put("properties.bootstrap.servers", bootstrap);
                    t.options.put("key.format", "json");
                    t.options.put("value.format", "json");
                } else {
                    t.options.put("connector", "kafka");
                    t.options.put("topic", outTopic);
                    t.options.put("properties.bootstrap.servers", bootstrap);
                    t.options.put("format", "json");
                }
            } else if ("kafka".equals(t.options.get("connector"))) {
                t.options.put("properties.bootstrap.servers", bootstrap);
                t.options.put("properties.group.id", group);
                t.options.put("scan.startup.mode", "earliest-offset");
                t.options.put("scan.bounded.mode", "latest-offset");
                String topic = t.options.get("topic");
                if (topic != null) sourceTopics.add(topic);
            }
            ddl.add(render(t));
        }

        Configuration conf = new Configuration();
        conf.setString("rest.bind-port", "0");        // several runs may share the host
        StreamExecutionEnvironment senv = StreamExecutionEnvironment.createLocalEnvironment(1, conf);
        StreamTableEnvironment tenv = StreamTableEnvironment.create(senv,
                EnvironmentSettings.newInstance().inStreamingMode().build());
        tenv.getConfig().set("table.local-time-zone", "UTC");
        tenv.getConfig().set("table.exec.mini-batch.enabled", "true");
        tenv.getConfig().set("table.exec.mini-batch.allow-latency", "1 s");
        tenv.getConfig().set("table.exec.mini-batch.size", "5000");

        for (String s : ddl) tenv.executeSql(s);

        long records = countRecords(bootstrap, sourceTopics);

        TableResult result;
        if (inserts.size() == 1) {
            result = tenv.executeSql(inserts.get(0));
        } else {
            StatementSet set = tenv.createStatementSet();
            for (String s : inserts) set.addInsertSql(s);
            result = set.execute();
        }
        JobClient job = result.getJobClient().orElseThrow(
                () -> new IllegalStateException("no job client"));
        JobStatus st = job.getJobStatus().get();
        while (st != JobStatus.RUNNING && !st.isTerminalState()) {
            Thread.sleep(5);
            st = job.getJobStatus().get();
        }
        long runningNs = System.currentTimeMillis() * 1_000_000L;
        if (st != JobStatus.RUNNING) throw new IllegalStateException("job ended " + st + " before RUNNING");
        // completes normally once the job is FINISHED (the MiniCluster then shuts
        // down, so the status cannot be asked any more); throws if it failed
        job.getJobExecutionResult().get();
        long doneNs = System.currentTimeMillis() * 1_000_000L;

        System.out.printf(Locale.ROOT, "PEERS {\"startup_s\": %.3f, \"process_s\": %.3f, \"records\": %d}%n",
                (runningNs - t0Ns) / 1e9, (doneNs - runningNs) / 1e9, records);
        System.out.flush();
    }

    /**
     * Input records the bounded scan reads: per topic, the sum over partitions
     * of end - beginning offset (the Kafka client shaded into the SQL connector).
     */
    private static long countRecords(String bootstrap, Set<String> topics) {
        if (topics.isEmpty()) return 0;
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("key.deserializer",
                "org.apache.flink.kafka.shaded.org.apache.kafka.common.serialization.ByteArrayDeserializer");
        p.put("value.deserializer",
                "org.apache.flink.kafka.shaded.org.apache.kafka.common.serialization.ByteArrayDeserializer");
        long n = 0;
        try (org.apache.flink.kafka.shaded.org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> c =
                     new org.apache.flink.kafka.shaded.org.apache.kafka.clients.consumer.KafkaConsumer<>(p)) {
            for (String topic : topics) {
                List<org.apache.flink.kafka.shaded.org.apache.kafka.common.TopicPartition> tps = new ArrayList<>();
                for (var info : c.partitionsFor(topic)) {
                    tps.add(new org.apache.flink.kafka.shaded.org.apache.kafka.common.TopicPartition(
                            topic, info.partition()));
                }
                var end = c.endOffsets(tps);
                var begin = c.beginningOffsets(tps);
                for (var tp : tps) n += end.get(tp) - begin.get(tp);
            }
        }
        return n;
    }

    /** The text without `--` comments (outside string literals and quoted identifiers). */
    static String stripComments(String s) {
        StringBuilder out = new StringBuilder(s.length());
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                out.append(c);
                if (c == quote) quote = 0;       // '' and `` re-open at once: same effect
            } else if (c == '\'' || c == '`' || c == '"') {
                quote = c;
                out.append(c);
            } else if (c == '-' && i + 1 < s.length() && s.charAt(i + 1) == '-') {
                while (i < s.length() && s.charAt(i) != '\n') i++;
                out.append('\n');
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** The statements between `;` (outside quotes), blank ones dropped. */
    static List<String> splitStatements(String s) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) quote = 0;
            } else if (c == '\'' || c == '`' || c == '"') {
                quote = c;
            } else if (c == ';') {
                if (!cur.toString().isBlank()) out.add(cur.toString().trim());
                cur.setLength(0);
                continue;
            }
            cur.append(c);
        }
        if (!cur.toString().isBlank()) out.add(cur.toString().trim());
        return out;
    }

    private static String unquote(String ident) {
        String s = ident.startsWith("`") ? ident.substring(1, ident.length() - 1) : ident;
        return s.toLowerCase(Locale.ROOT);
    }

    /**
     * Splits a CREATE TABLE statement around its WITH option list; null when s
     * is not a CREATE TABLE with a WITH clause.
     */
    static CreateTable parseCreateTable(String s) {
        Matcher m = Pattern.compile(
                "^\\s*CREATE\\s+(?:TEMPORARY\\s+)?TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(`[^`]+`|[\\w.]+)",
                Pattern.CASE_INSENSITIVE).matcher(s);
        if (!m.find()) return null;
        CreateTable t = new CreateTable();
        t.name = unquote(m.group(1));
        // the first WITH at parenthesis depth 0, outside quotes, then its "("
        int depth = 0;
        char quote = 0;
        int withAt = -1;
        for (int i = m.end(); i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) quote = 0;
            } else if (c == '\'' || c == '`' || c == '"') {
                quote = c;
            } else if (c == '(') {
                depth++;
            } else if (c == ')') {
                depth--;
            } else if (depth == 0 && s.regionMatches(true, i, "WITH", 0, 4)
                    && !Character.isLetterOrDigit(s.charAt(i - 1))
                    && (i + 4 >= s.length() || !Character.isLetterOrDigit(s.charAt(i + 4)))) {
                withAt = i;
                break;
            }
        }
        if (withAt < 0) return null;
        int open = s.indexOf('(', withAt);
        if (open < 0) return null;
        String columns = s.substring(m.end(), withAt);
        t.primaryKey = Pattern.compile("PRIMARY\\s+KEY", Pattern.CASE_INSENSITIVE).matcher(columns).find();
        t.head = s.substring(0, open + 1);
        // 'key' = 'value' [, ...] )
        int i = open + 1;
        while (true) {
            i = skipSpace(s, i);
            if (s.charAt(i) == ')') break;
            StringBuilder key = new StringBuilder();
            i = readLiteral(s, i, key);
            i = skipSpace(s, i);
            if (s.charAt(i) != '=') throw new IllegalArgumentException("WITH option without '=': " + s);
            i = skipSpace(s, i + 1);
            StringBuilder value = new StringBuilder();
            i = readLiteral(s, i, value);
            t.options.put(key.toString(), value.toString());
            i = skipSpace(s, i);
            if (s.charAt(i) == ',') i++;
        }
        t.tail = s.substring(i);
        return t;
    }

    private static int skipSpace(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        if (i >= s.length()) throw new IllegalArgumentException("unterminated WITH clause");
        return i;
    }

    /** Reads the string literal at i ('' escapes a quote) into out; returns the index after it. */
    private static int readLiteral(String s, int i, StringBuilder out) {
        if (s.charAt(i) != '\'') throw new IllegalArgumentException("WITH option is not a string literal at: "
                + s.substring(i, Math.min(s.length(), i + 40)));
        i++;
        while (true) {
            char c = s.charAt(i);
            if (c == '\'') {
                if (i + 1 < s.length() && s.charAt(i + 1) == '\'') {
                    out.append('\'');
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            out.append(c);
            i++;
        }
    }

    private static String render(CreateTable t) {
        StringBuilder b = new StringBuilder(t.head).append('\n');
        boolean first = true;
        for (Map.Entry<String, String> e : t.options.entrySet()) {
            if (!first) b.append(",\n");
            first = false;
            b.append("  '").append(e.getKey().replace("'", "''")).append("' = '")
                    .append(e.getValue().replace("'", "''")).append('\'');
        }
        return b.append('\n').append(t.tail).toString();
    }
}
