package dev.cepheus.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.cep.CEP;
import org.apache.flink.cep.PatternStream;
import org.apache.flink.cep.functions.PatternProcessFunction;
import org.apache.flink.cep.nfa.aftermatch.AfterMatchSkipStrategy;
import org.apache.flink.cep.pattern.Pattern;
import org.apache.flink.cep.pattern.conditions.IterativeCondition;
import org.apache.flink.cep.pattern.conditions.SimpleCondition;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The Flink CEP side of the benchmark suite: one of the workloads W1..W5 (the same patterns as
 * bench/workloads/W*.yaml, written with Flink's Pattern API) over a JSON-lines file written by
 * {@code cepheus-bench gen}, in a local MiniCluster, in event time.
 *
 * <pre>
 * FlinkCepBench --workload W1 --events FILE --parallelism 1 --disorder-ms 2000 [--dump FILE]
 * </pre>
 *
 * <p>Prints one JSON line: workload, parallelism, events, matches, late events, the job's net
 * runtime and the wall time around it, and events per second. With {@code --dump}, each match is
 * also written to FILE as {@code key<TAB>event_id,event_id,...} (stages in pattern order), to
 * compare matches one by one with {@code cepheus replay --matches}.
 */
public final class FlinkCepBench {

    private static final String MATCHES = "matches";
    private static final String EVENTS = "events";
    private static final String LATE = "late";

    private FlinkCepBench() {}

    /** One event: only the fields the workloads read (the rest of the line is parsed over). */
    public static final class Ev {
        public String id;
        public String user;
        public String type;
        public double value;
        public long ts;

        public Ev() {}
    }

    /** Decodes a line with Jackson's streaming parser, keeping the four fields the rules read. */
    static final class Decode extends RichMapFunction<String, Ev> {
        private transient JsonFactory json;
        private transient LongCounter events;

        @Override
        public void open(OpenContext context) {
            json = new JsonFactory();
            events = new LongCounter();
            getRuntimeContext().addAccumulator(EVENTS, events);
        }

        @Override
        public Ev map(String line) throws IOException {
            Ev ev = new Ev();
            try (JsonParser p = json.createParser(line)) {
                if (p.nextToken() != JsonToken.START_OBJECT) {
                    throw new IOException("not a JSON object: " + line);
                }
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken t = p.nextToken();
                    switch (name) {
                        case "event_id" -> ev.id = p.getText();
                        case "user_id" -> ev.user = p.getText();
                        case "event_type" -> ev.type = p.getText();
                        case "timestamp" -> ev.ts = p.getLongValue();
                        case "metadata" -> {
                            while (p.nextToken() == JsonToken.FIELD_NAME) {
                                String inner = p.currentName();
                                p.nextToken();
                                if (inner.equals("value")) {
                                    ev.value = p.getDoubleValue();
                                } else {
                                    p.skipChildren();
                                }
                            }
                        }
                        default -> {
                            if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                                p.skipChildren();
                            }
                        }
                    }
                }
            }
            events.add(1L);
            return ev;
        }
    }

    /**
     * Turns each match into one record: its text when matches are dumped, else an empty string.
     * (The CEP operator's runtime context refuses accumulators, so the operator chained after it
     * counts.)
     */
    static final class MatchText extends PatternProcessFunction<Ev, String> {
        private final boolean text;

        MatchText(boolean text) {
            this.text = text;
        }

        @Override
        public void processMatch(Map<String, List<Ev>> match, Context ctx, Collector<String> out) {
            if (!text) {
                out.collect("");
                return;
            }
            StringBuilder s = new StringBuilder();
            String key = null;
            // The map iterates stages in pattern order; absent stages never appear.
            for (List<Ev> stage : match.values()) {
                for (Ev e : stage) {
                    key = e.user;
                    if (s.length() > 0) {
                        s.append(',');
                    }
                    s.append(e.id);
                }
            }
            out.collect(key + "\t" + s);
        }
    }

    /** Counts the records passing through into the accumulator {@code name}. */
    static final class Count<T> extends RichMapFunction<T, T> {
        private final String name;
        private transient LongCounter counter;

        Count(String name) {
            this.name = name;
        }

        @Override
        public void open(OpenContext context) {
            counter = new LongCounter();
            getRuntimeContext().addAccumulator(name, counter);
        }

        @Override
        public T map(T value) {
            counter.add(1L);
            return value;
        }
    }

    private static SimpleCondition<Ev> type(String t) {
        return SimpleCondition.of(e -> t.equals(e.type));
    }

    /** The workloads, as bench/workloads/W*.yaml states them. */
    static Pattern<Ev, ?> pattern(String workload) {
        switch (workload) {
            case "W1":
                return Pattern.<Ev>begin("a", AfterMatchSkipStrategy.noSkip())
                        .where(type("A"))
                        .followedBy("b")
                        .where(type("B"))
                        .within(Duration.ofMinutes(10));
            case "W2":
                return Pattern.<Ev>begin("a", AfterMatchSkipStrategy.skipPastLastEvent())
                        .where(type("A"))
                        .followedBy("b")
                        .where(type("B"))
                        .oneOrMore()
                        .followedBy("c")
                        .where(new SumAboveFirst())
                        .within(Duration.ofMinutes(10));
            case "W3":
                return Pattern.<Ev>begin("a", AfterMatchSkipStrategy.noSkip())
                        .where(type("A"))
                        .next("b")
                        .where(type("B"))
                        .next("c")
                        .where(type("C"));
            case "W4":
                return Pattern.<Ev>begin("a", AfterMatchSkipStrategy.noSkip())
                        .where(type("A"))
                        .notFollowedBy("no_b")
                        .where(type("B"))
                        .followedBy("c")
                        .where(type("C"));
            case "W5":
                return Pattern.<Ev>begin("a", AfterMatchSkipStrategy.noSkip())
                        .where(type("A"))
                        .notFollowedBy("no_b")
                        .where(type("B"))
                        .within(Duration.ofMinutes(5));
            default:
                throw new IllegalArgumentException("unknown workload " + workload + " (W1..W6)");
        }
    }

    /** W6's accumulator: the window's key and how many events it holds. */
    static final class Tally {
        String key = "";
        long n;
    }

    /** W6: counts a window's events; the result is the key and count when at least 3, else "". */
    static final class CountEvents implements AggregateFunction<Ev, Tally, String> {
        @Override
        public Tally createAccumulator() {
            return new Tally();
        }

        @Override
        public Tally add(Ev e, Tally acc) {
            acc.key = e.user;
            acc.n++;
            return acc;
        }

        @Override
        public String getResult(Tally acc) {
            return acc.n >= 3 ? acc.key + "\t" + acc.n : "";
        }

        @Override
        public Tally merge(Tally a, Tally b) {
            a.n += b.n;
            return a;
        }
    }

    /** W2's C: {@code event_type == "C" && sum(b.metadata.value) > first(a.metadata.value) * 3}. */
    static final class SumAboveFirst extends IterativeCondition<Ev> {
        @Override
        public boolean filter(Ev ev, Context<Ev> ctx) throws Exception {
            if (!"C".equals(ev.type)) {
                return false;
            }
            double sum = 0;
            for (Ev b : ctx.getEventsForPattern("b")) {
                sum += b.value;
            }
            Ev first = ctx.getEventsForPattern("a").iterator().next();
            return sum > first.value * 3;
        }
    }

    public static void main(String[] args) throws Exception {
        String workload = null;
        String events = null;
        String dump = null;
        int parallelism = 1;
        long disorderMs = 0;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--workload" -> workload = value;
                case "--events" -> events = value;
                case "--dump" -> dump = value;
                case "--parallelism" -> parallelism = Integer.parseInt(value);
                case "--disorder-ms" -> disorderMs = Long.parseLong(value);
                default -> {
                    System.err.println("unknown argument " + args[i]);
                    System.exit(2);
                }
            }
            i++;
        }
        if (workload == null || events == null) {
            System.err.println(
                    "usage: FlinkCepBench --workload W1..W6 --events FILE [--parallelism N]"
                            + " [--disorder-ms D] [--dump FILE]");
            System.exit(2);
        }

        Configuration conf = new Configuration();
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.createLocalEnvironment(parallelism, conf);
        env.setRuntimeMode(RuntimeExecutionMode.STREAMING);

        FileSource<String> source =
                FileSource.forRecordStreamFormat(new TextLineInputFormat(), new Path(events))
                        .build();
        // One file is one split, read by one source subtask in file order; keyBy then spreads
        // the keys over the CEP operator's subtasks, each key's events keeping their order.
        DataStream<Ev> parsed =
                env.fromSource(source, WatermarkStrategy.noWatermarks(), "events")
                        .map(new Decode())
                        .name("decode")
                        .assignTimestampsAndWatermarks(
                                WatermarkStrategy.<Ev>forBoundedOutOfOrderness(
                                                Duration.ofMillis(disorderMs))
                                        .withTimestampAssigner((e, previous) -> e.ts));

        OutputTag<Ev> lateTag = new OutputTag<>("late") {};
        SingleOutputStreamOperator<String> cep;
        if (workload.equals("W6")) {
            // W6 is a windowed count, which Flink does with its window operator, not with CEP:
            // a window "matches" when it holds at least 3 events (bench/workloads/W6.yaml).
            SingleOutputStreamOperator<String> counted =
                    parsed.keyBy(e -> e.user)
                            .window(TumblingEventTimeWindows.of(Duration.ofMinutes(1)))
                            .sideOutputLateData(lateTag)
                            .aggregate(new CountEvents())
                            .name("window-W6");
            cep = counted.filter(s -> !s.isEmpty()).name("having-W6");
            counted.getSideOutput(lateTag).map(new Count<>(LATE)).sinkTo(new DiscardingSink<>());
        } else {
            PatternStream<Ev> patterns =
                    CEP.pattern(parsed.keyBy(e -> e.user), pattern(workload))
                            .sideOutputLateData(lateTag);
            cep = patterns.process(new MatchText(dump != null)).name("cep-" + workload);
            cep.getSideOutput(lateTag).map(new Count<>(LATE)).sinkTo(new DiscardingSink<>());
        }
        DataStream<String> matches = cep.map(new Count<>(MATCHES)).name("count");

        String job = "cepheus-bench " + workload + " p" + parallelism;
        long start = System.nanoTime();
        JobExecutionResult result;
        if (dump != null) {
            try (BufferedWriter w = Files.newBufferedWriter(java.nio.file.Path.of(dump));
                    CloseableIterator<String> it = matches.executeAndCollect(job)) {
                while (it.hasNext()) {
                    w.write(it.next());
                    w.newLine();
                }
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            result = null;
        } else {
            matches.sinkTo(new DiscardingSink<>());
            result = env.execute(job);
        }
        long wallMs = (System.nanoTime() - start) / 1_000_000;

        if (result == null) {
            System.out.printf(
                    "{\"engine\":\"flink\",\"workload\":\"%s\",\"parallelism\":%d,\"dump\":\"%s\","
                            + "\"wall_ms\":%d}%n",
                    workload, parallelism, dump, wallMs);
            return;
        }
        long netMs = result.getNetRuntime();
        long n = counter(result, EVENTS);
        System.out.printf(
                "{\"engine\":\"flink\",\"workload\":\"%s\",\"parallelism\":%d,\"events\":%d,"
                        + "\"matches\":%d,\"late\":%d,\"net_runtime_ms\":%d,\"wall_ms\":%d,"
                        + "\"events_per_s\":%.0f,\"events_per_s_wall\":%.0f}%n",
                workload,
                parallelism,
                n,
                counter(result, MATCHES),
                counter(result, LATE),
                netMs,
                wallMs,
                n * 1000.0 / Math.max(1, netMs),
                n * 1000.0 / Math.max(1, wallMs));
    }

    private static long counter(JobExecutionResult result, String name) {
        Object v = result.getAccumulatorResult(name);
        return v == null ? 0L : ((Number) v).longValue();
    }
}
