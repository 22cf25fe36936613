/*
 * Model: the records the peer queries read, keep and write, and their serdes.
 *
 * Input values are JSON (Jackson databind into public-field POJOs, unknown
 * fields ignored). Output rows are JSON objects whose field names are the
 * query's result columns (Jackson, fields in declaration order). State and
 * repartition values that only this application reads use small binary
 * serdes (DataOutput), as a Kafka Streams application tuned for speed would:
 * JSON there would only add parsing cost.
 *
 * End of input: the driver writes one record {"eoi":true} to every partition
 * of a per-run control topic; the POJOs carry that flag so the queries can
 * tell the marker from data (see Topologies).
 */
package runnel.peers;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

final class Model {
    private Model() {}

    static final ObjectMapper MAPPER = new ObjectMapper()
        .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    /** Event time given to the end-of-input markers: far beyond any data (2100-01-01). */
    static final long EOI_TS = 4102444800000L;

    // ------------------------------------------------------------------ input

    /** A user-events value. */
    public static final class UserEvent {
        public String event_type;  // "page-view", "click", ...
        public int user_id;        // user
        public int page_id;        // page
        public double timestamp;   // epoch seconds
        public boolean eoi;        // end-of-input marker (control topic)
    }

    /** A bid value (nexmark-flink field names). */
    public static final class Bid {
        public long auction;       // auction id
        public long bidder;        // bidder id
        public long price;         // price
        public String channel;     // channel
        public String url;         // url
        public String dateTime;    // "YYYY-MM-DD HH:MM:SS.mmm", UTC
        public String extra;       // padding
        public boolean eoi;        // end-of-input marker (control topic)
    }

    /** Epoch milliseconds of "YYYY-MM-DD HH:MM:SS[.f{1,3}]" (UTC); -1 when malformed. */
    static long parseDateTime(final String s) {
        if (s == null || s.length() < 19) {
            return -1;
        }
        final int y = num(s, 0, 4), mo = num(s, 5, 2), d = num(s, 8, 2);
        final int h = num(s, 11, 2), mi = num(s, 14, 2), se = num(s, 17, 2);
        int ms = 0;
        if (s.length() > 20) {
            int scale = 100;
            for (int i = 20; i < s.length() && i < 23; i++, scale /= 10) {
                ms += (s.charAt(i) - '0') * scale;
            }
        }
        return ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60_000L + se * 1000L + ms;
    }

    private static int num(final String s, final int at, final int len) {
        int v = 0;
        for (int i = at; i < at + len; i++) {
            v = v * 10 + (s.charAt(i) - '0');
        }
        return v;
    }

    /** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
    private static long daysFromCivil(int y, final int m, final int d) {
        y -= m <= 2 ? 1 : 0;
        final long era = (y >= 0 ? y : y - 399) / 400;
        final long yoe = y - era * 400;
        final long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        final long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
    }

    // ----------------------------------------------------------------- output

    public static final class PageViewsRow {
        public int page_id;
        public long views;
        public long users;
        PageViewsRow(final int p, final long v, final long u) { page_id = p; views = v; users = u; }
    }

    public static final class TumbleRow {
        public long window_start;  // epoch ms
        public long window_end;    // epoch ms
        public int user_id;
        public long events;
        TumbleRow(final long s, final long e, final int u, final long n) {
            window_start = s; window_end = e; user_id = u; events = n;
        }
    }

    /** nexmark_q0 and nexmark_q7's columns (q7 fills them positionally, as its INSERT does). */
    public static final class BidRow {
        public long auction;
        public long bidder;
        public long price;
        public long dateTime;      // epoch ms
        public String extra;
        BidRow(final long a, final long b, final long p, final long t, final String x) {
            auction = a; bidder = b; price = p; dateTime = t; extra = x;
        }
    }

    public static final class Q1Row {
        public long auction;
        public long bidder;
        public BigDecimal price;   // DECIMAL(23, 3): 0.908 * price
        public long dateTime;      // epoch ms
        public String extra;
        Q1Row(final long a, final long b, final BigDecimal p, final long t, final String x) {
            auction = a; bidder = b; price = p; dateTime = t; extra = x;
        }
    }

    public static final class Q2Row {
        public long auction;
        public long price;
        Q2Row(final long a, final long p) { auction = a; price = p; }
    }

    public static final class Q5Row {
        public long auction;
        public long num;
        Q5Row(final long a, final long n) { auction = a; num = n; }
    }

    // ------------------------------------------------------- internal values

    /** Per-window count of one user (tumble). */
    static final class UserCount {
        int user = -1;             // user_id, -1 before the first event
        long events;               // events in the window
    }

    /** One auction's count in one HOP window (q5 stage 2 input); auction -1 = end marker. */
    static final class AuctionCount {
        long auction;              // auction id, -1 for the end-of-input marker
        long num;                  // bids in the window
        AuctionCount(final long a, final long n) { auction = a; num = n; }
    }

    /** q5 stage 2: the largest count of a window and the auctions that reach it. */
    static final class MaxAuctions {
        long max = -1;                           // largest count, -1 when empty
        final List<Long> auctions = new ArrayList<>();  // auctions with count == max
    }

    /** A bid projected to what q7 keeps; eoi marks the end-of-input marker. */
    static final class SlimBid {
        long auction, bidder, price, ts;   // ts: dateTime in epoch ms
        String extra;                      // padding column
        boolean eoi;                       // end-of-input marker
    }

    /** q7's window state: the top bids inside, and bids on the 10 s boundaries. */
    static final class TopBids {
        boolean eoi;                                      // holds an end-of-input marker
        long max = Long.MIN_VALUE;                        // max price of bids off the boundary
        final List<SlimBid> atMax = new ArrayList<>();     // bids off the boundary at max
        final List<SlimBid> boundary = new ArrayList<>();  // bids with ts % 10 s == 0
    }

    // ----------------------------------------------------------------- serdes

    /** Jackson serde of a POJO; a malformed value fails with SerializationException. */
    static <T> Serde<T> json(final Class<T> cls) {
        final ObjectReader reader = MAPPER.readerFor(cls);
        final ObjectWriter writer = MAPPER.writerFor(cls);
        final Serializer<T> ser = (topic, v) -> {
            if (v == null) {
                return null;
            }
            try {
                return writer.writeValueAsBytes(v);
            } catch (IOException e) {
                throw new SerializationException(e);
            }
        };
        final Deserializer<T> de = (topic, b) -> {
            if (b == null) {
                return null;
            }
            try {
                return reader.readValue(b);
            } catch (IOException e) {
                throw new SerializationException(e);
            }
        };
        return Serdes.serdeFrom(ser, de);
    }

    interface Writer<T> { void write(DataOutputStream out, T v) throws IOException; }
    interface Reader<T> { T read(DataInputStream in) throws IOException; }

    /** Binary serde from a writer and a reader over DataOutput/DataInput. */
    static <T> Serde<T> binary(final Writer<T> w, final Reader<T> r) {
        final Serializer<T> ser = (topic, v) -> {
            if (v == null) {
                return null;
            }
            final ByteArrayOutputStream bytes = new ByteArrayOutputStream(32);
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                w.write(out, v);
            } catch (IOException e) {
                throw new SerializationException(e);
            }
            return bytes.toByteArray();
        };
        final Deserializer<T> de = (topic, b) -> {
            if (b == null) {
                return null;
            }
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(b))) {
                return r.read(in);
            } catch (IOException e) {
                throw new SerializationException(e);
            }
        };
        return Serdes.serdeFrom(ser, de);
    }

    static final Serde<UserCount> USER_COUNT = binary(
        (out, v) -> { out.writeInt(v.user); out.writeLong(v.events); },
        in -> { final UserCount c = new UserCount(); c.user = in.readInt(); c.events = in.readLong(); return c; });

    static final Serde<AuctionCount> AUCTION_COUNT = binary(
        (out, v) -> { out.writeLong(v.auction); out.writeLong(v.num); },
        in -> new AuctionCount(in.readLong(), in.readLong()));

    static final Serde<MaxAuctions> MAX_AUCTIONS = binary(
        (out, v) -> {
            out.writeLong(v.max);
            out.writeInt(v.auctions.size());
            for (final long a : v.auctions) {
                out.writeLong(a);
            }
        },
        in -> {
            final MaxAuctions m = new MaxAuctions();
            m.max = in.readLong();
            for (int n = in.readInt(); n > 0; n--) {
                m.auctions.add(in.readLong());
            }
            return m;
        });

    private static void writeSlim(final DataOutputStream out, final SlimBid b) throws IOException {
        out.writeBoolean(b.eoi);
        out.writeLong(b.auction);
        out.writeLong(b.bidder);
        out.writeLong(b.price);
        out.writeLong(b.ts);
        out.writeUTF(b.extra == null ? "" : b.extra);
    }

    private static SlimBid readSlim(final DataInputStream in) throws IOException {
        final SlimBid b = new SlimBid();
        b.eoi = in.readBoolean();
        b.auction = in.readLong();
        b.bidder = in.readLong();
        b.price = in.readLong();
        b.ts = in.readLong();
        b.extra = in.readUTF();
        return b;
    }

    static final Serde<SlimBid> SLIM_BID = binary(Model::writeSlim, Model::readSlim);

    static final Serde<TopBids> TOP_BIDS = binary(
        (out, v) -> {
            out.writeBoolean(v.eoi);
            out.writeLong(v.max);
            out.writeInt(v.atMax.size());
            for (final SlimBid b : v.atMax) {
                writeSlim(out, b);
            }
            out.writeInt(v.boundary.size());
            for (final SlimBid b : v.boundary) {
                writeSlim(out, b);
            }
        },
        in -> {
            final TopBids t = new TopBids();
            t.eoi = in.readBoolean();
            t.max = in.readLong();
            for (int n = in.readInt(); n > 0; n--) {
                t.atMax.add(readSlim(in));
            }
            for (int n = in.readInt(); n > 0; n--) {
                t.boundary.add(readSlim(in));
            }
            return t;
        });
}
