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
	ctx := context.Background()
	ids := make([]uuid.UUID, campaigns)
	for i := range ids {
		ids[i] = uuid.New()
	}
	body := []byte(`{"eventId":"7d5c6f0e-0000-4000-8000-000000000000","type":"IMPRESSION","variant":"A","channel":"EMAIL"}`)
	for _, layout := range []string{"campaign", "literal"} {
		subject := func(id uuid.UUID) string { return metrics.PartitionSubject(id, partitions) }
		filter := func(p int) string { return metrics.SubjectPrefix + "." + strconv.Itoa(p) + ".*" }
		if layout == "literal" {
			subject = func(id uuid.UUID) string {
				return metrics.SubjectPrefix + "." + strconv.Itoa(metrics.Partition(id, partitions)) + ".events"
			}
			filter = func(p int) string { return metrics.SubjectPrefix + "." + strconv.Itoa(p) + ".events" }
		}
		for _, n := range []int{messages, messages / 10} {
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
			stream := "READS"
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream,
				Subjects: []string{metrics.SubjectPrefix + ".*.*"}, Storage: jetstream.FileStorage}); err != nil {
				b.Fatal(err)
			}
			for i := range n {
				if _, err := js.PublishAsync(subject(ids[i%campaigns]), body); err != nil {
					b.Fatal(err)
				}
				if i%2000 == 1999 {
					<-js.PublishAsyncComplete()
				}
			}
			<-js.PublishAsyncComplete()
			var each [][]string
			var list []string
			for p := range partitions {
				each, list = append(each, []string{filter(p)}), append(list, filter(p))
			}
			readers := map[string][][]string{"all": {nil}, "partitions": each}
			if n < messages {
				readers = map[string][][]string{"one-filter-list": {list}}
			}
			for _, name := range []string{"all", "partitions", "one-filter-list"} {
				filters, ok := readers[name]
				if !ok {
					continue
				}
				b.Run(layout+"/"+name, func(b *testing.B) {
					for b.Loop() {
						natstest.ReadAll(b, js, stream, filters, n)
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				})
			}
		}
	}
}
