/*
 * Main: runs one peer query on Kafka Streams over a bounded input and prints
 * the PEERS line.
 *
 *   java runnel.peers.Main QUERY BOOTSTRAP OUT_TOPIC
 *
 * Bounded input: before starting, the driver takes the end offset of every
 * input partition; the application (fresh application.id, earliest offsets)
 * counts input records in a Meter, and once it has seen them all the driver
 * (1) for windowed queries writes the end-of-input markers to the control
 * topic (Topologies explains them), (2) sets `draining`, so the Meters request
 * a commit every 20 ms (a commit flushes caches and the producer), and
 * (3) waits for the end: windowed queries, until every final-stage task
 * signalled that it emitted its last window, then two more commits (a commit
 * flushes the producer); the others, until the consumer group's committed
 * offsets equal the end offsets of every partition the application reads
 * (input and repartition topics): every record was processed and its results
 * flushed by a commit.
 *
 * Times: startup_s from JVM start to the first RUNNING state; process_s from
 * then to the end above. records: input records read. Exit status: 0 ok,
 * 3 query not implemented, 1 failure (message on stderr), including records
 * dropped as late by a window (the grace was too small for the input).
 *
 * Settings: 1 stream thread, at-least-once, default commit interval and
 * record cache, topology.optimization=all, all DSL stores in memory
 * (dsl.store.suppliers.class; KSTREAMS_STORE=rocksdb selects RocksDB),
 * closed windows looked for every 100 ms of wall-clock time (the internal
 * emit interval of EmitStrategy.onWindowClose, 1 s by default: each look
 * scans the record cache, so per record would be quadratic; 100 ms bounds
 * the wait for the last windows at the end of input).
 */
package runnel.peers;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.BuiltInDslStoreSuppliers;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

public final class Main {
    private Main() {}

    private static final long TIMEOUT_MS = Long.parseLong(System.getenv().getOrDefault("KSTREAMS_TIMEOUT_S", "1800")) * 1000;

    public static void main(final String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: query QUERY BOOTSTRAP OUT_TOPIC");
            System.exit(2);
        }
        final String query = args[0], bootstrap = args[1], out = args[2];
        final Topologies.Spec spec = Topologies.spec(query);
        if (spec == null) {
            System.err.println("kstreams: query " + query + " is not implemented");
            System.exit(3);
        }
        int rc;
        try {
            rc = run(query, spec, bootstrap, out);
        } catch (Exception e) {
            System.err.println("kstreams: " + e);
            e.printStackTrace();
            rc = 1;
        }
        System.out.flush();
        Runtime.getRuntime().halt(rc);  // do not wait for lingering client threads
    }

    private static int run(final String query, final Topologies.Spec spec, final String bootstrap,
                           final String out) throws Exception {
        final long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        final String appId = "peers-kstreams-" + query + "-" + UUID.randomUUID().toString().substring(0, 8);
        final String control = spec.windowed ? appId + "-eoi" : null;
        final Path stateDir = Files.createTempDirectory("peers-kstreams-");

        final Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(ap)) {
            // End offsets of the input, taken before the application starts.
            final TopicDescription desc = admin.describeTopics(List.of(spec.input)).allTopicNames().get()
                .get(spec.input);
            final int partitions = desc.partitions().size();
            final List<TopicPartition> inputTps = new ArrayList<>();
            for (int i = 0; i < partitions; i++) {
                inputTps.add(new TopicPartition(spec.input, i));
            }
            final Map<TopicPartition, Long> begin = offsets(admin, inputTps, OffsetSpec.earliest());
            final Map<TopicPartition, Long> end = offsets(admin, inputTps, OffsetSpec.latest());
            long total = 0;
            for (final TopicPartition tp : inputTps) {
                total += end.get(tp) - begin.get(tp);
            }
            if (control != null) {
                admin.createTopics(List.of(new NewTopic(control, partitions, (short) 1))).all().get();
            }

            final Topologies.Progress progress = new Topologies.Progress();
            final StreamsBuilder builder = new StreamsBuilder();
            Topologies.build(builder, query, control, out, partitions, progress);
            final Properties props = streamsProps(appId, bootstrap, stateDir);
            final Topology topology = builder.build(props);
            if (System.getenv("KSTREAMS_DESCRIBE") != null) {
                System.err.println(topology.describe());
            }

            final KafkaStreams streams = new KafkaStreams(topology, props);
            final AtomicLong runningAt = new AtomicLong();
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            streams.setStateListener((now, before) -> {
                if (now == KafkaStreams.State.RUNNING) {
                    runningAt.compareAndSet(0, System.currentTimeMillis());
                }
            });
            streams.setUncaughtExceptionHandler(e -> {
                failure.compareAndSet(null, e);
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler
                    .StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
            streams.start();

            final long deadline = System.currentTimeMillis() + TIMEOUT_MS;
            // 1. All input read.
            while (progress.records < total) {
                check(failure, deadline, streams);
                Thread.sleep(5);
            }
            // 2. End markers, 3. commits requested.
            if (control != null) {
                sendMarkers(bootstrap, control, partitions);
            }
            progress.draining = true;
            // 4. Everything read has been processed and committed.
            final Set<String> sources = new java.util.HashSet<>();
            sources.add(spec.input);
            if (control != null) {
                sources.add(control);
            }
            for (final String t : admin.listTopics().names().get()) {
                if (t.startsWith(appId) && t.endsWith("-repartition")) {
                    sources.add(t);
                }
            }
            final List<TopicPartition> tps = new ArrayList<>();
            for (final TopicDescription d : admin.describeTopics(sources).allTopicNames().get().values()) {
                d.partitions().forEach(pi -> tps.add(new TopicPartition(d.name(), pi.partition())));
            }
            long doneAt = 0;
            if (control != null) {
                // Windowed: every final-stage task has emitted its last window;
                // then two more commits (the first may have begun before) flush them.
                final int tasks = spec.finalTasks(query, partitions);
                while (progress.signals < tasks) {
                    check(failure, deadline, streams);
                    Thread.sleep(2);
                }
                final double commits = metricSum(streams, "commit-total");
                while (metricSum(streams, "commit-total") < commits + 2) {
                    check(failure, deadline, streams);
                    Thread.sleep(2);
                }
                doneAt = System.currentTimeMillis();
            }
            while (doneAt == 0) {
                check(failure, deadline, streams);
                final Map<TopicPartition, OffsetAndMetadata> committed =
                    admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
                final Map<TopicPartition, Long> ends = offsets(admin, tps, OffsetSpec.latest());
                boolean done = true;
                for (final TopicPartition tp : tps) {
                    final long e = ends.get(tp);
                    final OffsetAndMetadata c = committed.get(tp);
                    if (e > 0 && (c == null || c.offset() < e)) {
                        done = false;
                        break;
                    }
                }
                if (done) {
                    doneAt = System.currentTimeMillis();
                    break;
                }
                Thread.sleep(10);
            }
            final double dropped = metricSum(streams, "dropped-records-total")
                + metricSum(streams, "expired-window-record-drop-total");
            streams.close(org.apache.kafka.streams.CloseOptions.timeout(Duration.ofSeconds(30))
                .withGroupMembershipOperation(org.apache.kafka.streams.CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
            streams.cleanUp();
            cleanup(admin, appId);

            if (progress.nullKeys) {
                System.err.println("kstreams: input records without key: " + query + " groups on the record key");
                return 1;
            }
            if (dropped > 0) {
                System.err.printf(Locale.ROOT, "kstreams: %.0f records dropped (late beyond grace %d ms, or no key)%n",
                                  dropped, Topologies.GRACE_MS);
                return 1;
            }
            final long running = runningAt.get();
            System.out.printf(Locale.ROOT, "PEERS {\"startup_s\": %.3f, \"process_s\": %.3f, \"records\": %d}%n",
                              (running - jvmStart) / 1000.0, (doneAt - running) / 1000.0, progress.records);
            return 0;
        } finally {
            deleteTree(stateDir);
        }
    }

    private static Properties streamsProps(final String appId, final String bootstrap, final Path stateDir) {
        final Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.DSL_STORE_SUPPLIERS_CLASS_CONFIG,
              "rocksdb".equals(System.getenv("KSTREAMS_STORE"))
                  ? BuiltInDslStoreSuppliers.RocksDBDslStoreSuppliers.class
                  : BuiltInDslStoreSuppliers.InMemoryDslStoreSuppliers.class);
        p.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_WINDOWED_AGGREGATION, 100L);
        final String commit = System.getenv("KSTREAMS_COMMIT_MS");
        if (commit != null) {
            p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(commit));
        }
        return p;
    }

    private static Map<TopicPartition, Long> offsets(final Admin admin, final List<TopicPartition> tps,
                                                     final OffsetSpec spec) throws Exception {
        final Map<TopicPartition, OffsetSpec> req = new HashMap<>();
        tps.forEach(tp -> req.put(tp, spec));
        final Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> res = admin.listOffsets(req).all().get();
        return res.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
    }

    /** One {"eoi":true} per control partition, key "eoi", timestamp EOI_TS; waits for the acks. */
    private static void sendMarkers(final String bootstrap, final String control, final int partitions)
            throws Exception {
        final Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        try (KafkaProducer<byte[], byte[]> producer =
                 new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
            final byte[] key = "eoi".getBytes(StandardCharsets.UTF_8);
            final byte[] value = "{\"eoi\":true}".getBytes(StandardCharsets.UTF_8);
            final List<java.util.concurrent.Future<?>> acks = new ArrayList<>();
            for (int p = 0; p < partitions; p++) {
                acks.add(producer.send(new ProducerRecord<>(control, p, Model.EOI_TS, key, value)));
            }
            for (final java.util.concurrent.Future<?> f : acks) {
                f.get(30, TimeUnit.SECONDS);
            }
        }
    }

    private static void check(final AtomicReference<Throwable> failure, final long deadline,
                              final KafkaStreams streams) {
        if (failure.get() != null) {
            throw new IllegalStateException("stream thread failed: " + failure.get(), failure.get());
        }
        final KafkaStreams.State s = streams.state();
        if (s == KafkaStreams.State.ERROR || s == KafkaStreams.State.NOT_RUNNING
            || s == KafkaStreams.State.PENDING_SHUTDOWN || s == KafkaStreams.State.PENDING_ERROR) {
            throw new IllegalStateException("streams state " + s);
        }
        if (System.currentTimeMillis() > deadline) {
            throw new IllegalStateException("timed out");
        }
    }

    private static double metricSum(final KafkaStreams streams, final String name) {
        double sum = 0;
        for (final Map.Entry<MetricName, ? extends Metric> e : streams.metrics().entrySet()) {
            if (e.getKey().name().equals(name) && e.getValue().metricValue() instanceof Number) {
                sum += ((Number) e.getValue().metricValue()).doubleValue();
            }
        }
        return sum;
    }

    /** Deletes the run's internal and control topics and its consumer group (best effort). */
    private static void cleanup(final Admin admin, final String appId) {
        try {
            final List<String> mine = admin.listTopics().names().get().stream()
                .filter(t -> t.startsWith(appId)).collect(Collectors.toList());
            if (!mine.isEmpty()) {
                admin.deleteTopics(mine).all().get(30, TimeUnit.SECONDS);
            }
            admin.deleteConsumerGroups(List.of(appId)).all().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.err.println("kstreams: cleanup of " + appId + ": " + e);
        }
    }

    private static void deleteTree(final Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (Exception ignored) {
            // a temp directory left behind is harmless
        }
    }
}
