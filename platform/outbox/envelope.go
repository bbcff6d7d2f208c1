package outbox

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/engine-rules-sp/campaigns/platform/jsonappend"
)

// appendEnvelope appends the CloudEvent of row, exactly as json.Marshal(Envelope(...)) writes
// it, without reflection: the relay encodes every event it publishes, and that encoding was
// the larger part of its own CPU. Anything out of the common path (a string that needs
// escaping, a payload with HTML characters, a year outside 0-9999) goes to json.Marshal.
func appendEnvelope(dst []byte, row *eventRow, source string) ([]byte, error) {
	start := len(dst)
	ok := true
	str := func(s string) {
		if !jsonappend.Plain(s) {
			ok = false
			return
		}
		dst = append(dst, '"')
		dst = append(dst, s...)
		dst = append(dst, '"')
	}
	dst = append(dst, `{"specversion":"1.0","id":"`...)
	dst = jsonappend.UUID(dst, row.ID)
	dst = append(dst, `","source":`...)
	str(source)
	dst = append(dst, `,"type":`...)
	str(row.Type)
	dst = append(dst, `,"subject":"`...)
	dst = jsonappend.UUID(dst, row.AggregateID)
	dst = append(dst, `","time":"`...)
	at := row.OccurredAt.UTC()
	if y := at.Year(); y < 0 || y > 9999 {
		ok = false
	}
	dst = at.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","datacontenttype":"application/json"`...)
	if row.DataSchema != "" {
		dst = append(dst, `,"dataschema":`...)
		str(row.DataSchema)
	}
	dst = append(dst, `,"data":`...)
	if row.Payload == "" || bytes.ContainsAny([]byte(row.Payload), "<>&\u2028\u2029") {
		ok = false
	} else {
		buf := bytes.NewBuffer(dst)
		if err := json.Compact(buf, []byte(row.Payload)); err != nil {
			ok = false
		}
		dst = buf.Bytes()
	}
	dst = append(dst, `,"aggregateversion":`...)
	dst = strconv.AppendInt(dst, row.Version, 10)
	if row.CorrelationID != "" {
		dst = append(dst, `,"correlationid":`...)
		str(row.CorrelationID)
	}
	if row.Actor != nil {
		dst = append(dst, `,"actor":"`...)
		dst = jsonappend.UUID(dst, *row.Actor)
		dst = append(dst, '"')
	}
	if row.TraceParent != "" {
		dst = append(dst, `,"traceparent":`...)
		str(row.TraceParent)
	}
	dst = append(dst, '}')
	if ok {
		return dst, nil
	}
	body, err := json.Marshal(Envelope(row.event(), source))
	if err != nil {
		return dst[:start], err
	}
	return append(dst[:start], body...), nil
}
