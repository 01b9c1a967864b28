package finance_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
)

func streamLine(id string) string {
	return fmt.Sprintf(`{"order_id":%q,"shop":"A100","ordered_at":"2026-11-25T10:00:00+08:00","amount":"10.00","currency":"CNY","status":"paid"}`+"\n", id)
}

type streamRun struct {
	t      *testing.T
	w      *io.PipeWriter
	sent   strings.Builder
	chunks chan finance.BatchReport
	done   chan struct{}
	rep    finance.StreamReport
	err    error
}

func (e *env) stream(t *testing.T, opts finance.Options) *streamRun {
	svc := finance.New(e.db, e.reg, opts)
	r, w := io.Pipe()
	s := &streamRun{t: t, w: w, chunks: make(chan finance.BatchReport, 16), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.rep, s.err = svc.IngestStream(context.Background(), e.merchant, e.merchant.ParticipantID, r,
			func(c finance.BatchReport) { s.chunks <- c })
	}()
	return s
}

func (s *streamRun) write(text string) {
	s.t.Helper()
	s.sent.WriteString(text)
	if _, err := s.w.Write([]byte(text)); err != nil {
		s.t.Fatal(err)
	}
}

func (s *streamRun) chunk() finance.BatchReport {
	s.t.Helper()
	select {
	case c := <-s.chunks:
		return c
	case <-time.After(10 * time.Second):
		s.t.Fatal("no chunk applied")
		return finance.BatchReport{}
	}
}

func (s *streamRun) end() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Fatal("the stream did not end")
	}
}

// Orders written to an open stream count in the features within the chunk delay,
// while the stream is still open; each chunk is attested with its own hash and
// the hash of the stream so far.
func TestStreamAppliesWhileOpen(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		s := e.stream(t, finance.Options{StreamChunkDelay: 20 * time.Millisecond})
		s.write(streamLine("S1"))
		c := s.chunk()
		if c.Seq != 1 || c.Kind != "stream" || c.Inserted != 1 || c.SHA256 != sum(streamLine("S1")) || c.StreamSHA256 != sum(s.sent.String()) {
			t.Fatalf("chunk %+v", c.Batch)
		}
		if w := e.features(now).Merchant.Windows[0]; w.Orders != 1 {
			t.Fatalf("orders %d while the stream is open", w.Orders)
		}
		s.write("\n") // keeps the connection alive; no chunk of its own
		s.write(streamLine("S2"))
		c = s.chunk()
		if c.Seq != 2 || c.Inserted != 1 || c.SHA256 != sum("\n"+streamLine("S2")) || c.StreamSHA256 != sum(s.sent.String()) || c.Bytes != int64(1+len(streamLine("S2"))) {
			t.Fatalf("chunk %+v", c.Batch)
		}
		if w := e.features(now).Merchant.Windows[0]; w.Orders != 2 {
			t.Fatalf("orders %d while the stream is open", w.Orders)
		}
		s.w.Close()
		s.end()
		if s.err != nil || s.rep.Chunks != 2 || s.rep.Inserted != 2 || s.rep.SHA256 != sum(s.sent.String()) || s.rep.Bytes != int64(s.sent.Len()) {
			t.Fatalf("%+v, %v", s.rep, s.err)
		}
		att := e.attestations("finance.stream_attested")
		if len(att) != 2 || att[0]["stream_id"] != s.rep.StreamID || att[1]["seq"] != float64(2) || att[1]["stream_sha256"] != sum(s.sent.String()) ||
			att[0]["sha256"] != sum(streamLine("S1")) {
			t.Fatalf("attestations %v", att)
		}
	})
}

// A chunk closes after its number of lines and at the end of the stream; bad lines
// are rejected with their line in the stream; a broken stream drops the lines of
// its open chunk.
func TestStreamChunks(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		s := e.stream(t, finance.Options{StreamChunkOrders: 3, StreamChunkDelay: time.Hour})
		s.write(streamLine("C1") + "not json\n" + streamLine("C2") + streamLine("C3"))
		c := s.chunk()
		if c.Rows != 3 || c.Inserted != 2 || c.Rejected != 1 || c.Problems[0].Line != 2 {
			t.Fatalf("chunk %+v %+v", c.Batch, c.Problems)
		}
		s.write(streamLine("C1")) // sent again: a duplicate
		s.w.Close()
		s.end()
		c = s.chunk()
		if c.Seq != 2 || c.Rows != 2 || c.Inserted != 1 || c.Duplicates != 1 {
			t.Fatalf("chunk %+v", c.Batch)
		}
		if s.err != nil || s.rep.Chunks != 2 || s.rep.Rejected != 1 || s.rep.Accepted != 4 || len(s.rep.Problems) != 1 || s.rep.SHA256 != sum(s.sent.String()) {
			t.Fatalf("%+v, %v", s.rep, s.err)
		}

		s = e.stream(t, finance.Options{StreamChunkOrders: 3, StreamChunkDelay: time.Hour})
		s.write(streamLine("D1"))
		s.w.CloseWithError(errReset)
		s.end()
		is(t, s.err, dataport.KindInvalid, "broke off")
		if s.rep.Chunks != 0 || e.count(`SELECT COUNT(*) FROM finance_orders WHERE order_id = 'D1'`) != 0 {
			t.Fatalf("%+v", s.rep)
		}
	})
}
