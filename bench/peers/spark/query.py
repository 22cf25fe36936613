"""bench/peers Spark Structured Streaming adapter: one query, Kafka in, Kafka out.

Design note. Each query is the Spark DataFrame version of its SQL file
(examples/page_views.sql, bench/windows_tumble.sql, bench/nexmark/qN.sql).
Every query is a streaming query: it reads its input topics from the
earliest offsets with trigger(availableNow=True), so it stops once it has
processed what the topics held when it started. No maxOffsetsPerTrigger is
set, so availableNow reads that bounded backlog as ONE micro-batch (plus the
no-data batch Spark may add to move the watermark); the windowed queries rely
on that, see below, and fail (exit 1) if Spark used more than one batch with
data.

Output modes:
- q0, q1, q2: stateless, append mode, Kafka sink.
- page_views: streaming aggregation in update mode, Kafka sink; an upsert
  stream keyed by page_id (the last row per page wins). COUNT(DISTINCT) is
  not supported on streams, so users = size(collect_set(user_id)), exact.
- tumble: windowed streaming aggregation (10 s tumbling window, 5 s
  watermark) in update mode, Kafka sink. Spark's watermark only closes a
  window when later data arrives, so append mode would never emit the last
  windows of a bounded input; update mode emits every window with the rows
  of the batch that changed it, and in a single micro-batch that is each
  window once, with its final count.
- q5: windowed streaming aggregation (count per auction in 10 s windows
  sliding by 2 s, 4 s watermark) in update mode; the max per window and the
  join of q5 (a join of two aggregations, which a Spark stream cannot
  express) run in foreachBatch over that batch's aggregate rows.
- q7: the bids stream in foreachBatch: the max price per 10 s tumbling
  window and the join of the bids with it (a stream joined with its own
  windowed aggregate, closed at the end of input) run as batch DataFrame
  operations over the micro-batch.

Timing (PEERS line): startup_s = process start (PEERS_T0, set by the `query`
wrapper) until start() returned (the streaming query runs); process_s = from
then until awaitTermination() returned (the sink has written everything);
records = the sum of numInputRows over the query's progress reports.
"""

import json
import os
import shutil
import sys
import tempfile
import time

QUERIES = ("page_views", "tumble", "q0", "q1", "q2", "q5", "q7")


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: query QUERY BOOTSTRAP OUT_TOPIC\n")
        return 2
    query, bootstrap, out_topic = sys.argv[1:]
    if query not in QUERIES:
        sys.stderr.write("spark: query %r is not implemented\n" % query)
        return 3
    t0 = float(os.environ.get("PEERS_T0", time.time()))

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    spark = (SparkSession.builder
             .master("local[2]")
             .appName("peers-" + query)
             .config("spark.jars", os.environ["PEERS_SPARK_JARS"])
             .config("spark.driver.memory", "2g")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", "2")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")

    ts_fmt = "yyyy-MM-dd HH:mm:ss.SSS"
    json_opts = {"timestampFormat": ts_fmt}

    def source(topic, schema):
        raw = (spark.readStream.format("kafka")
               .option("kafka.bootstrap.servers", bootstrap)
               .option("subscribe", topic)
               .option("startingOffsets", "earliest")
               .load())
        return (raw.select(F.from_json(F.col("value").cast("string"), schema, json_opts)
                           .alias("r"))
                .select("r.*"))

    def to_kafka(df, key_cols=None):
        """df's rows as JSON values (timestamps as 'YYYY-MM-DD HH:MM:SS.fff' UTC)."""
        cols = [F.to_json(F.struct(*df.columns), json_opts).alias("value")]
        if key_cols:
            cols.append(F.to_json(F.struct(*key_cols)).alias("key"))
        return df.select(*cols)

    user_events = T.StructType([
        T.StructField("event_type", T.StringType()),
        T.StructField("user_id", T.IntegerType()),
        T.StructField("page_id", T.IntegerType()),
        T.StructField("timestamp", T.DoubleType())])
    bid = T.StructType([
        T.StructField("auction", T.LongType()),
        T.StructField("bidder", T.LongType()),
        T.StructField("price", T.LongType()),
        T.StructField("channel", T.StringType()),
        T.StructField("url", T.StringType()),
        T.StructField("dateTime", T.TimestampType()),
        T.StructField("extra", T.StringType())])

    def kafka_batch_writer(batch_df):
        (to_kafka(batch_df).write.format("kafka")
         .option("kafka.bootstrap.servers", bootstrap)
         .option("topic", out_topic).save())

    mode = "append"
    sink_df = None          # streamed to the Kafka sink
    foreach = None          # or handed to foreachBatch
    single_batch = query in ("tumble", "q5", "q7")

    if query == "page_views":
        ev = source("user-events", user_events)
        agg = (ev.where(F.col("event_type") == "page-view")
               .groupBy("page_id")
               .agg(F.count(F.lit(1)).alias("views"),
                    F.size(F.collect_set("user_id")).cast("long").alias("users")))
        sink_df, mode = to_kafka(agg, ["page_id"]), "update"
    elif query == "tumble":
        ev = source("user-events", user_events)
        ev = ev.withColumn("ts", F.timestamp_millis((F.col("timestamp") * 1000).cast("long")))
        agg = (ev.withWatermark("ts", "5 seconds")
               .groupBy(F.window("ts", "10 seconds"), "user_id")
               .agg(F.count(F.lit(1)).alias("events"))
               .select(F.col("window.start").alias("window_start"),
                       F.col("window.end").alias("window_end"), "user_id", "events"))
        sink_df, mode = to_kafka(agg), "update"
    elif query == "q0":
        b = source("bid", bid)
        sink_df = to_kafka(b.select("auction", "bidder", "price", "dateTime", "extra"))
    elif query == "q1":
        b = source("bid", bid)
        sink_df = to_kafka(b.select(
            "auction", "bidder",
            (F.lit(0.908).cast("decimal(3,3)") * F.col("price")).cast("decimal(23,3)").alias("price"),
            "dateTime", "extra"))
    elif query == "q2":
        b = source("bid", bid)
        sink_df = to_kafka(b.where(F.col("auction") % 123 == 0).select("auction", "price"))
    elif query == "q5":
        b = source("bid", bid)
        auction_bids = (b.withWatermark("dateTime", "4 seconds")
                        .groupBy(F.window("dateTime", "10 seconds", "2 seconds"), "auction")
                        .agg(F.count(F.lit(1)).alias("num")))
        mode = "update"

        def foreach(batch_df, _batch_id):
            batch_df.persist()
            max_bids = batch_df.groupBy("window").agg(F.max("num").alias("maxn"))
            hot = (batch_df.join(max_bids, "window")
                   .where(F.col("num") >= F.col("maxn"))
                   .select("auction", "num"))
            kafka_batch_writer(hot)
            batch_df.unpersist()
        sink_df = auction_bids
    elif query == "q7":
        b = source("bid", bid)

        def foreach(batch_df, _batch_id):
            batch_df.persist()
            b1 = (batch_df.groupBy(F.window("dateTime", "10 seconds"))
                  .agg(F.max("price").alias("maxprice"))
                  .select("maxprice", F.col("window.end").alias("wend")))
            j = batch_df.join(
                b1, (batch_df.price == b1.maxprice)
                & (batch_df.dateTime >= b1.wend - F.expr("INTERVAL 10 SECONDS"))
                & (batch_df.dateTime <= b1.wend))
            # INSERT INTO nexmark_q7 SELECT B.auction, B.price, B.bidder, ...:
            # Flink SQL inserts by position, so the sink's `bidder` column
            # holds B.price and its `price` column B.bidder.
            kafka_batch_writer(j.select(
                "auction", F.col("price").alias("bidder"), F.col("bidder").alias("price"),
                "dateTime", "extra"))
            batch_df.unpersist()
        sink_df = b

    ckpt = tempfile.mkdtemp(prefix="peers-spark-ckpt-")
    try:
        w = (sink_df.writeStream.outputMode(mode)
             .option("checkpointLocation", ckpt)
             .trigger(availableNow=True))
        if foreach is not None:
            w = w.foreachBatch(foreach)
        else:
            w = (w.format("kafka")
                 .option("kafka.bootstrap.servers", bootstrap)
                 .option("topic", out_topic))
        sq = w.start()
        t1 = time.time()
        sq.awaitTermination()
        t2 = time.time()
        progress = sq.recentProgress
        records = sum(p["numInputRows"] for p in progress)
        data_batches = sum(1 for p in progress if p["numInputRows"] > 0)
        sys.stderr.write("spark: %d progress reports, %d with data, %d input rows\n"
                         % (len(progress), data_batches, records))
        if single_batch and data_batches > 1:
            sys.stderr.write("spark: %s needs the input in one micro-batch (got %d); "
                             "its results would not be final\n" % (query, data_batches))
            return 1
    finally:
        shutil.rmtree(ckpt, ignore_errors=True)
    spark.stop()
    print("PEERS " + json.dumps({"startup_s": round(t1 - t0, 3),
                                 "process_s": round(t2 - t1, 3),
                                 "records": records}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
