/*
 * Topologies: the seven peer queries in the Kafka Streams DSL.
 *
 * Each query reads one input topic from its earliest offset. A Meter
 * (processValues) right after the source counts input records for the driver
 * and, once the driver says the input is consumed, requests a commit every
 * 20 ms from a wall-clock punctuator: a commit flushes the record caches and
 * the producer, so the last results leave without waiting for
 * commit.interval.ms (default 30 s at-least-once).
 *
 * Windows and the end of input. Kafka Streams closes a window when the
 * stream time its aggregation has seen passes window end + grace; nothing
 * closes the last windows of a bounded input. The windowed queries read, with
 * the input, a per-run control topic with as many partitions; at the end of
 * input the driver writes one marker {"eoi":true} (timestamp 2100-01-01) to
 * each of its partitions, so each source task sees one marker after all its
 * data. Markers play Flink's final watermark:
 *  - a StreamPartitioner sends a marker to every partition of a repartition
 *    topic (data keeps the default partitioning);
 *  - a Gate in front of each windowed aggregation holds markers back until it
 *    has one from every upstream task (so all their data is in), then
 *    forwards it with an event time just past the last window (latest data
 *    + size + grace + 1 ms), and every 50 ms a copy one such step later: the
 *    aggregation (EmitStrategy.onWindowClose, which looks for closed windows
 *    at most every emit interval of wall-clock time) emits every window at
 *    its next look, the marker's own windows last, closed by a later copy.
 *    The step stays small because a window store drops windows older than
 *    its retention behind the latest window start, emitted or not;
 *  - a Signal after the aggregation takes the first emitted marker window as
 *    "this task has emitted everything": it forwards one marker to the next
 *    stage (q5), or counts the task as finished for the driver.
 *
 * Grace: Kafka Streams has no watermark, only each task's stream time, so
 * after a repartition records from several source tasks interleave out of
 * event-time order by their skew, which a catch-up read does not bound (35 s
 * measured on the 200 s of nexmark data: a 30 s grace dropped bids). The
 * nexmark aggregations use a grace of GRACE_MS (environment
 * KSTREAMS_GRACE_MS, default 300 s, longer than the data), and the driver
 * fails the run if any record was dropped as late. The
 * tumble query needs no repartition (user-events is keyed by user_id) and
 * uses the SQL's 5 s.
 *
 * Retention: between two looks for closed windows (100 ms of wall-clock
 * time, Main) a catch-up read advances event time a lot (user-events has
 * about one event per second: ~10,000 s per look), and a window that leaves
 * the store's retention before a look is lost. So the window stores keep
 * 2 days (tumble) and 1 hour (nexmark: 200 s of data) instead of Kafka
 * Streams' default size + grace; the driver fails the run if any record or
 * window was dropped.
 */
package runnel.peers;

import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.StreamPartitioner;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.WindowStore;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

final class Topologies {
    private Topologies() {}

    static final long GRACE_MS = Long.parseLong(System.getenv().getOrDefault("KSTREAMS_GRACE_MS", "300000"));
    /** Retention of the nexmark window stores (their input spans minutes of event time). */
    static final Duration RETENTION = Duration.ofHours(1);
    private static final BigDecimal EURO = new BigDecimal("0.908");

    /** What the driver needs from a built query. */
    static final class Spec {
        final String input;        // input topic
        final boolean windowed;    // reads the control topic and needs end markers
        Spec(final String input, final boolean windowed) { this.input = input; this.windowed = windowed; }

        /** Signals that mean every final window was emitted, for an input of `partitions`. */
        int finalTasks(final String query, final int partitions) {
            return "q7".equals(query) ? 1 : partitions;
        }
    }

    /** Shared between the stream thread (writes) and the driver (reads). */
    static final class Progress {
        volatile long records;        // input records seen by the Meters
        volatile boolean draining;    // set by the driver once the input is consumed
        volatile boolean nullKeys;    // an input record had no key where one is needed
        volatile int signals;         // final-stage tasks that emitted all their windows
    }

    static Spec spec(final String query) {
        switch (query) {
            case "page_views": return new Spec("user-events", false);
            case "tumble": return new Spec("user-events", true);
            case "q0": case "q1": case "q2": return new Spec("bid", false);
            case "q5": case "q7": return new Spec("bid", true);
            default: return null;
        }
    }

    /**
     * Adds QUERY to the builder: it reads spec.input (and control when
     * windowed), writes rows to out. partitions: the input's partition count.
     */
    static void build(final StreamsBuilder b, final String query, final String control, final String out,
                      final int partitions, final Progress progress) {
        switch (query) {
            case "page_views": pageViews(b, out, progress); break;
            case "tumble": tumble(b, control, out, progress); break;
            case "q0": q0(b, out, progress); break;
            case "q1": q1(b, out, progress); break;
            case "q2": q2(b, out, progress); break;
            case "q5": q5(b, control, out, partitions, progress); break;
            case "q7": q7(b, control, out, partitions, progress); break;
            default: throw new IllegalArgumentException(query);
        }
    }

    // ----------------------------------------------------------- building blocks

    /** Counts input records (markers apart) and requests commits once draining. */
    static final class Meter<K, V> implements FixedKeyProcessor<K, V, V> {
        private final Progress progress;       // shared counters
        private final Predicate<V> isMarker;   // end-of-input marker test
        private final boolean needsKey;        // flag records without key
        private FixedKeyProcessorContext<K, V> context;

        Meter(final Progress progress, final Predicate<V> isMarker, final boolean needsKey) {
            this.progress = progress; this.isMarker = isMarker; this.needsKey = needsKey;
        }

        @Override
        public void init(final FixedKeyProcessorContext<K, V> context) {
            this.context = context;
            context.schedule(Duration.ofMillis(20), PunctuationType.WALL_CLOCK_TIME, now -> {
                if (progress.draining) {
                    context.commit();
                }
            });
        }

        @Override
        public void process(final FixedKeyRecord<K, V> r) {
            if (!isMarker.test(r.value())) {
                progress.records++;   // only the single stream thread writes
                if (needsKey && r.key() == null) {
                    progress.nullKeys = true;
                }
            }
            context.forward(r);
        }
    }

    /**
     * Holds end markers back until one came from each of `expected` upstream
     * tasks, then forwards one with event time (latest data seen here) +
     * horizon, and every 50 ms a copy one more horizon later.
     */
    static final class Gate<K, V> implements FixedKeyProcessor<K, V, V> {
        private final Predicate<V> isMarker;   // end-of-input marker test
        private final int expected;            // markers that make the end
        private final long horizon;            // window size + grace + 1 ms of what follows
        private int seen;                      // markers so far in this task
        private long latest = 0;               // largest data timestamp forwarded
        private long copies;                   // markers forwarded since the end
        private FixedKeyProcessorContext<K, V> context;

        Gate(final Predicate<V> isMarker, final int expected, final long horizon) {
            this.isMarker = isMarker; this.expected = expected; this.horizon = horizon;
        }

        @Override
        public void init(final FixedKeyProcessorContext<K, V> context) { this.context = context; }

        @Override
        public void process(final FixedKeyRecord<K, V> r) {
            if (!isMarker.test(r.value())) {
                latest = Math.max(latest, r.timestamp());
                context.forward(r);
            } else if (++seen == expected) {
                context.forward(r.withTimestamp(latest + horizon));
                context.schedule(Duration.ofMillis(50), PunctuationType.WALL_CLOCK_TIME,
                    now -> context.forward(r.withTimestamp(latest + ++copies * horizon + horizon)));
            }
        }
    }

    /**
     * Drops marker windows; the first one means this task has emitted all its
     * real windows: counted in progress.signals.
     */
    static final class Signal<K, V> implements FixedKeyProcessor<K, V, V> {
        private final Predicate<FixedKeyRecord<K, V>> isMarker;  // marker window test
        private final Progress progress;                          // shared counters
        private boolean signaled;                                 // this task signaled
        private FixedKeyProcessorContext<K, V> context;

        Signal(final Predicate<FixedKeyRecord<K, V>> isMarker, final Progress progress) {
            this.isMarker = isMarker; this.progress = progress;
        }

        @Override
        public void init(final FixedKeyProcessorContext<K, V> context) { this.context = context; }

        @Override
        public void process(final FixedKeyRecord<K, V> r) {
            if (!isMarker.test(r)) {
                context.forward(r);
            } else if (!signaled) {
                signaled = true;
                progress.signals++;   // only the single stream thread writes
            }
        }
    }

    /** Default partitioning for data (Optional.empty()); a marker goes to every partition. */
    static <K, V> StreamPartitioner<K, V> broadcastMarkers(final Predicate<V> isMarker) {
        return new StreamPartitioner<K, V>() {
            @Override
            public Optional<Set<Integer>> partitions(final String topic, final K key, final V value, final int n) {
                if (isMarker.test(value)) {
                    return Optional.of(IntStream.range(0, n).boxed().collect(Collectors.toSet()));
                }
                return Optional.empty();
            }
        };
    }

    static final TimestampExtractor BID_TIME = (record, partitionTime) -> {
        final Model.Bid bid = (Model.Bid) record.value();
        return bid.eoi ? Model.EOI_TS : Model.parseDateTime(bid.dateTime);
    };

    /** CAST(`timestamp` * 1000 AS BIGINT), as the SQL computes it. */
    static final TimestampExtractor EVENT_TIME = (record, partitionTime) -> {
        final Model.UserEvent e = (Model.UserEvent) record.value();
        return e.eoi ? Model.EOI_TS : (long) (e.timestamp * 1000);
    };

    private static final Serde<Model.UserEvent> USER_EVENT = Model.json(Model.UserEvent.class);
    private static final Serde<Model.Bid> BID = Model.json(Model.Bid.class);

    private static KStream<Bytes, Model.Bid> bids(final StreamsBuilder b, final String control, final Progress p) {
        final List<String> topics = control == null ? List.of("bid") : List.of("bid", control);
        final Consumed<Bytes, Model.Bid> consumed = Consumed.with(Serdes.Bytes(), BID);
        return b.stream(topics, control == null ? consumed : consumed.withTimestampExtractor(BID_TIME))
            .processValues(() -> new Meter<>(p, v -> v.eoi, false));
    }

    // ----------------------------------------------------------------- queries

    /**
     * page_views: COUNT(*) and COUNT(DISTINCT user_id) per page. The distinct
     * count is Kafka Streams' two-step idiom: count per (page, user), then
     * re-aggregate that KTable per page (adder +count/+1 user, subtractor
     * -count/-1 user). Upsert output keyed by page_id.
     */
    static void pageViews(final StreamsBuilder b, final String out, final Progress p) {
        final Serde<Model.PageViewsRow> rowSerde = Model.json(Model.PageViewsRow.class);
        b.stream("user-events", Consumed.with(Serdes.Bytes(), USER_EVENT))
            .processValues(() -> new Meter<>(p, v -> false, false))
            .filter((k, v) -> "page-view".equals(v.event_type))
            .map((k, v) -> KeyValue.pair(((long) v.page_id << 32) | (v.user_id & 0xffffffffL), v.page_id))
            .groupByKey(Grouped.with(Serdes.Long(), Serdes.Integer()))
            .count()
            .groupBy((pageUser, n) -> KeyValue.pair((int) (pageUser >> 32), n),
                     Grouped.with(Serdes.Integer(), Serdes.Long()))
            .aggregate(() -> 0L,
                       (page, n, acc) -> acc + (n << 32) + 1,   // views in the high 32 bits, users low
                       (page, n, acc) -> acc - (n << 32) - 1,
                       Materialized.with(Serdes.Integer(), Serdes.Long()))
            .toStream()
            .mapValues((page, acc) -> acc == null ? null : new Model.PageViewsRow(page, acc >>> 32, acc & 0xffffffffL))
            .to(out, Produced.with(Serdes.Integer(), rowSerde));
    }

    /**
     * tumble: events per user in 10 s tumbling windows, 5 s grace (the SQL's
     * watermark delay). user-events is keyed by {"user_id": N}, so grouping on
     * the record key needs no repartition; the user_id comes from the value.
     */
    static void tumble(final StreamsBuilder b, final String control, final String out, final Progress p) {
        final Serde<Model.TumbleRow> rowSerde = Model.json(Model.TumbleRow.class);
        b.stream(List.of("user-events", control),
                 Consumed.with(Serdes.Bytes(), USER_EVENT).withTimestampExtractor(EVENT_TIME))
            .processValues(() -> new Meter<>(p, v -> v.eoi, true))
            .processValues(() -> new Gate<>(v -> v.eoi, 1, 15_001))
            .groupByKey(Grouped.with(Serdes.Bytes(), USER_EVENT))
            .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofSeconds(5)))
            .emitStrategy(EmitStrategy.onWindowClose())
            .aggregate(Model.UserCount::new,
                       (k, v, acc) -> {
                           if (!v.eoi) {
                               acc.user = v.user_id;
                               acc.events++;
                           }
                           return acc;
                       },
                       Materialized.<Bytes, Model.UserCount, WindowStore<Bytes, byte[]>>with(
                           Serdes.Bytes(), Model.USER_COUNT).withRetention(Duration.ofDays(2)))
            .toStream()
            .processValues(() -> new Signal<>(r -> r.value().user < 0, p))
            .map((w, acc) -> KeyValue.pair((Bytes) null,
                new Model.TumbleRow(w.window().start(), w.window().end(), acc.user, acc.events)))
            .to(out, Produced.with(Serdes.Bytes(), rowSerde));
    }

    /** q0: pass-through of the bid columns. */
    static void q0(final StreamsBuilder b, final String out, final Progress p) {
        bids(b, null, p)
            .mapValues(v -> new Model.BidRow(v.auction, v.bidder, v.price, Model.parseDateTime(v.dateTime), v.extra))
            .to(out, Produced.with(Serdes.Bytes(), Model.json(Model.BidRow.class)));
    }

    /** q1: price in euros, 0.908 * price as DECIMAL(23, 3). */
    static void q1(final StreamsBuilder b, final String out, final Progress p) {
        bids(b, null, p)
            .mapValues(v -> new Model.Q1Row(v.auction, v.bidder, EURO.multiply(BigDecimal.valueOf(v.price)),
                                            Model.parseDateTime(v.dateTime), v.extra))
            .to(out, Produced.with(Serdes.Bytes(), Model.json(Model.Q1Row.class)));
    }

    /** q2: bids of every 123rd auction. */
    static void q2(final StreamsBuilder b, final String out, final Progress p) {
        bids(b, null, p)
            .filter((k, v) -> v.auction % 123 == 0)
            .mapValues(v -> new Model.Q2Row(v.auction, v.price))
            .to(out, Produced.with(Serdes.Bytes(), Model.json(Model.Q2Row.class)));
    }

    /**
     * q5: hot items. Stage 1 counts bids per auction in HOP windows (10 s,
     * every 2 s); its final counts are re-keyed by window start (timestamp =
     * window start) and stage 2 keeps, per window, the largest count and every
     * auction that reaches it (ties give several rows, as the SQL's
     * num >= maxn join does).
     */
    static void q5(final StreamsBuilder b, final String control, final String out, final int partitions,
                   final Progress p) {
        final long marker = -1L;   // reserved auction id / window key of end markers
        final KStream<Long, Integer> byAuction = bids(b, control, p)
            .map((k, v) -> KeyValue.pair(v.eoi ? marker : v.auction, v.eoi ? 1 : 0))
            .repartition(Repartitioned.<Long, Integer>with(Serdes.Long(), Serdes.Integer())
                .withNumberOfPartitions(partitions)
                .withStreamPartitioner(broadcastMarkers(v -> v == 1)))
            .processValues(() -> new Gate<>(v -> v == 1, partitions, 10_001 + GRACE_MS));

        final KStream<Long, Model.AuctionCount> counts = byAuction
            .groupByKey(Grouped.with(Serdes.Long(), Serdes.Integer()))
            .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(10), Duration.ofMillis(GRACE_MS))
                .advanceBy(Duration.ofSeconds(2)))
            .emitStrategy(EmitStrategy.onWindowClose())
            .count(Materialized.<Long, Long, WindowStore<Bytes, byte[]>>with(Serdes.Long(), Serdes.Long())
                .withRetention(RETENTION))
            .toStream()
            .process(() -> new Processor<Windowed<Long>, Long, Long, Model.AuctionCount>() {
                private ProcessorContext<Long, Model.AuctionCount> ctx;
                private boolean signaled;   // the marker went downstream

                @Override
                public void init(final ProcessorContext<Long, Model.AuctionCount> c) { ctx = c; }

                @Override
                public void process(final Record<Windowed<Long>, Long> r) {
                    if (r.key().key() != marker) {
                        final long start = r.key().window().start();
                        ctx.forward(new Record<>(start, new Model.AuctionCount(r.key().key(), r.value()), start));
                    } else if (!signaled) {   // all real windows are out: pass the end on
                        signaled = true;
                        ctx.forward(new Record<>(marker, new Model.AuctionCount(marker, 0), Model.EOI_TS));
                    }
                }
            });

        final Predicate<Model.AuctionCount> isMarker = v -> v.auction == marker;
        counts
            .repartition(Repartitioned.<Long, Model.AuctionCount>with(Serdes.Long(), Model.AUCTION_COUNT)
                .withNumberOfPartitions(partitions)
                .withStreamPartitioner(broadcastMarkers(isMarker)))
            .processValues(() -> new Gate<>(isMarker, partitions, 2_001 + GRACE_MS))
            .groupByKey(Grouped.with(Serdes.Long(), Model.AUCTION_COUNT))
            .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofSeconds(2), Duration.ofMillis(GRACE_MS)))
            .emitStrategy(EmitStrategy.onWindowClose())
            .aggregate(Model.MaxAuctions::new,
                       (start, c, acc) -> {
                           if (c.auction == marker) {
                               return acc;
                           }
                           if (c.num > acc.max) {
                               acc.max = c.num;
                               acc.auctions.clear();
                           }
                           if (c.num == acc.max) {
                               acc.auctions.add(c.auction);
                           }
                           return acc;
                       },
                       Materialized.<Long, Model.MaxAuctions, WindowStore<Bytes, byte[]>>with(
                           Serdes.Long(), Model.MAX_AUCTIONS).withRetention(RETENTION))
            .toStream()
            .processValues(() -> new Signal<>(r -> r.key().key() == marker, p))
            .flatMap((w, acc) -> {
                final List<KeyValue<Long, Model.Q5Row>> rows = new ArrayList<>(acc.auctions.size());
                for (final long a : acc.auctions) {
                    rows.add(KeyValue.pair(a, new Model.Q5Row(a, acc.max)));
                }
                return rows;
            })
            .to(out, Produced.with(Serdes.Long(), Model.json(Model.Q5Row.class)));
    }

    /**
     * q7: highest bids per 10 s tumbling window, with the SQL's
     * B.dateTime BETWEEN window_end - 10 s AND window_end (both ends
     * included). One global aggregation (all bids to one partition) over
     * windows [s, s + 10 s + 1 ms) advancing by 10 s, so a bid at exactly
     * s + 10 s is seen by the window it closes: bids on a 10 s boundary are
     * kept apart and, once the window start is known, count for the maximum
     * only when at its start. The INSERT fills the sink columns by position
     * (auction, price, bidder, ...), so `bidder` holds the price and `price`
     * the bidder, as runnel and Flink write them.
     */
    static void q7(final StreamsBuilder b, final String control, final String out, final int partitions,
                   final Progress p) {
        final long size = 10_000L;
        bids(b, control, p)
            .map((k, v) -> {
                final Model.SlimBid s = new Model.SlimBid();
                s.eoi = v.eoi;
                if (!v.eoi) {
                    s.auction = v.auction;
                    s.bidder = v.bidder;
                    s.price = v.price;
                    s.ts = Model.parseDateTime(v.dateTime);
                    s.extra = v.extra;
                }
                return KeyValue.pair(0, s);
            })
            .repartition(Repartitioned.<Integer, Model.SlimBid>with(Serdes.Integer(), Model.SLIM_BID)
                .withNumberOfPartitions(1))
            .processValues(() -> new Gate<>(v -> v.eoi, partitions, size + 2 + GRACE_MS))
            .groupByKey(Grouped.with(Serdes.Integer(), Model.SLIM_BID))
            .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(size + 1), Duration.ofMillis(GRACE_MS))
                .advanceBy(Duration.ofMillis(size)))
            .emitStrategy(EmitStrategy.onWindowClose())
            .aggregate(Model.TopBids::new,
                       (k, v, acc) -> {
                           if (v.eoi) {
                               acc.eoi = true;
                               return acc;
                           }
                           if (v.ts % size == 0) {
                               acc.boundary.add(v);
                           } else if (v.price > acc.max) {
                               acc.max = v.price;
                               acc.atMax.clear();
                               acc.atMax.add(v);
                           } else if (v.price == acc.max) {
                               acc.atMax.add(v);
                           }
                           return acc;
                       },
                       Materialized.<Integer, Model.TopBids, WindowStore<Bytes, byte[]>>with(
                           Serdes.Integer(), Model.TOP_BIDS).withRetention(RETENTION))
            .toStream()
            .processValues(() -> new Signal<>(r -> r.value().eoi, p))
            .flatMap((w, acc) -> {
                final long start = w.window().start();
                long max = acc.max;
                for (final Model.SlimBid s : acc.boundary) {
                    if (s.ts == start && s.price > max) {
                        max = s.price;
                    }
                }
                final List<KeyValue<Long, Model.BidRow>> rows = new ArrayList<>();
                if (max == Long.MIN_VALUE) {
                    return rows;
                }
                if (acc.max == max) {
                    for (final Model.SlimBid s : acc.atMax) {
                        rows.add(KeyValue.pair(s.auction, new Model.BidRow(s.auction, s.price, s.bidder, s.ts, s.extra)));
                    }
                }
                for (final Model.SlimBid s : acc.boundary) {
                    if (s.price == max) {
                        rows.add(KeyValue.pair(s.auction, new Model.BidRow(s.auction, s.price, s.bidder, s.ts, s.extra)));
                    }
                }
                return rows;
            })
            .to(out, Produced.with(Serdes.Long(), Model.json(Model.BidRow.class)));
    }
}
