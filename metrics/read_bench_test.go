package metrics_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// BenchmarkPartitionReads measures what the NATS server spends to hand a stream to its readers,
// by subject layout and by the consumers' filters, on the embedded server (JetStream file
// storage) with 1,000 campaigns over 16 partitions. Each sub-benchmark reads the whole stream
// once per iteration; ns/op is the time of one such read (the server and the reading client
// share the machine). It is the evidence behind the choice of reader in the aggregator, and
// behind the layout the notes in BENCHMARKS.md weigh:
//
//	go test ./metrics -run '^$' -bench PartitionReads -benchtime 3x
//
// Layouts:
//
//	campaign: the stream's own, campaigns.tracking.<partition>.<campaignId>
//	literal:  one subject per partition, campaigns.tracking.<partition>.events (not used)
//
// Readers:
//
//	all:        one ordered consumer, no filter
//	partitions: one ordered consumer per partition, filtered on the partition (the worker's way)
//	one-filter-list: one ordered consumer filtered on all 16 partitions' subjects (2.10+'s
//	            FilterSubjects); run on a tenth of the messages, as it is far slower
func BenchmarkPartitionReads(b *testing.B) {
	const (
		messages   = 300_000
		campaigns  = 1000
		partitions = metrics.DefaultPartitions
	)
	ids := make([]uuid.UUID, campaigns)
	for i := range ids {
		ids[i] = uuid.New()
	}
	for _, layout := range []string{"campaign", "literal"} {
		subject := func(id uuid.UUID) string { return metrics.PartitionSubject(id, partitions) }
		filter := func(p int) string { return metrics.SubjectPrefix + "." + strconv.Itoa(p) + ".*" }
		if layout == "literal" {
			subject = func(id uuid.UUID) string {
				return metrics.SubjectPrefix + "." + strconv.Itoa(metrics.Partition(id, partitions)) + ".events"
			}
			filter = func(p int) string { return metrics.SubjectPrefix + "." + strconv.Itoa(p) + ".events" }
		}
		var each [][]string
		var list []string
		for p := range partitions {
			each, list = append(each, []string{filter(p)}), append(list, filter(p))
		}
		streams := map[int]jetstream.JetStream{} // by message count: readers of one count share it
		for _, r := range []struct {
			name    string
			n       int
			filters [][]string
		}{
			{"all", messages, [][]string{nil}},
			{"partitions", messages, each},
			{"one-filter-list", messages / 10, [][]string{list}}, // far slower: a tenth of the messages
		} {
			js := streams[r.n]
			if js == nil {
				js = fillReadStream(b, r.n, func(i int) string { return subject(ids[i%campaigns]) })
				streams[r.n] = js
			}
			b.Run(layout+"/"+r.name, func(b *testing.B) {
				for b.Loop() {
					natstest.ReadAll(b, js, readStream, r.filters, r.n)
				}
				b.ReportMetric(float64(r.n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// readStream is the stream BenchmarkPartitionReads reads.
const readStream = "READS"

// fillReadStream starts a server on a loopback port (the worker's transport) and publishes n
// messages to readStream there, the i-th on subject(i).
func fillReadStream(b *testing.B, n int, subject func(i int) string) jetstream.JetStream {
	b.Helper()
	ctx := context.Background()
	ns := natstest.NewServer(b)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: readStream,
		Subjects: []string{metrics.SubjectPrefix + ".*.*"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"eventId":"7d5c6f0e-0000-4000-8000-000000000000","type":"IMPRESSION","variant":"A","channel":"EMAIL"}`)
	for i := range n {
		if _, err := js.PublishAsync(subject(i), body); err != nil {
			b.Fatal(err)
		}
		if i%2000 == 1999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
	return js
}
